/**
 * A real browser against a real server: a page served by us opens a WebSocket and an
 * EventSource and shows what arrives; the test reads the page.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Server, sseEvent, TEXT_EVENT_STREAM, type RunningServer } from '../../src/index.js';
import { launchChromium, type HeadlessBrowser } from './chromium.js';

const PAGE = `<!doctype html><html><body>
<ul id="ws"></ul><ul id="sse"></ul><p id="state">loading</p>
<script>
const wsList = document.getElementById('ws');
const sseList = document.getElementById('sse');
const socket = new WebSocket('ws://' + location.host + '/socket');
socket.onopen = () => { socket.send('hello from the page'); socket.send('second'); };
socket.onmessage = (event) => {
  const item = document.createElement('li');
  item.textContent = event.data;
  wsList.appendChild(item);
};
const source = new EventSource('/events');
source.addEventListener('tick', (event) => {
  const item = document.createElement('li');
  item.textContent = event.lastEventId + ':' + event.data;
  sseList.appendChild(item);
  if (sseList.children.length === 3) { source.close(); document.getElementById('state').textContent = 'done'; }
});
</script></body></html>`;

let running: RunningServer;
let browser: HeadlessBrowser;

before(async () => {
  const server = new Server({ host: '127.0.0.1', port: 0 });
  server.get('/', (ctx) => {
    ctx.setResponseHeader('content-type', 'text/html; charset=utf-8').setResponseBody(PAGE);
  });
  server.onWsConnected(async (ctx) => {
    await ctx.setResponseBody('welcome').sendBody();
  });
  server.get('/socket', async (ctx) => {
    await ctx.setResponseBody(`echo: ${ctx.getRequestBodyString()}`).sendBody();
  });
  server.get('/events', async (ctx) => {
    ctx
      .setResponseHeader('content-type', TEXT_EVENT_STREAM)
      .setResponseHeader('cache-control', 'no-cache');
    await ctx.send();
    for (let id = 1; id <= 3; id++) {
      await ctx.setResponseBody(sseEvent({ id, event: 'tick', data: `tick ${id}` })).sendBody();
    }
  });
  running = await server.run();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await running?.close({ timeout: 1000 });
});

test('a page receives WebSocket messages and Server-Sent Events from one server', async () => {
  const page = await browser.browser.newPage();
  await page.goto(`http://127.0.0.1:${running.port}/`);
  // Page-side expressions are strings: they run in the browser, not in this (DOM-less) program.
  await page.waitForFunction("document.querySelectorAll('#ws li').length >= 3", undefined, {
    timeout: 10_000,
  });
  await page.waitForFunction("document.getElementById('state').textContent === 'done'", undefined, {
    timeout: 10_000,
  });
  const wsItems = await page.locator('#ws li').allTextContents();
  const sseItems = await page.locator('#sse li').allTextContents();
  assert.deepEqual(wsItems, ['welcome', 'echo: hello from the page', 'echo: second']);
  assert.deepEqual(sseItems, ['1:tick 1', '2:tick 2', '3:tick 3']);
  await page.close();
});
