/** UTF-8 bytes of a code point; a lone surrogate is written as U+FFFD, three bytes (as Buffer.byteLength counts it). */
export function utf8CodePointBytes(codePoint: number): number {
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
}

/**
 * The longest start of `text` that is at most `maxBytes` long as `bytesOf` counts each code point, whole
 * characters only (a surrogate pair is one): `utf8CodePointBytes` for UTF-8, or the size of a character
 * inside some encoding of the text (a JSON string's escapes).
 */
export function prefixWithin(text: string, maxBytes: number, bytesOf: (codePoint: number) => number = utf8CodePointBytes): string {
  let bytes = 0;
  let i = 0;
  while (i < text.length) {
    const codePoint = text.codePointAt(i) as number;
    bytes += bytesOf(codePoint);
    if (bytes > maxBytes) break;
    i += codePoint > 0xffff ? 2 : 1;
  }
  return text.slice(0, i);
}

/** `text` cut to at most `maxBytes` UTF-8 bytes without splitting a character (as the OpenTelemetry SDKs' attribute value length limit cuts). */
export function utf8Prefix(text: string, maxBytes: number): string {
  // A UTF-16 unit is 1 to 3 UTF-8 bytes: a short string is decided without counting.
  if (text.length * 3 <= maxBytes) return text;
  return prefixWithin(text, maxBytes);
}
