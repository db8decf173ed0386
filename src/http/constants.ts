/*
 * Header names and values under Hyperlane's constant names, so ported code reads the same.
 * Names are lower-case: HTTP/1.1 header names are case-insensitive and lower case is what the
 * request side reports.
 */

/** `content-type` */
export const CONTENT_TYPE = 'content-type';
/** `content-length` */
export const CONTENT_LENGTH = 'content-length';
/** `content-encoding` */
export const CONTENT_ENCODING = 'content-encoding';
/** `transfer-encoding` */
export const TRANSFER_ENCODING = 'transfer-encoding';
/** `set-cookie` */
export const SET_COOKIE = 'set-cookie';
/** `cookie` */
export const COOKIE = 'cookie';
/** `server` */
export const SERVER = 'server';
/** `connection` */
export const CONNECTION = 'connection';
/** `host` */
export const HOST = 'host';
/** `date` */
export const DATE = 'date';
/** `location` */
export const LOCATION = 'location';
/** `accept` */
export const ACCEPT = 'accept';
/** `accept-encoding` */
export const ACCEPT_ENCODING = 'accept-encoding';
/** `authorization` */
export const AUTHORIZATION = 'authorization';
/** `user-agent` */
export const USER_AGENT = 'user-agent';
/** `cache-control` */
export const CACHE_CONTROL = 'cache-control';
/** `upgrade` */
export const UPGRADE = 'upgrade';
/** `allow` */
export const ALLOW = 'allow';
/** `access-control-allow-origin` */
export const ACCESS_CONTROL_ALLOW_ORIGIN = 'access-control-allow-origin';
/** `sec-websocket-key` */
export const SEC_WEBSOCKET_KEY = 'sec-websocket-key';
/** `sec-websocket-accept` */
export const SEC_WEBSOCKET_ACCEPT = 'sec-websocket-accept';
/** `sec-websocket-version` */
export const SEC_WEBSOCKET_VERSION = 'sec-websocket-version';
/** `sec-websocket-protocol` */
export const SEC_WEBSOCKET_PROTOCOL = 'sec-websocket-protocol';
/** `last-event-id` */
export const LAST_EVENT_ID = 'last-event-id';
/** `x-request-id` */
export const X_REQUEST_ID = 'x-request-id';

/** `application/json` */
export const APPLICATION_JSON = 'application/json';
/** `text/plain` */
export const TEXT_PLAIN = 'text/plain';
/** `text/html` */
export const TEXT_HTML = 'text/html';
/** `text/event-stream` */
export const TEXT_EVENT_STREAM = 'text/event-stream';
/** `application/octet-stream` */
export const APPLICATION_OCTET_STREAM = 'application/octet-stream';
/** `application/x-www-form-urlencoded` */
export const FORM_URLENCODED = 'application/x-www-form-urlencoded';
/** `multipart/form-data` */
export const MULTIPART_FORM_DATA = 'multipart/form-data';
/** `charset=utf-8` */
export const CHARSET_UTF_8 = 'charset=utf-8';
/** `keep-alive` */
export const KEEP_ALIVE = 'keep-alive';
/** `close` */
export const CLOSE = 'close';
/** `websocket` */
export const WEBSOCKET = 'websocket';
/** `no-cache` */
export const NO_CACHE = 'no-cache';
/** `chunked` */
export const CHUNKED = 'chunked';

/** HTTP methods, upper case. */
export const GET = 'GET';
/** `POST` */
export const POST = 'POST';
/** `PUT` */
export const PUT = 'PUT';
/** `PATCH` */
export const PATCH = 'PATCH';
/** `DELETE` */
export const DELETE = 'DELETE';
/** `HEAD` */
export const HEAD = 'HEAD';
/** `OPTIONS` */
export const OPTIONS = 'OPTIONS';

/** `HTTP/1.1` */
export const HTTP_1_1 = 'HTTP/1.1';
/** `HTTP/1.0` */
export const HTTP_1_0 = 'HTTP/1.0';
/** The HTTP line break, `"\r\n"`. */
export const HTTP_BR = '\r\n';
/** The end of an HTTP head, `"\r\n\r\n"`. */
export const HTTP_DOUBLE_BR = '\r\n\r\n';
