/** A response header's value: one string, or several for a header sent more than once. */
export type ResponseHeaderValue = string | string[];

/** What reading the response headers needs; the shared empty set offers nothing more. */
export interface ReadonlyResponseHeaders {
  /** How many distinct header names are set. */
  readonly size: number;
  /** The lower-case name of the field at `index` (0 to `size - 1`, in the order first set). */
  nameAt(index: number): string;
  /** The value of the field at `index`. */
  valueAt(index: number): ResponseHeaderValue;
  /** The value set for `name` (lower-case), if any. */
  get(name: string): ResponseHeaderValue | undefined;
  /** Whether `name` (lower-case) is set. */
  has(name: string): boolean;
}

// Shared by every set until its first field: never written, since `set()` replaces it.
const NO_FIELDS: ResponseHeaderValue[] = [];

/**
 * Response header fields by lower-case name, in the order first set, as name/value pairs in
 * one flat array. A response carries few headers: a scan costs less than hashing, and the
 * pairs cost one small array per response instead of a hash table.
 */
export class ResponseHeaders implements ReadonlyResponseHeaders {
  private fields = NO_FIELDS;

  /** @inheritdoc */
  get size(): number {
    return this.fields.length >> 1;
  }

  /** @inheritdoc */
  nameAt(index: number): string {
    return this.fields[index * 2] as string;
  }

  /** @inheritdoc */
  valueAt(index: number): ResponseHeaderValue {
    return this.fields[index * 2 + 1]!;
  }

  /** @inheritdoc */
  get(name: string): ResponseHeaderValue | undefined {
    const at = this.indexOf(name);
    return at === -1 ? undefined : this.fields[at + 1];
  }

  /** @inheritdoc */
  has(name: string): boolean {
    return this.indexOf(name) !== -1;
  }

  /** Sets `name` (lower-case) to `value`, replacing what it had; a new name goes last. */
  set(name: string, value: ResponseHeaderValue): this {
    const fields = this.fields;
    const at = this.indexOf(name);
    if (at !== -1) fields[at + 1] = value;
    // Made to the size of the first field: an array grown by a first push reserves room for many.
    else if (fields === NO_FIELDS) this.fields = [name, value];
    else fields.push(name, value);
    return this;
  }

  /** Removes `name` (lower-case); returns whether it was set. */
  delete(name: string): boolean {
    const at = this.indexOf(name);
    if (at === -1) return false;
    this.fields.splice(at, 2);
    return true;
  }

  /** Index in `fields` of the name `name`, or -1. */
  private indexOf(name: string): number {
    const fields = this.fields;
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return i;
    return -1;
  }
}

/** The headers of a response that has none: shared, and read-only by its type. */
export const NO_RESPONSE_HEADERS: ReadonlyResponseHeaders = new ResponseHeaders();
