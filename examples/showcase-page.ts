/**
 * The showcase's web page: HTML built from the catalogue of mounted programs, plus the script
 * and style it loads. Script and style are separate files because the middleware example's
 * `Content-Security-Policy: default-src 'self'` (on every response) forbids inline ones. No
 * front-end dependencies: the chart is drawn on a <canvas> by hand.
 */

/** One GET endpoint answering JSON, as the page links it. */
export interface ShowcaseEndpoint {
  /** Path (and query) to request. */
  path: string;
  /** One line on what it shows. */
  description: string;
  /** The status it answers with (some show off an error on purpose). */
  status: number;
}

/** One seed program as mounted in the showcase. */
export interface ShowcaseProgram {
  /** Its number in the issue's list (1–12). */
  number: number;
  title: string;
  /** The example file, relative to the repository root. */
  file: string;
  /** Its routes as mounted, for people (`GET /perf`, `WS /chat`, …). */
  routes: string[];
  /** Its JSON GET endpoints worth a click. */
  endpoints: ShowcaseEndpoint[];
}

/** Where the page's widgets connect. */
export interface PageLinks {
  /** WebSocket path of the chat. */
  chat: string;
  /** Server-Sent Events path of the metrics. */
  metrics: string;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

function renderProgram(program: ShowcaseProgram): string {
  const rows = program.endpoints.map(
    (endpoint) =>
      `<li><a href="${escapeHtml(endpoint.path)}">${escapeHtml(endpoint.path)}</a>` +
      `<span class="status s${Math.floor(endpoint.status / 100)}">${endpoint.status}</span>` +
      `<span class="what">${escapeHtml(endpoint.description)}</span></li>`,
  );
  const body =
    rows.length > 0
      ? `<ul>${rows.join('')}</ul>`
      : `<p class="what">Try it in the ${program.number === 4 ? 'chat box' : 'chart'} above.</p>`;
  return (
    `<section class="program"><h3><span class="n">${program.number}</span>` +
    `${escapeHtml(program.title)} <code>${escapeHtml(program.file)}</code></h3>` +
    `<p class="routes">${program.routes.map((route) => `<code>${escapeHtml(route)}</code>`).join(' ')}</p>` +
    `${body}</section>`
  );
}

/** The page at `/`: chat box, live chart and the catalogue's endpoints. */
export function renderShowcasePage(programs: readonly ShowcaseProgram[], links: PageLinks): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hyperlane-ts showcase</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/showcase.css">
<script src="/showcase.js" defer></script>
</head>
<body>
<header>
<h1><span class="logo">hyperlane-ts</span> showcase</h1>
<p>The twelve seed programs on one server: one <code>Server</code>, one <code>Context</code> per
request, middleware, routes, WebSocket and Server-Sent Events.</p>
</header>
<main>
<section class="card" id="chat-card">
<h2>Chat <code>WS ${escapeHtml(links.chat)}</code></h2>
<form id="join" data-socket="${escapeHtml(links.chat)}">
<input id="name" name="name" placeholder="Your name" maxlength="64" autocomplete="off" required>
<button type="submit">Join</button>
</form>
<ul id="messages" aria-live="polite"></ul>
<form id="send">
<input id="message" name="message" placeholder="Join, then say something" maxlength="1000" autocomplete="off" disabled>
<button type="submit" disabled>Send</button>
</form>
<p class="note" id="chat-status">Not connected</p>
</section>
<section class="card" id="metrics-card">
<h2>Live metrics <code>SSE ${escapeHtml(links.metrics)}</code></h2>
<canvas id="chart" data-source="${escapeHtml(links.metrics)}" aria-label="CPU and memory over time"></canvas>
<p class="legend"><span class="key cpu"></span>CPU <b id="cpu-now">–</b> %
<span class="key rss"></span>RSS <b id="rss-now">–</b> MB
<span class="count"><b id="points">0</b> points</span></p>
<p class="note" id="metrics-status">Connecting…</p>
</section>
<section class="card wide" id="endpoints">
<h2>The seed programs and their JSON endpoints</h2>
<div class="programs">
${programs.map(renderProgram).join('\n')}
</div>
</section>
</main>
<footer>Served by hyperlane-ts on Node.js — every number on this page is measured, not made up.</footer>
</body>
</html>
`;
}

/** The favicon: a small lane mark. */
export const SHOWCASE_FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect width="32" height="32" rx="7" fill="#1e293b"/>
<path d="M7 24 L14 8 M14 24 L21 8 M21 24 L25 15" stroke="#38bdf8" stroke-width="3" stroke-linecap="round"/>
</svg>
`;

/** The page's style. */
export const SHOWCASE_CSS = `:root {
  --bg: #f4f6f9; --card: #fff; --ink: #1e293b; --muted: #64748b; --line: #e2e8f0;
  --accent: #0284c7; --cpu: #2563eb; --rss: #ea580c;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { max-width: 1240px; margin: 0 auto; padding: 18px 20px 6px; }
h1 { margin: 0; font-size: 22px; font-weight: 600; }
h1 .logo { color: var(--accent); }
header p { margin: 4px 0 0; color: var(--muted); }
main { max-width: 1240px; margin: 0 auto; padding: 12px 20px 24px; display: grid;
  grid-template-columns: 1fr 1fr; gap: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 14px 16px; box-shadow: 0 1px 2px rgba(15, 23, 42, .04); min-width: 0; }
.wide { grid-column: 1 / -1; }
h2 { margin: 0 0 10px; font-size: 15px; font-weight: 600; }
h2 code { font-weight: 400; color: var(--muted); margin-left: 6px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
form { display: flex; gap: 8px; }
input { flex: 1; min-width: 0; padding: 7px 10px; border: 1px solid var(--line); border-radius: 6px;
  font: inherit; }
input:focus { outline: 2px solid #bae6fd; border-color: var(--accent); }
button { padding: 7px 14px; border: 0; border-radius: 6px; background: var(--accent); color: #fff;
  font: inherit; font-weight: 600; cursor: pointer; }
button:disabled, input:disabled { opacity: .5; cursor: default; }
#messages { list-style: none; margin: 10px 0; padding: 8px; height: 250px; overflow-y: auto;
  border: 1px solid var(--line); border-radius: 6px; background: #f8fafc; }
#messages li { margin: 0 0 6px; padding: 5px 9px; border-radius: 8px; background: #fff;
  border: 1px solid var(--line); max-width: 85%; overflow-wrap: anywhere; width: fit-content; }
#messages li.mine { margin-left: auto; background: #e0f2fe; border-color: #bae6fd; }
#messages li.system { max-width: none; background: none; border: 0; color: var(--muted);
  font-size: 12px; text-align: center; margin-left: auto; margin-right: auto; }
#messages .who { font-weight: 600; margin-right: 6px; }
#messages time { color: var(--muted); font-size: 11px; margin-left: 8px; }
.note { margin: 8px 0 0; color: var(--muted); font-size: 12px; }
.note.ok { color: #15803d; }
#chart { display: block; width: 100%; height: 286px; border: 1px solid var(--line);
  border-radius: 6px; background: #fff; }
.legend { margin: 10px 0 0; display: flex; align-items: center; gap: 6px; }
.legend b { font-variant-numeric: tabular-nums; }
.legend .key { display: inline-block; width: 14px; height: 3px; border-radius: 2px; margin-left: 8px; }
.legend .key:first-child { margin-left: 0; }
.key.cpu { background: var(--cpu); } .key.rss { background: var(--rss); }
.legend .count { margin-left: auto; color: var(--muted); }
.programs { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 4px 20px; }
.program h3 { margin: 10px 0 2px; font-size: 14px; font-weight: 600; }
.program h3 code { font-weight: 400; color: var(--muted); margin-left: 4px; white-space: nowrap; }
.program .n { display: inline-block; min-width: 22px; margin-right: 6px; padding: 0 5px;
  border-radius: 10px; background: var(--ink); color: #fff; font-size: 12px; text-align: center; }
.program .routes { margin: 0 0 4px; }
.program .routes code { color: var(--muted); margin-right: 6px; }
.program ul { list-style: none; margin: 0; padding: 0; }
.program li { padding: 2px 0; display: grid; grid-template-columns: auto auto 1fr; gap: 8px;
  align-items: baseline; }
.program a { color: var(--accent); text-decoration: none; font: 12px ui-monospace, monospace; }
.program a:hover { text-decoration: underline; }
.status { font-size: 11px; padding: 0 5px; border-radius: 4px; background: #dcfce7; color: #166534; }
.status.s4 { background: #fef3c7; color: #92400e; } .status.s5 { background: #fee2e2; color: #991b1b; }
.what { color: var(--muted); font-size: 12px; }
footer { max-width: 1240px; margin: 0 auto; padding: 0 20px 24px; color: var(--muted); font-size: 12px; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
`;

/**
 * The page's script (plain browser JavaScript). Chat: joins `WS <chat>?user=<id>`, sends
 * `{ username, content }`, shows what the hub broadcasts. The server HTML-escapes message text;
 * the page turns the entities back into characters and inserts them as text, never as markup.
 * Metrics: an EventSource on the metrics stream; each `metrics` event appends a point (CPU %,
 * RSS MB) to a chart drawn on the canvas. `#points` counts the events received.
 */
export const SHOWCASE_SCRIPT = `'use strict';
(function () {
  const byId = (id) => document.getElementById(id);

  // ---- chat ---------------------------------------------------------------------------------
  const joinForm = byId('join');
  const sendForm = byId('send');
  const nameInput = byId('name');
  const messageInput = byId('message');
  const sendButton = sendForm.querySelector('button');
  const list = byId('messages');
  const chatStatus = byId('chat-status');
  const ENTITIES = { amp: '&', lt: '<', gt: '>' };
  let socket = null;
  let myId = '';

  const unescape = (text) => String(text).replace(/&(amp|lt|gt);/g, (_, name) => ENTITIES[name]);
  const userIdFor = (name) => name.replace(/[^\\w.-]/g, '_').slice(0, 64);

  function setStatus(text, ok) {
    chatStatus.textContent = text;
    chatStatus.classList.toggle('ok', ok);
  }

  function setConnected(connected) {
    messageInput.disabled = !connected;
    sendButton.disabled = !connected;
    messageInput.placeholder = connected ? 'Type a message, press Enter' : 'Join, then say something';
    if (connected) messageInput.focus();
  }

  function show(message) {
    const item = document.createElement('li');
    const system = message.message_type === 'System';
    item.className = system ? 'system' : message.user_id === myId ? 'mine' : 'theirs';
    if (!system) {
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = unescape(message.username);
      item.append(who);
    }
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = unescape(message.content);
    const time = document.createElement('time');
    time.textContent = new Date(message.timestamp * 1000).toLocaleTimeString();
    item.append(text, time);
    list.append(item);
    while (list.children.length > 200) list.firstElementChild.remove();
    list.scrollTop = list.scrollHeight;
  }

  joinForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    if (name === '') return;
    if (socket !== null) socket.close(1000, 'rejoining');
    myId = userIdFor(name);
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    const url = scheme + location.host + joinForm.dataset.socket + '?user=' + encodeURIComponent(myId);
    const ws = new WebSocket(url);
    socket = ws;
    setStatus('Connecting…', false);
    ws.addEventListener('open', () => {
      if (socket !== ws) return;
      setConnected(true);
      setStatus('Connected as ' + name, true);
    });
    ws.addEventListener('message', (event) => {
      try {
        show(JSON.parse(event.data));
      } catch (error) {
        console.warn('unreadable chat message', error);
      }
    });
    ws.addEventListener('close', () => {
      if (socket !== ws) return;
      socket = null;
      setConnected(false);
      setStatus('Disconnected — join again to reconnect', false);
    });
  });

  sendForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const content = messageInput.value;
    if (socket === null || socket.readyState !== WebSocket.OPEN || content.trim() === '') return;
    socket.send(JSON.stringify({ username: nameInput.value.trim(), content, message_type: 'Text' }));
    messageInput.value = '';
  });

  // ---- metrics chart ------------------------------------------------------------------------
  const canvas = byId('chart');
  const pointsLabel = byId('points');
  const metricsStatus = byId('metrics-status');
  const MAX_POINTS = 60;
  const CPU_COLOR = '#2563eb';
  const RSS_COLOR = '#ea580c';
  const points = [];
  let received = 0;

  function rssRange() {
    if (points.length === 0) return [0, 100];
    let low = Infinity;
    let high = -Infinity;
    for (const point of points) {
      low = Math.min(low, point.rss);
      high = Math.max(high, point.rss);
    }
    const margin = Math.max((high - low) * 0.25, 2);
    return [Math.max(0, Math.floor(low - margin)), Math.ceil(high + margin)];
  }

  function draw() {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    const left = 44;
    const right = 56;
    const top = 14;
    const bottom = 26;
    const plotWidth = width - left - right;
    const plotHeight = height - top - bottom;
    const [rssLow, rssHigh] = rssRange();

    g.font = '11px system-ui, sans-serif';
    g.lineWidth = 1;
    for (let step = 0; step <= 4; step++) {
      const y = Math.round(top + plotHeight * (1 - step / 4)) + 0.5;
      g.strokeStyle = '#e2e8f0';
      g.beginPath();
      g.moveTo(left, y);
      g.lineTo(left + plotWidth, y);
      g.stroke();
      g.fillStyle = '#64748b';
      g.textBaseline = 'middle';
      g.textAlign = 'right';
      g.fillText(step * 25 + '%', left - 6, y);
      g.textAlign = 'left';
      g.fillText(Math.round(rssLow + ((rssHigh - rssLow) * step) / 4) + ' MB', left + plotWidth + 6, y);
    }
    g.textBaseline = 'top';
    g.textAlign = 'left';
    g.fillText('last ' + MAX_POINTS + ' samples', left, top + plotHeight + 8);
    g.textAlign = 'right';
    g.fillText('now', left + plotWidth, top + plotHeight + 8);

    if (points.length === 0) {
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.fillText('waiting for the first event…', left + plotWidth / 2, top + plotHeight / 2);
    }
    const spacing = plotWidth / (MAX_POINTS - 1);
    const xOf = (index) => left + plotWidth - (points.length - 1 - index) * spacing;
    const series = (color, yOf) => {
      g.strokeStyle = color;
      g.fillStyle = color;
      g.lineWidth = 2;
      g.lineJoin = 'round';
      g.beginPath();
      points.forEach((point, index) => {
        const x = xOf(index);
        const y = yOf(point);
        if (index === 0) g.moveTo(x, y);
        else g.lineTo(x, y);
      });
      g.stroke();
      points.forEach((point, index) => {
        g.beginPath();
        g.arc(xOf(index), yOf(point), index === points.length - 1 ? 3.5 : 2, 0, Math.PI * 2);
        g.fill();
      });
    };
    const clamp = (value) => Math.min(1, Math.max(0, value));
    series(CPU_COLOR, (point) => top + plotHeight * (1 - clamp(point.cpu / 100)));
    series(RSS_COLOR, (point) => top + plotHeight * (1 - clamp((point.rss - rssLow) / (rssHigh - rssLow))));
    canvas.dataset.drawnPoints = String(points.length);
  }

  const source = new EventSource(canvas.dataset.source);
  source.addEventListener('open', () => {
    metricsStatus.textContent = 'Streaming: one event per interval, real CPU and memory figures';
    metricsStatus.classList.add('ok');
  });
  source.addEventListener('error', () => {
    metricsStatus.textContent = 'Stream interrupted — reconnecting…';
    metricsStatus.classList.remove('ok');
  });
  source.addEventListener('metrics', (event) => {
    const sample = JSON.parse(event.data);
    const point = { cpu: sample.metrics.cpuUsage, rss: sample.metrics.processRss / 1048576 };
    points.push(point);
    if (points.length > MAX_POINTS) points.shift();
    received++;
    pointsLabel.textContent = String(received);
    byId('cpu-now').textContent = point.cpu.toFixed(1);
    byId('rss-now').textContent = point.rss.toFixed(1);
    draw();
  });
  window.addEventListener('resize', draw);
  draw();
})();
`;
