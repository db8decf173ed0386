/**
 * The bar chart (`docs/bench.svg`), written by hand: one panel per scenario, a bar per target
 * scaled to the panel's largest value, the value and its ratio to the panel's first baseline
 * beside it, and the machine it ran on underneath the title.
 * @packageDocumentation
 */
import { formatNumber, machineLine, type Machine } from './report.js';
import { ratio, type ScenarioResult } from './result.js';

const WIDTH = 1000;
const MARGIN = 20;
const GAP = 20;
const COLUMNS = 2;
const PANEL_WIDTH = (WIDTH - 2 * MARGIN - (COLUMNS - 1) * GAP) / COLUMNS;
const LABEL_WIDTH = 90;
const VALUE_WIDTH = 130;
const BAR_HEIGHT = 14;
const ROW_HEIGHT = 19;
const PANEL_HEAD = 36;
const HEADER = 84;

const COLORS: Record<string, string> = { hyperlane: '#e4572e', 'net-ceiling': '#a0a0a0' };
const OTHER_COLOR = '#4c78a8';

function escape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function text(x: number, y: number, content: string, attributes = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attributes}>${escape(content)}</text>`;
}

function panelHeight(result: ScenarioResult): number {
  return PANEL_HEAD + result.rows.length * ROW_HEIGHT + 8;
}

/** One scenario's panel, with its top-left corner at (x, y). */
function panel(result: ScenarioResult, x: number, y: number): string {
  const parts = [text(x, y + 14, result.title, ' class="title"')];
  const baseline = result.baselines.find((b) =>
    result.rows.some((r) => r.target === b && r.value !== undefined),
  );
  const hint = [
    result.unit,
    result.lowerIsBetter === true ? 'lower is better' : 'higher is better',
    baseline === undefined ? '' : `ratio to ${baseline}`,
  ]
    .filter((s) => s !== '')
    .join(' · ');
  parts.push(text(x, y + 28, hint, ' class="hint"'));
  const max = Math.max(...result.rows.map((r) => r.value ?? 0));
  const barSpace = PANEL_WIDTH - LABEL_WIDTH - VALUE_WIDTH;
  result.rows.forEach((row, i) => {
    const top = y + PANEL_HEAD + i * ROW_HEIGHT;
    parts.push(
      text(
        x + LABEL_WIDTH - 6,
        top + BAR_HEIGHT - 3,
        row.target,
        ' class="label" text-anchor="end"',
      ),
    );
    if (row.value === undefined) {
      parts.push(text(x + LABEL_WIDTH, top + BAR_HEIGHT - 3, 'failed', ' class="value"'));
      return;
    }
    const width = max > 0 ? Math.max(1, (row.value / max) * barSpace) : 1;
    const color = COLORS[row.target] ?? OTHER_COLOR;
    parts.push(
      `<rect x="${x + LABEL_WIDTH}" y="${top}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" rx="2" fill="${color}"/>`,
    );
    const r =
      baseline === undefined || baseline === row.target
        ? undefined
        : ratio(result, row.target, baseline);
    const label = formatNumber(row.value) + (r === undefined ? '' : `  ${r.toFixed(2)}×`);
    parts.push(text(x + LABEL_WIDTH + width + 5, top + BAR_HEIGHT - 3, label, ' class="value"'));
  });
  return parts.join('\n');
}

/** The whole chart for the scenarios that have results. */
export function renderChart(results: readonly ScenarioResult[], machine: Machine): string {
  const shown = results.filter(
    (r) => r.skipped === undefined && r.rows.some((row) => row.value !== undefined),
  );
  // Each panel goes to the shorter column, so the two columns end close together.
  const heights = new Array<number>(COLUMNS).fill(HEADER);
  const panels = shown.map((result) => {
    const column = heights.indexOf(Math.min(...heights));
    const x = MARGIN + column * (PANEL_WIDTH + GAP);
    const y = heights[column]!;
    heights[column]! += panelHeight(result) + GAP;
    return panel(result, x, y);
  });
  const height = Math.max(...heights) + MARGIN;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">`,
    '<style>.head{font-size:20px;font-weight:600;fill:#222}.machine{font-size:12px;fill:#555}.title{font-size:13px;font-weight:600;fill:#222}.hint{font-size:11px;fill:#777}.label{font-size:12px;fill:#333}.value{font-size:11px;fill:#333}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    text(MARGIN, 30, 'hyperlane-ts benchmarks', ' class="head"'),
    text(MARGIN, 50, machineLine(machine), ' class="machine"'),
    text(MARGIN, 66, machine.method, ' class="machine"'),
    ...panels,
    '</svg>',
    '',
  ].join('\n');
}
