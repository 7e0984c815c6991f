// status.js: the status page's poller (vanilla JS, no framework). On load it draws the charts from the samples the
// server embedded (#initial-data), so they show at once; then every 2 s it reads /api/pools, /api/instances,
// /api/decisions and /api/series and redraws the tables and one inline-SVG chart per pool. Consecutive holds of a
// pool fold into one row (the rule of status-page.ts collapseHolds); the pool filter narrows everything to one pool.
// Values go into the DOM with textContent only (never innerHTML), so a pool or minion name cannot inject markup.
/* global document, window, fetch, URL */
'use strict';

const POLL_MS = 2000;
const DECISIONS = 20;
const DECISIONS_READ = 300;
const SVG_NS = 'http://www.w3.org/2000/svg';
const CHART = { width: 560, height: 150, left: 34, right: 40, top: 8, bottom: 20 };

// formatAge mirrors status-page.ts formatAge.
function formatAge(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return m + 'm ' + (s % 60) + 's';
  const h = Math.floor(m / 60);
  if (h < 24) return h + 'h ' + (m % 60) + 'm';
  return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
}

function td(text, cls) {
  const cell = document.createElement('td');
  cell.textContent = String(text);
  if (cls) cell.className = cls;
  return cell;
}

function fillBody(tableId, rows, emptyText, columns) {
  const body = document.querySelector('#' + tableId + ' tbody');
  const fresh = document.createElement('tbody');
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    tr.className = 'empty';
    const cell = td(emptyText);
    cell.colSpan = columns;
    tr.appendChild(cell);
    fresh.appendChild(tr);
  }
  for (const row of rows) fresh.appendChild(row);
  body.replaceWith(fresh);
}

// spanText mirrors status-page.ts spanText.
function spanText(ms) {
  if (ms >= 2 * 86400000) return Math.floor(ms / 86400000) + 'd';
  if (ms >= 2 * 3600000) return Math.floor(ms / 3600000) + 'h';
  return Math.floor(ms / 60000) + 'm';
}

/** budgetText: the realised waiting share against the budget, a young pool's part of the window measured, and whether every window is kept, as the server renders it (status-page.ts). */
function budgetText(pool) {
  if (pool.waitBudget === undefined) return '-';
  const young = pool.waitWindowCovered !== undefined && pool.waitWindowCovered < 1 && pool.waitWindowMs !== undefined
    ? ' over ' + spanText(pool.waitWindowCovered * pool.waitWindowMs) + ' of ' + spanText(pool.waitWindowMs)
    : '';
  const strict = pool.waitWindowStrict === true ? ', every window' : '';
  return ((pool.waitingShare ?? 0) * 100).toFixed(2) + '% of ' + (pool.waitBudget * 100).toFixed(2) + '%' + young + strict;
}

// overBudget mirrors status-page.ts overBudget: as the over-budget alert judges it, the share weighed by the window measured.
function overBudget(pool) {
  return pool.waitBudget !== undefined && (pool.waitingShare ?? 0) * (pool.waitWindowCovered ?? 1) > pool.waitBudget;
}

// leadText mirrors status-page.ts leadText: the measured start lead, '-' before the pool's first start.
function leadText(pool) {
  return pool.startLeadMs === undefined ? '-' : formatAge(pool.startLeadMs);
}

function renderPools(pools) {
  fillBody('pools', pools.map((pool) => {
    const tr = document.createElement('tr');
    tr.dataset.pool = pool.name;
    tr.append(
      td(pool.name, 'name'), td(pool.min), td(pool.max), td(pool.ready, 'ready'), td(pool.inFlight, 'in-flight'),
      td(pool.draining), td(pool.failed, pool.failed > 0 ? 'failed warn' : 'failed'), td(pool.reserved),
      td(leadText(pool), 'lead'), td(budgetText(pool), overBudget(pool) ? 'budget warn' : 'budget'),
      td(pool.paused ? 'paused' : 'active', pool.paused ? 'paused warn' : 'paused'),
    );
    return tr;
  }), 'no pools configured', 11);
}

