/** Starts a hyperlane-ts server on a free loopback port for one test, closed when it ends. */
import type { TestContext } from 'node:test';
import { Server, type RunningServer, type ServerConfig } from '../../src/index.js';

/** A server started for one test. */
export interface Served {
  /** The bound port. */
  port: number;
  /** `http://host:port` (IPv6 hosts in brackets). */
  base: string;
  /** `ws://host:port` + path. */
  url(path: string): string;
  /** The running server, for tests that close it themselves. */
  running: RunningServer;
}

/**
 * Builds a Server on 127.0.0.1:0 (unless `config` says otherwise), lets `setup` register
 * routes and hooks, runs it, and closes it after the test `t`.
 */
export async function serve(
  t: TestContext,
  setup: (server: Server) => void,
  config: Partial<ServerConfig> = {},
): Promise<Served> {
  const server = new Server({ host: '127.0.0.1', port: 0, ...config });
  setup(server);
  const running = await server.run();
  t.after(() => running.close({ timeout: 500 }));
  const host = running.host.includes(':') ? `[${running.host}]` : running.host;
  return {
    port: running.port,
    base: `http://${host}:${running.port}`,
    url: (path) => `ws://${host}:${running.port}${path}`,
    running,
  };
}
