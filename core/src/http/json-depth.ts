/**
 * Whether JSON text nests objects/arrays deeper than `maxDepth`. Scans the
 * bytes once without parsing, so a body nested thousands of levels deep is
 * refused with 400 before any recursive parser or decoder sees it.
 */
export function jsonDepthExceeds(text: string | Uint8Array, maxDepth: number): boolean {
  const at = typeof text === 'string' ? (i: number) => text.charCodeAt(i) : (i: number) => text[i] as number;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = at(i);
    if (inString) {
      if (c === 0x5c) i += 1;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth += 1;
      if (depth > maxDepth) return true;
    } else if (c === 0x7d || c === 0x5d) depth -= 1;
  }
  return false;
}

/** Default deepest nesting accepted in a JSON body. @defaultValue 64 */
export const defaultMaxJsonDepth = 64;
