/**
 * Target `hyperlane`: the benchmark app on hyperlane-ts (`hyperlane-app.ts`), with the default
 * configuration apart from the bind address.
 * Usage: `node .build/bench/servers/hyperlane.js [port] [basic|middleware]`.
 * @packageDocumentation
 */
import { Server, cors, requestId, securityHeaders } from '../../src/index.js';
import { appFromArgs, BENCH_ORIGIN, keepAliveFromEnv, MIDDLEWARE_PATH } from '../app.js';
import { announceReady, BENCH_HOST, portFromArgs } from './cli.js';
import { addBenchRoutes, HANDLERS } from './hyperlane-app.js';

const keepAlive = keepAliveFromEnv();
const server = new Server({
  host: BENCH_HOST,
  port: portFromArgs(),
  ...(keepAlive === undefined ? {} : { keepAliveTimeout: keepAlive }),
});
if (appFromArgs() === 'middleware') {
  // The batteries run for every request, registered as a user would.
  server.requestMiddleware(securityHeaders());
  server.requestMiddleware(cors({ origins: [BENCH_ORIGIN] }));
  server.requestMiddleware(requestId());
  server.get(MIDDLEWARE_PATH, HANDLERS.json);
}
addBenchRoutes(server);

const running = await server.run();
announceReady(running.port);
