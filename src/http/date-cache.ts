let cachedSecond = -1;
let cachedLine = '';

/**
 * The `date: …\r\n` header line for the current second. Formatting a date costs far more than
 * comparing two numbers, so it is rebuilt at most once a second.
 */
export function dateHeaderLine(): string {
  const now = Date.now();
  const second = (now / 1000) | 0;
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedLine = `date: ${new Date(now).toUTCString()}\r\n`;
  }
  return cachedLine;
}
