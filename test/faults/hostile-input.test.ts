/**
 * hostile-input: the adversarial run of issue 12 against the REAL service as a child process (test/faults/scenario.ts
 * runs it, with its four invariants): four 1 MB bodies of 340,000 empty alerts in parallel, then a flood of
 * notifications each with a unique 900 KB groupKey and one resolved alert of the pool, then 10,000 with unique 4 KB
 * keys, then a real scale-up.
 * Asserted: each hostile body is a 4xx with a reason, /healthz answers while they are handled, the process is alive
 * after the flood with its RSS bounded (< 300 MiB, a safety invariant: before the fix the flood ended in OOM), and
 * the pool still scales on the next notification. Run: `npx tap test/faults/hostile-input.test.ts`.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { reportResults, runScenario, type ScenarioContext, type ScenarioResult } from './scenario.ts';

// the floods (10,000 notifications among them) outran a 120 s file timeout on a 2-core machine at load 17
t.setTimeout(300_000);

/** FLOOD is the number of flood notifications; FLOOD_KEY_BYTES the size of each one's unique groupKey. */
const FLOOD = 200;
const FLOOD_KEY_BYTES = 900_000;
/** WIDE_FLOOD notifications with unique WIDE_KEY_BYTES group keys: the count the issue names, each key small. */
const WIDE_FLOOD = 10_000;
const WIDE_KEY_BYTES = 4_000;
const WIDE_WARMUP = 3_000;
/** WIDE_GROWTH_MIB bounds the RSS growth over the wide flood: flat (one kept copy per key would be ~40 MiB, unbounded books more). */
const WIDE_GROWTH_MIB = 30;
/** RSS_BOUND_MIB is the safety bound on the service's RSS after the flood (one copy per key would be ~260 MiB more). */
const RSS_BOUND_MIB = 300;

const hostileBody = `{"version":"4","groupKey":"g","status":"firing","receiver":"r","alerts":[${new Array(340_000).fill('{}').join(',')}]}`;

function floodBody(i: number, keyBytes = FLOOD_KEY_BYTES): string {
  return JSON.stringify({
    version: '4', groupKey: `${i}:${'k'.repeat(keyBytes)}`, status: 'resolved', receiver: 'salt-autoscaler', truncatedAlerts: 0,
    alerts: [{
      status: 'resolved', labels: { alertname: 'SaltAutoscalerScaleUp', env: 'f', instance_type: 't1' },
      startsAt: '2026-11-28T07:00:00Z', endsAt: '2026-11-28T07:05:00Z', fingerprint: `flood-${i}`,
    }],
  });
}

/** rssMiB reads the process's resident set from /proc (Linux). */
function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? Number.NaN : Number(match[1]) / 1024;
}

const seen = { hostile: [] as { status: number; reason: string }[], healthzMaxMs: 0, healthzOk: 0, rssPeakMiB: 0, rssAfterMiB: 0, floodStatuses: new Set<number>(), alive: false, wideBeforeMiB: 0, wideAfterMiB: 0, wideStatuses: new Set<number>(), hostileMs: [] as number[] };

