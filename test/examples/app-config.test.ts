import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  ConfigError,
  DEFAULT_APPLICATION_CONFIG,
  initializeServer,
  loadConfig,
  type ApplicationConfig,
} from '../../examples/app-config.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../examples/app-config.js', import.meta.url));
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hl-app-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configFile(name: string, content: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function local(overrides: Partial<ApplicationConfig> = {}): ApplicationConfig {
  return { ...DEFAULT_APPLICATION_CONFIG, serverHost: '127.0.0.1', serverPort: 0, ...overrides };
}

test('defaults ← file ← environment, each layer overriding only what it sets', async () => {
  assert.deepEqual(await loadConfig({ env: {} }), DEFAULT_APPLICATION_CONFIG);

  const file = await configFile('layers.json', {
    serverPort: 9000,
    maxConnections: 500,
    corsOrigins: ['https://file.example'],
  });
  assert.deepEqual(await loadConfig({ file, env: {} }), {
    ...DEFAULT_APPLICATION_CONFIG,
    serverPort: 9000,
    maxConnections: 500,
    corsOrigins: ['https://file.example'],
  });

  const env = {
    HL_SERVER_PORT: '9100',
    HL_ENABLE_COMPRESSION: 'false',
    HL_CORS_ORIGINS: 'http://localhost:3000, https://myapp.com',
    HL_REQUEST_TIMEOUT: '', // empty means unset, not 0
  };
  assert.deepEqual(await loadConfig({ file, env }), {
    ...DEFAULT_APPLICATION_CONFIG,
    serverPort: 9100, // env beats file
    maxConnections: 500, // file beats defaults
    enableCompression: false,
    corsOrigins: ['http://localhost:3000', 'https://myapp.com'],
  });

  // CONFIG_FILE names the file when no path is given; an explicit path wins over it.
  const other = await configFile('other.json', { serverHost: '127.0.0.2' });
  assert.equal((await loadConfig({ env: { CONFIG_FILE: file } })).maxConnections, 500);
  const explicit = await loadConfig({ file: other, env: { CONFIG_FILE: file } });
  assert.equal(explicit.serverHost, '127.0.0.2');
  assert.equal(explicit.maxConnections, DEFAULT_APPLICATION_CONFIG.maxConnections);
});

test('every validation error names its field and where the value came from', async () => {
  const cases: { file?: unknown; env?: Record<string, string>; field: string; source: string }[] = [
    { file: { serverHost: '' }, field: 'serverHost', source: 'file' },
    { env: { HL_SERVER_HOST: 'bad host' }, field: 'serverHost', source: 'HL_SERVER_HOST' },
    { file: { serverPort: 70000 }, field: 'serverPort', source: 'file' },
    { file: { serverPort: '8080' }, field: 'serverPort', source: 'file' },
    { env: { HL_SERVER_PORT: '80a' }, field: 'serverPort', source: 'HL_SERVER_PORT' },
    { env: { HL_MAX_CONNECTIONS: '0' }, field: 'maxConnections', source: 'HL_MAX_CONNECTIONS' },
    { file: { maxConnections: -5 }, field: 'maxConnections', source: 'file' },
    { file: { requestTimeout: 1.5 }, field: 'requestTimeout', source: 'file' },
    { env: { HL_REQUEST_TIMEOUT: '1e3' }, field: 'requestTimeout', source: 'HL_REQUEST_TIMEOUT' },
    { file: { enableCompression: 'yes' }, field: 'enableCompression', source: 'file' },
    {
      env: { HL_ENABLE_COMPRESSION: 'maybe' },
      field: 'enableCompression',
      source: 'HL_ENABLE_COMPRESSION',
    },
    { file: { corsOrigins: 'https://a.example' }, field: 'corsOrigins', source: 'file' },
    { file: { corsOrigins: ['https://a.example/'] }, field: 'corsOrigins', source: 'file' },
    { file: { corsOrigins: ['ftp://a.example'] }, field: 'corsOrigins', source: 'file' },
    { env: { HL_CORS_ORIGINS: ' , ' }, field: 'corsOrigins', source: 'HL_CORS_ORIGINS' },
    { file: { port: 8080 }, field: 'port', source: 'file' },
    { file: '{ "serverPort": ', field: 'configFile', source: 'file' },
    { file: [1, 2], field: 'configFile', source: 'file' },
  ];
  for (const [index, item] of cases.entries()) {
    const file =
      item.file === undefined ? undefined : await configFile(`case-${index}.json`, item.file);
    const source = item.source === 'file' ? file! : item.source;
    await assert.rejects(
      loadConfig({ file, env: item.env ?? {} }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, `case ${index}: ${String(error)}`);
        assert.equal(error.field, item.field, `case ${index}: ${error.message}`);
        assert.equal(error.source, source, `case ${index}`);
        assert.ok(error.message.includes(item.field), `case ${index}: ${error.message}`);
        assert.ok(error.message.includes(source), `case ${index}: ${error.message}`);
        return true;
      },
      `case ${index} should fail`,
    );
  }
  await assert.rejects(loadConfig({ file: join(dir, 'missing.json'), env: {} }), /ENOENT/);
});

