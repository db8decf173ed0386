import busboy from 'busboy';
import type { Readable } from 'node:stream';
import { HttpError } from '../error/http-error.js';
import { HyperlaneError } from '../error/hyperlane-error.js';

/**
 * Limits for `ctx.getRequestForm()`. Every limit is inclusive: a form exactly at a limit is
 * accepted, one byte or one part over it is answered with 413. The whole body is also bounded
 * by the server's `bodyLimit` before any of these apply.
 */
export interface RequestFormOptions {
  /** Largest accepted file, in bytes (over it → 413). Default 10 MiB. */
  maxFileSize?: number;
  /** Most files accepted (over it → 413). Default 10. */
  maxFiles?: number;
  /** Most text fields accepted, multipart or urlencoded (over it → 413). Default 1000. */
  maxFields?: number;
  /** Largest text field value, in bytes (over it → 413). Default 1 MiB. */
  maxFieldSize?: number;
  /**
   * Most multipart parts of any kind, including parts that are neither a field nor a file and
   * are skipped (over it → 413). Default `maxFields + maxFiles`.
   */
  maxParts?: number;
}

/** One uploaded file of a multipart form. */
export interface RequestFormFile {
  /** The form field it came in. */
  readonly field: string;
  /**
   * The file name the client gave, without any directory part (`''` if none was given). It is
   * untrusted user input: never use it as a path without checking it yourself.
   */
  readonly filename: string;
  /** Its declared content type (`application/octet-stream` is what most clients send by default). */
  readonly type: string;
  /** Its bytes. */
  readonly data: Buffer;
}

/** A parsed form: text fields and uploaded files. */
export interface RequestForm {
  /** Text fields by name (the first value of a repeated name). */
  readonly fields: Record<string, string>;
  /** Every value of every text field, by name, in the order they arrived. */
  readonly values: Record<string, string[]>;
  /** Uploaded files, in the order they arrived. */
  readonly files: RequestFormFile[];
}

const URLENCODED = 'application/x-www-form-urlencoded';
const MULTIPART = 'multipart/form-data';
const ACCEPTED_TYPES = `${URLENCODED} or ${MULTIPART}`;

const DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024;
const DEFAULT_MAX_FILES = 10;
const DEFAULT_MAX_FIELDS = 1000;
const DEFAULT_MAX_FIELD_SIZE = 1024 * 1024;
/** RFC 2046 §5.1.1: a boundary is 1 to 70 characters. */
const MAX_BOUNDARY_LENGTH = 70;

interface FormLimits {
  maxFileSize: number;
  maxFiles: number;
  maxFields: number;
  maxFieldSize: number;
  maxParts: number;
}

/**
 * Parses an urlencoded or multipart body. Never throws: every failure is a rejection with an
 * `HttpError` (415 wrong type or charset, 400 malformed, 413 over a limit), or a
 * `HyperlaneError` `HL_ERR_CONFIG` for invalid options.
 * @param body - the whole request body (already bounded by `bodyLimit`)
 * @param contentType - the request's Content-Type header
 * @param options - limits
 */
