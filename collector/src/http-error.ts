import { SlothError, type SlothErrorCode } from '@sloth/core';

/** An error answered with a specific HTTP status (and a google.rpc.Status-shaped body). */
export class HttpError extends SlothError {
  readonly statusCode: number;

  constructor(statusCode: number, code: SlothErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, { details });
    this.name = 'HttpError';
    this.statusCode = statusCode;
  }
}

/** google.rpc.Code for an HTTP status, as OTLP's Status body carries it. */
export function rpcCodeFor(statusCode: number): number {
  switch (statusCode) {
    case 400:
    case 413:
    case 415:
      return 3; // INVALID_ARGUMENT
    case 401:
      return 16; // UNAUTHENTICATED
    case 404:
      return 5; // NOT_FOUND
    case 429:
    case 503:
      return 14; // UNAVAILABLE
    default:
      return 13; // INTERNAL
  }
}
