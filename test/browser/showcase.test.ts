/**
 * The showcase page in a real browser: two pages chat with each other over the WebSocket, the
 * chart draws the SSE metrics, every JSON endpoint the page links answers; a screenshot of one
 * page goes to docs/showcase.png for the README.
 */
import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join as joinPath } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { RunningServer } from '../../src/index.js';
import { createShowcase, SHOWCASE_PROGRAMS } from '../../examples/showcase.js';
import { launchChromium, type HeadlessBrowser } from './chromium.js';

// The committed screenshot is refreshed on request (UPDATE_SCREENSHOT=1 npm test); ordinary
// runs write to a temporary file, so a test run never leaves the work tree changed.
const SCREENSHOT =
  process.env.UPDATE_SCREENSHOT === '1'
    ? fileURLToPath(new URL('../../../docs/showcase.png', import.meta.url))
    : joinPath(tmpdir(), `hyperlane-showcase-${process.pid}.png`);

let running: RunningServer;
let browser: HeadlessBrowser;
let base = '';
let alice: Page;
let bob: Page;
/** WebSocket frames each page received, as sent by the server. */
const frames = new Map<Page, string[]>();
/** Script errors and console errors (a CSP violation is one) of every page. */
const pageErrors: string[] = [];

/**
 * Polls a page-side expression until it is truthy. Page-side code is a string: it runs in the
 * browser, not in this (DOM-less) program. Not `page.waitForFunction`: that evaluates its
 * string with eval, which the page's CSP (`default-src 'self'`) rightly forbids.
 */
async function until(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate<boolean>(expression))) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function openPage(): Promise<Page> {
  const page = await browser.browser.newPage({ viewport: { width: 1280, height: 800 } });
  const received: string[] = [];
  frames.set(page, received);
  page.on('websocket', (socket) => {
    socket.on('framereceived', (frame) => received.push(String(frame.payload)));
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(`${base}/`);
  return page;
}

async function join(page: Page, name: string): Promise<void> {
  await page.fill('#name', name);
  await page.click('#join button');
  await until(page, "document.getElementById('chat-status').textContent.startsWith('Connected')");
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#message', text);
  await page.press('#message', 'Enter');
}

/** Waits until the page shows a message from someone else with exactly `text`. */
async function waitForTheirs(page: Page, text: string): Promise<void> {
  await until(
    page,
    `[...document.querySelectorAll('#messages li.theirs .text')].some(
      (node) => node.textContent === ${JSON.stringify(text)})`,
  );
}

before(async () => {
  const showcase = await createShowcase({
    host: '127.0.0.1',
    port: 0,
    env: {},
    log: () => undefined,
    metricsIntervalMs: 200,
  });
  running = await showcase.run();
  base = `http://127.0.0.1:${running.port}`;
  browser = await launchChromium();
  alice = await openPage();
  bob = await openPage();
});

after(async () => {
  await browser?.close();
  await running?.close({ timeout: 1000 });
});

test('two pages chat with each other; markup arrives escaped and is shown as text', async () => {
  await join(alice, 'alice');
  await join(bob, 'bob');
  // Alice was there first, so she sees Bob join.
  await until(
    alice,
    "[...document.querySelectorAll('#messages li.system')].some((n) => n.textContent.includes('User bob joined'))",
  );

  const fromAlice = 'Hi Bob, <b>bold</b> & <img src=x id=injected>';
  await say(alice, fromAlice);
  await waitForTheirs(bob, fromAlice);
  await say(bob, 'Hello Alice! 5 > 3 & 2 < 4');
  await waitForTheirs(alice, 'Hello Alice! 5 > 3 & 2 < 4');
  await say(alice, 'The chart on the right is live.');
  await waitForTheirs(bob, 'The chart on the right is live.');

  // The server sanitized the text: what went over the wire is HTML-escaped…
  const wire = frames.get(bob)!.join('\n');
  assert.match(wire, /Hi Bob, &lt;b&gt;bold&lt;\/b&gt; &amp; &lt;img src=x id=injected&gt;/);
  assert.doesNotMatch(wire, /<b>|<img/);
  // …and the page shows it as text: no element was made from it.
  for (const page of [alice, bob]) {
    assert.equal(await page.locator('#messages b, #messages img, #injected').count(), 0);
  }
  // Each page marks its own messages and the other's.
  assert.deepEqual(await alice.locator('#messages li.mine .text').allTextContents(), [
    fromAlice,
    'The chart on the right is live.',
  ]);
  assert.deepEqual(await bob.locator('#messages li.theirs .who').allTextContents(), [
    'alice',
    'alice',
  ]);
});

test('the chart receives the SSE metrics and draws them', async () => {
  const count = async (page: Page): Promise<number> =>
    Number(await page.locator('#points').textContent());
  await until(alice, "Number(document.getElementById('points').textContent) >= 2");
  const first = await count(alice);
  await until(alice, `Number(document.getElementById('points').textContent) >= ${first + 3}`);
  assert.ok((await count(bob)) >= 1, 'the second page streams too');

  // Both series were drawn: pixels in the CPU and the RSS line colours.
  const drawn = await alice.evaluate<{ points: number; cpu: number; rss: number }>(`(() => {
    const canvas = document.getElementById('chart');
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    const near = (i, [r, g, b]) =>
      Math.abs(data[i] - r) < 40 && Math.abs(data[i + 1] - g) < 40 && Math.abs(data[i + 2] - b) < 40;
    let cpu = 0;
    let rss = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] < 200) continue;
      if (near(i, [37, 99, 235])) cpu++;
      if (near(i, [234, 88, 12])) rss++;
    }
    return { points: Number(canvas.dataset.drawnPoints), cpu, rss };
  })()`);
  assert.ok(drawn.points >= first + 3, `drawn points: ${drawn.points}`);
  assert.ok(drawn.cpu > 20, `CPU pixels: ${drawn.cpu}`);
  assert.ok(drawn.rss > 20, `RSS pixels: ${drawn.rss}`);
  assert.match((await alice.locator('#rss-now').textContent()) ?? '', /^\d+\.\d$/);
});

test('every JSON endpoint the page links answers as listed', async () => {
  const links = await alice.evaluate<string[]>(
    "[...document.querySelectorAll('#endpoints a')].map((anchor) => anchor.getAttribute('href'))",
  );
  const listed = SHOWCASE_PROGRAMS.flatMap((program) => program.endpoints);
  assert.deepEqual(
    links,
    listed.map((endpoint) => endpoint.path),
  );
  assert.ok(links.length >= 20, `${links.length} links`);
  await Promise.all(
    listed.map(async ({ path, status }) => {
      const response = await fetch(base + path);
      assert.equal(response.status, status, path);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/, path);
      const body: unknown = await response.json();
      assert.equal(typeof body, 'object', path);
    }),
  );
});

test('a screenshot of the page is taken (docs/showcase.png with UPDATE_SCREENSHOT=1)', async () => {
  await until(alice, "Number(document.getElementById('chart').dataset.drawnPoints) >= 12");
  await mkdir(dirname(SCREENSHOT), { recursive: true });
  await alice.screenshot({ path: SCREENSHOT });
  assert.ok((await stat(SCREENSHOT)).size > 10_000, 'the screenshot has content');
  // Nothing went wrong in either page along the way (a CSP violation would be listed here).
  assert.deepEqual(pageErrors, []);
});
