/** The content codings hyperlane-ts can produce. */
export type ContentCoding = 'br' | 'gzip' | 'deflate';

/** Every coding {@link negotiateEncoding} knows, in the default order of preference. */
export const CONTENT_CODINGS: readonly ContentCoding[] = ['br', 'gzip', 'deflate'];

// Slots of the scratch table one parse fills: the q-value (in thousandths) each coding was
// given, or -1 when the header does not name it.
const BR = 0;
const GZIP = 1;
const DEFLATE = 2;
const IDENTITY = 3;
const STAR = 4;
const UNKNOWN = -1;
const UNLISTED = -1;

// One table for the whole module: parsing is synchronous, so no two parses ever share it.
const weights = new Int16Array(5);

const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const SPACE = 0x20;
const TAB = 0x09;

// RFC 9110 §5.6.2 tchar: the characters a coding name or parameter may hold.
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TCHAR[c.charCodeAt(0)] = 1;
}

/**
 * The coding to answer with, chosen per RFC 9110 §12.5.3 from an `Accept-Encoding` value:
 * the one with the highest q-value among `available`, ties going to the earlier one in
 * `available` (the server's preference); `*` stands for every coding not named; `q=0` means
 * "not acceptable". `undefined` means "send it uncompressed": nothing acceptable, an empty
 * header, or an explicit `identity` preferred over every coding. Malformed list elements
 * (a bad q-value, stray characters) are skipped; nothing here throws.
 */
export function negotiateEncoding(
  header: string,
  available: readonly ContentCoding[],
): ContentCoding | undefined {
  parse(header);
  const star = weights[STAR]!;
  let best: ContentCoding | undefined;
  let bestWeight = 0;
  for (let i = 0; i < available.length; i++) {
    const coding = available[i]!;
    let weight = weights[slotOf(coding)]!;
    if (weight === UNLISTED) weight = star === UNLISTED ? 0 : star;
    if (weight > bestWeight) {
      best = coding;
      bestWeight = weight;
    }
  }
  // An unlisted identity states no preference; a listed one competes on its q-value.
  if (best !== undefined && weights[IDENTITY]! > bestWeight) return undefined;
  return best;
}

/**
 * Whether an `Accept-Encoding` value rules out an uncompressed answer: `identity;q=0`, or
 * `*;q=0` without an `identity` entry of its own (RFC 9110 §12.5.3).
 */
export function isIdentityRefused(header: string): boolean {
  parse(header);
  const identity = weights[IDENTITY]!;
  return identity === 0 || (identity === UNLISTED && weights[STAR] === 0);
}

function slotOf(coding: ContentCoding): number {
  return coding === 'br' ? BR : coding === 'gzip' ? GZIP : DEFLATE;
}

/** Fills `weights` from one header value; a name listed twice keeps its highest q-value. */
function parse(header: string): void {
  weights.fill(UNLISTED);
  const length = header.length;
  let i = 0;
  while (i < length) {
    const code = header.charCodeAt(i);
    if (code === COMMA || code === SPACE || code === TAB) {
      i++;
      continue;
    }
    const nameStart = i;
    while (i < length && isTchar(header.charCodeAt(i))) i++;
    if (i === nameStart) {
      i = nextElement(header, i); // a stray character: drop the element
      continue;
    }
    const slot = slotOfName(header, nameStart, i);
    let weight = 1000;
    let valid = true;
    i = skipSpace(header, i);
    while (valid && i < length && header.charCodeAt(i) === SEMICOLON) {
      i = skipSpace(header, i + 1);
      const paramStart = i;
      while (i < length && isTchar(header.charCodeAt(i))) i++;
      if (i === paramStart || header.charCodeAt(i) !== EQUALS) {
        valid = false;
        break;
      }
      const isQ = i - paramStart === 1 && (header.charCodeAt(paramStart) | 0x20) === 0x71;
      const valueStart = ++i;
      while (i < length && isTchar(header.charCodeAt(i))) i++;
      if (isQ) {
        weight = parseQValue(header, valueStart, i);
        if (weight < 0) valid = false;
      }
      i = skipSpace(header, i);
    }
    if (i < length && header.charCodeAt(i) !== COMMA) valid = false;
    i = nextElement(header, i);
    if (valid && slot !== UNKNOWN && weight > weights[slot]!) weights[slot] = weight;
  }
}

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

function skipSpace(header: string, i: number): number {
  while (i < header.length) {
    const code = header.charCodeAt(i);
    if (code !== SPACE && code !== TAB) break;
    i++;
  }
  return i;
}

/** The index just past the next comma (or the end). */
function nextElement(header: string, i: number): number {
  const comma = header.indexOf(',', i);
  return comma === -1 ? header.length : comma + 1;
}

/** The slot of the coding named by `header[start, end)`, case-insensitively; `x-gzip` is gzip. */
function slotOfName(header: string, start: number, end: number): number {
  switch (end - start) {
    case 1:
      return header.charCodeAt(start) === 0x2a ? STAR : UNKNOWN;
    case 2:
      return matches(header, start, 'br') ? BR : UNKNOWN;
    case 4:
      return matches(header, start, 'gzip') ? GZIP : UNKNOWN;
    case 6:
      return matches(header, start, 'x-gzip') ? GZIP : UNKNOWN;
    case 7:
      return matches(header, start, 'deflate') ? DEFLATE : UNKNOWN;
    case 8:
      return matches(header, start, 'identity') ? IDENTITY : UNKNOWN;
    default:
      return UNKNOWN;
  }
}

/** Whether `header` holds `lower` at `start`, ignoring ASCII case. */
function matches(header: string, start: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) {
    if ((header.charCodeAt(start + k) | 0x20) !== lower.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * RFC 9110 §12.4.2 qvalue in thousandths: `0`, `0.` and up to three digits, `1`, or `1.` and
 * up to three zeros. Anything else is -1.
 */
function parseQValue(header: string, start: number, end: number): number {
  const length = end - start;
  if (length < 1 || length > 5) return -1;
  const first = header.charCodeAt(start) - 0x30;
  if (first !== 0 && first !== 1) return -1;
  if (length === 1) return first * 1000;
  if (header.charCodeAt(start + 1) !== 0x2e) return -1;
  let fraction = 0;
  let scale = 100;
  for (let k = start + 2; k < end; k++) {
    const digit = header.charCodeAt(k) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    fraction += digit * scale;
    scale /= 10;
  }
  if (first === 1 && fraction !== 0) return -1;
  return first * 1000 + fraction;
}
