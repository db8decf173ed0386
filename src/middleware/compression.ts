import zlib from 'node:zlib';
import type { Context, ResponseEncoder } from '../context/context.js';
import { HyperlaneError, peerGoneError } from '../error/hyperlane-error.js';
import {
  CONTENT_CODINGS,
  isIdentityRefused,
  negotiateEncoding,
  type ContentCoding,
} from './accept-encoding.js';
import type { Middleware } from './middleware.js';
import { noop } from '../util/drain-waiters.js';

export type { ContentCoding } from './accept-encoding.js';

/** Options of {@link compression}. */
export interface CompressionOptions {
  /** Whole bodies smaller than this many bytes go out uncompressed; default 1024. */
  threshold?: number;
  /**
   * The codings offered, most preferred first (the tie-break when a client likes several
   * equally); default `['br', 'gzip', 'deflate']`.
   */
  encodings?: readonly ContentCoding[];
  /** zlib level for gzip and deflate, 0–9; default 6. */
  level?: number;
  /** Brotli quality, 0–11; default 4 (fast enough for responses built per request). */
  brotliQuality?: number;
  /**
   * Which responses to compress, by their `Content-Type` value as set (`''` when none):
   * default {@link isCompressibleType}.
   */
  filter?: (contentType: string) => boolean;
  /** Compress streamed responses (SSE included), flushing every chunk; default true. */
  streams?: boolean;
}

/** Options compiled once by the factory; the hooks only read them. */
interface CompiledCompression {
  readonly threshold: number;
  readonly encodings: readonly ContentCoding[];
  readonly filter: (contentType: string) => boolean;
  readonly streams: boolean;
  readonly zlibOptions: zlib.ZlibOptions;
  readonly brotliOptions: zlib.BrotliOptions;
}

const KNOWN_OPTIONS = new Set([
  'threshold',
  'encodings',
  'level',
  'brotliQuality',
  'filter',
  'streams',
]);

// Where a request's compiled options wait for the hook: a module-level hook and a Symbol key
// mean registering costs no closure per request.
const OPTIONS_KEY = Symbol('hyperlane.compression');
const ENCODER_KEY = Symbol('hyperlane.compression.encoder');

const EMPTY = Buffer.alloc(0);
// Compression sees the final body: after a 304 from etag() or a body another hook rewrote.
const LAST = { last: true } as const;
const DIGITS = /^\d{1,15}$/;
const NO_TRANSFORM = /(?:^|[\s,])no-transform(?:[\s,=;]|$)/i;
const VARIES_ALREADY = /(?:^|,)[ \t]*(?:accept-encoding|\*)[ \t]*(?:,|$)/i;

/**
 * Response compression with gzip, deflate or Brotli, chosen by the request's
 * `Accept-Encoding` (q-values honoured; no header means no compression).
 *
 * As request middleware (`server.requestMiddleware(compression())`, or
 * `server.compression(opts)`) it compresses whole bodies and streams: every chunk of a stream
 * or server-sent event stream is flushed on its own, so clients see each event as it is sent.
 * As response middleware it compresses whole bodies. Skipped: `HEAD`, 204/206/304, a response
 * that already has a `Content-Encoding` or says `Cache-Control: no-transform`, types that do not
 * compress (images, audio, video, archives, octet-stream), and whole bodies under `threshold`.
 * Compressible responses get `Vary: Accept-Encoding`; a strong `ETag` on a compressed body is
 * made weak. Whole bodies are compressed synchronously, so keep large static files precompressed.
 *
 * ```ts
 * server.requestMiddleware(compression({ threshold: 1024, encodings: ['br', 'gzip'] }));
 * ```
 * @throws HyperlaneError `HL_ERR_CONFIG` naming the option that is invalid
 */
