import { HyperlaneError } from '../error/hyperlane-error.js';

/** How a pattern is matched: one Map lookup, a segment walk, or a segment walk with regex tests. */
export type PatternKind = 'static' | 'dynamic' | 'regex';

/** Segment kinds, kept as small integers so the matcher's switch stays monomorphic. */
const SEG_STATIC = 0;
const SEG_PARAM = 1;
const SEG_REGEX = 2;
/** A regex segment in last place: it matches the rest of the path, '/' included. */
const SEG_TAIL = 3;

/** `matchPath` outcome: the path does not fit the pattern. */
export const PATH_NO_MATCH = 0;
/** `matchPath` outcome: the path fits; decoded param values are in `scratch.values`. */
export const PATH_MATCH = 1;
/** `matchPath` outcome: the path fits structurally but a param holds a malformed percent-escape. */
export const PATH_MALFORMED = 2;

/** Outcome code of {@link RoutePattern.matchPath}. */
export type PathMatchOutcome = typeof PATH_NO_MATCH | typeof PATH_MATCH | typeof PATH_MALFORMED;

/**
 * Reusable output buffer for {@link RoutePattern.matchPath}: one per router, so matching a path
 * allocates nothing but the param strings themselves.
 */
export class MatchScratch {
  /** Decoded param values of the last successful match, in `paramNames` order. */
  values: string[] = [];
  /** The raw segment whose percent-escape failed to decode, after `PATH_MALFORMED`. */
  malformed = '';
}

// Plain ASCII identifiers only: names become object keys and show up in logs and metrics.
const PARAM_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const ENCODED_ESCAPE = /%25([0-9A-Fa-f]{2})/g;

