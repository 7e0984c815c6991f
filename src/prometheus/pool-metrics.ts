/**
 * pool-metrics: the per-pool gauges of `/metrics` (`pool_instances` by state, `pool_max`, `pool_min`,
 * `pool_waiting_share`, `pool_wait_window_covered`, `pool_wait_budget`, `pool_workload`, `pool_start_lead_seconds`), rendered in the Prometheus text format from the
 * engine's snapshot at each scrape (level-triggered: what the page shows is the snapshot, nothing else).
 *
 * Why not prom-client gauges: with 1,000 pools these are ~14,000 series; re-setting them on each scrape (prom-client
 * hashes the labels of every `set`) and having the registry format every line again made ~34 MiB of garbage per
 * scrape, two thirds of what the service allocated at 1,000 events/s with a scrape a second (docs/benchmarks.md,
 * point 4). Here each pool keeps its rendered lines and the values they show:
 *
 * ```
 *  snapshot --count instances by pool and state--> pool row (values, lines) --changed value?--> re-render that line
 *  pools in the snapshot's order --same rows, same lines as last scrape?--> the last text again, else join the lines
 *  a row whose pool is in neither the pools nor the instances of the snapshot is dropped (a reload removed it)
 * ```
 * The text is what prom-client renders for the same gauges set from the same snapshot in the same order (a test
 * holds the two equal over generated snapshots): every state of every pool, 0 included; pools in the snapshot's
 * order, then the pools only instances name; no workload line for an unknown or non-finite workload.
 */
import { INSTANCE_STATES, type Instance, type PoolView } from '../core/types.ts';

/** PoolSnapshot is what the per-pool gauges show: the pools at one instant. */
export interface PoolSnapshot {
  readonly pools: readonly PoolView[];
  readonly instances: readonly Instance[];
  /** workloads: the last known workload per pool (absent or undefined = unknown: no series). */
  readonly workloads: ReadonlyMap<string, number | undefined>;
}

/** PoolFamily is one gauge family: its name and help, as in the page's `# HELP` / `# TYPE` lines. */
interface PoolFamily {
  readonly name: string;
  readonly help: string;
}

/** POOL_FAMILIES are the per-pool gauge families, in the order the page lists them (names are a contract). */
export const POOL_FAMILIES = {
  instances: { name: 'salt_autoscaler_pool_instances', help: 'Instances of a pool, by lifecycle state' },
  max: { name: 'salt_autoscaler_pool_max', help: 'Configured maximum size of a pool' },
  min: { name: 'salt_autoscaler_pool_min', help: 'Configured minimum size of a pool' },
  waitingShare: {
    name: 'salt_autoscaler_pool_waiting_share',
    help: 'Share of a pool\'s demand (workload-unit minutes) that waited for a ready instance over its waitWindow (0.0025 = 0.25%; budget strategy)',
  },
  waitWindowCovered: {
    name: 'salt_autoscaler_pool_wait_window_covered',
    help: 'Share of a pool\'s waitWindow its waiting share covers so far (1 once a whole window is measured; budget strategy)',
  },
  waitBudget: {
    name: 'salt_autoscaler_pool_wait_budget',
    help: 'Configured waitBudget of a pool: the share of its demand that may wait (0.0025 = 0.25%; budget strategy)',
  },
  workload: { name: 'salt_autoscaler_pool_workload', help: 'Last known workload (demand signal) of a pool' },
  startLead: {
    name: 'salt_autoscaler_pool_start_lead_seconds',
    help: 'The p90 of a pool\'s last 16 start-to-ready times (start or create issued to ready), the lead its rises wait and the budget strategy plans with; absent before a start is seen',
  },
} as const satisfies Record<string, PoolFamily>;

/** ValueFamily names the families with one series per pool (labelled by `pool` only). */
type ValueFamily = Exclude<keyof typeof POOL_FAMILIES, 'instances'>;
const VALUE_FAMILIES: readonly ValueFamily[] = ['max', 'min', 'waitingShare', 'waitWindowCovered', 'waitBudget', 'workload', 'startLead'];

const STATE_INDEX = new Map(INSTANCE_STATES.map((state, i) => [state, i]));

