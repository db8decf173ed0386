/**
 * hyperlane-ts: a fast, real-time HTTP server framework for Node.js.
 * @packageDocumentation
 */
export { Server, type RunningServer, type CloseOptions } from './server/server.js';
export type { ServerConfig, TlsOptions, WsCompressionConfig } from './server/config.js';
export { DEFAULT_CONFIG } from './server/config.js';
export type { InjectRequest, InjectResponse } from './server/inject.js';
export {
  Context,
  type ResponseBody,
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
