import type { Context } from '../context/context.js';
import { HyperlaneError } from '../error/hyperlane-error.js';
import type { Middleware } from './middleware.js';

/**
 * Content-Security-Policy directives, merged over helmet's defaults. Keys in kebab-case
 * (`'script-src'`) or camelCase (`scriptSrc`); a value is a source string or a list of them,
 * `true` (or `[]`) for a directive without value such as `upgrade-insecure-requests`, and
 * `null` or `false` removes a default directive.
 */
export type CspDirectives = Record<string, string | readonly string[] | boolean | null>;

/** Options of `Strict-Transport-Security` (sent only over TLS unless `force`). */
export interface HstsOptions {
  /** Seconds browsers remember to use HTTPS only; default 15552000 (180 days). */
  maxAge?: number;
  /** Also for subdomains; default true. */
  includeSubDomains?: boolean;
  /** Ask to be put on browsers' preload list; default false. */
  preload?: boolean;
  /**
   * Send it on every response, even when the connection to this server is not TLS: for an app
   * behind a proxy or load balancer that terminates TLS, where `ctx.isSecure()` is always false.
   * Default false. Use it only when every client reaches the app over HTTPS: browsers ignore the
   * header over plain HTTP, but a client that reaches the app over HTTPS only some of the time
   * (a plain-HTTP port left open, another host name) would be pinned to HTTPS for `maxAge`.
   */
  force?: boolean;
}

/**
 * Options of {@link securityHeaders}. Every header takes `false` to leave it out, or a string
 * sent as its value instead of the default.
 */
export interface SecurityHeadersOptions {
  /** Default: helmet's policy (`default-src 'self';…;upgrade-insecure-requests`). */
  contentSecurityPolicy?: CspDirectives | string | false;
  /** Send the policy as `Content-Security-Policy-Report-Only` instead; default false. */
  contentSecurityPolicyReportOnly?: boolean;
  /** Default `same-origin`. */
  crossOriginOpenerPolicy?: string | false;
  /** Default `same-origin`. */
  crossOriginResourcePolicy?: string | false;
  /** Not sent by default (as in helmet); e.g. `require-corp`. */
  crossOriginEmbedderPolicy?: string | false;
  /** Default `?1`. */
  originAgentCluster?: string | false;
  /** Default `no-referrer`; a list becomes a fallback list. */
  referrerPolicy?: string | readonly string[] | false;
  /**
   * Default `max-age=15552000; includeSubDomains`, only on TLS requests (behind a TLS-terminating
   * proxy, pass `{ force: true }`).
   */
  strictTransportSecurity?: HstsOptions | string | false;
  /** Default `nosniff`. */
  xContentTypeOptions?: string | false;
  /** Default `off`. */
  xDnsPrefetchControl?: string | false;
  /** Default `noopen`. */
  xDownloadOptions?: string | false;
  /** Default `SAMEORIGIN`. */
  xFrameOptions?: string | false;
  /** Default `none`. */
  xPermittedCrossDomainPolicies?: string | false;
  /** Default `0`: turns off the buggy XSS auditors of old browsers, as helmet does. */
  xXssProtection?: string | false;
  /** Remove an `X-Powered-By` set by earlier middleware; default true. */
  removePoweredBy?: boolean;
}

/** The Content-Security-Policy directives sent when nothing is configured (helmet's defaults). */
export const DEFAULT_CSP_DIRECTIVES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'font-src': ["'self'", 'https:', 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", 'https:', "'unsafe-inline'"],
  'upgrade-insecure-requests': [],
});

const DEFAULT_HSTS_MAX_AGE = 15552000;
const HSTS_KEYS = new Set(['maxAge', 'includeSubDomains', 'preload', 'force']);
// Keywords that mean nothing unless quoted: a bare `self` is a host name, a classic mistake.
const MUST_BE_QUOTED = new Set([
  'self',
  'none',
  'unsafe-inline',
  'unsafe-eval',
  'unsafe-hashes',
  'strict-dynamic',
  'report-sample',
  'wasm-unsafe-eval',
]);
const HEADER_VALUE = /^[\x20-\x7e]*$/;
const DIRECTIVE_NAME = /^[a-z][a-zA-Z0-9-]*$/;

