/**
 * Query parsing without copies. The article split the query into `&str` slices that borrow the
 * request line; the JavaScript equivalent is to scan the raw string once, remember where each key
 * and value start and end, and cut and decode a value only when a handler asks for it. Results
 * follow the WHATWG `application/x-www-form-urlencoded` rules exactly, as URLSearchParams does:
 * `+` is a space, `%XX` escapes are decoded as UTF-8, a malformed escape stays as written, and
 * nothing ever throws. Run: `node .build/examples/query-parsing.js` prints the micro-benchmark,
 * then serves GET http://localhost:60007/query?...
 */
import { Server, type Context } from '../src/index.js';
import { checkPrefix, joinPath, type MountOptions } from './mount.js';

// Per pair, four numbers: key start, key end (the '=' or the pair's end), pair end, and 1 when
// the key holds '+' or '%'. A pair without '=' has key end === pair end: an empty value.
const FIELDS = 4;
const PLUS = 0x2b;
const PERCENT = 0x25;

// ignoreBOM keeps a leading U+FEFF, as the standard's "UTF-8 decode without BOM" does.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * The slow path, for text holding a malformed escape or escapes that are not valid UTF-8:
 * percent-decode to bytes, keeping bad escapes as the literal bytes, then decode UTF-8 with
 * U+FFFD for invalid sequences, exactly as the WHATWG URL standard says.
 */
function decodeBytewise(text: string): string {
  const input = Buffer.from(text, 'utf8');
  const output = Buffer.allocUnsafe(input.length);
  let length = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    if (byte === PERCENT && i + 2 < input.length) {
      const high = hexValue(input[i + 1]!);
      const low = hexValue(input[i + 2]!);
      if (high !== -1 && low !== -1) {
        output[length++] = (high << 4) | low;
        i += 2;
        continue;
      }
    }
    output[length++] = byte === PLUS ? 0x20 : byte;
  }
  return utf8.decode(output.subarray(0, length));
}

/** Decodes one key or value by the urlencoded rules; text with no '+' or '%' comes back as is. */
export function decodeQueryComponent(text: string): string {
  const spaced = text.indexOf('+') === -1 ? text : text.replaceAll('+', ' ');
  if (spaced.indexOf('%') === -1) return spaced;
  try {
    // Native and fast, and identical to the standard whenever it succeeds: every escape is
    // well formed and the bytes are valid UTF-8.
    return decodeURIComponent(spaced);
  } catch {
    return decodeBytewise(text);
  }
}

/**
 * A parsed query: the raw string plus the offsets of each pair. Keys are compared against the
 * raw text when they hold no escapes, and values are cut and decoded only when asked for, then
 * cached, so a handler that reads two parameters out of twenty pays for two.
 *
 * Repeated keys are all kept, in order: `get` gives the first (as `ctx.getRequestQuery` does),
 * `getAll` every one.
 */
export class QueryView {
  /** The query as given, without its leading '?'. */
  readonly raw: string;
  /** Number of pairs, repeated keys counted each time. */
  readonly size: number;
  readonly #offsets: readonly number[];
  #keys: (string | undefined)[] | undefined = undefined;
  #values: (string | undefined)[] | undefined = undefined;

  /** @internal Use {@link parseQuery}. */
  constructor(raw: string, offsets: readonly number[]) {
    this.raw = raw;
    this.#offsets = offsets;
    this.size = offsets.length / FIELDS;
  }

