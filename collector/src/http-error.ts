/** The collector answers errors with core's {@link HttpError}; OTLP routes carry its status as a google.rpc.Code. */
export { HttpError } from '@sloth/core';

/** google.rpc.Code for an HTTP status, as OTLP's Status body carries it. */
export function rpcCodeFor(statusCode: number): number {
  switch (statusCode) {
    case 400:
    case 413:
    case 415:
      return 3; // INVALID_ARGUMENT
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 5; // NOT_FOUND
    case 429:
    case 503:
      return 14; // UNAVAILABLE
    default:
      return 13; // INTERNAL
  }
}
