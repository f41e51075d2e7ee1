import type { ConfigError } from '@sloth/core/errors';

/**
 * The text `sloth` prints for an invalid configuration: every problem with its key, source and
 * message, the value shown unless it is (or may hold) a secret (test/session-e-rules.md, F4). Core's
 * `ConfigError` builds it with `shownProblemValue` (core/src/redact.ts), so a log line or an error body
 * that carries the error shows no more than the CLI does.
 */
export function configErrorText(error: ConfigError): string {
  return error.message;
}