async function post(ctx: ScenarioContext, body: string): Promise<{ status: number; reason: string }> {
  const res = await fetch(`${ctx.service().url}/alertmanager/webhook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const json = (await res.json()) as { reason?: string };
  return { status: res.status, reason: json.reason ?? '' };
}

let result: ScenarioResult | undefined;

t.before(async () => {
  result = await runScenario({
    name: 'hostile input: 4 x 1 MB bodies, a 900 KB groupKey flood, then a scale-up',
    needs: 1,
    async run(ctx) {
      const pid = ctx.service().child.pid ?? 0;
      // /healthz polled while four hostile bodies are handled at once
      let hostileDone = false;
      const probe = (async () => {
        while (!hostileDone) {
          const t0 = performance.now();
          const res = await fetch(`${ctx.service().url}/healthz`);
          seen.healthzMaxMs = Math.max(seen.healthzMaxMs, performance.now() - t0);
          if (res.ok) seen.healthzOk += 1;
          await new Promise((r) => setImmediate(r));
        }
      })();
      const timed = async (): Promise<{ status: number; reason: string }> => {
        const t0 = performance.now();
        const res = await post(ctx, hostileBody);
        seen.hostileMs.push(performance.now() - t0);
        return res;
      };
      seen.hostile = await Promise.all([timed(), timed(), timed(), timed()]);
      hostileDone = true;
      await probe;
      let next = 0;
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (next < FLOOD) {
          const i = next++;
          seen.floodStatuses.add((await post(ctx, floodBody(i))).status);
          seen.rssPeakMiB = Math.max(seen.rssPeakMiB, rssMiB(pid));
        }
      }));
      seen.rssAfterMiB = rssMiB(pid);
      // the 10,000 unique keys: the book stays bounded by bytes and count, so RSS stays flat
      // a warm-up of WIDE_WARMUP first: the heap settles at its working size (RSS never shrinks back), then the flood
      // is measured; a per-key leak grows with every key, a settled heap does not
      let wide = 0;
      const flood = async (until: number): Promise<void> => {
        await Promise.all(Array.from({ length: 8 }, async () => {
          while (wide < until) {
            const i = wide++;
            seen.wideStatuses.add((await post(ctx, floodBody(FLOOD + i, WIDE_KEY_BYTES))).status);
          }
        }));
      };
      await flood(WIDE_WARMUP);
      seen.wideBeforeMiB = rssMiB(pid);
      await flood(WIDE_WARMUP + WIDE_FLOOD);
      seen.wideAfterMiB = rssMiB(pid);
      seen.alive = ctx.service().child.exitCode === null && (await fetch(`${ctx.service().url}/healthz`)).ok;
      await ctx.setWorkload(1);
      await ctx.waitWorld(1);
    },
  });
});

t.test('hostile input against the service process', async (t) => {
  const r = result;
  if (r === undefined) throw new Error('the scenario did not run');
  t.equal(seen.hostile.length, 4);
  for (const h of seen.hostile) {
    t.equal(h.status, 400, 'the 1 MB body is a 4xx');
    t.match(h.reason, /more than \d+ JSON objects and arrays: a notification carries at most \d+ alerts/, 'with its reason');
  }
  t.ok(seen.healthzOk >= 1, `/healthz answered ${seen.healthzOk} time(s) while the bodies were handled (slowest ${seen.healthzMaxMs.toFixed(0)} ms)`);
  t.same([...seen.floodStatuses], [200], 'every flood notification is accepted');
  t.ok(seen.alive, 'the process is alive and healthy after the flood');
  t.ok(seen.rssPeakMiB < RSS_BOUND_MIB, `RSS peak ${seen.rssPeakMiB.toFixed(0)} MiB, after ${seen.rssAfterMiB.toFixed(0)} MiB (< ${RSS_BOUND_MIB} MiB) for ${FLOOD} x ${FLOOD_KEY_BYTES / 1000} KB group keys`);
  t.same([...seen.wideStatuses], [200], `every one of the ${WIDE_WARMUP + WIDE_FLOOD} unique-key notifications is accepted`);
  t.ok(seen.wideAfterMiB - seen.wideBeforeMiB < WIDE_GROWTH_MIB, `RSS ${seen.wideBeforeMiB.toFixed(0)} -> ${seen.wideAfterMiB.toFixed(0)} MiB over ${WIDE_FLOOD} unique ${WIDE_KEY_BYTES / 1000} KB keys after ${WIDE_WARMUP} to warm up (growth < ${WIDE_GROWTH_MIB} MiB)`);
  t.comment(`1 MB hostile bodies, 4 in parallel, answered in ${seen.hostileMs.map((ms) => ms.toFixed(0)).join(', ')} ms (figures; bench/hostile-input.ts measures one alone)`);
  reportResults(t, [r], { logPrefix: 'hostile-', startsLabel: 'one start for the scale-up after the flood' });
});