  /** The decoded key of pair `index` (0-based, in query order). */
  keyAt(index: number): string {
    this.#checkIndex(index);
    const cached = this.#keys?.[index];
    if (cached !== undefined) return cached;
    const base = index * FIELDS;
    const text = this.raw.slice(this.#offsets[base]!, this.#offsets[base + 1]!);
    const key = this.#offsets[base + 3] === 0 ? text : decodeQueryComponent(text);
    (this.#keys ??= new Array<string | undefined>(this.size))[index] = key;
    return key;
  }

  /** The decoded value of pair `index`; '' for a key without '='. */
  valueAt(index: number): string {
    this.#checkIndex(index);
    const cached = this.#values?.[index];
    if (cached !== undefined) return cached;
    const base = index * FIELDS;
    const keyEnd = this.#offsets[base + 1]!;
    const end = this.#offsets[base + 2]!;
    const text = keyEnd === end ? '' : this.raw.slice(keyEnd + 1, end);
    const value = decodeQueryComponent(text);
    (this.#values ??= new Array<string | undefined>(this.size))[index] = value;
    return value;
  }

  /** The first value for `name`, or `null` when absent (as URLSearchParams#get). */
  get(name: string): string | null {
    const index = this.#indexOf(name, 0);
    return index === -1 ? null : this.valueAt(index);
  }

  /** Every value for `name`, in query order. */
  getAll(name: string): string[] {
    const values: string[] = [];
    for (let index = this.#indexOf(name, 0); index !== -1; index = this.#indexOf(name, index + 1)) {
      values.push(this.valueAt(index));
    }
    return values;
  }

  /** Whether `name` appears at least once. */
  has(name: string): boolean {
    return this.#indexOf(name, 0) !== -1;
  }

  /** `[key, value]` for every pair, decoded, in query order. */
  *entries(): IterableIterator<[string, string]> {
    for (let index = 0; index < this.size; index++) yield [this.keyAt(index), this.valueAt(index)];
  }

  /** Every key, repeated keys once per occurrence, in query order. */
  *keys(): IterableIterator<string> {
    for (let index = 0; index < this.size; index++) yield this.keyAt(index);
  }

  /** Same as {@link QueryView.entries}. */
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /**
   * Every key with all its values. The object has no prototype, so a key such as `__proto__`
   * is stored as data rather than changing the object.
   */
  toMultiRecord(): Record<string, string[]> {
    const record = Object.create(null) as Record<string, string[]>;
    for (let index = 0; index < this.size; index++) {
      const key = this.keyAt(index);
      (record[key] ??= []).push(this.valueAt(index));
    }
    return record;
  }

  #checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new RangeError(
        `query pair index must be an integer from 0 to ${this.size - 1}, got ${index}`,
      );
    }
  }

  /** The first pair at or after `from` whose decoded key is `name`, or -1. */
  #indexOf(name: string, from: number): number {
    const offsets = this.#offsets;
    for (let index = from; index < this.size; index++) {
      if (offsets[index * FIELDS + 3] !== 0) {
        if (this.keyAt(index) === name) return index;
        continue;
      }
      // Unescaped key: compare in place, no substring.
      const start = offsets[index * FIELDS]!;
      const end = offsets[index * FIELDS + 1]!;
      if (end - start === name.length && this.raw.startsWith(name, start)) return index;
    }
    return -1;
  }
}

/**
 * Scans `query` once (a leading '?' is skipped, as URLSearchParams does) and returns a
 * {@link QueryView}. Nothing is cut or decoded here; empty pairs (`a=1&&b=2`) are skipped.
 * Never throws. Text is taken as well-formed UTF-16, which anything read off the wire is (a lone
 * surrogate in unescaped text is kept, where URLSearchParams would turn it into U+FFFD).
 */
export function parseQuery(query: string): QueryView {
  const length = query.length;
  let pos = query.charCodeAt(0) === 0x3f /* ? */ ? 1 : 0;
  // A plain array of small integers: cheaper to allocate than typed arrays for a handful of pairs.
  const offsets: number[] = [];
  // Native indexOf finds the separators; only keys are walked char by char (they are short,
  // values may be long and are looked at only when asked for).
  let eq = query.indexOf('=', pos);
  while (pos < length) {
    let amp = query.indexOf('&', pos);
    if (amp === -1) amp = length;
    if (amp > pos) {
      if (eq !== -1 && eq < pos) eq = query.indexOf('=', pos);
      const keyEnd = eq !== -1 && eq < amp ? eq : amp;
      let escaped = 0;
      for (let i = pos; i < keyEnd; i++) {
        const code = query.charCodeAt(i);
        if (code === PLUS || code === PERCENT) {
          escaped = 1;
          break;
        }
      }
      offsets.push(pos, keyEnd, amp, escaped);
    }
    pos = amp + 1;
  }
  return new QueryView(query, offsets);
}

/** The query part of a request target ('' when there is none). */
export function queryOf(target: string): string {
  const mark = target.indexOf('?');
  return mark === -1 ? '' : target.slice(mark + 1);
}

