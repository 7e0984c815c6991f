/**
 * takeover: what HA costs, measured on the service-level rig of test/ha (a real 3-member etcd on loopback, the
 * salt-api emulator, three `serve` processes with `leaseTtl: 3s`). `npx tsx bench/takeover.ts [rounds]` or the
 * `takeover` row of `npm run bench`.
 *
 * ```
 *   round k: k instances ready ─► kill -9 the leader ─► the pool's need goes to k+1 (every process hears it)
 *            ─► the new leader's first cloud.action start reaches salt-api (its recorder's clock) = takeover time
 *            ─► the killed process comes back as a follower
 *   etcd ops: every member's grpc_server_handled_total by method (what all processes sent, through the gateway),
 *             over a scale-up of 2 (per scale action) and over an idle window (per evaluation, the leader's decisions)
 * ```
 * The etcd figures count every process (followers' keepalives and leader-view ranges too): the scale-up window's
 * ops include about a second of that background.
 */
import { request } from 'undici';
import { LEASE_TTL_MS, startHaRig, type HaRig } from '../test/support/ha-cluster.ts';
import { startsSent } from '../test/support/ha-salt-recorder.ts';
import { etcdAvailable, waitFor } from '../test/support/etcd-cluster.ts';

/** TakeoverResult is what benchTakeover measured. */
export interface TakeoverResult {
  readonly leaseTtlMs: number;
  /** takeoverMs: kill -9 of the leader to the first start call of the new leader, per round. */
  readonly takeoverMs: readonly number[];
  readonly takeoverMedianMs: number;
  /** electedMs: kill to the new leader saying isLeader on /api/leader (polled every 50 ms), per round. */
  readonly electedMedianMs: number;
  /** etcd operations (all processes) per scale action: txns and all calls. */
  readonly txnsPerAction: number;
  readonly opsPerAction: number;
  /**
   * txnsPerEvaluation: etcd txns (all processes) per decision of the leader over an idle window (an evaluation writes
   * nothing unless its pool state changed); idleOpsPerS: every method's rate in that window (the election's background:
   * one keepalive and one range per process per TTL/3).
   */
  readonly txnsPerEvaluation: number;
  readonly evaluations: number;
  readonly idleWindowS: number;
  readonly idleOpsPerS: Readonly<Record<string, number>>;
  readonly targetMet: boolean;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** etcdOps sums every member's grpc_server_handled_total per method. */
async function etcdOps(rig: HaRig): Promise<Map<string, number>> {
  const sums = new Map<string, number>();
  for (const endpoint of rig.etcd.endpoints) {
    const res = await request(`${endpoint}/metrics`);
    for (const line of (await res.body.text()).split('\n')) {
      const m = /^grpc_server_handled_total\{([^}]*)\} (\S+)$/.exec(line);
      const method = m?.[1] === undefined ? undefined : /grpc_method="([^"]+)"/.exec(m[1])?.[1];
      if (m === null || method === undefined) continue;
      sums.set(method, (sums.get(method) ?? 0) + Number(m[2]));
    }
  }
  return sums;
}

function diff(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const d = new Map<string, number>();
  for (const [k, v] of after) if (v - (before.get(k) ?? 0) > 0) d.set(k, v - (before.get(k) ?? 0));
  return d;
}

const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/** decisions sums salt_autoscaler_decisions_total on one process. */
async function decisions(url: string): Promise<number> {
  const res = await request(`${url}/metrics`);
  return (await res.body.text()).split('\n').filter((l) => l.startsWith('salt_autoscaler_decisions_total{')).reduce((n, l) => n + Number(l.split(' ')[1]), 0);
}

/** benchTakeover runs `rounds` kill -9 takeovers and the etcd traffic windows. */
export async function benchTakeover(opts: { readonly rounds?: number; readonly log?: (line: string) => void } = {}): Promise<TakeoverResult> {
  const why = etcdAvailable();
  if (why !== undefined) throw new Error(why);
  const rounds = opts.rounds ?? 5;
  const log = opts.log ?? (() => {});
  const rig = await startHaRig({ services: 3, instances: rounds + 4, max: rounds + 4 });
  try {
    await rig.waitLeader(20_000);
    // etcd traffic of one scale-up of 2 (the intents of both starts, their finishes, the pool state)
    const before = await etcdOps(rig);
    await rig.setWorkload(2);
    await rig.waitReady(2, 30_000);
    await new Promise((r) => setTimeout(r, 500)); // the batched finishes go out at the end of the loop turn
    const scale = diff(await etcdOps(rig), before);
    const idleWindowS = 10;
    // an idle window: the leader evaluates (every 1 s, and on each signal) and nothing changes
    const leader = await rig.waitLeader(5_000);
    const d0 = await decisions(leader.url);
    const i0 = await etcdOps(rig);
    await new Promise((r) => setTimeout(r, idleWindowS * 1000));
    const idle = diff(await etcdOps(rig), i0);
    const evaluations = (await decisions(leader.url)) - d0;
    const idleOpsPerS = Object.fromEntries([...idle].map(([k, v]) => [k, Math.round((v / idleWindowS) * 10) / 10]));
    log(`etcd ops during a scale-up of 2: ${JSON.stringify(Object.fromEntries(scale))}; idle ${idleWindowS} s with ${evaluations} evaluations: ${JSON.stringify(Object.fromEntries(idle))}`);

    const takeoverMs: number[] = [];
    const electedMs: number[] = [];
    let need = 2;
    for (let round = 0; round < rounds; round++) {
      const old = await rig.waitLeader(20_000);
      const others = rig.services.filter((s) => s !== old);
      const sentBefore = new Map(others.map((s) => [s.index, startsSent(s.recorder.calls).length]));
      const killedAt = Date.now();
      await old.kill('SIGKILL');
      need += 1;
      void rig.setWorkload(need);
      let elected: number | undefined;
      await waitFor('the new leader\'s first start', async () => {
        if (elected === undefined && (await Promise.all(others.map((s) => s.leader()))).some((v) => v?.isLeader === true)) elected = Date.now() - killedAt;
        return others.some((s) => startsSent(s.recorder.calls).length > (sentBefore.get(s.index) ?? 0));
      }, LEASE_TTL_MS * 5, 20);
      const first = Math.min(...others.flatMap((s) => startsSent(s.recorder.calls).slice(sentBefore.get(s.index) ?? 0).map((c) => c.atMs)));
      takeoverMs.push(first - killedAt);
      electedMs.push(elected ?? first - killedAt);
      log(`round ${round + 1}: elected after ${elected ?? '?'} ms, first start after ${first - killedAt} ms`);
      await rig.waitReady(need, 30_000);
      await old.restart();
    }
    const takeoverMedianMs = median(takeoverMs);
    return {
      leaseTtlMs: LEASE_TTL_MS,
      takeoverMs,
      takeoverMedianMs,
      electedMedianMs: median(electedMs),
      txnsPerAction: (scale.get('Txn') ?? 0) / 2,
      opsPerAction: total(scale) / 2,
      txnsPerEvaluation: evaluations === 0 ? Number.NaN : Math.round(((idle.get('Txn') ?? 0) / evaluations) * 100) / 100,
      evaluations,
      idleWindowS,
      idleOpsPerS,
      targetMet: takeoverMedianMs <= LEASE_TTL_MS + 1_000,
    };
  } finally {
    await rig.close();
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const rounds = Number(process.argv[2] ?? '5');
  const r = await benchTakeover({ rounds, log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