test('initializeServer applies the config and the server serves', async () => {
  const config = local({ corsOrigins: ['https://myapp.com'], maxConnections: 50 });
  const server = initializeServer(config);
  const settings = server.getConfig();
  assert.equal(settings.nodelay, true);
  assert.equal(settings.linger, false);
  assert.equal(settings.httpBufferSize, 8192);
  assert.equal(settings.wsBufferSize, 4096);
  assert.equal(settings.maxConnections, 50);
  assert.equal(settings.requestTimeout, 30_000);
  assert.notEqual(settings.wsCompression, false);
  assert.equal(
    initializeServer(local({ enableCompression: false })).getConfig().wsCompression,
    false,
  );

  const running = await server.run();
  const base = `http://127.0.0.1:${running.port}`;
  try {
    const response = await fetch(`${base}/config`, { headers: { Origin: 'https://myapp.com' } });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), config);
    assert.equal(response.headers.get('access-control-allow-origin'), 'https://myapp.com');

    const foreign = await fetch(`${base}/config`, { headers: { Origin: 'https://evil.example' } });
    assert.equal(foreign.status, 200);
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
    assert.equal(foreign.headers.get('vary'), 'Origin');

    // The 8 KiB head limit is real: a 9 KB header is refused.
    const huge = await fetch(`${base}/config`, { headers: { 'X-Big': 'x'.repeat(9000) } });
    assert.equal(huge.status, 431);
    assert.equal((await fetch(`${base}/config`)).status, 200, 'still serving');
  } finally {
    await running.close({ timeout: 2000 });
  }
});

/** Resolves with everything the server sends until it closes the socket. */
function collect(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', () => {});
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

test('maxConnections and requestTimeout from the config are enforced', async () => {
  const running = await initializeServer(local({ maxConnections: 1, requestTimeout: 1 })).run();
  const url = `http://127.0.0.1:${running.port}/config`;
  try {
    // One connection holds the only slot with a request it never finishes.
    const holder = await connect(running.port);
    const held = collect(holder);
    holder.write('GET /config HTTP/1.1\r\nHost: x\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));

    const refused = await run('curl', ['-s', '-o', '/dev/null', '--max-time', '3', url]).then(
      () => 'served',
      (error: { code?: number }) => `curl exit ${error.code}`,
    );
    assert.notEqual(refused, 'served', 'a second connection beyond maxConnections is refused');

    // requestTimeout is 1 s: the unfinished head gets 408 and the connection is closed.
    const started = Date.now();
    const answer = await held;
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - started < 2500, 'timed out within the configured second');

    const { stdout } = await run('curl', ['-s', '-w', ' %{http_code}', '--max-time', '3', url]);
    assert.match(stdout, / 200$/, 'serving again once the slot is free');
  } finally {
    await running.close({ timeout: 2000 });
  }
});

test('run directly: a bad env variable exits 1 naming it; a good config listens', async () => {
  const env = { PATH: process.env.PATH ?? '', HL_SERVER_HOST: '127.0.0.1' };
  await assert.rejects(
    run(process.execPath, [SCRIPT], { env: { ...env, HL_SERVER_PORT: '99999' } }),
    (error: { code?: number; stderr?: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr ?? '', /serverPort \(from HL_SERVER_PORT\)/);
      return true;
    },
  );

  const file = await configFile('cli.json', {
    serverPort: 0,
    corsOrigins: ['https://cli.example'],
  });
  const child = spawn(process.execPath, [SCRIPT, file], {
    env: { ...env, HL_MAX_CONNECTIONS: '7' },
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
        if (match !== null) resolve(Number(match[1]));
      });
      child.once('exit', (code) => reject(new Error(`exited ${code} before listening`)));
    });
    const config = (await (
      await fetch(`http://127.0.0.1:${port}/config`)
    ).json()) as ApplicationConfig;
    assert.equal(config.maxConnections, 7);
    assert.deepEqual(config.corsOrigins, ['https://cli.example']);
  } finally {
    child.kill();
  }
});
