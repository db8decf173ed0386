/**
 * The benchmark runner, `npm run bench` (flags after `--`, e.g.
 * `npm run bench -- --quick --only plaintext`). See bench/README.md for the scenarios, the
 * targets and how the numbers are kept honest.
 * @packageDocumentation
 */
import { main } from './suite.js';

main(process.argv.slice(2));
