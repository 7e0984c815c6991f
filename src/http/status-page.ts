/**
 * status-page: `GET /` — a small page that shows the pools, each instance's state and age, the last decisions
 * with their reasons and a chart of workload vs ready vs total capacity per pool.
 *
 * The first paint is rendered here from the engine's views, with the chart samples embedded as a JSON data block so
 * that `static/status.js` (vanilla JS, no framework) draws the charts as soon as it loads; then it polls `/api/*`
 * every 2 s and redraws the tables and the inline-SVG charts. The page loads nothing but its own files (a strict
 * Content-Security-Policy), and every value goes into the DOM as text, never as markup.
 *
 * Decisions: the engine records a hold at most once per interval per pool, which still buries the actions; the page
 * folds each pool's run of consecutive holds into one row, "holding since <first> (N hold decisions): <latest reason>",
 * and a pool filter (`?pool=` or the select) narrows the decisions, instances and charts to one pool.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { EngineApi, LeaderView } from '../engine/ports.ts';
import { decisionJson, instanceJson, newestFirst, poolJson, seriesJson, type DecisionJson, type InstanceJson, type PoolJson, type SeriesPointJson } from './api-shapes.ts';

/** STATUS_PAGE_DECISIONS is how many rows of decisions the page shows (after folding holds). */
export const STATUS_PAGE_DECISIONS = 20;

/** STATUS_PAGE_DECISIONS_READ is how many recorded decisions the page reads to fill those rows (holds fold away). */
export const STATUS_PAGE_DECISIONS_READ = 300;

/** DecisionRow is one row of the page's decision list: a decision, or a run of `holds` consecutive holds of one pool. */
export interface DecisionRow extends DecisionJson {
  /** holds: how many consecutive hold decisions of the pool this row stands for (1 for an action). */
  readonly holds: number;
  /** since: when the run of holds began (the oldest hold's `at`); equal to `at` for an action. */
  readonly since: string;
}

/**
 * collapseHolds folds each pool's consecutive holds (newest first in, newest first out) into one row that keeps the
 * newest hold's reason, so the actions stay in view. static/status.js holds the same rule for its redraws.
 */
export function collapseHolds(decisions: readonly DecisionJson[]): DecisionRow[] {
  const rows: { row: DecisionJson; holds: number; since: string }[] = [];
  const openRun = new Map<string, { row: DecisionJson; holds: number; since: string }>();
  for (const decision of decisions) {
    const run = openRun.get(decision.pool);
    if (decision.action === 'hold' && run !== undefined) {
      run.holds += 1;
      run.since = decision.at;
      continue;
    }
    const entry = { row: decision, holds: 1, since: decision.at };
    rows.push(entry);
    if (decision.action === 'hold') openRun.set(decision.pool, entry);
    else openRun.delete(decision.pool);
  }
  return rows.map(({ row, holds, since }) => ({ ...row, holds, since }));
}

/** shortTime renders an ISO time as `YYYY-MM-DD HH:MM:SSZ`. */
function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** rowReason is the reason column of a decision row: a folded run of holds says since when and how many. */
export function rowReason(row: DecisionRow): string {
  return row.holds > 1 ? `holding since ${shortTime(row.since)} (${row.holds} hold decisions): ${row.reason}` : row.reason;
}

/** STATUS_PAGE_CSP allows only the page's own script, style and API calls. */
export const STATUS_PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** escapeHtml makes any text safe inside HTML element content and quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** formatAge renders a duration as `42s`, `5m 3s`, `2h 4m` or `3d 2h` (the browser script uses the same rules). */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** StatusPageData is what the first paint shows. */
export interface StatusPageData {
  readonly pools: readonly PoolJson[];
  readonly instances: readonly InstanceJson[];
  readonly decisions: readonly DecisionJson[];
  /** series: chart samples by pool name, embedded so the charts draw on load. */
  readonly series?: Readonly<Record<string, readonly SeriesPointJson[]>>;
  /** pool: show only this pool's decisions, instances and chart. */
  readonly pool?: string;
  readonly nowMs: number;
  /** notice: one line above everything (the demo's scaled-down settings). */
  readonly notice?: string;
  /** leader: who acts, when several processes share the fleet (`ha`); absent for a single process. */
  readonly leader?: LeaderView;
}

/** leaderLine says in the header who leads: this process, another one, or nobody (with ha). */
function leaderLine(view: LeaderView | undefined): string {
  if (view === undefined) return '';
  const text = view.isLeader ? `leader: this process (${view.self})` : view.leader === undefined ? `no leader (this process, ${view.self}, follows)` : `leader: ${view.leader} (this process follows)`;
  return `<span id="leader" data-leader="${view.isLeader ? 'self' : view.leader === undefined ? 'none' : 'other'}">${escapeHtml(text)}</span>`;
}

const cell = (text: string | number, cls?: string): string =>
  `<td${cls === undefined ? '' : ` class="${escapeHtml(cls)}"`}>${escapeHtml(String(text))}</td>`;

const share = (x: number): string => `${(x * 100).toFixed(2)}%`;

