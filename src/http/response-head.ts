import { dateHeaderLine } from './date-cache.js';
import type { ReadonlyResponseHeaders } from './response-headers.js';
import { statusLine } from './status.js';

/** How a response body is delimited on the wire. */
export const enum Framing {
  /** No body at all (HEAD, 1xx, 204, 304): `content-length` as given, or none. */
  None,
  /** `content-length: n`. */
  Length,
  /** `transfer-encoding: chunked` (an HTTP/1.1 stream). */
  Chunked,
  /** The body runs until the connection closes (an HTTP/1.0 stream). */
  UntilClose,
}

/** Whether the `connection` header says `close`, `keep-alive`, or nothing. */
export const enum ConnectionHeader {
  Omit,
  Close,
  KeepAlive,
}

/**
 * Framing and connection management are the server's job: a handler's values for these
 * headers are dropped from every response.
 */
export function isFramingHeader(name: string): boolean {
  return name === 'content-length' || name === 'transfer-encoding' || name === 'connection';
}

/**
 * Serializes a response head: status line, the given headers (lower-case names), framing,
 * `date` (cached per second, unless the handler set one) and `connection`.
 * @param contentLength - the body length for `Framing.Length`, or the length a HEAD reply
 *   announces with `Framing.None` (-1 for none)
 */
export function serializeResponseHead(
  status: number,
  headers: ReadonlyResponseHeaders,
  framing: Framing,
  contentLength: number,
  connection: ConnectionHeader,
): string {
  let head = statusLine(status);
  let hasDate = false;
  for (let i = 0; i < headers.size; i++) {
    const name = headers.nameAt(i);
    if (isFramingHeader(name)) continue;
    const value = headers.valueAt(i);
    if (name === 'date') hasDate = true;
    if (typeof value === 'string') head += `${name}: ${value}\r\n`;
    else for (const item of value) head += `${name}: ${item}\r\n`;
  }
  if (framing === Framing.Length || (framing === Framing.None && contentLength >= 0)) {
    head += `content-length: ${contentLength}\r\n`;
  } else if (framing === Framing.Chunked) {
    head += 'transfer-encoding: chunked\r\n';
  }
  if (!hasDate) head += dateHeaderLine();
  if (connection === ConnectionHeader.Close) head += 'connection: close\r\n';
  else if (connection === ConnectionHeader.KeepAlive) head += 'connection: keep-alive\r\n';
  return head + '\r\n';
}
