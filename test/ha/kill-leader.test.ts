import t from 'tap';
import { etcdAvailable, waitFor } from '../support/etcd-cluster.ts';
import { LEASE_TTL_MS, startHaRig } from '../support/ha-cluster.ts';
import { startsSent } from '../support/ha-salt-recorder.ts';
import { countStarts } from '../faults/scenario.ts';

const skip = etcdAvailable();
if (skip !== undefined) {
  t.test('three serve processes on one etcd', { skip }, () => undefined);
} else {
  t.test('three serve processes on one etcd: one leads; kill -9 of the leader mid scale-up ends in one start per need', async (t) => {
    const rig = await startHaRig({ services: 3 });
    t.teardown(() => rig.close());
    const leader = await rig.waitLeader(20_000);
    const views = await rig.leaders();
    t.equal(views.length, 3, 'every process answers /api/leader');
    t.equal(views.filter((v) => v.view.isLeader).length, 1, 'exactly one says isLeader');
    t.ok(views.every((v) => v.view.leader === views.find((w) => w.view.isLeader)?.view.self), 'all three name the same leader');
    t.ok(views.every((v) => v.view.isLeader === (v.index === leader.index)), 'only the leader says isLeader');
    await waitFor('salt_autoscaler_leader sums to 1', async () => {
      const gauges = await Promise.all(rig.services.map((s) => s.metric('salt_autoscaler_leader')));
      return gauges.reduce<number>((a, g) => a + (g ?? 0), 0) === 1 && gauges[leader.index] === 1;
    }, 5_000);
    t.pass('salt_autoscaler_leader is 1 on the leader, 0 on both followers');

    // the leader's starts are held in the emulator for 2.5 s: they are in flight when it dies
    rig.emu.faults.delayNext(2, 2_500, { fun: 'cloud.action' });
    await rig.setWorkload(2);
    await waitFor('the leader sent two starts', () => startsSent(leader.recorder.calls).length === 2, 10_000);
    const killedAt = Date.now();
    await leader.kill('SIGKILL');
    const others = rig.services.filter((s) => s !== leader).map((s) => s.index);
    // a follower leads once the killed leader's lease ran out (waitLeader throws past its ceiling): a ceiling, not a
    // speed, as etcd's expiry check, its revoke through raft and the follower's campaign all stretch on a loaded machine
    const next = await rig.waitLeader(LEASE_TTL_MS * 5, others);
    t.comment(`a follower led ${Date.now() - killedAt} ms after the kill (TTL ${LEASE_TTL_MS} ms)`);
    await rig.waitReady(2, 30_000);
    // two evaluations and a reconcile in which a wrong second start would show
    await new Promise((r) => setTimeout(r, 4_000));
    const starts = countStarts(rig.emu, rig.ids, new Set());
    t.equal(starts.total, 2, 'two needs, two starts carried out by Salt');
    t.same(starts.doubles, [], 'no instance started twice');
    t.equal(rig.readyInWorld(), 2, 'nothing lost: the need is met');
    const byNext = startsSent(next.recorder.calls);
    t.same(byNext.filter((s) => startsSent(leader.recorder.calls).some((o) => o.instance === s.instance)), [], 'the new leader did not start again what the old one had in flight');
    t.match(next.output(), /"msg":"this process leads"/, 'the new leader logged its takeover');
  });
}
