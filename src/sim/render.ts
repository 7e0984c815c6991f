/**
 * render: the simulator's outputs for people: a fixed-width table and a small hand-written SVG chart
 * (demand vs ready vs paid capacity over the trace).
 */
import { windowWords } from '../core/strategies/budget.ts';
import { HOLD_MINUTES, SPARE_INSTANCES } from './family.ts';
import type { SimReport, Timeline } from './simulate.ts';

function pad(value: string, width: number, right = true): string {
  return right ? value.padStart(width) : value.padEnd(width);
}

/** hindsightLines say what the `--hindsight` row is, or that no member of the family keeps the budget. */
function hindsightLines(report: SimReport): string[] {
  if (report.hindsight === undefined) return [];
  const family = `"hold the peak of the last H minutes plus S spare instances" (H ${HOLD_MINUTES[0]}-${HOLD_MINUTES.at(-1)}m, S ${SPARE_INSTANCES[0]}-${SPARE_INSTANCES.at(-1)})`;
  if (report.hindsight === null) return [`hindsight: no member of ${family} keeps the budget on this demand`];
  return [`hindsight Hm+S: the cheapest member of ${family} within the budget, chosen knowing the whole demand: a yardstick, not a policy that can run`];
}

/** renderTable renders one report as a text table, one row per policy: cost against the oracle, waiting against the budget. */
export function renderTable(report: SimReport): string {
  const budget = `${(100 * report.waitBudget).toFixed(3).replace(/\.?0+$/, '')}%`;
  const window = windowWords(report.waitWindowMs);
  const head = `trace ${report.trace}: ${report.minutes} minutes, ${report.gpusPerInstance} GPUs/instance, demand ${report.demandGpuMinutes} GPU-minutes, waiting budget ${budget} over ${window}${report.waitWindowStrict ? ', every window kept (waitWindowStrict)' : ''}`;
  const columns = ['policy', 'instance-min', 'cost/oracle', 'waiting GPU-min', 'waiting %', 'budget', `worst ${window} %`, 'alert h', 'p95 wait', 'max wait', 'max GPUs', 'starts', 'stops', 'failed'];
  const widths = [16, 12, 11, 15, 9, 6, 10, 7, 8, 8, 8, 7, 7, 6];
  const line = (cells: readonly string[]): string => cells.map((c, n) => pad(c, widths[n] ?? 8, n > 0)).join('  ').trimEnd();
  const rows = report.policies.map((p) =>
    line([
      p.name,
      String(p.instanceMinutes),
      p.costRatio.toFixed(3),
      String(p.unmetGpuMinutes),
      (100 * p.unmetShare).toFixed(3),
      p.withinBudget ? 'ok' : 'OVER',
      (100 * p.worstWindowShare).toFixed(3),
      p.alertHours.toFixed(1),
      `${p.p95WaitMinutes}m`,
      `${p.maxWaitMinutes}m`,
      String(p.maxUnmetGpus),
      String(p.starts),
      String(p.stops),
      String(p.failedStarts),
    ]),
  );
  const legend = [
    'waiting: GPU-minutes of jobs queued for an instance; p95 / max wait: minutes a job waited; max GPUs: most GPUs waiting at once',
    `worst ${window} %: the highest waiting share over any ${window} (the budget's window); alert h: hours SaltAutoscalerPoolOverBudget would fire (that share above the budget for over 1h)`,
    ...hindsightLines(report),
  ].join('\n');
  return [head, line(columns), ...rows, legend].join('\n') + '\n';
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** bucketMax shrinks a series to at most `points` values, each the max of its bucket (peaks stay visible). */
function bucketMax(series: readonly number[], points: number): number[] {
  if (series.length <= points) return [...series];
  const out: number[] = [];
  const size = series.length / points;
  for (let b = 0; b < points; b += 1) {
    let max = 0;
    for (let n = Math.floor(b * size); n < Math.floor((b + 1) * size); n += 1) max = Math.max(max, series[n] ?? 0);
    out.push(max);
  }
  return out;
}

/** renderSvg draws demand, ready and paid GPUs of one policy's timeline, titled with its numbers from the report. */
export function renderSvg(report: SimReport, timeline: Timeline): string {
  const width = 960;
  const height = 320;
  const left = 50;
  const top = 40;
  const plotW = width - left - 20;
  const plotH = height - top - 40;
  const series = [
    { name: 'demand GPUs', color: '#222222', values: bucketMax(timeline.demandGpus, plotW) },
    { name: 'ready GPUs', color: '#2a9d4b', values: bucketMax(timeline.readyGpus, plotW) },
    { name: 'paid GPUs', color: '#e07b00', values: bucketMax(timeline.paidGpus, plotW) },
  ];
  const yMax = Math.max(1, ...series.flatMap((s) => s.values));
  const points = (values: readonly number[]): string =>
    values
      .map((v, n) => {
        const x = left + (values.length <= 1 ? 0 : (n / (values.length - 1)) * plotW);
        const y = top + plotH - (v / yMax) * plotH;
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      })
      .join(' ');
  const result = report.policies.find((p) => p.name === timeline.policy);
  const numbers = result === undefined ? '' : `: cost ${result.costRatio.toFixed(3)} x oracle, waiting ${(100 * result.unmetShare).toFixed(3)}% (budget ${(100 * report.waitBudget).toFixed(3)}%)`;
  const title = `${report.trace}, ${timeline.policy}${numbers} (${report.minutes} min)`;
  const legend = series
    .map((s, n) => `<text x="${left + 10 + n * 140}" y="${height - 12}" fill="${s.color}" font-size="12">&#9632; ${s.name}</text>`)
    .join('\n  ');
  const lines = series
    .map((s) => `<polyline fill="none" stroke="${s.color}" stroke-width="1" points="${points(s.values)}"/>`)
    .join('\n  ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
  <rect width="${width}" height="${height}" fill="#ffffff"/>
  <text x="${left}" y="22" font-size="14">${escapeXml(title)}</text>
  <line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#999999"/>
  <line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#999999"/>
  <text x="${left - 6}" y="${top + 4}" font-size="11" text-anchor="end">${yMax}</text>
  <text x="${left - 6}" y="${top + plotH}" font-size="11" text-anchor="end">0</text>
  ${lines}
  ${legend}
</svg>
`;
}
