import t from 'tap';
import { etcdAvailable, waitFor } from '../support/etcd-cluster.ts';
import { LEASE_TTL_MS, startHaRig } from '../support/ha-cluster.ts';
import { actingCalls } from '../support/ha-salt-recorder.ts';
import { countStarts } from '../faults/scenario.ts';

const skip = etcdAvailable();
if (skip !== undefined) {
  t.test('a leader frozen past its TTL', { skip }, () => undefined);
} else {
  t.test('a leader frozen (SIGSTOP) past its TTL sends not one acting call after SIGCONT and steps down', async (t) => {
    const rig = await startHaRig({ services: 2 });
    t.teardown(() => rig.close());
    const old = await rig.waitLeader(20_000);
    await rig.setWorkload(1);
    await rig.waitReady(1);
    const other = rig.services.find((s) => s !== old);
    if (other === undefined) throw new Error('two services');

    old.freeze();
    const frozenAt = Date.now();
    // a scale-up notification reaches the frozen leader's socket and waits in the kernel: it is the first thing the
    // process reads when it wakes, with its evaluation timers overdue, so a leader that still believed it led would act
    const notified = rig.setWorkload(3);
    await rig.waitLeader(LEASE_TTL_MS * 4, [other.index]);
    t.pass(`the follower leads ${Date.now() - frozenAt} ms after the freeze`);
    await rig.waitReady(3, 30_000);
    await waitFor('past the frozen leader\'s TTL', () => Date.now() - frozenAt > LEASE_TTL_MS + 1_000, LEASE_TTL_MS * 2);

    const wokeAt = Date.now();
    old.thaw();
    await waitFor('the old leader says isLeader false', async () => (await old.leader())?.isLeader === false, 20_000);
    t.pass('the woken process says isLeader false on /api/leader');
    await notified;
    // two evaluate intervals and a reconcile in which the woken process could act
    await new Promise((r) => setTimeout(r, 4_000));
    const after = actingCalls(old.recorder.calls).filter((c) => c.atMs >= wokeAt);
    t.same(after, [], 'not a single acting salt-api call from the woken process after SIGCONT');
    t.equal(await old.metric('salt_autoscaler_leader'), 0, 'its salt_autoscaler_leader gauge is 0');
    t.match(old.output(), /"msg":"leadership lost: this process follows/, 'it logged that it steps down');
    const views = await rig.leaders();
    t.same(views.filter((v) => v.view.isLeader).map((v) => v.index), [other.index], 'only the new leader says isLeader');
    const starts = countStarts(rig.emu, rig.ids, new Set());
    t.equal(starts.total, 3, 'three needs, three starts');
    t.same(starts.doubles, [], 'no instance started twice');
    t.equal(rig.readyInWorld(), 3, 'the need is met');
  });
}