export function compression(options: CompressionOptions = {}): Middleware {
  const compiled = compile(options);
  return function compressionMiddleware(ctx: Context): void {
    if (ctx.isSent() || ctx.isWebSocket()) return;
    // Registered twice (server.compression() and by hand): the first registration decides.
    if (ctx.getAttribute(OPTIONS_KEY) !== undefined) return;
    ctx.setAttribute(OPTIONS_KEY, compiled);
    ctx.onBeforeSend(compressHook, LAST);
  };
}

/**
 * The default {@link CompressionOptions.filter}: text (`text/*`, JSON, XML, JavaScript, SVG,
 * YAML, `+json`/`+xml` types), WebAssembly, uncompressed fonts and icons. A missing type counts
 * as text, the type a string body is sent with; images, audio, video, archives and
 * `application/octet-stream` do not compress.
 */
export function isCompressibleType(contentType: string): boolean {
  let known = typeCache.get(contentType);
  if (known === undefined) {
    known = classify(contentType);
    // Apps send a handful of distinct types; a bound keeps hostile variety from growing it.
    if (typeCache.size >= 256) typeCache.clear();
    typeCache.set(contentType, known);
  }
  return known;
}

const typeCache = new Map<string, boolean>();

const COMPRESSIBLE = new Set([
  'application/json',
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/xml',
  'application/wasm',
  'application/x-ndjson',
  'application/x-www-form-urlencoded',
  'application/graphql',
  'application/yaml',
  'application/x-yaml',
  'application/toml',
  'application/sql',
  'application/rtf',
  'application/x-sh',
  'application/x-tar',
  'application/vnd.ms-fontobject',
  'application/x-font-ttf',
  'font/ttf',
  'font/otf',
  'font/collection',
  'image/svg+xml',
  'image/x-icon',
  'image/vnd.microsoft.icon',
  'image/bmp',
]);

function classify(contentType: string): boolean {
  const semicolon = contentType.indexOf(';');
  const essence = (semicolon === -1 ? contentType : contentType.slice(0, semicolon))
    .trim()
    .toLowerCase();
  if (essence === '') return true;
  if (essence.startsWith('text/')) return true;
  if (COMPRESSIBLE.has(essence)) return true;
  return essence.endsWith('+json') || essence.endsWith('+xml') || essence.endsWith('+yaml');
}

function compile(options: CompressionOptions): CompiledCompression {
  if (options === null || typeof options !== 'object') {
    throw new HyperlaneError('HL_ERR_CONFIG', 'compression(options): options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new HyperlaneError('HL_ERR_CONFIG', `compression(): unknown option "${key}"`);
    }
  }
  const threshold = options.threshold ?? 1024;
  if (!Number.isSafeInteger(threshold) || threshold < 0) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `compression(): threshold must be a non-negative integer (bytes), got ${String(threshold)}`,
    );
  }
  const level = options.level ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `compression(): level must be an integer from 0 to 9, got ${String(level)}`,
    );
  }
  const quality = options.brotliQuality ?? 4;
  if (!Number.isInteger(quality) || quality < 0 || quality > 11) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `compression(): brotliQuality must be an integer from 0 to 11, got ${String(quality)}`,
    );
  }
  const filter = options.filter ?? isCompressibleType;
  if (typeof filter !== 'function') {
    throw new HyperlaneError('HL_ERR_CONFIG', 'compression(): filter must be a function');
  }
  const streams = options.streams ?? true;
  if (typeof streams !== 'boolean') {
    throw new HyperlaneError('HL_ERR_CONFIG', 'compression(): streams must be a boolean');
  }
  return {
    threshold,
    encodings: compileEncodings(options.encodings),
    filter,
    streams,
    zlibOptions: { level },
    brotliOptions: { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: quality } },
  };
}

