import { reasonPhrase } from '../http/status.js';

/** Options for an {@link HttpError}. */
export interface HttpErrorOptions {
  /** A stable application code, sent in the error body as `code`. */
  code?: string;
  /** The underlying error, kept for logs; never sent to the client. */
  cause?: unknown;
  /** Extra response headers to send with the error (for example `Retry-After`). */
  headers?: Record<string, string>;
}

/**
 * Throw it from middleware or a route to answer with `status`: the client gets
 * `{ error: <reason phrase>, message, code? }` as JSON, after `errorHook` has seen it.
 */
export class HttpError extends Error {
  /** The HTTP status sent to the client (400–599). */
  readonly status: number;
  /** Application code echoed in the JSON body, if any. */
  readonly code: string | undefined;
  /** Extra headers sent with the error response. */
  readonly headers: Record<string, string> | undefined;

  /**
   * @param status - an HTTP status from 400 to 599
   * @param message - what the client is told; defaults to the reason phrase
   * @param options - `code`, `cause` and extra `headers`
   */
  constructor(status: number, message?: string, options?: HttpErrorOptions) {
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError(`HttpError status must be an integer from 400 to 599, got ${status}`);
    }
    super(
      message ?? reasonPhrase(status),
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'HttpError';
    this.status = status;
    this.code = options?.code;
    this.headers = options?.headers;
  }
}