/** escapeText escapes `\` and newlines, as the text format wants in HELP and in label values. */
function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** valueText renders a sample value as prom-client does (`Nan`, `+Inf`, `-Inf`, else JavaScript's number text). */
function valueText(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}

function sameCounts(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

function header(family: PoolFamily): string {
  return `# HELP ${escapeText(family.name)} ${escapeText(family.help)}\n# TYPE ${escapeText(family.name)} gauge`;
}

/** PoolRow is one pool's series: the values last rendered and their lines ('' = no series in that family). */
interface PoolRow {
  /** scrape: the scrape that last saw the pool (rows not seen by the current one are dropped). */
  scrape: number;
  /** listed: the scrape that last saw the pool among the snapshot's pools (not only named by instances). */
  listed: number;
  readonly label: string;
  readonly counts: number[];
  readonly rendered: number[];
  stateLines: string;
  readonly values: Record<ValueFamily, number | undefined>;
  readonly lines: Record<ValueFamily, string>;
}

/**
 * PoolMetrics renders the per-pool gauge families from snapshots, re-rendering only the lines whose value changed
 * and forgetting the pools that left the snapshot (see the file comment).
 */
export class PoolMetrics {
  readonly #rows = new Map<string, PoolRow>();
  #scrape = 0;
  #order: PoolRow[] = [];
  #text: string | undefined;

  /** poolsHeld is the number of pools whose series are kept: the pools of the last snapshot, no more. */
  get poolsHeld(): number {
    return this.#rows.size;
  }

  /** render returns the eight families' text (each `# HELP`, `# TYPE`, then its lines; families apart by a blank line). */
  render(snapshot: PoolSnapshot): string {
    this.#scrape += 1;
    const order: PoolRow[] = [];
    let changed = false;
    for (const pool of snapshot.pools) {
      const row = this.#see(pool.name, order);
      row.listed = this.#scrape;
      const workload = snapshot.workloads.get(pool.name);
      changed = this.#set(row, 'max', pool.max) || changed;
      changed = this.#set(row, 'min', pool.min) || changed;
      changed = this.#set(row, 'waitingShare', pool.waitingShare) || changed;
      changed = this.#set(row, 'waitWindowCovered', pool.waitWindowCovered) || changed;
      changed = this.#set(row, 'waitBudget', pool.waitBudget) || changed;
      changed = this.#set(row, 'workload', workload !== undefined && Number.isFinite(workload) ? workload : undefined) || changed;
      changed = this.#set(row, 'startLead', pool.startLeadMs === undefined ? undefined : pool.startLeadMs / 1000) || changed;
    }
    for (const instance of snapshot.instances) {
      const row = this.#see(instance.pool, order);
      const i = STATE_INDEX.get(instance.state);
      if (i !== undefined) row.counts[i] = (row.counts[i] ?? 0) + 1;
    }
    for (const row of order) {
      if (row.listed !== this.#scrape) {
        // a pool only instances name (not configured): no max, min, budget or workload series
        for (const family of VALUE_FAMILIES) changed = this.#set(row, family, undefined) || changed;
      }
      if (!sameCounts(row.counts, row.rendered)) {
        for (let i = 0; i < row.counts.length; i += 1) row.rendered[i] = row.counts[i] ?? 0;
        row.stateLines = INSTANCE_STATES.map((state, i) => `${POOL_FAMILIES.instances.name}{pool="${row.label}",state="${state}"} ${valueText(row.counts[i] ?? 0)}`).join('\n');
        changed = true;
      }
    }
    for (const [name, row] of this.#rows) {
      if (row.scrape !== this.#scrape) {
        this.#rows.delete(name);
        changed = true;
      }
    }
    if (order.length !== this.#order.length || order.some((row, i) => row !== this.#order[i])) changed = true;
    this.#order = order;
    if (changed || this.#text === undefined) this.#text = this.#join();
    return this.#text;
  }

  /** #see returns the pool's row for this scrape, its counts zeroed the first time the scrape meets it. */
  #see(name: string, order: PoolRow[]): PoolRow {
    let row = this.#rows.get(name);
    if (row === undefined) {
      row = {
        scrape: 0, listed: 0, label: escapeText(name).replace(/"/g, '\\"'),
        counts: INSTANCE_STATES.map(() => 0), rendered: INSTANCE_STATES.map(() => -1), stateLines: '',
        values: { max: undefined, min: undefined, waitingShare: undefined, waitWindowCovered: undefined, waitBudget: undefined, workload: undefined, startLead: undefined },
        lines: { max: '', min: '', waitingShare: '', waitWindowCovered: '', waitBudget: '', workload: '', startLead: '' },
      };
      this.#rows.set(name, row);
    }
    if (row.scrape !== this.#scrape) {
      row.scrape = this.#scrape;
      row.counts.fill(0);
      order.push(row);
    }
    return row;
  }

  /** #set records one value of a row (undefined = no series), re-rendering its line when it changed. */
  #set(row: PoolRow, family: ValueFamily, value: number | undefined): boolean {
    if (Object.is(row.values[family], value)) return false;
    row.values[family] = value;
    row.lines[family] = value === undefined ? '' : `${POOL_FAMILIES[family].name}{pool="${row.label}"} ${valueText(value)}`;
    return true;
  }

  #join(): string {
    const families = [[header(POOL_FAMILIES.instances), ...this.#order.map((row) => row.stateLines)].join('\n')];
    for (const family of VALUE_FAMILIES) {
      const lines = [header(POOL_FAMILIES[family])];
      for (const row of this.#order) if (row.lines[family] !== '') lines.push(row.lines[family]);
      families.push(lines.join('\n'));
    }
    return families.join('\n\n');
  }
}
