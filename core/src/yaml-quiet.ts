import { createRequire } from 'node:module';
import type { LineCounter as LineCounterType, parseDocument as ParseDocument } from 'yaml';

/** A YAML syntax problem, located but never quoting the text (the line may hold a token or a webhook URL). */
export interface YamlProblem {
  readonly line: number;
  readonly column: number;
  readonly reason: string;
}

/** What {@link parseYamlQuietly} found: the data, or every syntax problem at once. */
export type QuietYaml = { readonly ok: true; readonly data: unknown } | { readonly ok: false; readonly problems: readonly YamlProblem[] };

/**
 * Parses YAML whose text must never reach a message: the parser's own errors quote the offending line
 * (its "pretty" code frame), and in Sloth's files that line is often a secret. Problems carry line,
 * column and the parser's reason only; the parser prints no warnings. The `yaml` package is loaded on
 * first use (commands that only read the environment do not pay for it).
 */
export function parseYamlQuietly(text: string): QuietYaml {
  const yaml = createRequire(import.meta.url)('yaml') as { LineCounter: typeof LineCounterType; parseDocument: typeof ParseDocument };
  const lineCounter = new yaml.LineCounter();
  const document = yaml.parseDocument(text, { prettyErrors: false, lineCounter });
  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        return { line, column: col, reason: error.message };
      }),
    };
  }
  try {
    return { ok: true, data: document.toJS() };
  } catch (error) {
    // An alias without its anchor: the message ends with the alias's text, which is the file's content.
    const reason = (error as Error).message.split(':')[0] ?? 'cannot be read';
    return { ok: false, problems: [{ line: 0, column: 0, reason }] };
  }
}

/** "not valid YAML at line L, column C: reason" ("not valid YAML: reason" when the parser gave no position). */
export function yamlProblemMessage(problem: YamlProblem): string {
  return problem.line === 0 ? `not valid YAML: ${problem.reason}` : `not valid YAML at line ${problem.line}, column ${problem.column}: ${problem.reason}`;
}
