/** A self-signed certificate for localhost, made with openssl for one test and removed after. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Generates a key and a one-day certificate for CN=localhost (PEM strings). */
export async function selfSignedCert(t: TestContext): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'hyperlane-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const keyPath = join(dir, 'k');
  const certPath = join(dir, 'c');
  await execFileAsync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-days',
    '1',
    '-keyout',
    keyPath,
    '-out',
    certPath,
  ]);
  return { key: await readFile(keyPath, 'utf8'), cert: await readFile(certPath, 'utf8') };
}
