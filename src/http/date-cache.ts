let cachedSecond = -1;
let cachedLine = '';
let lastReading = Date.now();

/**
 * The `date: …\r\n` header line for the current second. Formatting a date costs far more than
 * comparing two numbers, so it is rebuilt at most once a second.
 */
export function dateHeaderLine(): string {
  const now = Date.now();
  lastReading = now;
  const second = (now / 1000) | 0;
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedLine = `date: ${new Date(now).toUTCString()}\r\n`;
  }
  return cachedLine;
}

/**
 * The clock as last read for a Date header: the time of the most recent response, to the
 * millisecond. Bookkeeping right after a response uses it instead of reading the clock again.
 */
export function lastClockReading(): number {
  return lastReading;
}
