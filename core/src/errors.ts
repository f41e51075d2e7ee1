import { shownProblemValue } from './redact.js';

/**
 * The catalogue of Sloth's error codes. Every code is documented in
 * docs/errors.md with this text and its HTTP status (core/test/errors.test.ts
 * compares them).
 */
export const errorCatalogue = {
  SLOTH_ERR_CONFIG: 'The configuration is invalid: a key has a wrong type, value or is missing.',
  SLOTH_ERR_CONFIG_FILE: 'The configuration file cannot be read or is not valid YAML.',
  SLOTH_ERR_REDIS_UNAVAILABLE: 'No Redis could be reached or started.',
  SLOTH_ERR_AUTH: 'The request carries no valid bearer token.',
  SLOTH_ERR_FORBIDDEN: 'The token is valid but may not do this (write for another agent, or an admin-only route).',
  SLOTH_ERR_BAD_REQUEST: 'The request body or parameters are malformed.',
  SLOTH_ERR_UNSUPPORTED_MEDIA_TYPE: 'The Content-Type or Content-Encoding is not supported.',
  SLOTH_ERR_PAYLOAD_TOO_LARGE: 'The body, compressed or decompressed, is over the configured limit.',
  SLOTH_ERR_OVERLOADED: 'The pipeline is saturated; retry after the indicated delay.',
  SLOTH_ERR_NOT_FOUND: 'The requested object does not exist.',
  SLOTH_ERR_CONFLICT: 'The object is not in a state that allows the request (e.g. approving a remediation that is not pending approval).',
  SLOTH_ERR_STORAGE: 'The store failed to read or write.',
  SLOTH_ERR_INPUT: 'An input file (CSV, JSON, Lua) is malformed.',
  SLOTH_ERR_PLAYBOOK: 'A playbook failed to load or validate.',
  SLOTH_ERR_PLAYBOOK_LIMIT: 'A playbook run exceeded a sandbox limit (time, instructions or memory).',
  SLOTH_ERR_PLAYBOOK_FORBIDDEN: 'A playbook used a capability that is not allowed.',
  SLOTH_ERR_PORT_IN_USE: 'A port Sloth must listen on is already taken.',
  SLOTH_ERR_UNREACHABLE: 'A Sloth service (e.g. the scheduler API) did not answer at the given URL.',
  SLOTH_ERR_INTERNAL: 'A bug in Sloth. Please report it with the log lines around it.',
} as const;

export type SlothErrorCode = keyof typeof errorCatalogue;

/** Base class of every error Sloth raises on purpose. */
export class SlothError extends Error {
  readonly code: SlothErrorCode;
  /** Extra structured facts (offending key, value, limit) for logs and API bodies. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: SlothErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SlothError';
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  toJSON(): { code: SlothErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** One problem found while validating configuration. */
export interface ConfigProblem {
  /** Dotted path of the offending key, e.g. `collector.port`. */
  key: string;
  /** Where the value came from: `file`, `env SLOTH_…`, `flag --…` or `default`. */
  source: string;
  value: unknown;
  message: string;
}

/** Configuration is invalid; lists every problem at once. */
export class ConfigError extends SlothError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    // The message and the details reach logs and error bodies: values as `shownProblemValue` shows
    // them (secrets hidden, URLs redacted); `problems` keeps the raw values for the code that fixes them.
    const shown = problems.map((p) => ({ key: p.key, source: p.source, message: p.message, value: shownProblemValue(p) }));
    const lines = shown.map((p) => `  - ${p.key}${p.value === undefined ? '' : ` = ${p.value}`} (${p.source}): ${p.message}`);
    super('SLOTH_ERR_CONFIG', `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`, {
      details: { problems: shown },
    });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** A user-supplied input file or payload is malformed. */
export class InputError extends SlothError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('SLOTH_ERR_INPUT', message, { details });
    this.name = 'InputError';
  }
}

export function isSlothError(error: unknown): error is SlothError {
  return error instanceof SlothError;
}
