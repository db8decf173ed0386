import { HyperlaneError } from '../error/hyperlane-error.js';
import { TOKEN } from '../util/token.js';
import { compression, type CompressionOptions } from '../middleware/compression.js';

/** TLS material for HTTPS (PEM strings or buffers). */
export interface TlsOptions {
  /** Private key. */
  key: string | Buffer;
  /** Certificate chain. */
  cert: string | Buffer;
}

/** permessage-deflate settings for WebSocket messages (RFC 7692). */
export interface WsCompressionConfig {
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /** zlib level 0–9. Default 6 (zlib's). */
  level?: number;
  /** Reset the server's compression context after each message (less memory, larger frames). */
  serverNoContextTakeover?: boolean;
  /** Ask clients to reset theirs after each message. */
  clientNoContextTakeover?: boolean;
}

/**
 * Server settings as plain data, so they can come from a JSON file or the environment.
 * Keys are the names of the Server's fluent methods.
 */
export interface ServerConfig {
  /** Bind address. Default `0.0.0.0`. */
  host: string;
  /** Port; 0 picks a free one. Default 60000. */
  port: number;
  /** TCP_NODELAY on accepted sockets. Default true. */
  nodelay: boolean;
  /** Milliseconds a closing connection may take to flush before it is destroyed; false = off. */
  linger: number | false;
  /** Read buffer and largest request head, in bytes. Default 16 KiB. */
  httpBufferSize: number;
  /** Read buffer for WebSocket connections, in bytes. Default 4 KiB. */
  wsBufferSize: number;
  /** Largest request body, in bytes (→ 413). Default 1 MiB. */
  bodyLimit: number;
  /** Largest WebSocket message, in bytes (→ close 1009). Default 1 MiB. */
  wsMessageLimit: number;
  /** Milliseconds for head and body to arrive (→ 408). Default 30 s. */
  requestTimeout: number;
  /** Milliseconds an idle keep-alive connection is kept. Default 5 s. */
  keepAliveTimeout: number;
  /** Connections beyond this are closed at once. Default 10,000. */
  maxConnections: number;
  /** Serve HTTPS with this key and certificate. */
  tls: TlsOptions | undefined;
  /** Milliseconds between WebSocket pings; a peer that misses a pong is dropped. false = off. Default 30 s. */
  wsHeartbeat: number | false;
  /** WebSocket subprotocols this server speaks, in preference order. Default none. */
  wsProtocols: string[];
  /** permessage-deflate for WebSocket messages; off unless set. */
  wsCompression: WsCompressionConfig | false;
  /** Milliseconds of silence after which an open event stream gets a keep-alive comment; false = off. */
  sseKeepAlive: number | false;
  /** Compress responses (gzip, brotli, deflate by Accept-Encoding); off unless set. */
  compression: CompressionOptions | false;
  /** Worker processes sharing the port (`'auto'`: one per core); one process unless set. */
  workers: number | 'auto' | undefined;
}

/** The defaults every Server starts from. */
export const DEFAULT_CONFIG: Readonly<ServerConfig> = Object.freeze({
  host: '0.0.0.0',
  port: 60000,
  nodelay: true,
  linger: false,
  httpBufferSize: 16 * 1024,
  wsBufferSize: 4 * 1024,
  bodyLimit: 1024 * 1024,
  wsMessageLimit: 1024 * 1024,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  maxConnections: 10_000,
  tls: undefined,
  wsHeartbeat: 30_000,
  wsProtocols: [],
  wsCompression: false,
  sseKeepAlive: false,
  compression: false,
  workers: undefined,
});

type Check = (value: unknown) => string | null;

const positiveInteger: Check = (value) =>
  typeof value === 'number' && Number.isInteger(value) && value > 0 ? null : 'a positive integer';

