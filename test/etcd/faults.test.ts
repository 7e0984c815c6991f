import t from 'tap';
import { etcdAvailable, startEtcdCluster, waitFor, type EtcdCluster } from '../support/etcd-cluster.ts';
import { candidate } from '../support/etcd-candidates.ts';
import { startDelayProxy } from '../support/etcd-proxy.ts';

const TTL_MS = 3_000;
const skip = etcdAvailable();
if (skip !== undefined) {
  t.test('etcd faults against a real cluster', { skip }, () => undefined);
} else {
  let n = 0;
  const prefix = (): string => `/f${process.pid}-${++n}`;
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  let cluster: EtcdCluster;
  t.beforeEach(async () => { cluster = await startEtcdCluster(3); });
  t.afterEach(async () => { await cluster.close(); });

  t.test('one member killed: the leader keeps leading and its fenced writes go on', async (t) => {
    const p = prefix();
    const a = candidate(cluster.endpoints, p, TTL_MS);
    const b = candidate(cluster.endpoints, p, TTL_MS);
    t.teardown(async () => { await a.close(); await b.close(); });
    t.equal(await a.leadership.acquire(), true);
    a.leadership.keep();
    const ac = new AbortController();
    const bAcquired = b.leadership.acquire(ac.signal);
    const used = cluster.members.find((m) => m.clientUrl === a.client.endpoint);
    t.ok(used, 'the member the leader talks to');
    await used?.kill();
    let falseSamples = 0;
    for (const end = Date.now() + 2 * TTL_MS; Date.now() < end; await sleep(20)) if (!a.leadership.mayAct()) falseSamples++;
    t.equal(falseSamples, 0, 'mayAct stayed true for two TTLs after the member died');
    t.equal(await a.leadership.fence([{ key: `${p}/after-kill`, value: 'ok' }]), true, 'a fenced write goes through another member');
    t.not(a.client.endpoint, used?.clientUrl, 'the client moved to another member');
    t.same(a.lost, []);
    t.equal(b.leadership.mayAct(), false, 'the follower still follows');
    ac.abort();
    t.equal(await bAcquired, false);
  });

  t.test('quorum lost: the leader stops acting within the TTL and acts again when quorum returns', async (t) => {
    const p = prefix();
    const a = candidate(cluster.endpoints, p, TTL_MS, 1_000);
    t.teardown(() => a.close());
    t.equal(await a.leadership.acquire(), true);
    a.leadership.keep();
    const [m0, m1] = cluster.members;
    await m0?.kill();
    const lostAt = Date.now(); // the next kill takes the quorum away
    await m1?.kill();
    // when mayAct was last seen true, stamped before each call: how late a loaded test process polls does not count
    let actingSeenAt = lostAt;
    await waitFor('mayAct turns false', () => {
      const at = Date.now();
      if (!a.leadership.mayAct()) return true;
      actingSeenAt = at;
      return false;
    }, 3 * TTL_MS, 10);
    t.ok(actingSeenAt - lostAt < TTL_MS, `last seen acting ${actingSeenAt - lostAt} ms after quorum was lost (TTL ${TTL_MS} ms)`);
    t.equal(await a.leadership.fence([{ key: `${p}/no-quorum`, value: 'x' }]), false, 'no fenced write without quorum');
    await m0?.restart();
    await m1?.restart();
    await cluster.healthy();
    const backMs = await waitFor('mayAct comes back', () => a.leadership.mayAct(), 3 * TTL_MS, 20);
    t.pass(`acting again ${backMs} ms after the cluster was healthy`);
    t.same(a.lost, [], 'the lease survived the outage: no loss, same election key');
    t.equal(await a.leadership.fence([{ key: `${p}/quorum-back`, value: 'ok' }]), true);
    t.equal((await a.client.range(`${p}/no-quorum`)).kvs.length, 0, 'the write refused without quorum never appeared');
  });

  t.test('a slow then partitioned etcd never gives two processes mayAct at once', async (t) => {
    const p = prefix();
    const proxy = await startDelayProxy(cluster.endpoints[0] ?? '');
    const a = candidate([proxy.url], p, TTL_MS, 1_000);
    const b = candidate(cluster.endpoints, p, TTL_MS);
    t.teardown(async () => { await a.close(); await b.close(); await proxy.close(); });
    t.equal(await a.leadership.acquire(), true);
    a.leadership.keep();
    void b.leadership.acquire();
    let overlaps = 0;
    let samples = 0;
    const seen = { a: 0, b: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const ma = a.leadership.mayAct();
        const mb = b.leadership.mayAct();
        samples++;
        if (ma && mb) overlaps++;
        if (ma) seen.a++;
        if (mb) seen.b++;
        await sleep(5);
      }
    })();
    proxy.delayMs = 700; // a keepalive takes 1.4 s of a 3 s TTL: the lease is renewed late
    await sleep(TTL_MS);
    proxy.delayMs = 1_200; // a keepalive cannot answer within its TTL/3 timeout
    await sleep(TTL_MS);
    proxy.blackhole = true; // partitioned: the lease expires in etcd, b takes over
    await waitFor('b leads', () => b.leadership.mayAct(), 3 * TTL_MS);
    proxy.blackhole = false;
    proxy.delayMs = 300;
    await waitFor('a learns it lost', () => a.lost.length > 0, 3 * TTL_MS);
    t.equal(await a.leadership.fence([{ key: `${p}/stale`, value: 'x' }]), false, 'the old leader cannot write');
    sampling = false;
    await sampler;
    t.equal(overlaps, 0, `no sample of ${samples} saw both acting (a acted in ${seen.a}, b in ${seen.b})`);
    t.ok(seen.a > 0 && seen.b > 0, 'each led at some point');
  });
}
