let cachedLine = '';

/**
 * The `date: …\r\n` header line for the current second. Formatting a date costs far more than
 * returning a string, and even reading the clock is a call into the runtime, so the line is
 * made once and dropped when the next second begins (by a timer that keeps no process alive),
 * the way `node:http` caches its own.
 */
export function dateHeaderLine(): string {
  return cachedLine === '' ? refreshDateLine() : cachedLine;
}

function refreshDateLine(): string {
  const now = new Date();
  cachedLine = `date: ${now.toUTCString()}\r\n`;
  setTimeout(expireDateLine, 1000 - now.getMilliseconds()).unref();
  return cachedLine;
}

function expireDateLine(): void {
  cachedLine = '';
}