/** Options of the simple headers: option name → [header name, default value or null if off]. */
const SIMPLE_HEADERS: readonly (readonly [keyof SecurityHeadersOptions, string, string | null])[] =
  [
    ['crossOriginOpenerPolicy', 'cross-origin-opener-policy', 'same-origin'],
    ['crossOriginResourcePolicy', 'cross-origin-resource-policy', 'same-origin'],
    ['crossOriginEmbedderPolicy', 'cross-origin-embedder-policy', null],
    ['originAgentCluster', 'origin-agent-cluster', '?1'],
    ['xContentTypeOptions', 'x-content-type-options', 'nosniff'],
    ['xDnsPrefetchControl', 'x-dns-prefetch-control', 'off'],
    ['xDownloadOptions', 'x-download-options', 'noopen'],
    ['xFrameOptions', 'x-frame-options', 'SAMEORIGIN'],
    ['xPermittedCrossDomainPolicies', 'x-permitted-cross-domain-policies', 'none'],
    ['xXssProtection', 'x-xss-protection', '0'],
  ];
const OTHER_OPTIONS = [
  'contentSecurityPolicy',
  'contentSecurityPolicyReportOnly',
  'referrerPolicy',
  'strictTransportSecurity',
  'removePoweredBy',
];
const KNOWN_OPTIONS = new Set<string>([
  ...SIMPLE_HEADERS.map((entry) => entry[0]),
  ...OTHER_OPTIONS,
]);

/** The header list, computed once by the factory. */
interface CompiledHeaders {
  names: readonly string[];
  values: readonly string[];
  hsts: string | null;
  /** Send HSTS whether or not the connection is TLS (a TLS-terminating proxy in front). */
  hstsForced: boolean;
  removePoweredBy: boolean;
}

/**
 * Helmet-like security headers as request middleware: `Content-Security-Policy`,
 * `X-Content-Type-Options: nosniff`, `X-Frame-Options: SAMEORIGIN`, `Referrer-Policy`,
 * cross-origin policies, `Strict-Transport-Security` on TLS requests (on every request with
 * `strictTransportSecurity: { force: true }`, behind a TLS-terminating proxy), and others; removes
 * `X-Powered-By`. They are set before the route runs, so a route can still override any of
 * them for its own responses.
 *
 * ```ts
 * server.requestMiddleware(securityHeaders({ xFrameOptions: 'DENY', contentSecurityPolicy: false }));
 * ```
 * @throws HyperlaneError `HL_ERR_CONFIG` naming the option that is invalid
 */
export function securityHeaders(options: SecurityHeadersOptions = {}): Middleware {
  const compiled = compileHeaders(options);
  return function securityHeadersMiddleware(ctx: Context): void {
    applyHeaders(ctx, compiled);
  };
}

function applyHeaders(ctx: Context, headers: CompiledHeaders): void {
  const names = headers.names;
  const values = headers.values;
  for (let i = 0; i < names.length; i++) ctx.setResponseHeader(names[i]!, values[i]!);
  // HSTS over plain HTTP is ignored by browsers and would only leak intent to a proxy, unless
  // the user says a proxy in front terminates TLS for every client.
  if (headers.hsts !== null && (headers.hstsForced || ctx.isSecure())) {
    ctx.setResponseHeader('strict-transport-security', headers.hsts);
  }
  if (headers.removePoweredBy) ctx.removeResponseHeader('x-powered-by');
}

// ---- options -------------------------------------------------------------------------------

