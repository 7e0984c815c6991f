import t from 'tap';
import { EtcdSharedState } from '../../src/etcd/shared-state.ts';
import { etcdAvailable, startEtcdCluster, type EtcdCluster } from '../support/etcd-cluster.ts';
import { candidate } from '../support/etcd-candidates.ts';

const TTL_MS = 3_000;
const skip = etcdAvailable();
if (skip !== undefined) {
  t.test('shared state against a real cluster', { skip }, () => undefined);
} else {
  let cluster: EtcdCluster;
  let n = 0;
  const prefix = (): string => `/s${process.pid}-${++n}`;
  t.before(async () => { cluster = await startEtcdCluster(1); });
  t.teardown(async () => { await cluster.close(); });

  t.test('a new leader loads the open intents and pool states of the old one, and numbers its own intents apart', async (t) => {
    const p = prefix();
    const a = candidate(cluster.endpoints, p, TTL_MS);
    const b = candidate(cluster.endpoints, p, TTL_MS);
    t.teardown(async () => { await a.close(); await b.close(); });
    t.equal(await a.leadership.acquire(), true);
    const sa = new EtcdSharedState({ client: a.client, leadership: a.leadership, prefix: p });
    const i1 = await sa.openIntent('start', 'gpu-1', 'prod/type1', 1000);
    const i2 = await sa.openIntent('start', 'gpu-2', 'prod/type1', 1001);
    await sa.finishIntent(i1.id);
    await sa.setPoolState('prod/type1', { paused: true, lastUpMs: 1001 });
    t.ok(i2.id > i1.id, 'ids grow within a term');
    const bAcquired = b.leadership.acquire();
    await a.leadership.release();
    t.equal(await bAcquired, true);
    const sb = new EtcdSharedState({ client: b.client, leadership: b.leadership, prefix: p });
    const snap = await sb.load();
    t.same(snap.intents, [{ id: i2.id, kind: 'start', instance: 'gpu-2', pool: 'prod/type1', createdMs: 1001, status: 'open' }], 'only the open intent');
    t.same(snap.pools.get('prod/type1'), { paused: true, lastUpMs: 1001 });
    t.same(snap.skipped, []);
    const i3 = await sb.openIntent('stop', 'gpu-3', 'prod/type1', 2000);
    t.notOk([i1.id, i2.id].includes(i3.id), 'a new leader never reuses an id');
    t.ok(i3.id > i2.id, 'and numbers after the old leader');
  });

  t.test('a deposed leader cannot open an intent: ASC_ERR_ETCD_NOT_LEADER, nothing written', async (t) => {
    const p = prefix();
    const a = candidate(cluster.endpoints, p, TTL_MS);
    t.teardown(() => a.close());
    t.equal(await a.leadership.acquire(), true);
    const sa = new EtcdSharedState({ client: a.client, leadership: a.leadership, prefix: p });
    await a.client.txn([], [{ delete: a.leadership.electionKey ?? '' }]);
    await t.rejects(sa.openIntent('start', 'gpu-1', 'prod/type1', 1000), { code: 'ASC_ERR_ETCD_NOT_LEADER' });
    t.equal((await a.client.range(`${p}/intents/`, { prefix: true })).kvs.length, 0);
  });

  t.test('one etcd txn per intent write, per finish, per pool state and per batch; one per load', async (t) => {
    const p = prefix();
    const a = candidate(cluster.endpoints, p, TTL_MS);
    t.teardown(() => a.close());
    t.equal(await a.leadership.acquire(), true);
    const sa = new EtcdSharedState({ client: a.client, leadership: a.leadership, prefix: p });
    const txns = (): number => a.client.ops.get('/v3/kv/txn') ?? 0;
    let before = txns();
    const i = await sa.openIntent('start', 'gpu-1', 'prod/type1', 1);
    t.equal(txns() - before, 1, 'openIntent');
    before = txns();
    await sa.finishIntent(i.id);
    t.equal(txns() - before, 1, 'finishIntent');
    before = txns();
    const opened = await sa.commit({ open: [{ kind: 'start', instance: 'gpu-2', pool: 'p', nowMs: 2 }, { kind: 'start', instance: 'gpu-3', pool: 'p', nowMs: 2 }], pools: { p: { lastUpMs: 2 } } });
    t.equal(txns() - before, 1, 'a decision with two intents and its pool state');
    t.equal(opened.length, 2);
    before = txns();
    const snap = await sa.load();
    t.equal(txns() - before, 1, 'load');
    t.equal(snap.intents.length, 2);
  });
}
