/**
 * Application config, as in the seed's `ApplicationConfig`: built from defaults, overlaid with a
 * JSON file, overlaid with environment variables, validated (an error names the bad field and
 * where the value came from), then turned into a configured Server by `initializeServer`.
 *
 * Run: `node .build/examples/app-config.js [config.json]` (or set `CONFIG_FILE`); override any
 * field with `HL_SERVER_HOST`, `HL_SERVER_PORT`, `HL_MAX_CONNECTIONS`, `HL_REQUEST_TIMEOUT`,
 * `HL_ENABLE_COMPRESSION`, `HL_CORS_ORIGINS` (comma-separated).
 */
import { readFile } from 'node:fs/promises';
import { Server, type Context } from '../src/index.js';
import { checkPrefix, joinPath, type MountOptions } from './mount.js';

/** Everything the application can be configured with. */
export interface ApplicationConfig {
  /** Bind address. */
  serverHost: string;
  /** TCP port; 0 picks a free one. */
  serverPort: number;
  /** Connections beyond this are closed at once. */
  maxConnections: number;
  /** Seconds a client has to send a request's head and body. */
  requestTimeout: number;
  /** permessage-deflate for WebSocket messages. */
  enableCompression: boolean;
  /** Origins allowed by CORS; `"*"` allows any. */
  corsOrigins: string[];
}

/** The defaults of the seed program. */
export const DEFAULT_APPLICATION_CONFIG: Readonly<ApplicationConfig> = Object.freeze({
  serverHost: '0.0.0.0',
  serverPort: 8080,
  maxConnections: 10_000,
  requestTimeout: 30,
  enableCompression: true,
  corsOrigins: ['*'],
});

/** The environment variable that overrides each field. */
export const ENV_VARIABLES: Readonly<Record<keyof ApplicationConfig, string>> = Object.freeze({
  serverHost: 'HL_SERVER_HOST',
  serverPort: 'HL_SERVER_PORT',
  maxConnections: 'HL_MAX_CONNECTIONS',
  requestTimeout: 'HL_REQUEST_TIMEOUT',
  enableCompression: 'HL_ENABLE_COMPRESSION',
  corsOrigins: 'HL_CORS_ORIGINS',
});

/** Thrown for a config that cannot be used; `field` names the culprit, `source` where it came from. */
export class ConfigError extends Error {
  /** Stable code, for programs that branch on it. */
  readonly code = 'HL_ERR_APP_CONFIG';

  /**
   * @param field - the offending field (or file) name
   * @param source - where the value came from: `defaults`, a file path or an env variable
   * @param problem - what is wrong, completing "field … "
   */
  constructor(
    readonly field: string,
    readonly source: string,
    problem: string,
  ) {
    super(`invalid config: ${field} (from ${source}) ${problem}`);
    this.name = 'ConfigError';
  }
}

type Field = keyof ApplicationConfig;
const FIELDS = Object.keys(DEFAULT_APPLICATION_CONFIG) as Field[];
/** Which layer last set each field, so an error can say where the bad value came from. */
type Sources = Record<keyof ApplicationConfig, string>;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : String(value);
}

