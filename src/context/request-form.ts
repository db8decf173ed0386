import { HttpError } from '../error/http-error.js';

/** Limits for `ctx.getRequestForm()`. */
export interface RequestFormOptions {
  /** Largest accepted file, in bytes (over it → 413). */
  maxFileSize?: number;
  /** Most files accepted (over it → 413). */
  maxFiles?: number;
}

/** One uploaded file of a multipart form. */
export interface RequestFormFile {
  /** The form field it came in. */
  readonly field: string;
  /** The file name the client gave. */
  readonly filename: string;
  /** Its declared content type. */
  readonly type: string;
  /** Its bytes. */
  readonly data: Buffer;
}

/** A parsed form: text fields and uploaded files. */
export interface RequestForm {
  /** Text fields by name (the first value of a repeated name). */
  readonly fields: Record<string, string>;
  /** Uploaded files, in the order they arrived. */
  readonly files: RequestFormFile[];
}

/**
 * Parses an urlencoded or multipart body.
 * @param body - the whole request body (already bounded by `bodyLimit`)
 * @param contentType - the request's Content-Type header
 * @param options - file limits
 */
export function parseRequestForm(
  body: Buffer,
  contentType: string | undefined,
  options: RequestFormOptions,
): Promise<RequestForm> {
  void body;
  void contentType;
  void options;
  return Promise.reject(new HttpError(501, 'forms are not implemented yet'));
}
