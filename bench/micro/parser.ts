/**
 * Parser micro-benchmark: the request parser alone, fed one request per chunk as a socket
 * would, without sockets, a Context or a response. Prints nanoseconds per request (best and
 * median of seven runs of a million), for one of two heads: wrk's two-line request, or a
 * browser's (twelve headers, cookies).
 * Usage: `node .build/bench/micro/parser.js [wrk|browser]`.
 * @packageDocumentation
 */
import { RequestParser } from '../../src/http/request-parser.js';
import { runTimed } from './timing.js';

const HEADS = {
  wrk: 'GET / HTTP/1.1\r\nHost: 127.0.0.1:18090\r\n\r\n',
  browser:
    'GET /api/users/42?x=1 HTTP/1.1\r\nHost: localhost:3000\r\nConnection: keep-alive\r\n' +
    'sec-ch-ua: "Chromium";v="119"\r\nsec-ch-ua-mobile: ?0\r\n' +
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36\r\n' +
    'Accept: */*\r\nSec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: cors\r\n' +
    'Referer: http://localhost:3000/\r\nAccept-Encoding: gzip, deflate, br\r\n' +
    'Accept-Language: en-US,en;q=0.9\r\nCookie: session=abc123; theme=dark\r\n\r\n',
} as const;

const kind = (process.argv[2] ?? 'wrk') as keyof typeof HEADS;
if (!(kind in HEADS))
  throw new Error(`unknown head ${JSON.stringify(kind)}: expected wrk or browser`);
// Chunks of their own, as reads are: a parser that kept one chunk's text would be caught out.
const chunks = Array.from({ length: 64 }, () => Buffer.from(HEADS[kind], 'latin1'));
const parser = new RequestParser({ maxHeadSize: 16 * 1024, maxBodySize: 1024 * 1024 });

function parse(count: number): void {
  for (let i = 0; i < count; i++) {
    parser.push(chunks[i & 63]!);
    if (parser.next() === null) throw new Error('the request did not parse');
    parser.next();
  }
}

await runTimed(`parser, ${kind} head`, 1_000_000, parse);
