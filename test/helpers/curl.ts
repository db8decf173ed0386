/** curl as a test client: raw output (no transfer decoding), parsed exactly as received. */
import { execFile } from 'node:child_process';
import { finalResponses, parseResponses, type ParsedResponse } from './raw-client.js';

/** Options of {@link curl}. */
export interface CurlOptions {
  /** The response answers a HEAD request (no body follows its head). */
  isHead?: boolean;
  /** Seconds curl may take (default 10). */
  maxTimeSeconds?: number;
  /** Largest output accepted, in bytes (default 64 MiB). */
  maxBuffer?: number;
}

/** Runs `curl -s -S -i --raw <args>` and resolves with the final response it printed. */
export function curl(args: string[], options: CurlOptions = {}): Promise<ParsedResponse> {
  const maxTime = options.maxTimeSeconds ?? 10;
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      ['-s', '-S', '-i', '--raw', '--max-time', String(maxTime), ...args],
      {
        encoding: 'buffer',
        timeout: (maxTime + 3) * 1000,
        maxBuffer: options.maxBuffer ?? 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`curl ${args.join(' ')} failed: ${error.message} ${stderr.toString()}`));
          return;
        }
        const parsed = parseResponses(stdout, { eof: true, isHead: () => options.isHead === true });
        const final = finalResponses(parsed.responses)[0];
        if (parsed.error !== undefined || final === undefined) {
          reject(new Error(`unparsable curl output: ${parsed.error} ${stdout.toString('latin1')}`));
          return;
        }
        resolve(final);
      },
    );
  });
}
