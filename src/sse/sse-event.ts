import { HyperlaneError } from '../error/hyperlane-error.js';

/** One Server-Sent Event. */
export interface SseEvent {
  /** The payload; each of its lines becomes a `data:` line. Non-strings are JSON-encoded. */
  data: unknown;
  /** Event type (`event:`); the browser dispatches it to listeners of that name. */
  event?: string;
  /** Event id (`id:`); the browser sends it back as `Last-Event-ID` when it reconnects. */
  id?: string | number;
  /** Reconnection delay in milliseconds (`retry:`). */
  retry?: number;
}

const LINE_BREAK = /\r\n|\r|\n/;

function checkField(name: string, value: string): string {
  if (value.includes('\n') || value.includes('\r')) {
    throw new HyperlaneError(
      'HL_ERR_SSE_INVALID',
      `SSE ${name} must not contain a line break: ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * The wire text of one event (text/event-stream, WHATWG HTML §9.2): `id:`, `event:`, `retry:`,
 * one `data:` line per line of data, `\n` line ends, a blank line last.
 * @throws HyperlaneError `HL_ERR_SSE_INVALID` for a line break in `id` or `event`, or a bad `retry`
 */
export function sseEvent(event: SseEvent): string {
  let text = '';
  if (event.id !== undefined) text += `id: ${checkField('id', String(event.id))}\n`;
  if (event.event !== undefined) text += `event: ${checkField('event', event.event)}\n`;
  if (event.retry !== undefined) {
    if (!Number.isInteger(event.retry) || event.retry < 0) {
      throw new HyperlaneError(
        'HL_ERR_SSE_INVALID',
        `SSE retry must be a non-negative integer, got ${event.retry}`,
      );
    }
    text += `retry: ${event.retry}\n`;
  }
  const data = typeof event.data === 'string' ? event.data : (JSON.stringify(event.data) ?? '');
  for (const line of data.split(LINE_BREAK)) text += `data: ${line}\n`;
  return text + '\n';
}

/** A comment line that keeps idle proxies from closing the stream; clients ignore it. */
export const SSE_KEEP_ALIVE = ': keep-alive\n\n';
