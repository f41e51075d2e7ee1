/**
 * Text from outside (a command's output, a check's message, a name) as inert terminal text: every control
 * character (escape sequences, CR, newlines) shown as `\xNN`, never sent to the terminal. A tab is kept,
 * or made a space (`tab: 'space'`) where it would break a table's columns.
 */
export function printable(text: string, options: { tab?: 'keep' | 'space' } = {}): string {
  const tab = options.tab === 'space' ? ' ' : '\t';
  return text.replace(/\p{Cc}/gu, (c) => (c === '\t' ? tab : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}
