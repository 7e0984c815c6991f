import t from 'tap';
import { etcdAvailable, startEtcdCluster, waitFor, type EtcdCluster } from '../support/etcd-cluster.ts';
import { candidate, childCandidate, type Candidate } from '../support/etcd-candidates.ts';

const TTL_MS = 3_000;
/** RELEASE_TTL_MS: the lease of the release test, long enough that waiting it out is told apart from a hand-over. */
const RELEASE_TTL_MS = 60_000;

/** within is `promise`'s value, or 'timed out' after `ceilingMs` (a deadline to wait on, not a speed to assert). */
function within<T>(promise: Promise<T>, ceilingMs: number): Promise<T | 'timed out'> {
  return Promise.race([promise, new Promise<'timed out'>((r) => { setTimeout(() => r('timed out'), ceilingMs).unref(); })]);
}
const skip = etcdAvailable();
if (skip !== undefined) {
  t.test('etcd leadership against a real cluster', { skip }, () => undefined);
} else {
  let cluster: EtcdCluster;
  let n = 0;
  const prefix = (): string => `/t${process.pid}-${++n}`;
  t.before(async () => { cluster = await startEtcdCluster(3); });
  t.teardown(async () => { await cluster.close(); });

  t.test('of three candidates, one in a child process, exactly one leads and the others name it', async (t) => {
    const p = prefix();
    const child = await childCandidate(cluster.endpoints, p, TTL_MS);
    t.teardown(() => child.kill());
    await child.next('leader', 10_000);
    const a = candidate(cluster.endpoints, p, TTL_MS);
    const b = candidate(cluster.endpoints, p, TTL_MS);
    t.teardown(async () => { await a.close(); await b.close(); });
    const ac = new AbortController();
    const racing = [a.leadership.acquire(ac.signal), b.leadership.acquire(ac.signal)];
    const childName = String(child.lines[0]?.['self']);
    await waitFor('both followers see the child as leader', () => a.leadership.view().leader === childName && b.leadership.view().leader === childName, 20_000);
    t.equal(a.leadership.mayAct(), false, 'a follower may not act');
    t.equal(b.leadership.mayAct(), false, 'a follower may not act');
    t.same(a.leadership.view(), { self: a.leadership.self, isLeader: false, leader: childName, sinceMs: a.leadership.view().sinceMs }, 'the view names the leader');
    t.type(a.leadership.view().sinceMs, 'number', 'with the time it took over');
    t.equal(await a.leadership.fence([{ key: `${p}/x`, value: 'no' }]), false, 'a follower cannot write under the fence');
    ac.abort();
    t.same(await Promise.all(racing), [false, false], 'both candidacies are withdrawn on abort');
    const range = await a.client.range(`${p}/x`);
    t.equal(range.kvs.length, 0, 'nothing was written');
  });

  t.test('a leader killed with -9 is replaced once its lease runs out, and the new one writes under the fence', async (t) => {
    const p = prefix();
    const child = await childCandidate(cluster.endpoints, p, TTL_MS);
    t.teardown(() => child.kill());
    await child.next('leader', 10_000);
    const a: Candidate = candidate(cluster.endpoints, p, TTL_MS);
    t.teardown(() => a.close());
    const acquired = a.leadership.acquire();
    await waitFor('a waits behind the child', () => a.leadership.view().leader !== undefined, 20_000);
    const killedAt = Date.now();
    await child.kill('SIGKILL');
    // a ceiling, not a speed: a lease that never ran out would hold a forever (etcd checks expiry every 500 ms and
    // revokes through raft, which a loaded machine slows)
    t.equal(await within(acquired, TTL_MS * 5), true, `a takes over (TTL ${TTL_MS} ms)`);
    t.comment(`took over ${Date.now() - killedAt} ms after the kill`);
    t.equal(a.leadership.mayAct(), true);
    const view = a.leadership.view();
    t.match(view, { leader: a.leadership.self, self: a.leadership.self, isLeader: true });
    t.ok((view.leaseRemainingMs ?? 0) > 0 && (view.leaseRemainingMs ?? 0) <= TTL_MS, 'the lease has time left, at most one TTL');
    t.equal(await a.leadership.fence([{ key: `${p}/state`, value: 'v1' }]), true);
    t.equal((await a.client.range(`${p}/state`)).kvs[0]?.value, 'v1');
  });

  t.test('a leader frozen past its TTL writes nothing when it wakes and steps down', async (t) => {
    const p = prefix();
    const child = await childCandidate(cluster.endpoints, p, TTL_MS);
    t.teardown(() => child.kill());
    await child.next('leader', 10_000);
    const a = candidate(cluster.endpoints, p, TTL_MS);
    t.teardown(() => a.close());
    const acquired = a.leadership.acquire();
    await waitFor('a waits behind the child', () => a.leadership.view().leader !== undefined, 20_000);
    child.child.kill('SIGSTOP');
    t.equal(await acquired, true, 'another candidate took over while the leader was frozen');
    const mark = child.lines.length;
    child.child.kill('SIGCONT');
    child.send(`fence ${p}/stale from-the-frozen-leader`);
    const fenced = await child.next('fenced', 5_000, mark);
    t.equal(fenced['mayActBefore'], false, 'on waking, its own clock says its lease ran out');
    t.equal(fenced['ok'], false, 'its fenced write is refused');
    await child.next('lost', TTL_MS, mark);
    t.equal((await a.client.range(`${p}/stale`)).kvs.length, 0, 'nothing of the frozen leader reached etcd');
    t.equal(a.leadership.mayAct(), true, 'the new leader still leads');
  });

  t.test('a deposed leader whose key is gone is refused by etcd itself, even while its own clock says it leads', async (t) => {
    const p = prefix();
    const a = candidate(cluster.endpoints, p, TTL_MS);
    t.teardown(() => a.close());
    t.equal(await a.leadership.acquire(), true);
    a.leadership.keep();
    t.equal(a.leadership.mayAct(), true);
    // an operator (or a bug) deletes the election key: the lease is still alive, so only the fence compare can tell
    await a.client.txn([], [{ delete: a.leadership.electionKey ?? '' }]);
    t.equal(await a.leadership.fence([{ key: `${p}/late`, value: 'x' }]), false);
    t.same(a.lost.length, 1, 'onLost is called once');
    t.equal(a.leadership.mayAct(), false);
    t.equal((await a.client.range(`${p}/late`)).kvs.length, 0);
  });

  t.test('release hands leadership to the next candidate at once, and a loss is told once', async (t) => {
    const p = prefix();
    // a lease of a minute: a hand-over that waited for the TTL would miss the ceiling below by far
    const a = candidate(cluster.endpoints, p, RELEASE_TTL_MS);
    const b = candidate(cluster.endpoints, p, RELEASE_TTL_MS);
    t.teardown(async () => { await a.close(); await b.close(); });
    t.equal(await a.leadership.acquire(), true);
    const bAcquired = b.leadership.acquire();
    await waitFor('b waits behind a', () => b.leadership.view().leader === a.leadership.self, 20_000);
    const releasedAt = Date.now();
    await a.leadership.release();
    t.equal(await within(bAcquired, RELEASE_TTL_MS / 3), true, `b leads without waiting out a's ${RELEASE_TTL_MS} ms lease`);
    t.comment(`b led ${Date.now() - releasedAt} ms after a released`);
    t.equal(a.leadership.mayAct(), false);
    t.same(a.lost, [], 'a clean release is not a loss');
  });
}