function invalid(pattern: string, reason: string, cause?: unknown): HyperlaneError {
  return new HyperlaneError(
    'HL_ERR_ROUTE_INVALID',
    `Invalid route pattern '${pattern}': ${reason}`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Request paths arrive percent-encoded and static text is compared raw, so pattern text is put in
 * the same form once, here. Escapes the user already wrote (`%20`) are kept, not double-encoded.
 */
function encodeStaticText(pattern: string, text: string): string {
  try {
    return encodeURI(text).replace(ENCODED_ESCAPE, '%$1');
  } catch (cause) {
    throw invalid(
      pattern,
      'it holds text that cannot be percent-encoded (a lone surrogate)',
      cause,
    );
  }
}

/** Decodes one captured segment; `null` marks a malformed escape (the caller answers 400). */
function decodeSegment(raw: string): string | null {
  // Most params carry no escapes; skipping decodeURIComponent keeps them allocation-free.
  if (raw.indexOf('%') === -1) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/** One `{…}` parsed out of a pattern: where it ends and what it says. */
interface ParamToken {
  name: string;
  regex: string | undefined;
  end: number;
}

/**
 * Reads `{name}` or `{name:regex}` starting at `open` (the index of `{`). Braces inside the regex
 * may nest (`\d{2,4}`), be escaped (`\{`) or sit in a class (`[{}]`); only the `}` that balances
 * the opening one ends the param.
 */
function readParam(pattern: string, open: number): ParamToken {
  let depth = 0;
  let inClass = false;
  let colon = -1;
  for (let i = open + 1; i < pattern.length; i++) {
    const ch = pattern.charCodeAt(i);
    if (colon === -1) {
      if (ch === 0x3a /* : */) colon = i;
      else if (ch === 0x7d /* } */)
        return { name: pattern.slice(open + 1, i), regex: undefined, end: i };
      else if (ch === 0x7b /* { */ || ch === 0x2f /* / */) break;
      continue;
    }
    if (ch === 0x5c /* \ */) {
      i++;
    } else if (inClass) {
      if (ch === 0x5d /* ] */) inClass = false;
    } else if (ch === 0x5b /* [ */) {
      inClass = true;
    } else if (ch === 0x7b /* { */) {
      depth++;
    } else if (ch === 0x7d /* } */) {
      if (depth === 0) {
        return { name: pattern.slice(open + 1, colon), regex: pattern.slice(colon + 1, i), end: i };
      }
      depth--;
    }
  }
  throw invalid(pattern, `unbalanced '{' at index ${open}`);
}

/**
 * A route pattern compiled once at registration: its class, its encoded static form and, for
 * patterns with params, per-segment data the matcher walks without allocating.
 */
export class RoutePattern {
  /** The pattern exactly as registered. */
  readonly source: string;
  /** `static` (no params), `dynamic` (`{name}` only) or `regex` (any `{name:regex}`). */
  readonly kind: PatternKind;
  /** For static patterns, the percent-encoded path a request must equal; '' otherwise. */
  readonly staticPath: string;
  /** Param names in segment order; `matchPath` fills `scratch.values` in the same order. */
  readonly paramNames: readonly string[];
  /**
   * Segments of the pattern. A path must have exactly as many to match, unless the last is a
   * regex tail, which takes one or more.
   */
  readonly segmentCount: number;
  // Parallel arrays (one entry per segment) rather than segment objects: one shape, no polymorphism.
  readonly #kinds: Uint8Array;
  readonly #texts: string[];
  readonly #regexes: (RegExp | null)[];

  /**
   * Compiles `pattern`.
   * @throws HyperlaneError `HL_ERR_ROUTE_INVALID` naming the pattern, for any malformed pattern
   */
  constructor(pattern: string) {
    if (typeof pattern !== 'string' || pattern.charCodeAt(0) !== 0x2f /* / */) {
      throw invalid(String(pattern), "a pattern must start with '/'");
    }
    const kinds: number[] = [];
    const texts: string[] = [];
    const regexes: (RegExp | null)[] = [];
    const names: string[] = [];
    let hasRegex = false;

    let i = 1;
    for (;;) {
      if (pattern.charCodeAt(i) === 0x7b /* { */) {
        const token = readParam(pattern, i);
        const after = token.end + 1;
        if (after < pattern.length && pattern.charCodeAt(after) !== 0x2f) {
          throw invalid(pattern, 'a parameter must fill a whole segment');
        }
        if (!PARAM_NAME.test(token.name)) {
          throw invalid(pattern, `parameter name '${token.name}' is not an identifier`);
        }
        // Assigning it on a plain params object would replace the prototype, not add a key.
        if (token.name === '__proto__') {
          throw invalid(pattern, "parameter name '__proto__' is reserved");
        }
        if (names.includes(token.name)) {
          throw invalid(pattern, `parameter name '${token.name}' appears twice`);
        }
        names.push(token.name);
        texts.push(token.name);
        if (token.regex === undefined) {
          kinds.push(SEG_PARAM);
          regexes.push(null);
        } else {
          if (token.regex === '')
            throw invalid(pattern, `parameter '${token.name}' has an empty regex`);
          let re: RegExp;
          try {
            // Anchored here so a user's own ^…$ is harmless and an unanchored one still means
            // "the whole segment". No flags: JS syntax as written, as in other routers.
            re = new RegExp(`^(?:${token.regex})$`);
          } catch (cause) {
            throw invalid(pattern, `parameter '${token.name}' has an invalid regex`, cause);
          }
          hasRegex = true;
          kinds.push(after >= pattern.length ? SEG_TAIL : SEG_REGEX);
          regexes.push(re);
        }
        if (after >= pattern.length) break;
        i = after + 1;
        continue;
      }
      let end = pattern.indexOf('/', i);
      if (end === -1) end = pattern.length;
      const text = pattern.slice(i, end);
      for (let j = 0; j < text.length; j++) {
        const ch = text.charCodeAt(j);
        if (ch === 0x7b /* { */) throw invalid(pattern, 'a parameter must fill a whole segment');
        if (ch === 0x7d /* } */) throw invalid(pattern, `unbalanced '}' at index ${i + j}`);
        // A request path never carries them (the query is split off first): the route could
        // never match, which is better said now than discovered as a 404.
        if (ch === 0x3f /* ? */ || ch === 0x23 /* # */) {
          throw invalid(pattern, `'${text[j]}' cannot appear in a path`);
        }
      }
      kinds.push(SEG_STATIC);
      texts.push(encodeStaticText(pattern, text));
      regexes.push(null);
      if (end >= pattern.length) break;
      i = end + 1;
    }

    this.source = pattern;
    this.kind = names.length === 0 ? 'static' : hasRegex ? 'regex' : 'dynamic';
    this.staticPath = names.length === 0 ? `/${texts.join('/')}` : '';
    this.paramNames = names;
    this.segmentCount = kinds.length;
    this.#kinds = Uint8Array.from(kinds);
    this.#texts = texts;
    this.#regexes = regexes;
  }

  /**
   * Matches a raw (percent-encoded) request path. Static text is compared raw first, so a
   * malformed escape only matters once the path's shape fits; then params are decoded (regexes
   * test the decoded value) left to right, and the first failure decides the outcome.
   */
  matchPath(path: string, scratch: MatchScratch): PathMatchOutcome {
    const kinds = this.#kinds;
    const texts = this.#texts;
    const n = kinds.length;
    const len = path.length;
    if (path.charCodeAt(0) !== 0x2f /* / */) return PATH_NO_MATCH;

    // Pass 1: shape and static text only, no allocation, so most misses stop here cheaply.
    let pos = 1;
    for (let s = 0; s < n; s++) {
      const kind = kinds[s];
      if (kind === SEG_TAIL) break;
      let end = path.indexOf('/', pos);
      if (end === -1) end = len;
      if ((s === n - 1) !== (end === len)) return PATH_NO_MATCH;
      if (kind === SEG_STATIC) {
        const text = texts[s]!;
        if (end - pos !== text.length || !path.startsWith(text, pos)) return PATH_NO_MATCH;
      } else if (kind === SEG_PARAM && end === pos) {
        return PATH_NO_MATCH;
      }
      pos = end + 1;
    }

    // Pass 2: decode params and test regexes.
    const values = scratch.values;
    let k = 0;
    pos = 1;
    for (let s = 0; s < n; s++) {
      const kind = kinds[s];
      let end = kind === SEG_TAIL ? -1 : path.indexOf('/', pos);
      if (end === -1) end = len;
      if (kind !== SEG_STATIC) {
        const raw = path.slice(pos, end);
        const value = decodeSegment(raw);
        if (value === null) {
          scratch.malformed = raw;
          return PATH_MALFORMED;
        }
        if (kind !== SEG_PARAM && !this.#regexes[s]!.test(value)) return PATH_NO_MATCH;
        values[k++] = value;
      }
      pos = end + 1;
    }
    return PATH_MATCH;
  }
}
