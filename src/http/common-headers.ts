/**
 * Request header names clients commonly send, lower case. The parser maps their usual
 * spellings to these strings, and a long-lived request (a WebSocket's) shares them instead of
 * keeping copies of its own.
 */
export const COMMON_HEADER_NAMES: readonly string[] = [
  'host',
  'user-agent',
  'accept',
  'accept-encoding',
  'accept-language',
  'connection',
  'content-type',
  'content-length',
  'transfer-encoding',
  'cookie',
  'authorization',
  'origin',
  'referer',
  'cache-control',
  'pragma',
  'upgrade',
  'if-none-match',
  'if-modified-since',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-real-ip',
  'x-request-id',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
  'last-event-id',
  'expect',
];
