import { describe, expect, it } from 'vitest';
import { printable } from '../src/printable.js';

describe('printable', () => {
  it('shows control characters as \\xNN and keeps a tab, or makes it a space for table cells', () => {
    expect(printable('ok\u001b]0;owned\u0007\r\nnext\tcol')).toBe('ok\\x1b]0;owned\\x07\\x0d\\x0anext\tcol');
    expect(printable('a\tb', { tab: 'space' })).toBe('a b');
    expect(printable('plain text, ünïcode')).toBe('plain text, ünïcode');
  });
});