function renderInstances(instances, nowMs) {
  fillBody('instances', instances.map((instance) => {
    const tr = document.createElement('tr');
    tr.dataset.instance = instance.id;
    const age = td(formatAge(nowMs - Date.parse(instance.since)), 'age');
    age.dataset.since = instance.since;
    // the id links to the instance's JSON with its whole transition history
    const id = td('', 'id');
    const link = document.createElement('a');
    link.href = '/api/instances/' + encodeURIComponent(instance.id);
    link.textContent = instance.id;
    id.appendChild(link);
    tr.append(id, td(instance.pool), td(instance.state, 'state state-' + instance.state), age, td(instance.reason, 'reason'));
    return tr;
  }), 'no instances', 5);
}

// collapseHolds mirrors status-page.ts collapseHolds: newest first in and out, one row per run of holds of a pool.
function collapseHolds(decisions) {
  const rows = [];
  const openRun = new Map();
  for (const decision of decisions) {
    const run = openRun.get(decision.pool);
    if (decision.action === 'hold' && run !== undefined) {
      run.holds += 1;
      run.since = decision.at;
      continue;
    }
    const row = Object.assign({}, decision, { holds: 1, since: decision.at });
    rows.push(row);
    if (decision.action === 'hold') openRun.set(decision.pool, row);
    else openRun.delete(decision.pool);
  }
  return rows;
}

