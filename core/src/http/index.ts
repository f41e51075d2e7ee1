export { createApi, listenApi } from './create-api.js';
export type { CreateApiOptions, RouteAuth, BoundAddress } from './create-api.js';
export { HttpError, statusForCode, codeForStatus } from './http-error.js';
export type { ErrorBody } from './http-error.js';
export { canonicalPath, canonicalUrl } from './canonical-path.js';
export { jsonDepthExceeds, defaultMaxJsonDepth } from './json-depth.js';
export { jsonResponses, jsonSchemaOf, errorBodyJsonSchema, apiRoutes } from './response-schema.js';
export type { ApiRouteRecord } from './response-schema.js';