function isInteger(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** An origin is scheme://host[:port] exactly: a path or trailing slash would never match a browser's `Origin`. */
function isOrigin(value: string): boolean {
  if (value === '*') return true;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}

/** Checks one field; returns what is wrong with it, or null. */
function problemWith(field: Field, value: unknown): string | null {
  switch (field) {
    case 'serverHost':
      return typeof value === 'string' && value.length > 0 && !/\s/.test(value)
        ? null
        : `must be a non-empty host name or address without spaces, got ${describe(value)}`;
    case 'serverPort':
      return isInteger(value, 0, 65535)
        ? null
        : `must be an integer from 0 to 65535, got ${describe(value)}`;
    case 'maxConnections':
      return isInteger(value, 1, 1_000_000)
        ? null
        : `must be an integer from 1 to 1000000, got ${describe(value)}`;
    case 'requestTimeout':
      // Seconds, as in the seed; a day is far beyond any sane head/body deadline.
      return isInteger(value, 1, 86_400)
        ? null
        : `must be a whole number of seconds from 1 to 86400, got ${describe(value)}`;
    case 'enableCompression':
      return typeof value === 'boolean' ? null : `must be true or false, got ${describe(value)}`;
    case 'corsOrigins': {
      if (!Array.isArray(value) || value.length === 0) {
        return `must be a non-empty list of origins, got ${describe(value)}`;
      }
      const bad = value.find((item) => typeof item !== 'string' || !isOrigin(item));
      return bad === undefined
        ? null
        : `must hold "*" or origins like "https://app.example.com", got ${describe(bad)}`;
    }
  }
}

/** Validates a complete config; throws a {@link ConfigError} naming the first bad field. */
export function validateConfig(
  config: Record<string, unknown>,
  sources?: Partial<Record<keyof ApplicationConfig, string>>,
): ApplicationConfig {
  for (const key of Object.keys(config)) {
    if (!(FIELDS as string[]).includes(key)) {
      throw new ConfigError(key, sources?.[key as Field] ?? 'config', 'is not a known field');
    }
  }
  for (const field of FIELDS) {
    const problem = problemWith(field, config[field]);
    if (problem !== null) throw new ConfigError(field, sources?.[field] ?? 'config', problem);
  }
  return {
    ...(config as unknown as ApplicationConfig),
    corsOrigins: [...(config.corsOrigins as string[])],
  };
}

/** Reads a JSON config file: an object with any subset of the fields (unknown keys are errors). */
export async function readConfigFile(path: string): Promise<Partial<ApplicationConfig>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError('configFile', path, `cannot be read (${reason})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError('configFile', path, `is not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError('configFile', path, `must hold a JSON object, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!(FIELDS as string[]).includes(key)) {
      throw new ConfigError(key, path, `is not a known field (known: ${FIELDS.join(', ')})`);
    }
  }
  return value as Partial<ApplicationConfig>;
}

function parseEnvInteger(field: Field, variable: string, text: string): number {
  // Number('') is 0 and Number('1e3') is 1000: accept plain digits only, so typos are errors.
  if (!/^\d+$/.test(text.trim())) {
    throw new ConfigError(field, variable, `must be a whole number, got ${JSON.stringify(text)}`);
  }
  return Number(text.trim());
}

function parseEnvBoolean(field: Field, variable: string, text: string): boolean {
  const normalized = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(normalized)) return true;
  if (['false', '0', 'no', 'off'].includes(normalized)) return false;
  throw new ConfigError(
    field,
    variable,
    `must be true/false (or 1/0, yes/no, on/off), got ${JSON.stringify(text)}`,
  );
}

/** The fields set by `HL_*` environment variables (unset or empty variables set nothing). */
export function readConfigEnv(env: NodeJS.ProcessEnv): Partial<ApplicationConfig> {
  const result: Partial<ApplicationConfig> = {};
  for (const field of FIELDS) {
    const variable = ENV_VARIABLES[field];
    const text = env[variable];
    if (text === undefined || text === '') continue;
    switch (field) {
      case 'serverHost':
        result.serverHost = text.trim();
        break;
      case 'serverPort':
      case 'maxConnections':
      case 'requestTimeout':
        result[field] = parseEnvInteger(field, variable, text);
        break;
      case 'enableCompression':
        result.enableCompression = parseEnvBoolean(field, variable, text);
        break;
      case 'corsOrigins':
        result.corsOrigins = text
          .split(',')
          .map((origin) => origin.trim())
          .filter((origin) => origin.length > 0);
        break;
    }
  }
  return result;
}

/** Where {@link loadConfig} reads from. */
export interface LoadConfigOptions {
  /** JSON file path; default `env.CONFIG_FILE`; none → defaults and env only. */
  file?: string;
  /** Environment to read `HL_*` and `CONFIG_FILE` from; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Replaces some of {@link DEFAULT_APPLICATION_CONFIG} (still under the file and env). */
  defaults?: Partial<ApplicationConfig>;
}

/**
 * Defaults ← JSON file ← environment, validated. Throws a {@link ConfigError} whose message
 * names the bad field and where its value came from.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ApplicationConfig> {
  const env = options.env ?? process.env;
  const file = options.file ?? (env.CONFIG_FILE || undefined);
  const merged: Record<string, unknown> = { ...DEFAULT_APPLICATION_CONFIG, ...options.defaults };
  const sources = Object.fromEntries(FIELDS.map((field) => [field, 'defaults'])) as Sources;
  const layers: [string | undefined, Partial<ApplicationConfig>][] = [];
  if (file !== undefined) layers.push([file, await readConfigFile(file)]);
  layers.push([undefined, readConfigEnv(env)]);
  for (const [source, layer] of layers) {
    for (const [key, value] of Object.entries(layer)) {
      merged[key] = value;
      sources[key as Field] = source ?? ENV_VARIABLES[key as Field];
    }
  }
  return validateConfig(merged, sources);
}

/**
 * Answers CORS for `origins` ("*" = any). Only the origin check the config needs; the
 * middleware example shows preflight handling in full.
 */
function corsFor(origins: readonly string[]): (ctx: Context) => void {
  const anyOrigin = origins.includes('*');
  const allowed = new Set(origins);
  return (ctx) => {
    const origin = ctx.getRequestHeader('origin');
    if (anyOrigin) {
      ctx.setResponseHeader('Access-Control-Allow-Origin', '*');
    } else {
      // The answer depends on Origin, so caches must not reuse it across origins.
      ctx.addResponseHeader('Vary', 'Origin');
      if (origin !== undefined && allowed.has(origin)) {
        ctx.setResponseHeader('Access-Control-Allow-Origin', origin);
      }
    }
  };
}

/**
 * Applies a validated config to `server`, as the seed's `initialize_server` does: nodelay,
 * linger off, 8 KiB HTTP and 4 KiB WebSocket buffers, plus bind address, connection cap,
 * request timeout and WebSocket compression from the config.
 */
export function configureServer(server: Server, config: ApplicationConfig): Server {
  server
    .host(config.serverHost)
    .port(config.serverPort)
    .enableNodelay()
    .disableLinger()
    .httpBufferSize(8192)
    .wsBufferSize(4096)
    .maxConnections(config.maxConnections)
    .requestTimeout(config.requestTimeout * 1000);
  // HTTP response compression is not in the framework yet; the WebSocket side is.
  if (config.enableCompression) server.wsCompression();
  return server;
}

/** Options for {@link mountAppConfig}. */
export interface AppConfigMountOptions extends MountOptions {
  /** Register the config's CORS as request middleware (default true); once per server. */
  cors?: boolean;
}

/**
 * Mounts the config's routes and middleware: CORS for `config.corsOrigins` (server-wide),
 * `GET {prefix}/config` (the config as JSON) and `GET {prefix}/` (a line of text).
 */
export function mountAppConfig(
  server: Server,
  config: ApplicationConfig,
  options: AppConfigMountOptions = {},
): Server {
  const prefix = checkPrefix(options.prefix);
  if (options.cors ?? true) server.requestMiddleware(corsFor(config.corsOrigins));
  server.get(joinPath(prefix, '/config'), (ctx) => {
    ctx.setResponseBodyJson(config);
  });
  server.get(joinPath(prefix, '/'), (ctx) => {
    ctx.setResponseBody('hyperlane-ts: configured from defaults, file and environment\n');
  });
  return server;
}

/**
 * Builds a Server from a validated config ({@link configureServer}) with the config's CORS and
 * routes mounted ({@link mountAppConfig}); `GET /config` reports the config.
 */
export function initializeServer(config: ApplicationConfig): Server {
  return mountAppConfig(configureServer(new Server(), config), config);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let config: ApplicationConfig;
  try {
    config = await loadConfig({ file: process.argv[2] });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
  const running = await initializeServer(config).run();
  console.log(`listening on http://${running.host}:${running.port}`);
}