function compileEncodings(
  encodings: readonly ContentCoding[] | undefined,
): readonly ContentCoding[] {
  if (encodings === undefined) return CONTENT_CODINGS;
  if (!Array.isArray(encodings) || encodings.length === 0) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      'compression(): encodings must be a non-empty array of "br", "gzip", "deflate"',
    );
  }
  const seen = new Set<ContentCoding>();
  for (const name of encodings) {
    if (!CONTENT_CODINGS.includes(name)) {
      throw new HyperlaneError(
        'HL_ERR_CONFIG',
        `compression(): unknown encoding ${JSON.stringify(name)} in encodings (use "br", "gzip", "deflate")`,
      );
    }
    if (seen.has(name)) {
      throw new HyperlaneError(
        'HL_ERR_CONFIG',
        `compression(): encoding "${name}" is listed twice in encodings`,
      );
    }
    seen.add(name);
  }
  return Object.freeze([...encodings]);
}

// ---- the hook --------------------------------------------------------------------------------

/** Runs just before the head is written: decides, then compresses the body or sets an encoder. */
function compressHook(ctx: Context): void {
  const options = ctx.getAttribute<CompiledCompression>(OPTIONS_KEY)!;
  const status = ctx.getResponseStatusCode();
  // No body ever (204), or a byte range of the uncompressed representation (206).
  if (status === 204 || status === 206 || status < 200) return;
  if (ctx.getResponseHeader('content-encoding') !== undefined) return;
  const cacheControl = ctx.getResponseHeader('cache-control');
  if (cacheControl !== undefined && NO_TRANSFORM.test(cacheControl)) return;
  const streaming = ctx.isStreaming();
  if (streaming && !options.streams) return;
  if (!options.filter(ctx.getResponseHeader('content-type') ?? '')) return;

  // From here the answer depends on Accept-Encoding, for this client or the next: caches must know.
  addVary(ctx);
  if (status === 304 || ctx.getRequestMethod() === 'HEAD') return;
  const accept = ctx.getRequestHeader('accept-encoding');
  if (accept === undefined) return;
  const coding = negotiateEncoding(accept, options.encodings);
  if (coding === undefined) return;

  // A client that refuses identity gets a coding whatever the size.
  const forced = isIdentityRefused(accept);
  if (streaming) {
    startEncodedStream(ctx, options, coding, forced);
    return;
  }
  const body = ctx.getResponseBody();
  if (body.length < options.threshold && !forced) return;
  const compressed = compressWhole(body, coding, options);
  // Already compressed bytes (an untyped binary body, say) only grow: send them as they are.
  if (compressed.length >= body.length && !forced) return;
  ctx.setResponseBody(compressed);
  markEncoded(ctx, coding);
}

function startEncodedStream(
  ctx: Context,
  options: CompiledCompression,
  coding: ContentCoding,
  forced: boolean,
): void {
  const declared = ctx.getResponseHeader('content-length');
  if (
    !forced &&
    declared !== undefined &&
    DIGITS.test(declared) &&
    Number(declared) < options.threshold
  ) {
    return;
  }
  const encoder = new ZlibEncoder(coding, options);
  markEncoded(ctx, coding);
  ctx.setResponseEncoder(encoder);
  ctx.setAttribute(ENCODER_KEY, encoder);
  ctx.onFinish(releaseEncoder);
}

/** Headers of a response whose bytes are now `coding`-encoded. */
function markEncoded(ctx: Context, coding: ContentCoding): void {
  ctx.setResponseHeader('content-encoding', coding);
  // The length the handler knew is the uncompressed one; the server frames the new bytes.
  ctx.removeResponseHeader('content-length');
  const etag = ctx.getResponseHeader('etag');
  // RFC 9110 §8.8.1: a strong validator promises these exact bytes, and they changed.
  if (etag !== undefined && !etag.startsWith('W/')) ctx.setResponseHeader('etag', `W/${etag}`);
}

/** Adds `Accept-Encoding` to `Vary`, keeping what is there and never listing it twice. */
function addVary(ctx: Context): void {
  const vary = ctx.getResponseHeader('vary');
  if (vary === undefined || vary.trim() === '') {
    ctx.setResponseHeader('vary', 'Accept-Encoding');
  } else if (!VARIES_ALREADY.test(vary)) {
    ctx.setResponseHeader('vary', `${vary}, Accept-Encoding`);
  }
}

