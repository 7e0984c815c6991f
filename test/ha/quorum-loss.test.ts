import t from 'tap';
import { etcdAvailable, waitFor } from '../support/etcd-cluster.ts';
import { LEASE_TTL_MS, startHaRig } from '../support/ha-cluster.ts';
import { actingCalls } from '../support/ha-salt-recorder.ts';
import { countStarts } from '../faults/scenario.ts';

const skip = etcdAvailable();
if (skip !== undefined) {
  t.test('etcd quorum lost', { skip }, () => undefined);
} else {
  t.test('etcd quorum lost: the leader stops acting and says so; it acts again when quorum returns', async (t) => {
    const rig = await startHaRig({ services: 2 });
    t.teardown(() => rig.close());
    const leader = await rig.waitLeader(20_000);
    await rig.setWorkload(1);
    await rig.waitReady(1);
    const [m0, m1] = rig.etcd.members;
    const lostAt = Date.now();
    m0?.stop();
    m1?.stop();
    // ceilings, not speeds: that nothing acts without quorum is asserted below, by the calls Salt received
    await waitFor('the leader says isLeader false', async () => (await leader.leader())?.isLeader === false, LEASE_TTL_MS * 4);
    t.pass(`/api/leader says isLeader false ${Date.now() - lostAt} ms after quorum was lost (TTL ${LEASE_TTL_MS} ms)`);
    await waitFor('salt_autoscaler_leader 0 everywhere', async () => {
      const gauges = await Promise.all(rig.services.map((s) => s.metric('salt_autoscaler_leader')));
      return gauges.every((g) => g === 0);
    }, 20_000);
    t.pass('salt_autoscaler_leader is 0 on every process');
    await waitFor('the leader logs that it stops acting', () => /"msg":"etcd keepalive failed: this process stops acting when its lease runs out by its own clock"/.test(leader.output()), LEASE_TTL_MS * 4);
    t.pass(`it logged that it stops acting ${Date.now() - lostAt} ms after quorum was lost`);
    const quietFrom = Date.now();
    await rig.setWorkload(2);
    await new Promise((r) => setTimeout(r, 4_000));
    const during = rig.services.flatMap((s) => actingCalls(s.recorder.calls).filter((c) => c.atMs >= quietFrom));
    t.same(during, [], 'no process sent an acting call without quorum (a scale-up was asked for)');
    t.equal(rig.readyInWorld(), 1, 'nothing started without quorum');
    const backAt = Date.now();
    m0?.cont();
    m1?.cont();
    await rig.etcd.healthy();
    await rig.waitReady(2, 30_000);
    t.pass(`the pending scale-up was carried out ${Date.now() - backAt} ms after quorum returned`);
    const now = await rig.waitLeader(20_000);
    t.pass(`process ${now.index} leads again (before: ${leader.index})`);
    const starts = countStarts(rig.emu, rig.ids, new Set());
    t.equal(starts.total, 2, 'two needs, two starts');
    t.same(starts.doubles, [], 'no instance started twice');
  });
}
