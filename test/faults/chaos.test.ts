/**
 * chaos: generated fault scenarios. Each seed draws a pool (min, busy and already-running instances) and a random
 * sequence of workload changes, pauses, API pause/resume/manual scale, duplicate notifications, salt-api faults (restarts, silent master, cut streams, duplicate and
 * reordered events, 5xx and slow cloud.action, expired tokens, malformed frames) and SIGKILL + restart of the real
 * service, then asks for max and checks the invariants of test/faults/scenario.ts (no instance started twice
 * without a stop in between, no busy stop, bounds, state == Salt). The fixed seeds run in `npm run test:faults`;
 * `CHAOS_SEEDS=7,8,9` picks others and `CHAOS_RUNS=20` draws that many random seeds (printed, so a failure replays);
 * `FAULTS_LOG_DIR=dir` keeps each scenario's service log.
 */
import t from 'tap';
import { formatMatrix, reportResults, runAll, type ScenarioContext, type ScenarioSpec } from './scenario.ts';

t.setTimeout(600_000);

const CI_SEEDS = [11, 22, 33, 44, 55, 66];
const INSTANCES = 4;
const MAX = 3;

/** mulberry32 is a small seeded PRNG: the same seed draws the same scenario. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Step = { readonly label: string; run(ctx: ScenarioContext): Promise<void> };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function expect200(status: number, what: string): void {
  if (status !== 200) throw new Error(`${what} answered ${status}`);
}

/** chaosScenario draws one scenario from a seed. */
export function chaosScenario(seed: number): ScenarioSpec {
  const rnd = mulberry32(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const min = int(0, 1);
  const running = rnd() < 0.5 ? [int(1, INSTANCES)] : [];
  const busy = rnd() < 0.5 ? [int(1, INSTANCES)] : [];
  const steps: Step[] = [];
  const count = int(6, 10);
  for (let i = 0; i < count; i += 1) {
    const roll = rnd();
    if (roll < 0.35) {
      const w = int(0, MAX + 1);
      steps.push({ label: `workload ${w}`, run: (ctx) => ctx.setWorkload(w) });
    } else if (roll < 0.45) {
      const op = pick([
        { label: 'pause (API)', run: async (ctx: ScenarioContext) => { expect200(await ctx.poolAction('pause'), 'pause'); } },
        { label: 'resume (API)', run: async (ctx: ScenarioContext) => { expect200(await ctx.poolAction('resume'), 'resume'); } },
        ...[1, -1].map((delta) => ({ label: `manual scale ${delta > 0 ? '+' : ''}${delta} (API)`, run: async (ctx: ScenarioContext) => { expect200(await ctx.poolAction('scale', delta), 'scale'); } })),
        ...[1, 3].map((w) => ({
          label: `the same notification twice at once (workload ${w})`,
          run: async (ctx: ScenarioContext) => {
            const body = ctx.workloadNotification(w);
            const statuses = await Promise.all([ctx.notify(body), ctx.notify(body)]);
            for (const status of statuses) expect200(status, 'duplicate notification');
          },
        })),
      ]);
      steps.push(op);
    } else if (roll < 0.6) {
      const ms = int(300, 2000);
      steps.push({ label: `wait ${ms}ms`, run: () => sleep(ms) });
    } else if (roll < 0.9) {
      const fault = pick([
        { label: 'salt-api restart', run: async (ctx: ScenarioContext) => ctx.emu.faults.restartApi() },
        ...[1000, 2500].map((ms) => ({ label: `master restart ${ms}ms`, run: async (ctx: ScenarioContext) => ctx.emu.faults.masterRestart(ms) })),
        { label: 'streams cut mid-frame', run: async (ctx: ScenarioContext) => ctx.emu.faults.cutStreams({ midFrame: true }) },
        { label: 'streams cut', run: async (ctx: ScenarioContext) => ctx.emu.faults.cutStreams() },
        { label: 'duplicate events on', run: async (ctx: ScenarioContext) => ctx.emu.faults.duplicateEvents(true) },
        { label: 'reorder events on', run: async (ctx: ScenarioContext) => ctx.emu.faults.reorderEvents(true) },
        ...([500, 503] as const).map((status) => ({ label: `next cloud.action answers ${status}`, run: async (ctx: ScenarioContext) => ctx.emu.faults.failNext(1, status, { fun: 'cloud.action' }) })),
        { label: 'next cloud.action slow (2s)', run: async (ctx: ScenarioContext) => ctx.emu.faults.delayNext(1, 2000, { fun: 'cloud.action' }) },
        { label: 'tokens expire', run: async (ctx: ScenarioContext) => ctx.emu.faults.expireTokens() },
        { label: 'three malformed frames', run: async (ctx: ScenarioContext) => ctx.emu.faults.malformedNext(3) },
      ]);
      steps.push(fault);
    } else {
      steps.push({ label: 'SIGKILL + restart', run: async (ctx) => { await ctx.kill(); await ctx.restart(); } });
    }
  }
  const plan = steps.map((s) => s.label).join(', ');
  return {
    name: `seed ${seed} (min ${min}, running [${running.join(',')}], busy [${busy.join(',')}]): ${plan}`,
    instances: INSTANCES,
    min,
    max: MAX,
    running,
    busy,
    needs: 'any',
    async run(ctx) {
      for (const step of steps) await step.run(ctx);
      // settle: faults off, pool resumed, then ask for max; every instance ends ready or stopped, exactly max ready
      ctx.emu.faults.duplicateEvents(false);
      ctx.emu.faults.reorderEvents(false);
      expect200(await ctx.poolAction('resume'), 'resume');
      await ctx.setWorkload(MAX);
      await ctx.waitWorld(MAX, 60_000);
      await ctx.waitService(MAX, 20_000);
    },
  };
}

function seeds(): number[] {
  const explicit = process.env['CHAOS_SEEDS'];
  if (explicit !== undefined && explicit.trim() !== '') return explicit.split(',').map((s) => Number(s.trim()));
  const runs = Number(process.env['CHAOS_RUNS'] ?? '0');
  if (runs > 0) return Array.from({ length: runs }, () => Math.floor(Math.random() * 1_000_000));
  return CI_SEEDS;
}

t.test('generated fault scenarios keep every invariant', async (t) => {
  const specs = seeds().map(chaosScenario);
  const results = await runAll(specs, Number(process.env['FAULTS_CONCURRENCY'] ?? '3'));
  process.stdout.write(`\n${formatMatrix(results)}\n`);
  reportResults(t, results, { logPrefix: 'chaos-', startsLabel: 'no instance started twice without a stop' });
});
