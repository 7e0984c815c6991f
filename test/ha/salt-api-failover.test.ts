import t from 'tap';
import { etcdAvailable, waitFor } from '../support/etcd-cluster.ts';
import { startHaRig } from '../support/ha-cluster.ts';
import { countStarts } from '../faults/scenario.ts';

const skip = etcdAvailable();
if (skip !== undefined) {
  t.test('the leader\'s salt-api down', { skip }, () => undefined);
} else {
  t.test('the leader\'s own salt-api goes down: it moves to the other master\'s salt-api (salt.url as a list) and keeps scaling', async (t) => {
    // each process lists its own master's salt-api (its recorder) first, the other's second
    const rig = await startHaRig({ services: 2, saltFailover: true });
    t.teardown(() => rig.close());
    const leader = await rig.waitLeader(20_000);
    await rig.setWorkload(1);
    await rig.waitReady(1);
    await leader.recorder.close(); // its master's salt-api is gone: connections refused, the event stream cut
    const other = rig.services.find((s) => s !== leader);
    await waitFor('the leader logs that it uses the other salt-api', () => /"msg":"salt-api: using another salt-api"/.test(leader.output()), 10_000);
    t.match(leader.output(), new RegExp(`"url":"${other?.recorder.url ?? '?'}"[^\\n]*"msg":"salt-api: using another salt-api"`), 'it names the salt-api it moved to');
    await rig.setWorkload(3);
    await rig.waitReady(3, 30_000);
    t.pass('two more instances started through the other salt-api');
    const still = await rig.waitLeader(20_000);
    t.equal(still.index, leader.index, 'the same process leads all along');
    await new Promise((r) => setTimeout(r, 3_000));
    const starts = countStarts(rig.emu, rig.ids, new Set());
    t.equal(starts.total, 3, 'three needs, three starts');
    t.same(starts.doubles, [], 'no instance started twice');
  });
}
