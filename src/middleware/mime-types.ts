/** What a file whose extension is not in the table is served as. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

// Text types carry `charset=utf-8`: without it browsers guess the encoding (and may guess wrong
// in ways that matter, e.g. UTF-7 sniffing in old engines).
const UTF8 = '; charset=utf-8';

const TYPES: ReadonlyArray<readonly [string, string]> = [
  // documents and code
  ['html', `text/html${UTF8}`],
  ['htm', `text/html${UTF8}`],
  ['css', `text/css${UTF8}`],
  ['js', `text/javascript${UTF8}`],
  ['mjs', `text/javascript${UTF8}`],
  ['cjs', `text/javascript${UTF8}`],
  ['json', `application/json${UTF8}`],
  ['map', `application/json${UTF8}`],
  ['jsonld', `application/ld+json${UTF8}`],
  ['webmanifest', `application/manifest+json${UTF8}`],
  ['xml', `application/xml${UTF8}`],
  ['xhtml', `application/xhtml+xml${UTF8}`],
  ['rss', `application/rss+xml${UTF8}`],
  ['atom', `application/atom+xml${UTF8}`],
  ['txt', `text/plain${UTF8}`],
  ['text', `text/plain${UTF8}`],
  ['md', `text/markdown${UTF8}`],
  ['csv', `text/csv${UTF8}`],
  ['tsv', `text/tab-separated-values${UTF8}`],
  ['ics', `text/calendar${UTF8}`],
  ['vtt', `text/vtt${UTF8}`],
  ['yaml', `text/yaml${UTF8}`],
  ['yml', `text/yaml${UTF8}`],
  ['svg', `image/svg+xml${UTF8}`],
  ['wasm', 'application/wasm'],
  ['pdf', 'application/pdf'],
  // images
  ['png', 'image/png'],
  ['jpg', 'image/jpeg'],
  ['jpeg', 'image/jpeg'],
  ['gif', 'image/gif'],
  ['webp', 'image/webp'],
  ['avif', 'image/avif'],
  ['ico', 'image/x-icon'],
  ['bmp', 'image/bmp'],
  ['tif', 'image/tiff'],
  ['tiff', 'image/tiff'],
  // fonts
  ['woff', 'font/woff'],
  ['woff2', 'font/woff2'],
  ['ttf', 'font/ttf'],
  ['otf', 'font/otf'],
  ['eot', 'application/vnd.ms-fontobject'],
  // audio and video
  ['mp3', 'audio/mpeg'],
  ['wav', 'audio/wav'],
  ['ogg', 'audio/ogg'],
  ['oga', 'audio/ogg'],
  ['flac', 'audio/flac'],
  ['m4a', 'audio/mp4'],
  ['aac', 'audio/aac'],
  ['opus', 'audio/opus'],
  ['weba', 'audio/webm'],
  ['mp4', 'video/mp4'],
  ['m4v', 'video/mp4'],
  ['webm', 'video/webm'],
  ['ogv', 'video/ogg'],
  ['mov', 'video/quicktime'],
  ['avi', 'video/x-msvideo'],
  ['mpeg', 'video/mpeg'],
  // archives and binaries
  ['zip', 'application/zip'],
  ['gz', 'application/gzip'],
  ['tgz', 'application/gzip'],
  ['br', 'application/x-brotli'],
  ['zst', 'application/zstd'],
  ['tar', 'application/x-tar'],
  ['7z', 'application/x-7z-compressed'],
  ['bin', 'application/octet-stream'],
  ['exe', 'application/octet-stream'],
  ['dmg', 'application/octet-stream'],
  ['iso', 'application/octet-stream'],
];

const BY_EXTENSION: ReadonlyMap<string, string> = new Map(TYPES);

/**
 * The `Content-Type` for a file name or path, from its extension (case-insensitive): common web
 * types, with `charset=utf-8` on text types; anything else is `application/octet-stream`.
 */
export function contentTypeFor(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  // A dot before the last separator belongs to a directory name, not to the file.
  if (dot === -1 || dot < fileName.lastIndexOf('/') || dot < fileName.lastIndexOf('\\')) {
    return DEFAULT_CONTENT_TYPE;
  }
  return BY_EXTENSION.get(fileName.slice(dot + 1).toLowerCase()) ?? DEFAULT_CONTENT_TYPE;
}
