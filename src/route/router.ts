import { HyperlaneError } from '../error/hyperlane-error.js';
import { MatchScratch, PATH_MALFORMED, PATH_MATCH, RoutePattern } from './pattern.js';
import { TOKEN } from '../util/token.js';

/** A successful match: the handler, its decoded params and the pattern as registered. */
export type RouteFound<H> = {
  status: 200;
  handler: H;
  params: Record<string, string>;
  pattern: string;
};

/**
 * What {@link Router.match} resolved a request to. Treat it as read-only: static routes and 404
 * hand out shared frozen objects.
 */
export type RouteMatch<H> =
  | RouteFound<H>
  | { status: 404 }
  | { status: 405; allow: string }
  | { status: 400; message: string };

/** The params of every static match: shared, and frozen so no caller can leak into another. */
const EMPTY_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NOT_FOUND: { status: 404 } = Object.freeze({ status: 404 as const });
/** RFC 9110 token characters: anything else could not arrive as a request method. */
const ANY_METHOD = '*';

/** One registered pattern and its handlers, one slot per method plus the any-method slot. */
class RouteEntry<H> {
  readonly pattern: RoutePattern;
  /**
   * Per method, a ready 200 result. A static route returns it as is (no allocation per
   * request); a param route copies its handler into a result carrying fresh params.
   */
  readonly byMethod = new Map<string, RouteFound<H>>();
  anyMethod: RouteFound<H> | undefined = undefined;

  constructor(pattern: RoutePattern) {
    this.pattern = pattern;
  }

  /** HEAD falls back to GET before '*': HEAD must answer exactly as GET would, minus the body. */
  resolve(method: string): RouteFound<H> | undefined {
    const found = this.byMethod.get(method);
    if (found !== undefined) return found;
    if (method === 'HEAD') {
      const get = this.byMethod.get('GET');
      if (get !== undefined) return get;
    }
    return this.anyMethod;
  }
}

/**
 * Maps a method and a raw request path to a handler. Static patterns are one Map lookup;
 * then `{name}` patterns, then regex patterns, each in registration order. Generic over the
 * handler type so it knows nothing of the server above it.
 */
export class Router<H> {
  /** Static routes keyed by their percent-encoded path, the form requests arrive in. */
  readonly #statics = new Map<string, RouteEntry<H>>();
  /**
   * The `{name}` patterns by their number of segments, each list in registration order: such
   * a pattern fits only paths with exactly as many, so a request tries only those.
   */
  readonly #dynamicsBySegments: (RouteEntry<H>[] | undefined)[] = [];
  readonly #regexes: RouteEntry<H>[] = [];
  /** Every registered pattern string, for duplicate checks and `hasPattern`. */
  readonly #byPattern = new Map<string, RouteEntry<H>>();
  readonly #scratch = new MatchScratch();
  #methods: string[] | undefined = undefined;

  /**
   * Registers `handler` for `method` (an HTTP method token, or '*' for any method) on `pattern`.
   * @throws HyperlaneError `HL_ERR_ROUTE_INVALID` for a malformed pattern or method;
   *   `HL_ERR_ROUTE_DUPLICATE` if this pattern already has a handler for this method
   */
  add(method: string, pattern: string, handler: H): void {
    if (typeof method !== 'string' || !TOKEN.test(method)) {
      throw new HyperlaneError(
        'HL_ERR_ROUTE_INVALID',
        `Invalid method '${String(method)}' for route pattern '${pattern}'`,
      );
    }
    const entry = this.#entryFor(pattern);
    const label = method === ANY_METHOD ? 'any method' : method;
    const existing = method === ANY_METHOD ? entry.anyMethod : entry.byMethod.get(method);
    if (existing !== undefined) {
      throw new HyperlaneError(
        'HL_ERR_ROUTE_DUPLICATE',
        `Route pattern '${pattern}' is already registered for ${label}`,
      );
    }
    const found: RouteFound<H> = Object.freeze({
      status: 200 as const,
      handler,
      params: EMPTY_PARAMS,
      pattern,
    });
    if (method === ANY_METHOD) entry.anyMethod = found;
    else entry.byMethod.set(method, found);
    this.#methods = undefined;
  }