/** spanText words a span of the budget's window: whole days from 2 days, else whole hours from 2 hours, else minutes. */
export function spanText(ms: number): string {
  if (ms >= 2 * 86_400_000) return `${Math.floor(ms / 86_400_000)}d`;
  if (ms >= 2 * 3_600_000) return `${Math.floor(ms / 3_600_000)}h`;
  return `${Math.floor(ms / 60_000)}m`;
}

/**
 * budgetText is the pool's realised waiting share against its budget (`0.12% of 0.25%`), `-` without a budget. A
 * young pool's share is over less than its window, so the part measured is said (`0.40% of 0.25% over 16h of 7d`):
 * the over-budget alert weighs the share by it. A pool that keeps every window (waitWindowStrict) says so
 * (`0.12% of 0.25%, every window`).
 */
export function budgetText(pool: Pick<PoolJson, 'waitBudget' | 'waitingShare' | 'waitWindowMs' | 'waitWindowCovered' | 'waitWindowStrict'>): string {
  if (pool.waitBudget === undefined) return '-';
  const young = pool.waitWindowCovered !== undefined && pool.waitWindowCovered < 1 && pool.waitWindowMs !== undefined
    ? ` over ${spanText(pool.waitWindowCovered * pool.waitWindowMs)} of ${spanText(pool.waitWindowMs)}`
    : '';
  return `${share(pool.waitingShare ?? 0)} of ${share(pool.waitBudget)}${young}${pool.waitWindowStrict === true ? ', every window' : ''}`;
}

/**
 * overBudget marks a pool as the shipped SaltAutoscalerPoolOverBudget alert judges it: its share, weighed by the part of
 * its window measured (a young pool's waiting against a whole window's demand), above its budget.
 */
export function overBudget(pool: Pick<PoolJson, 'waitBudget' | 'waitingShare' | 'waitWindowCovered'>): boolean {
  return pool.waitBudget !== undefined && (pool.waitingShare ?? 0) * (pool.waitWindowCovered ?? 1) > pool.waitBudget;
}

function budgetClass(pool: Pick<PoolJson, 'waitBudget' | 'waitingShare' | 'waitWindowCovered'>): string {
  return overBudget(pool) ? 'budget warn' : 'budget';
}

/** leadText is the pool's measured start lead (start issued to ready, p90), `-` before its first start is seen. */
export function leadText(pool: Pick<PoolJson, 'startLeadMs'>): string {
  return pool.startLeadMs === undefined ? '-' : formatAge(pool.startLeadMs);
}

function poolRows(pools: readonly PoolJson[]): string {
  if (pools.length === 0) return '<tr class="empty"><td colspan="11">no pools configured</td></tr>';
  return pools.map((pool) => `<tr data-pool="${escapeHtml(pool.name)}">${[
    cell(pool.name, 'name'), cell(pool.min), cell(pool.max), cell(pool.ready, 'ready'), cell(pool.inFlight, 'in-flight'),
    cell(pool.draining), cell(pool.failed, pool.failed > 0 ? 'failed warn' : 'failed'), cell(pool.reserved),
    cell(leadText(pool), 'lead'), cell(budgetText(pool), budgetClass(pool)),
    cell(pool.paused ? 'paused' : 'active', pool.paused ? 'paused warn' : 'paused'),
  ].join('')}</tr>`).join('\n');
}

function instanceRows(instances: readonly InstanceJson[], nowMs: number): string {
  if (instances.length === 0) return '<tr class="empty"><td colspan="5">no instances</td></tr>';
  return instances.map((instance) => `<tr data-instance="${escapeHtml(instance.id)}">${[
    `<td class="id"><a href="/api/instances/${escapeHtml(encodeURIComponent(instance.id))}">${escapeHtml(instance.id)}</a></td>`,
    cell(instance.pool), cell(instance.state, `state state-${instance.state}`),
    `<td class="age" data-since="${escapeHtml(instance.since)}">${escapeHtml(formatAge(nowMs - Date.parse(instance.since)))}</td>`,
    cell(instance.reason, 'reason'),
  ].join('')}</tr>`).join('\n');
}

function decisionRows(decisions: readonly DecisionJson[]): string {
  const rows = collapseHolds(decisions).slice(0, STATUS_PAGE_DECISIONS);
  if (rows.length === 0) return '<tr class="empty"><td colspan="6">no decisions yet</td></tr>';
  return rows.map((row) => `<tr data-pool="${escapeHtml(row.pool)}"${row.holds > 1 ? ` class="holds" data-holds="${row.holds}"` : ''}>${[
    cell(shortTime(row.at), 'at'), cell(row.pool),
    cell(row.dryRun ? `${row.action} (dry run)` : row.action, `action action-${row.action}`),
    cell(row.count), cell(row.targets.join(', ')), cell(rowReason(row), 'reason'),
  ].join('')}</tr>`).join('\n');
}

function poolFilter(pools: readonly PoolJson[], selected: string | undefined): string {
  const option = (value: string, label: string): string =>
    `<option value="${escapeHtml(value)}"${(selected ?? '') === value ? ' selected' : ''}>${escapeHtml(label)}</option>`;
  return `<label>pool <select id="pool-filter">${[option('', 'all pools'), ...pools.map((p) => option(p.name, p.name))].join('')}</select></label>`;
}

