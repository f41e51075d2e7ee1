import { SlothError, type SlothErrorCode } from '../errors.js';

/** The one error body every HTTP API of Sloth answers with (except OTLP's Status). */
export interface ErrorBody {
  readonly code: SlothErrorCode;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** An error answered with a specific HTTP status and the standard {@link ErrorBody}. */
export class HttpError extends SlothError {
  readonly statusCode: number;

  constructor(statusCode: number, code: SlothErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, { details });
    this.name = 'HttpError';
    this.statusCode = statusCode;
  }
}

const statusByCode: Partial<Record<SlothErrorCode, number>> = {
  SLOTH_ERR_AUTH: 401,
  SLOTH_ERR_FORBIDDEN: 403,
  SLOTH_ERR_BAD_REQUEST: 400,
  SLOTH_ERR_INPUT: 400,
  SLOTH_ERR_CONFIG: 400,
  SLOTH_ERR_NOT_FOUND: 404,
  SLOTH_ERR_CONFLICT: 409,
  SLOTH_ERR_PAYLOAD_TOO_LARGE: 413,
  SLOTH_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  SLOTH_ERR_OVERLOADED: 503,
  SLOTH_ERR_STORAGE: 503,
};

/** The HTTP status a Sloth error code is answered with. */
export function statusForCode(code: SlothErrorCode): number {
  return statusByCode[code] ?? 500;
}

/** The error code for an HTTP status that carries none of its own. */
export function codeForStatus(status: number): SlothErrorCode {
  switch (status) {
    case 401:
      return 'SLOTH_ERR_AUTH';
    case 403:
      return 'SLOTH_ERR_FORBIDDEN';
    case 404:
      return 'SLOTH_ERR_NOT_FOUND';
    case 409:
      return 'SLOTH_ERR_CONFLICT';
    case 413:
      return 'SLOTH_ERR_PAYLOAD_TOO_LARGE';
    case 415:
      return 'SLOTH_ERR_UNSUPPORTED_MEDIA_TYPE';
    case 503:
      return 'SLOTH_ERR_OVERLOADED';
    default:
      return status < 500 ? 'SLOTH_ERR_BAD_REQUEST' : 'SLOTH_ERR_INTERNAL';
  }
}
