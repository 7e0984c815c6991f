import t from 'tap';
import { etcdAvailable } from '../support/etcd-cluster.ts';
import { startHaRig } from '../support/ha-cluster.ts';
import { countStarts } from '../faults/scenario.ts';

const skip = etcdAvailable();
if (skip !== undefined) {
  t.test('one etcd member lost', { skip }, () => undefined);
} else {
  t.test('one etcd member killed (the one every process talks to): the leader keeps leading and scaling goes on', async (t) => {
    const rig = await startHaRig({ services: 2 });
    t.teardown(() => rig.close());
    const leader = await rig.waitLeader(20_000);
    await rig.setWorkload(1);
    await rig.waitReady(1);
    // every process starts on the first endpoint and keeps the one that answers: kill that one
    await rig.etcd.members[0]?.kill();
    await rig.setWorkload(3);
    await rig.waitReady(3, 30_000);
    t.pass('two more instances started and got ready with one etcd member dead');
    const still = await rig.waitLeader(20_000);
    t.equal(still.index, leader.index, 'the same process leads');
    t.equal(await leader.metric('salt_autoscaler_leader_lost_total'), 0, 'it never lost the leadership');
    t.match(leader.output(), /etcd: switched to another endpoint/, 'its etcd client failed over to another member');
    await new Promise((r) => setTimeout(r, 3_000));
    const starts = countStarts(rig.emu, rig.ids, new Set());
    t.equal(starts.total, 3, 'three needs, three starts');
    t.same(starts.doubles, [], 'no instance started twice');
  });
}