/** jsonBlock embeds data in a `<script type="application/json">` (not executed; `<` escaped so it cannot close the tag). */
function jsonBlock(id: string, data: unknown): string {
  return `<script type="application/json" id="${id}">${JSON.stringify(data).replace(/</g, '\\u003c')}</script>`;
}

function chartFigures(pools: readonly PoolJson[]): string {
  return pools.map((pool) =>
    `<figure class="chart" data-pool="${escapeHtml(pool.name)}"><figcaption>${escapeHtml(pool.name)}</figcaption><div class="plot">loading…</div></figure>`,
  ).join('\n');
}

/** renderStatusPage renders the whole page (first paint) from the API shapes. */
export function renderStatusPage(data: StatusPageData): string {
  const pool = data.pool !== undefined && data.pools.some((p) => p.name === data.pool) ? data.pool : undefined;
  const mine = <T extends { pool: string }>(rows: readonly T[]): readonly T[] => (pool === undefined ? rows : rows.filter((r) => r.pool === pool));
  const chartPools = pool === undefined ? data.pools : data.pools.filter((p) => p.name === pool);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>salt-autoscaler</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/status.css">
<script src="/static/status.js" defer></script>
</head>
<body>
<header><h1>salt-autoscaler</h1>${poolFilter(data.pools, pool)}${leaderLine(data.leader)}<span id="updated" data-state="server">rendered ${escapeHtml(new Date(data.nowMs).toISOString())}</span></header>
${jsonBlock('initial-data', { pools: data.pools, series: data.series ?? {} })}
<main>
${data.notice === undefined ? '' : `<p id="notice">${escapeHtml(data.notice)}</p>\n`}<section>
<h2>Pools</h2>
<table id="pools">
<thead><tr><th>pool</th><th>min</th><th>max</th><th>ready</th><th>in flight</th><th>draining</th><th>failed</th><th>reserved</th><th title="start issued to ready, p90 of the last starts">start lead</th><th>waiting / budget</th><th>status</th></tr></thead>
<tbody>
${poolRows(data.pools)}
</tbody>
</table>
</section>
<section>
<h2>Workload and capacity</h2>
<p class="legend"><span class="key key-workload">workload (right axis)</span> <span class="key key-ready">ready</span> <span class="key key-total">total (ready + in flight)</span> (instances, left axis)</p>
<div id="charts">
${chartFigures(chartPools)}
</div>
</section>
<section>
<h2>Instances</h2>
<table id="instances">
<thead><tr><th>instance</th><th>pool</th><th>state</th><th>age</th><th>reason</th></tr></thead>
<tbody>
${instanceRows(mine(data.instances), data.nowMs)}
</tbody>
</table>
</section>
<section>
<h2>Last decisions</h2>
<table id="decisions">
<thead><tr><th>at (UTC)</th><th>pool</th><th>action</th><th>count</th><th>targets</th><th>reason</th></tr></thead>
<tbody>
${decisionRows(mine(data.decisions))}
</tbody>
</table>
</section>
</main>
</body>
</html>
`;
}

/** StatusPageOptions is what the status page needs: the engine and a clock for the instance ages. */
export interface StatusPageOptions {
  readonly engine: EngineApi;
  readonly now: () => number;
  readonly notice?: string;
  /** leader: who leads (with ha), shown in the header. */
  readonly leader?: (() => LeaderView) | undefined;
}

const staticFile = (name: string): string => readFileSync(new URL(`./static/${name}`, import.meta.url), 'utf8');

/** registerStatusPage mounts `GET /` and its two static files on `app`. */
export function registerStatusPage(app: FastifyInstance, opts: StatusPageOptions): void {
  const script = staticFile('status.js');
  const style = staticFile('status.css');

  app.get('/', async (request, reply) => {
    const query = request.query as Record<string, unknown> | undefined;
    const pool = typeof query?.['pool'] === 'string' && query['pool'] !== '' ? query['pool'] : undefined;
    const pools = opts.engine.pools().map(poolJson);
    const html = renderStatusPage({
      pools,
      instances: opts.engine.instances().map(instanceJson),
      decisions: newestFirst(opts.engine.decisions(pool, STATUS_PAGE_DECISIONS_READ)).map(decisionJson),
      series: Object.fromEntries(pools.map((p) => [p.name, seriesJson(opts.engine.series(p.name))])),
      ...(pool === undefined ? {} : { pool }),
      nowMs: opts.now(),
      ...(opts.notice === undefined ? {} : { notice: opts.notice }),
      ...(opts.leader === undefined ? {} : { leader: opts.leader() }),
    });
    return reply
      .header('content-security-policy', STATUS_PAGE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(html);
  });
  app.get('/static/status.js', async (_request, reply) =>
    reply.header('x-content-type-options', 'nosniff').type('text/javascript; charset=utf-8').send(script));
  app.get('/static/status.css', async (_request, reply) =>
    reply.header('x-content-type-options', 'nosniff').type('text/css; charset=utf-8').send(style));
}