/** Realistic queries: pagination, search with spaces and UTF-8, repeated filters, tracking tags. */
export const SAMPLE_QUERIES: readonly string[] = [
  'page=2&limit=20&sort=created_at&order=desc',
  'q=hello+world&lang=en&safe=on&page=1',
  'q=caf%C3%A9+cr%C3%A8me&category=food&tags=sweet&tags=french&tags=dessert',
  'utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale_2025&utm_content=hero&ref=home&page=3',
  'filter%5Bstatus%5D=active&filter%5Brole%5D=admin&include=profile%2Cposts&fields=id,name,email&page=1',
  'redirect=https%3A%2F%2Fexample.com%2Fcallback%3Fstate%3Dxyz&client_id=abc123&scope=read+write&debug',
];

/** What {@link compareWithUrlSearchParams} measured. */
export interface QueryBenchmark {
  /** Operations timed per parser (each parses one query and reads three parameters). */
  iterations: number;
  /** Nanoseconds per operation with {@link parseQuery}. */
  parseQueryNsPerOp: number;
  /** Nanoseconds per operation with URLSearchParams. */
  urlSearchParamsNsPerOp: number;
}

// Keeps results alive so the JIT cannot drop the work being measured.
let sink = 0;

function timeLoop(iterations: number, operation: (query: string) => number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    sink += operation(SAMPLE_QUERIES[i % SAMPLE_QUERIES.length]!);
  }
  return Number(process.hrtime.bigint() - started) / iterations;
}

function withParseQuery(query: string): number {
  const view = parseQuery(query);
  return (
    (view.get('page')?.length ?? 0) + (view.get('q')?.length ?? 0) + view.getAll('tags').length
  );
}

function withUrlSearchParams(query: string): number {
  const params = new URLSearchParams(query);
  return (
    (params.get('page')?.length ?? 0) +
    (params.get('q')?.length ?? 0) +
    params.getAll('tags').length
  );
}

/**
 * Times {@link parseQuery} against URLSearchParams on {@link SAMPLE_QUERIES}, doing what a
 * handler typically does: parse, then read `page`, `q` and every `tags`. Each side is warmed up
 * first, then the two are timed in alternating rounds so neither always runs on a colder machine.
 * A micro-benchmark: the figures vary with the machine and Node version.
 */
export function compareWithUrlSearchParams(iterations = 200_000): QueryBenchmark {
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new RangeError(`iterations must be a positive integer, got ${iterations}`);
  }
  const warmup = Math.min(iterations, 20_000);
  timeLoop(warmup, withParseQuery);
  timeLoop(warmup, withUrlSearchParams);
  const rounds = 4;
  const perRound = Math.max(1, Math.floor(iterations / rounds));
  let ours = 0;
  let theirs = 0;
  for (let round = 0; round < rounds; round++) {
    ours += timeLoop(perRound, withParseQuery);
    theirs += timeLoop(perRound, withUrlSearchParams);
  }
  if (sink === -1) console.log(sink); // never true; makes `sink` observable
  return {
    iterations: perRound * rounds,
    parseQueryNsPerOp: ours / rounds,
    urlSearchParamsNsPerOp: theirs / rounds,
  };
}

/**
 * Builds the server: `GET /query?...` answers `{ count, params }`, where `params` maps every key
 * to all its values in order, parsed from the raw request target with {@link parseQuery}.
 */
export function createQueryParsingServer(
  options: { host?: string; port?: number } & MountOptions = {},
): Server {
  const server = new Server({ host: options.host ?? '0.0.0.0', port: options.port ?? 60007 });
  return mountQueryParsing(server, options);
}

/** Mounts `GET {prefix}/query` (see {@link createQueryParsingServer}); no middleware or hooks. */
export function mountQueryParsing(server: Server, options: MountOptions = {}): Server {
  server.get(joinPath(checkPrefix(options.prefix), '/query'), (ctx: Context) => {
    const view = parseQuery(queryOf(ctx.getRequestUrl()));
    ctx
      .setResponseStatusCode(200)
      .setResponseBodyJson({ count: view.size, params: view.toMultiRecord() });
  });
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = compareWithUrlSearchParams();
  console.log(
    `parseQuery: ${result.parseQueryNsPerOp.toFixed(0)} ns/op, URLSearchParams: ${result.urlSearchParamsNsPerOp.toFixed(0)} ns/op (${result.iterations} ops each)`,
  );
  const running = await createQueryParsingServer({ port: Number(process.env.PORT ?? 60007) }).run();
  console.log(`query parser on http://${running.host}:${running.port}/query?a=1&b=2`);
}
