import t from 'tap';
import { etcdAvailable } from '../support/etcd-cluster.ts';
import { startHaRig, type HaRig } from '../support/ha-cluster.ts';
import { actingCalls } from '../support/ha-salt-recorder.ts';
import { countStarts } from '../faults/scenario.ts';

/** sampleLeaders polls /api/leader of every process until stopped; it counts the rounds in which two said isLeader. */
function sampleLeaders(rig: HaRig): { stop(): Promise<{ rounds: number; double: string[] }> } {
  let on = true;
  let rounds = 0;
  const double: string[] = [];
  const loop = (async () => {
    while (on) {
      const views = await rig.leaders();
      rounds += 1;
      const leading = views.filter((v) => v.view.isLeader).map((v) => v.index);
      if (leading.length > 1) double.push(`${new Date().toISOString()}: ${leading.join(' and ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return { async stop() { on = false; await loop; return { rounds, double }; } };
}

const skip = etcdAvailable();
if (skip !== undefined) {
  t.test('a network-slow etcd', { skip }, () => undefined);
} else {
  t.test('a network-slow etcd (300 ms, 700 ms, 1.2 s each way, then well): never two leaders acting, no double start, no busy stop', async (t) => {
    // instance 1 runs and is busy all along: a scale-down to 0 must leave it running
    const rig = await startHaRig({ services: 2, etcdProxy: true, running: [1], busy: [1] });
    t.teardown(() => rig.close());
    await rig.waitLeader(20_000);
    const sampler = sampleLeaders(rig);
    const setDelay = (ms: number): void => { for (const p of rig.proxies) p.delayMs = ms; };
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

    setDelay(300);
    await rig.setWorkload(3);
    await rig.waitReady(3, 30_000);
    t.pass('with 300 ms each way to etcd the pool scaled up to 3');
    await rig.setWorkload(0);
    setDelay(700);
    await sleep(5_000);
    setDelay(1_200);
    await sleep(5_000);
    setDelay(0);
    await rig.waitReady(1, 30_000);
    t.pass('with etcd well again the pool scaled down to its busy instance');
    await rig.setWorkload(2);
    await rig.waitReady(2, 30_000);
    t.pass('and up to 2 again');
    await sleep(3_000);
    const { rounds, double } = await sampler.stop();

    t.ok(rounds > 50, `${rounds} rounds of /api/leader samples`);
    t.same(double, [], 'never two processes saying isLeader in one round');
    // acting calls in time order, by sender: a sender may follow another only after a leader change
    const acting = rig.services.flatMap((s) => actingCalls(s.recorder.calls).map((c) => ({ ...c, sender: s.index }))).sort((a, b) => a.atMs - b.atMs);
    let switches = 0;
    for (let i = 1; i < acting.length; i++) if (acting[i]?.sender !== acting[i - 1]?.sender) switches += 1;
    const takeovers = rig.services.reduce((n, s) => n + (s.output().match(/"msg":"this process leads"/g)?.length ?? 0), 0) - 1;
    t.ok(switches <= takeovers, `acting calls switch sender ${switches} times, with ${takeovers} leader changes: never two leaders acting`);
    const starts = countStarts(rig.emu, rig.ids, new Set([rig.ids[0] ?? '']));
    t.equal(starts.total, 3, 'two starts up, one more after the scale-down');
    t.same(starts.doubles, [], 'no instance started twice');
    const busyStops = rig.emu.events.filter((e) => e.tag === `salt/cloud/${rig.ids[0] ?? ''}/stopping`).length;
    t.equal(busyStops, 0, 'the busy instance was never stopped');
  });
}