const CHECKS: Record<keyof ServerConfig, Check> = {
  host: (value) => (typeof value === 'string' && value.length > 0 ? null : 'a non-empty string'),
  port: (value) =>
    typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535
      ? null
      : 'an integer from 0 to 65535',
  nodelay: (value) => (typeof value === 'boolean' ? null : 'a boolean'),
  linger: (value) =>
    value === false || (typeof value === 'number' && Number.isInteger(value) && value >= 0)
      ? null
      : 'false or a non-negative integer (milliseconds)',
  httpBufferSize: positiveInteger,
  wsBufferSize: positiveInteger,
  bodyLimit: (value) =>
    typeof value === 'number' && Number.isInteger(value) && value >= 0
      ? null
      : 'a non-negative integer',
  wsMessageLimit: positiveInteger,
  requestTimeout: positiveInteger,
  keepAliveTimeout: positiveInteger,
  maxConnections: positiveInteger,
  tls: (value) => {
    if (value === undefined) return null;
    if (typeof value !== 'object' || value === null) return 'an object { key, cert }';
    const { key, cert } = value as Record<string, unknown>;
    const isPem = (part: unknown): boolean => typeof part === 'string' || Buffer.isBuffer(part);
    return isPem(key) && isPem(cert) ? null : 'an object { key, cert } of PEM strings or Buffers';
  },
  wsHeartbeat: (value) =>
    value === false || (typeof value === 'number' && Number.isInteger(value) && value > 0)
      ? null
      : 'false or a positive integer (milliseconds)',
  sseKeepAlive: (value) =>
    value === false || (typeof value === 'number' && Number.isInteger(value) && value > 0)
      ? null
      : 'false or a positive integer (milliseconds)',
  wsProtocols: (value) =>
    Array.isArray(value) && value.every((item) => typeof item === 'string' && TOKEN.test(item))
      ? null
      : 'an array of subprotocol tokens',
  workers: (value) =>
    value === undefined ||
    value === 'auto' ||
    (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 1024)
      ? null
      : "'auto' or an integer from 1 to 1024",
  compression: (value) => {
    if (value === false) return null;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return 'false or an object { threshold?, encodings?, level?, brotliQuality?, streams? }';
    }
    try {
      compression(value as CompressionOptions); // the factory validates its options
      return null;
    } catch (error) {
      return `valid compression options (${(error as Error).message})`;
    }
  },
  wsCompression: (value) => {
    if (value === false) return null;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return 'false or an object { threshold?, level?, serverNoContextTakeover?, clientNoContextTakeover? }';
    }
    const { threshold, level, ...rest } = value as Record<string, unknown>;
    if (threshold !== undefined && (typeof threshold !== 'number' || threshold < 0)) {
      return 'an object whose threshold is a non-negative number';
    }
    if (
      level !== undefined &&
      (typeof level !== 'number' || !Number.isInteger(level) || level < 0 || level > 9)
    ) {
      return 'an object whose level is an integer from 0 to 9';
    }
    for (const key of Object.keys(rest)) {
      if (key !== 'serverNoContextTakeover' && key !== 'clientNoContextTakeover') {
        return `an object without the unknown key "${key}"`;
      }
      if (typeof rest[key] !== 'boolean') return `an object whose ${key} is a boolean`;
    }
    return null;
  },
};

/** Throws `HL_ERR_CONFIG` naming `key` when `value` is not valid for it. */
export function checkConfigValue(key: string, value: unknown): void {
  if (!Object.hasOwn(CHECKS, key)) {
    throw new HyperlaneError('HL_ERR_CONFIG', `unknown config key "${key}"`);
  }
  const problem = CHECKS[key as keyof ServerConfig](value);
  if (problem !== null) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `config key "${key}" must be ${problem}, got ${describe(value)}`,
    );
  }
}

/** Validates `input` (plain data) and merges it over the defaults. */
export function resolveConfig(input: Partial<ServerConfig> | undefined): ServerConfig {
  const config: ServerConfig = { ...DEFAULT_CONFIG };
  if (input === undefined) return config;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new HyperlaneError('HL_ERR_CONFIG', 'server config must be a plain object');
  }
  for (const key of Object.keys(input)) {
    const value = (input as Record<string, unknown>)[key];
    checkConfigValue(key, value);
    (config as unknown as Record<string, unknown>)[key] = value;
  }
  return config;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
