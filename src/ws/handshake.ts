import type { ParsedRequest } from '../http/parsed-request.js';
import { TOKEN } from '../util/token.js';

/** Why a WebSocket handshake was refused: the HTTP response to send instead of 101. */
export interface HandshakeRejection {
  /** 400 for a malformed handshake, 426 for an unsupported version. */
  readonly status: number;
  /** What was wrong. */
  readonly message: string;
  /** Extra headers (426 names the supported version). */
  readonly headers: Readonly<Record<string, string>>;
}

// RFC 6455 §4.1: the key is 16 random bytes, base64-encoded (24 characters ending in "==").
const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{21}[AQgw]==$/;
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** Whether the request asks to switch to WebSocket (`Upgrade: websocket`). */
export function isWebSocketUpgrade(request: ParsedRequest): boolean {
  const upgrade = request.upgradeHeader;
  return upgrade !== undefined && upgrade.toLowerCase().includes('websocket');
}

/**
 * The subprotocols a client offers (`Sec-WebSocket-Protocol`, a list of distinct tokens over
 * any number of header lines).
 * @returns null when none are offered, or when the list is malformed (checkHandshake refuses it)
 */
export function offeredProtocols(request: ParsedRequest): Set<string> | null {
  const headers = request.headers;
  let offered: Set<string> | null = null;
  for (let i = request.findHeader('sec-websocket-protocol'); i !== -1;) {
    for (const item of headers[i]!.split(',')) {
      const protocol = item.trim();
      if (!TOKEN.test(protocol)) return null;
      offered ??= new Set();
      if (offered.has(protocol)) return null;
      offered.add(protocol);
    }
    i = request.findHeader('sec-websocket-protocol', i + 1);
  }
  return offered;
}

/**
 * Checks an upgrade request against RFC 6455 §4.2.1 before any hook runs.
 * @returns null when the handshake is well-formed, else the response to send
 */
export function checkHandshake(request: ParsedRequest): HandshakeRejection | null {
  if (request.method !== 'GET') {
    return { status: 400, message: 'a WebSocket handshake must use GET', headers: NO_HEADERS };
  }
  if (!request.isHttp11) {
    return { status: 400, message: 'a WebSocket handshake needs HTTP/1.1', headers: NO_HEADERS };
  }
  if (!request.connectionUpgrade) {
    return {
      status: 400,
      message: 'Connection header does not contain "upgrade"',
      headers: NO_HEADERS,
    };
  }
  if (request.firstHeader('sec-websocket-version') !== '13') {
    return {
      status: 426,
      message: 'unsupported Sec-WebSocket-Version; this server speaks 13',
      headers: { 'sec-websocket-version': '13' },
    };
  }
  const key = request.firstHeader('sec-websocket-key');
  if (key === undefined || !WEBSOCKET_KEY.test(key)) {
    return { status: 400, message: 'missing or malformed Sec-WebSocket-Key', headers: NO_HEADERS };
  }
  if (request.findHeader('sec-websocket-protocol') !== -1 && offeredProtocols(request) === null) {
    return {
      status: 400,
      message: 'malformed Sec-WebSocket-Protocol (a list of distinct tokens)',
      headers: NO_HEADERS,
    };
  }
  return null;
}