function shortTime(iso) {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function renderDecisions(decisions) {
  fillBody('decisions', collapseHolds(decisions).slice(0, DECISIONS).map((row) => {
    const tr = document.createElement('tr');
    tr.dataset.pool = row.pool;
    if (row.holds > 1) {
      tr.className = 'holds';
      tr.dataset.holds = String(row.holds);
    }
    const reason = row.holds > 1 ? 'holding since ' + shortTime(row.since) + ' (' + row.holds + ' hold decisions): ' + row.reason : row.reason;
    tr.append(
      td(shortTime(row.at), 'at'), td(row.pool),
      td(row.dryRun ? row.action + ' (dry run)' : row.action, 'action action-' + row.action),
      td(row.count), td(row.targets.join(', ')), td(reason, 'reason'),
    );
    return tr;
  }), 'no decisions yet', 6);
}

function svg(name, attrs) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

// drawChart draws ready and total (instances, left axis) and workload (its own unit, right axis) as step lines
// over the series' time span: a queue of 500 jobs must not flatten a pool of 5 instances.
function drawChart(pool, series) {
  const w = CHART.width - CHART.left - CHART.right;
  const h = CHART.height - CHART.top - CHART.bottom;
  const root = svg('svg', { viewBox: '0 0 ' + CHART.width + ' ' + CHART.height, class: 'plot', role: 'img' });
  const title = svg('title', {});
  title.textContent = pool.name + ': ready and total instances (left axis) vs workload (right axis)';
  root.appendChild(title);
  if (series.length === 0) {
    const empty = svg('text', { x: CHART.left, y: CHART.top + h / 2, class: 'empty' });
    empty.textContent = 'no samples yet';
    root.appendChild(empty);
    return root;
  }
  const t0 = series[0].atMs;
  const t1 = Math.max(series[series.length - 1].atMs, t0 + 1);
  let top = Math.max(1, pool.max);
  let workloadTop = 0;
  for (const point of series) {
    top = Math.max(top, point.total, point.ready);
    if (point.workload !== null && point.workload !== undefined) workloadTop = Math.max(workloadTop, point.workload);
  }
  workloadTop = workloadTop > 0 ? workloadTop : 1;
  const x = (atMs) => CHART.left + ((atMs - t0) / (t1 - t0)) * w;
  const yOf = (scaleTop) => (value) => CHART.top + h - (value / scaleTop) * h;
  const y = yOf(top);

  root.appendChild(svg('line', { x1: CHART.left, y1: y(0), x2: CHART.left + w, y2: y(0), class: 'axis' }));
  root.appendChild(svg('line', { x1: CHART.left, y1: y(pool.max), x2: CHART.left + w, y2: y(pool.max), class: 'max' }));
  const tick = (atX, value, scaleTop, anchor, cls) => {
    const text = svg('text', { x: atX, y: yOf(scaleTop)(value) + 4, class: 'tick ' + cls, 'text-anchor': anchor });
    text.textContent = String(Math.round(value * 10) / 10);
    root.appendChild(text);
  };
  for (const value of [0, top]) tick(CHART.left - 4, value, top, 'end', 'tick-instances');
  for (const value of [0, workloadTop]) tick(CHART.left + w + 4, value, workloadTop, 'start', 'tick-workload');
  const span = svg('text', { x: CHART.left + w, y: CHART.height - 4, class: 'tick', 'text-anchor': 'end' });
  span.textContent = 'last ' + formatAge(t1 - t0);
  root.appendChild(span);

  for (const [key, scale] of [['total', y], ['ready', y], ['workload', yOf(workloadTop)]]) {
    const points = [];
    let previous = null;
    for (const point of series) {
      const value = point[key];
      if (value === null || value === undefined) { previous = null; continue; }
      if (previous !== null) points.push(x(point.atMs).toFixed(1) + ',' + scale(previous).toFixed(1));
      points.push(x(point.atMs).toFixed(1) + ',' + scale(value).toFixed(1));
      previous = value;
    }
    if (points.length > 0) root.appendChild(svg('polyline', { points: points.join(' '), class: 'line line-' + key }));
  }
  return root;
}

function renderCharts(pools, seriesByPool) {
  const holder = document.getElementById('charts');
  const fresh = document.createElement('div');
  fresh.id = 'charts';
  for (const pool of pools) {
    const figure = document.createElement('figure');
    figure.className = 'chart';
    figure.dataset.pool = pool.name;
    const caption = document.createElement('figcaption');
    caption.textContent = pool.name;
    figure.append(caption, drawChart(pool, seriesByPool.get(pool.name) || []));
    fresh.appendChild(figure);
  }
  holder.replaceWith(fresh);
}

async function getJson(path) {
  const answer = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
  if (!answer.ok) throw new Error(path + ' answered ' + answer.status);
  return answer.json();
}

// selectedPool is the pool filter ('' = all pools), kept in the address as ?pool= so a reload keeps it.
function selectedPool() {
  const select = document.getElementById('pool-filter');
  return select ? select.value : '';
}

function onlySelected(rows, key) {
  const pool = selectedPool();
  return pool === '' ? rows : rows.filter((row) => row[key] === pool);
}

async function refresh() {
  const updated = document.getElementById('updated');
  const pool = selectedPool();
  try {
    const [pools, instances, decisions] = await Promise.all([
      getJson('/api/pools'), getJson('/api/instances'),
      getJson('/api/decisions?limit=' + DECISIONS_READ + (pool === '' ? '' : '&pool=' + encodeURIComponent(pool))),
    ]);
    const charted = onlySelected(pools, 'name');
    const series = await Promise.all(charted.map((p) => getJson('/api/series?pool=' + encodeURIComponent(p.name))));
    if (pool !== selectedPool()) return; // the filter changed meanwhile: the next refresh draws it
    const nowMs = Date.now();
    renderPools(pools);
    renderInstances(onlySelected(instances, 'pool'), nowMs);
    renderDecisions(onlySelected(decisions, 'pool'));
    renderCharts(charted, new Map(charted.map((p, index) => [p.name, series[index]])));
    updated.textContent = 'updated ' + new Date(nowMs).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
    updated.dataset.state = 'ok';
  } catch (err) {
    updated.textContent = 'update failed: ' + (err instanceof Error ? err.message : String(err));
    updated.dataset.state = 'error';
  }
}

// drawInitialCharts draws the charts from the samples embedded in the page: no request, no timer
function drawInitialCharts() {
  const block = document.getElementById('initial-data');
  if (!block) return;
  const data = JSON.parse(block.textContent || '{}');
  const pools = onlySelected(data.pools || [], 'name');
  renderCharts(pools, new Map(pools.map((p) => [p.name, (data.series || {})[p.name] || []])));
  document.getElementById('charts').dataset.drawn = 'initial';
}

let timer = null;
function loop() {
  refresh().finally(() => { timer = window.setTimeout(loop, POLL_MS); });
}

const filter = document.getElementById('pool-filter');
if (filter) {
  filter.addEventListener('change', () => {
    const address = new URL(window.location.href);
    if (filter.value === '') address.searchParams.delete('pool'); else address.searchParams.set('pool', filter.value);
    window.history.replaceState(null, '', address.toString());
    if (timer !== null) window.clearTimeout(timer);
    loop();
  });
}
drawInitialCharts();
loop();