function compileHeaders(options: SecurityHeadersOptions): CompiledHeaders {
  if (options === null || typeof options !== 'object') {
    throw configError('securityHeaders(options): options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw configError(`securityHeaders(): unknown option "${key}"`);
  }
  const names: string[] = [];
  const values: string[] = [];
  const csp = compileCsp(options.contentSecurityPolicy);
  if (csp !== null) {
    const reportOnly = options.contentSecurityPolicyReportOnly ?? false;
    if (typeof reportOnly !== 'boolean') {
      throw configError('securityHeaders(): contentSecurityPolicyReportOnly must be a boolean');
    }
    names.push(reportOnly ? 'content-security-policy-report-only' : 'content-security-policy');
    values.push(csp);
  }
  for (const [option, header, fallback] of SIMPLE_HEADERS) {
    const value = headerValue(option, options[option] as string | false | undefined, fallback);
    if (value !== null) {
      names.push(header);
      values.push(value);
    }
  }
  const referrer = compileReferrerPolicy(options.referrerPolicy);
  if (referrer !== null) {
    names.push('referrer-policy');
    values.push(referrer);
  }
  const removePoweredBy = options.removePoweredBy ?? true;
  if (typeof removePoweredBy !== 'boolean') {
    throw configError('securityHeaders(): removePoweredBy must be a boolean');
  }
  const hstsOption = options.strictTransportSecurity;
  return {
    names,
    values,
    hsts: compileHsts(hstsOption),
    hstsForced: typeof hstsOption === 'object' && hstsOption !== null && hstsOption.force === true,
    removePoweredBy,
  };
}

function headerValue(
  option: string,
  value: string | false | undefined,
  fallback: string | null,
): string | null {
  if (value === undefined) return fallback;
  if (value === false) return null;
  if (typeof value !== 'string' || value === '' || !HEADER_VALUE.test(value)) {
    throw configError(
      `securityHeaders(): ${option} must be false or a non-empty printable ASCII string, got ${describe(value)}`,
    );
  }
  return value;
}

function compileReferrerPolicy(
  value: string | readonly string[] | false | undefined,
): string | null {
  if (Array.isArray(value)) {
    if (value.length === 0)
      throw configError('securityHeaders(): referrerPolicy must not be empty');
    return value
      .map((item: unknown) => headerValue('referrerPolicy', item as string, null)!)
      .join(',');
  }
  return headerValue('referrerPolicy', value as string | false | undefined, 'no-referrer');
}

function compileHsts(value: HstsOptions | string | false | undefined): string | null {
  if (value === false || typeof value === 'string') {
    return headerValue('strictTransportSecurity', value, null);
  }
  if (value === undefined) return `max-age=${DEFAULT_HSTS_MAX_AGE}; includeSubDomains`;
  if (value === null || typeof value !== 'object') {
    throw configError(
      'securityHeaders(): strictTransportSecurity must be an object, a string or false',
    );
  }
  for (const key of Object.keys(value)) {
    if (!HSTS_KEYS.has(key)) {
      throw configError(`securityHeaders(): unknown strictTransportSecurity option "${key}"`);
    }
  }
  for (const key of ['includeSubDomains', 'preload', 'force'] as const) {
    if (value[key] !== undefined && typeof value[key] !== 'boolean') {
      throw configError(
        `securityHeaders(): strictTransportSecurity.${key} must be a boolean, got ${describe(value[key])}`,
      );
    }
  }
  const maxAge = value.maxAge ?? DEFAULT_HSTS_MAX_AGE;
  if (typeof maxAge !== 'number' || !Number.isInteger(maxAge) || maxAge < 0) {
    throw configError(
      `securityHeaders(): strictTransportSecurity.maxAge must be a whole number of seconds >= 0, got ${describe(maxAge)}`,
    );
  }
  let header = `max-age=${maxAge}`;
  if (value.includeSubDomains ?? true) header += '; includeSubDomains';
  if (value.preload === true) header += '; preload';
  return header;
}

function compileCsp(value: CspDirectives | string | false | undefined): string | null {
  if (value === false || typeof value === 'string') {
    return headerValue('contentSecurityPolicy', value, null);
  }
  const merged = new Map<string, string>();
  for (const name of Object.keys(DEFAULT_CSP_DIRECTIVES)) {
    merged.set(name, DEFAULT_CSP_DIRECTIVES[name]!.join(' '));
  }
  if (value !== undefined) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw configError(
        'securityHeaders(): contentSecurityPolicy must be an object of directives, a string or false',
      );
    }
    for (const rawName of Object.keys(value)) {
      if (!DIRECTIVE_NAME.test(rawName)) {
        throw configError(
          `securityHeaders(): contentSecurityPolicy directive name ${JSON.stringify(rawName)} is invalid`,
        );
      }
      const name = rawName.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
      const directive = value[rawName];
      if (directive === null || directive === false) merged.delete(name);
      else merged.set(name, directiveValue(name, directive));
    }
  }
  if (merged.size === 0) {
    throw configError(
      'securityHeaders(): contentSecurityPolicy has no directives left; pass false to send none',
    );
  }
  let header = '';
  for (const [name, sources] of merged) {
    if (header !== '') header += ';'; // as helmet writes it, so both send identical bytes
    header += sources === '' ? name : `${name} ${sources}`;
  }
  return header;
}

function directiveValue(
  name: string,
  value: string | readonly string[] | true | undefined,
): string {
  if (value === true) return '';
  const sources: readonly unknown[] = typeof value === 'string' ? [value] : (value ?? []);
  if (!Array.isArray(sources)) {
    throw configError(
      `securityHeaders(): contentSecurityPolicy directive "${name}" must be a string or a list`,
    );
  }
  for (const source of sources) {
    if (typeof source !== 'string' || !HEADER_VALUE.test(source) || /[;,]/.test(source)) {
      throw configError(
        `securityHeaders(): contentSecurityPolicy directive "${name}" has an invalid value ${describe(source)}`,
      );
    }
    if (MUST_BE_QUOTED.has(source) || /^(nonce|sha256|sha384|sha512)-/.test(source)) {
      throw configError(
        `securityHeaders(): contentSecurityPolicy directive "${name}" value "${source}" must be quoted: "'${source}'"`,
      );
    }
  }
  return sources.join(' ');
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function configError(message: string): HyperlaneError {
  return new HyperlaneError('HL_ERR_CONFIG', message);
}
