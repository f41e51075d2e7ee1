/** Float32 weight buffers ↔ base64 (little-endian, as TF.js stores them). */
export function encodeWeights(data: ArrayBuffer): string {
  return Buffer.from(data).toString('base64');
}

export function decodeWeights(base64: string): ArrayBuffer {
  const bytes = Buffer.from(base64, 'base64');
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}