function compressWhole(body: Buffer, coding: ContentCoding, options: CompiledCompression): Buffer {
  if (coding === 'br') return zlib.brotliCompressSync(body, options.brotliOptions);
  if (coding === 'gzip') return zlib.gzipSync(body, options.zlibOptions);
  return zlib.deflateSync(body, options.zlibOptions);
}

/** `onFinish()` hook of an encoded stream: frees the zlib stream, even if the client left early. */
function releaseEncoder(ctx: Context): void {
  ctx.getAttribute<ZlibEncoder>(ENCODER_KEY)?.release();
}

// ---- streams ---------------------------------------------------------------------------------

type ZlibStream = zlib.Gzip | zlib.Deflate | zlib.BrotliCompress;

/**
 * Compresses the chunks of one streamed response through one zlib stream, flushing after
 * every chunk so each reaches the client whole (one SSE event decodes as soon as it arrives).
 */
class ZlibEncoder implements ResponseEncoder {
  private readonly coding: ContentCoding;
  private readonly options: CompiledCompression;
  private stream: ZlibStream | null = null;
  private output: Buffer[] = [];
  private outputLength = 0;
  /** Calls run one after the other: each waits for the one before to settle. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Rejects the call in progress if the zlib stream fails or is released under it. */
  private fail: ((error: Error) => void) | null = null;
  private failure: Error | null = null;

  constructor(coding: ContentCoding, options: CompiledCompression) {
    this.coding = coding;
    this.options = options;
  }

  encode(chunk: Buffer): Promise<Buffer> {
    const result = this.tail.then(() => this.write(chunk));
    this.tail = result.catch(noop);
    return result;
  }

  finish(): Promise<Buffer> {
    const result = this.tail.then(() => this.end());
    this.tail = result.catch(noop);
    return result;
  }

  /** Destroys the zlib stream (a no-op once it ended); a call in progress rejects. */
  release(): void {
    const stream = this.stream;
    if (stream !== null && !stream.destroyed) stream.destroy();
    this.onError(peerGoneError('the compressed stream was released'));
  }

  private write(chunk: Buffer): Promise<Buffer> {
    const stream = this.open();
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise<Buffer>((resolve, reject) => {
      this.fail = reject;
      if (chunk.length > 0) stream.write(chunk);
      // The flush callback comes after the output of everything written before it.
      stream.flush(this.flushKind(), () => {
        this.fail = null;
        if (this.failure !== null) reject(this.failure);
        else resolve(this.take());
      });
    });
  }

  private end(): Promise<Buffer> {
    const stream = this.open();
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise<Buffer>((resolve, reject) => {
      this.fail = reject;
      stream.once('end', () => {
        this.fail = null;
        resolve(this.take());
      });
      stream.end();
    });
  }

  private open(): ZlibStream {
    if (this.stream !== null) return this.stream;
    const options = this.options;
    const stream =
      this.coding === 'br'
        ? zlib.createBrotliCompress(options.brotliOptions)
        : this.coding === 'gzip'
          ? zlib.createGzip(options.zlibOptions)
          : zlib.createDeflate(options.zlibOptions);
    stream.on('data', (data: Buffer) => {
      this.output.push(data);
      this.outputLength += data.length;
    });
    stream.on('error', (error: Error) => this.onError(error));
    this.stream = stream;
    return stream;
  }

  private onError(error: Error): void {
    this.failure ??= error;
    const fail = this.fail;
    this.fail = null;
    fail?.(this.failure);
  }

  private flushKind(): number {
    return this.coding === 'br'
      ? zlib.constants.BROTLI_OPERATION_FLUSH
      : zlib.constants.Z_SYNC_FLUSH;
  }

  /** Everything the zlib stream produced since the last call. */
  private take(): Buffer {
    const output = this.output;
    if (output.length === 0) return EMPTY;
    const bytes = output.length === 1 ? output[0]! : Buffer.concat(output, this.outputLength);
    this.output = [];
    this.outputLength = 0;
    return bytes;
  }
}
