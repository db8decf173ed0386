/**
 * Launches Debian's Chromium headless through playwright-core (which never downloads a browser).
 * The flags keep Chromium from reaching out to the network, which this machine refuses.
 */
import { chromium, type Browser } from 'playwright-core';

/** Path of the browser binary; overridable for machines that install it elsewhere. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A running headless browser and a way to stop it. */
export interface HeadlessBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/** Starts headless Chromium; playwright gives it a fresh temporary profile. */
export async function launchChromium(): Promise<HeadlessBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    close: () => browser.close(),
  };
}
