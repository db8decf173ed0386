/**
 * The benchmark app, as data: every target serves exactly these responses, and the runner
 * verifies them before loading a target, so no target wins by doing less work than the others.
 * @packageDocumentation
 */

/** Body of `GET /`. */
export const HELLO_BODY = 'Hello World';

/** Value of `message` in the body of `GET /json`. */
export const JSON_MESSAGE = 'Hello, World!';

/** Route prefix of the param case; the rest of the path is the `id` param. */
export const USERS_PREFIX = '/users/';

/** The id the param case requests. */
export const BENCH_USER_ID = '42';

/** One benchmark case: a request path and the response every target must give for it. */
export interface BenchCase {
  /** Short name, used by `BENCH_CASES` and in the table. */
  readonly name: string;
  /** Request target (path) sent with GET. */
  readonly path: string;
  /** Media type the `Content-Type` header must start with (parameters such as charset are allowed). */
  readonly contentType: string;
  /** Exact expected body for text; for JSON, the value the body must parse to. */
  readonly expected: string | Readonly<Record<string, unknown>>;
}

/** All cases, in table order. */
export const BENCH_CASES: readonly BenchCase[] = [
  { name: 'plaintext', path: '/', contentType: 'text/plain', expected: HELLO_BODY },
  {
    name: 'json',
    path: '/json',
    contentType: 'application/json',
    expected: { message: JSON_MESSAGE },
  },
  {
    name: 'param',
    path: USERS_PREFIX + BENCH_USER_ID,
    contentType: 'application/json',
    expected: { id: BENCH_USER_ID },
  },
];