  /**
   * Resolves a request. `path` is the raw path as sent (percent-encoded, no query). The first
   * pattern in priority order that fits the path and has a handler for the method wins; if some
   * fit but none has the method the answer is 405 with `allow`; a malformed escape in a
   * captured segment is 400; otherwise 404.
   */
  match(method: string, path: string): RouteMatch<H> {
    const entry = this.#statics.get(path);
    let fitted = false;
    if (entry !== undefined) {
      const found = entry.resolve(method);
      if (found !== undefined) return found;
      fitted = true;
    }
    // Indexed loops over two lists, not a shared callback: no closure on the hot path.
    const dynamics = this.#dynamicsBySegments[segmentCount(path)];
    if (dynamics !== undefined) {
      for (let i = 0; i < dynamics.length; i++) {
        const result = this.#tryEntry(dynamics[i]!, method, path);
        if (result === true) fitted = true;
        else if (result !== undefined) return result;
      }
    }
    const regexes = this.#regexes;
    for (let i = 0; i < regexes.length; i++) {
      const result = this.#tryEntry(regexes[i]!, method, path);
      if (result === true) fitted = true;
      else if (result !== undefined) return result;
    }
    return fitted ? { status: 405, allow: this.#allowFor(path) } : NOT_FOUND;
  }

  /**
   * Every method registered on any route (sorted, HEAD wherever GET is), for `OPTIONS *`.
   * Any-method routes add nothing: they do not name a method.
   */
  methods(): string[] {
    if (this.#methods === undefined) {
      const set = new Set<string>();
      for (const entry of this.#byPattern.values()) {
        for (const method of entry.byMethod.keys()) set.add(method);
      }
      this.#methods = withHeadSorted(set);
    }
    return this.#methods.slice();
  }

  /** Whether this exact pattern string was registered, for any method. */
  hasPattern(pattern: string): boolean {
    return this.#byPattern.has(pattern);
  }

  #entryFor(pattern: string): RouteEntry<H> {
    const known = this.#byPattern.get(pattern);
    if (known !== undefined) return known;
    const compiled = new RoutePattern(pattern);
    const entry = new RouteEntry<H>(compiled);
    if (compiled.kind === 'static') {
      // Two spellings of one path ('/café', '/caf%C3%A9') would share a Map slot and one could
      // silently shadow the other; make the user pick one.
      const clash = this.#statics.get(compiled.staticPath);
      if (clash !== undefined) {
        throw new HyperlaneError(
          'HL_ERR_ROUTE_DUPLICATE',
          `Route pattern '${pattern}' matches the same path as '${clash.pattern.source}'`,
        );
      }
      this.#statics.set(compiled.staticPath, entry);
    } else if (compiled.kind === 'dynamic') {
      (this.#dynamicsBySegments[compiled.segmentCount] ??= []).push(entry);
    } else {
      this.#regexes.push(entry);
    }
    this.#byPattern.set(pattern, entry);
    const scratch = this.#scratch.values;
    while (scratch.length < compiled.paramNames.length) scratch.push('');
    return entry;
  }

  /**
   * The outcome of one param pattern: a result to return, `true` if the path fits but the
   * method has no handler here, `undefined` if the path does not fit.
   */
  #tryEntry(entry: RouteEntry<H>, method: string, path: string): RouteMatch<H> | true | undefined {
    const scratch = this.#scratch;
    const outcome = entry.pattern.matchPath(path, scratch);
    if (outcome === PATH_MALFORMED) {
      return {
        status: 400,
        message: `Malformed percent-escape in path segment '${scratch.malformed}'`,
      };
    }
    if (outcome !== PATH_MATCH) return undefined;
    const found = entry.resolve(method);
    if (found === undefined) return true;
    const names = entry.pattern.paramNames;
    const values = scratch.values;
    const params: Record<string, string> = {};
    for (let i = 0; i < names.length; i++) params[names[i]!] = values[i]!;
    return { status: 200, handler: found.handler, params, pattern: found.pattern };
  }

  /** Off the hot path (405 only): walks every fitting pattern again to collect its methods. */
  #allowFor(path: string): string {
    const set = new Set<string>();
    const entry = this.#statics.get(path);
    if (entry !== undefined) for (const m of entry.byMethod.keys()) set.add(m);
    const dynamics = this.#dynamicsBySegments[segmentCount(path)] ?? [];
    for (const list of [dynamics, this.#regexes]) {
      for (const candidate of list) {
        if (candidate.pattern.matchPath(path, this.#scratch) === PATH_MATCH) {
          for (const m of candidate.byMethod.keys()) set.add(m);
        }
      }
    }
    return withHeadSorted(set).join(', ');
  }
}

/** How many segments a path has: one more than the slashes after its leading one. */
function segmentCount(path: string): number {
  let count = 1;
  for (let i = 1; i < path.length; i++) if (path.charCodeAt(i) === 0x2f /* / */) count++;
  return count;
}

/** Sorted method list with HEAD added wherever GET is (GET answers HEAD, see `resolve`). */
function withHeadSorted(set: Set<string>): string[] {
  if (set.has('GET')) set.add('HEAD');
  return [...set].sort();
}
