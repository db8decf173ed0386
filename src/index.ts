/**
 * hyperlane-ts: a fast, real-time HTTP server framework for Node.js.
 * @packageDocumentation
 */
export { Server, type RunningServer, type CloseOptions } from './server/server.js';
export type { ServerConfig, TlsOptions, WsCompressionConfig } from './server/config.js';
export { DEFAULT_CONFIG } from './server/config.js';
export type { WorkerCount } from './server/cluster.js';
export type { InjectRequest, InjectResponse } from './server/inject.js';
export {
  Context,
  type ResponseBody,
  type BeforeSendOptions,
  type ContextHook,
  type ResponseEncoder,
} from './context/context.js';
export type { ServerStats, SocketAddress, WsMessage } from './context/response-channel.js';
export type { RequestForm, RequestFormFile, RequestFormOptions } from './context/request-form.js';
export type { WsClosedHook } from './ws/ws-session.js';
export { sseEvent, SSE_KEEP_ALIVE, type SseEvent } from './sse/sse-event.js';
export { CookieBuilder, type SameSite } from './context/cookie.js';
export type {
  StandardSchemaV1,
  StandardSchemaResult,
  StandardSchemaIssue,
  InferSchemaOutput,
} from './context/standard-schema.js';
export type { Handler, ErrorHook } from './lifecycle/pipeline.js';
export { HttpError, type HttpErrorOptions } from './error/http-error.js';
export { HyperlaneError, type HyperlaneErrorCode } from './error/hyperlane-error.js';
export { STATUS_REASONS, reasonPhrase } from './http/status.js';
export * from './http/constants.js';
export * from './broadcast/index.js';

// Batteries: middleware factories built on the public Context API.
export type { Middleware } from './middleware/middleware.js';
export {
  compression,
  isCompressibleType,
  type CompressionOptions,
  type ContentCoding,
} from './middleware/compression.js';
export { cors, type CorsOptions, type CorsOrigins } from './middleware/cors.js';
export { etag, type EtagOptions } from './middleware/etag.js';
export {
  healthCheck,
  type HealthCheckBody,
  type HealthCheckFn,
  type HealthCheckOptions,
  type HealthCheckOutcome,
} from './middleware/health-check.js';
export {
  createJsonLogger,
  getLogger,
  logger,
  type LogDestination,
  type Logger,
  type LoggerLevel,
  type LoggerOptions,
} from './middleware/logger.js';
export {
  metrics,
  PROMETHEUS_CONTENT_TYPE,
  type Metrics,
  type MetricsOptions,
} from './middleware/metrics.js';
export { contentTypeFor } from './middleware/mime-types.js';
export {
  MemoryRateLimitStore,
  type MemoryRateLimitStoreOptions,
  type RateLimitStore,
  type RateLimitTake,
  type RateLimitWindow,
} from './middleware/rate-limit-store.js';
export {
  rateLimit,
  rateLimitKey,
  type RateLimitAlgorithm,
  type RateLimitOptions,
} from './middleware/rate-limit.js';
export { getRequestId, requestId, type RequestIdOptions } from './middleware/request-id.js';
export {
  DEFAULT_CSP_DIRECTIVES,
  securityHeaders,
  type CspDirectives,
  type HstsOptions,
  type SecurityHeadersOptions,
} from './middleware/security-headers.js';
export {
  serveStatic,
  type DotfilesPolicy,
  type ServeStaticMode,
  type ServeStaticOptions,
} from './middleware/serve-static.js';
export {
  signCookieValue,
  signedCookies,
  unsignCookieValue,
  type CookieSecret,
} from './middleware/signed-cookies.js';
export { timeout, type TimedHandler, type TimeoutOptions } from './middleware/timeout.js';