export function parseRequestForm(
  body: Buffer,
  contentType: string | undefined,
  options: RequestFormOptions,
): Promise<RequestForm> {
  try {
    const limits = resolveLimits(options);
    if (contentType === undefined) {
      throw new HttpError(415, `a form needs a Content-Type of ${ACCEPTED_TYPES}`, {
        code: 'FORM_CONTENT_TYPE',
      });
    }
    const semicolon = contentType.indexOf(';');
    const mediaType = (semicolon < 0 ? contentType : contentType.slice(0, semicolon))
      .trim()
      .toLowerCase();
    if (mediaType === URLENCODED) {
      return Promise.resolve(parseUrlencoded(body, contentType, limits));
    }
    if (mediaType === MULTIPART) return parseMultipart(body, contentType, limits);
    throw new HttpError(
      415,
      `Content-Type ${JSON.stringify(mediaType)} is not a form; send ${ACCEPTED_TYPES}`,
      { code: 'FORM_CONTENT_TYPE' },
    );
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

function resolveLimits(options: RequestFormOptions): FormLimits {
  const maxFiles = limitOption(options, 'maxFiles', DEFAULT_MAX_FILES);
  const maxFields = limitOption(options, 'maxFields', DEFAULT_MAX_FIELDS);
  return {
    maxFileSize: limitOption(options, 'maxFileSize', DEFAULT_MAX_FILE_SIZE),
    maxFiles,
    maxFields,
    maxFieldSize: limitOption(options, 'maxFieldSize', DEFAULT_MAX_FIELD_SIZE),
    maxParts: limitOption(options, 'maxParts', maxFields + maxFiles),
  };
}

function limitOption(
  options: RequestFormOptions,
  name: keyof FormLimits,
  fallback: number,
): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `getRequestForm option ${name} must be a non-negative integer, got ${String(value)}`,
    );
  }
  return value;
}

function tooLarge(message: string): HttpError {
  return new HttpError(413, message, { code: 'FORM_LIMIT' });
}

function malformed(message: string): HttpError {
  return new HttpError(400, message, { code: 'FORM_MALFORMED' });
}

function unsupportedCharset(charset: string): HttpError {
  return new HttpError(415, `charset ${JSON.stringify(charset)} is not supported; send utf-8`, {
    code: 'FORM_CONTENT_TYPE',
  });
}

/** Adds one field value; `__proto__` becomes an own property too, so no name reaches a prototype. */
function addValue(form: RequestForm, name: string, value: string): void {
  const existing = Object.hasOwn(form.values, name) ? form.values[name] : undefined;
  if (existing !== undefined) {
    existing.push(value);
  } else {
    setOwn(form.fields, name, value);
    setOwn(form.values, name, [value]);
  }
}

function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(record, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else {
    record[key] = value;
  }
}

function emptyForm(): RequestForm {
  return { fields: {}, values: {}, files: [] };
}

function parseUrlencoded(body: Buffer, contentType: string, limits: FormLimits): RequestForm {
  // URLSearchParams only decodes UTF-8; a body declared in any other charset would be corrupted.
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(contentType)?.[1]?.toLowerCase();
  if (
    charset !== undefined &&
    charset !== 'utf-8' &&
    charset !== 'utf8' &&
    charset !== 'us-ascii'
  ) {
    throw unsupportedCharset(charset);
  }
  const form = emptyForm();
  let count = 0;
  for (const [name, value] of new URLSearchParams(body.toString('utf8'))) {
    if (++count > limits.maxFields) {
      throw tooLarge(`the form has more than ${limits.maxFields} fields`);
    }
    if (Buffer.byteLength(value) > limits.maxFieldSize) {
      throw tooLarge(`field ${JSON.stringify(name)} is larger than ${limits.maxFieldSize} bytes`);
    }
    addValue(form, name, value);
  }
  return form;
}

/**
 * Feeds the buffered body to busboy and collects it. Busboy reports a limit by truncating or
 * skipping silently plus an event, so each event becomes a 413; its own errors become 400.
 * Every input ends in `close` or `error` because the whole body is written and ended at once.
 */
function parseMultipart(
  body: Buffer,
  contentType: string,
  limits: FormLimits,
): Promise<RequestForm> {
  const boundary = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType);
  const boundaryText = boundary?.[1] ?? boundary?.[2];
  if (boundaryText === undefined || boundaryText === '') {
    throw malformed('multipart/form-data needs a boundary parameter');
  }
  if (boundaryText.length > MAX_BOUNDARY_LENGTH) {
    throw malformed(`the multipart boundary is longer than ${MAX_BOUNDARY_LENGTH} characters`);
  }
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { 'content-type': contentType },
      defCharset: 'utf8',
      defParamCharset: 'utf8',
      // Busboy flags a limit when a count or size *reaches* it; +1 makes ours inclusive.
      limits: {
        fileSize: limits.maxFileSize + 1,
        files: limits.maxFiles,
        fields: limits.maxFields,
        fieldSize: limits.maxFieldSize + 1,
        parts: limits.maxParts + 1,
      },
    });
  } catch (error) {
    throw malformed(`the multipart Content-Type is malformed: ${(error as Error).message}`);
  }
  return new MultipartCollector(parser, limits).run(body);
}

/** One multipart parse: the promise's callbacks and the form, with handlers as methods. */
class MultipartCollector {
  private readonly parser: busboy.Busboy;
  private readonly limits: FormLimits;
  private readonly form: RequestForm = emptyForm();
  private settled = false;
  private resolve: (form: RequestForm) => void = noop;
  private reject: (error: Error) => void = noop;

  constructor(parser: busboy.Busboy, limits: FormLimits) {
    this.parser = parser;
    this.limits = limits;
  }

  run(body: Buffer): Promise<RequestForm> {
    const promise = new Promise<RequestForm>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    const parser = this.parser;
    parser.on('field', (name, value, info) => this.onField(name, value, info));
    parser.on('file', (name, stream, info) => this.onFile(name, stream, info));
    parser.on('filesLimit', () =>
      this.fail(tooLarge(`the form has more than ${this.limits.maxFiles} files`)),
    );
    parser.on('fieldsLimit', () =>
      this.fail(tooLarge(`the form has more than ${this.limits.maxFields} fields`)),
    );
    parser.on('partsLimit', () =>
      this.fail(tooLarge(`the form has more than ${this.limits.maxParts} parts`)),
    );
    // Busboy may emit more than one error for one bad body; only the first one counts.
    parser.on('error', (error: Error) =>
      this.fail(malformed(`malformed multipart body: ${error.message}`)),
    );
    parser.on('close', () => this.finish());
    try {
      parser.end(body);
    } catch (error) {
      this.fail(malformed(`malformed multipart body: ${(error as Error).message}`));
    }
    return promise;
  }

  private onField(
    name: string | undefined,
    value: string | undefined,
    info: busboy.FieldInfo,
  ): void {
    if (this.settled) return;
    if (info.valueTruncated) {
      this.fail(
        tooLarge(
          `field ${JSON.stringify(name ?? '')} is larger than ${this.limits.maxFieldSize} bytes`,
        ),
      );
    } else if (name === undefined) {
      this.fail(malformed('a multipart field has no name'));
    } else if (value === undefined) {
      // Busboy yields no value when it has no decoder for the part's declared charset.
      this.fail(
        new HttpError(
          415,
          `field ${JSON.stringify(name)} is in a charset that is not supported; send utf-8`,
          {
            code: 'FORM_CONTENT_TYPE',
          },
        ),
      );
    } else {
      addValue(this.form, name, value);
    }
  }

  private onFile(name: string | undefined, stream: Readable, info: busboy.FileInfo): void {
    const chunks: Buffer[] = [];
    let size = 0;
    // The stream must always be drained (or busboy waits for it) and must have an error
    // listener (busboy destroys it with an error on a truncated body).
    stream.on('error', noop);
    if (this.settled) {
      stream.resume();
      return;
    }
    if (name === undefined) {
      this.fail(malformed('a multipart file has no field name'));
      stream.resume();
      return;
    }
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (!this.settled && size <= this.limits.maxFileSize) chunks.push(chunk);
    });
    stream.on('limit', () =>
      this.fail(
        tooLarge(
          `file ${JSON.stringify(info.filename ?? '')} is larger than ${this.limits.maxFileSize} bytes`,
        ),
      ),
    );
    stream.on('end', () => {
      if (this.settled) return;
      this.form.files.push({
        field: name,
        filename: info.filename ?? '',
        type: info.mimeType,
        data: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size),
      });
    });
  }

  private finish(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(this.form);
  }

  private fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(error);
  }
}

function noop(): void {}
