/**
 * etcd-client: medians of one fenced-style txn and one campaign (grant a lease, win the election, resign) with our
 * gateway client, against the etcd at ETCD_ENDPOINT (`npx tsx bench/etcd-client.ts`). docs/ha.md quotes the figures
 * next to the same loop with the `etcd3` gRPC package.
 */
import { EtcdClient } from '../src/etcd/client.ts';
import { EtcdLeadership } from '../src/etcd/leadership.ts';
import { EtcdSharedState } from '../src/etcd/shared-state.ts';

const endpoint = process.env['ETCD_ENDPOINT'] ?? 'http://127.0.0.1:2379';
const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const client = new EtcdClient({ endpoints: [endpoint], logger: quiet });
await client.txn([], [{ put: '/warm', value: 'x' }]);
const txn: number[] = [];
for (let i = 0; i < 200; i++) {
  const t0 = performance.now();
  await client.txn([{ key: '/bench/k', target: 'CREATE', createRevision: 0, result: 'EQUAL' }], [{ put: '/bench/k', value: String(i) }], [{ put: '/bench/k', value: String(i) }]);
  txn.push(performance.now() - t0);
}
const campaign: number[] = [];
for (let i = 0; i < 50; i++) {
  const t0 = performance.now();
  const leadership = new EtcdLeadership({ client, prefix: '/bench-el', ttlMs: 3_000, logger: quiet });
  await leadership.acquire();
  campaign.push(performance.now() - t0);
  await leadership.release();
}
const leadership = new EtcdLeadership({ client, prefix: '/bench-ops', ttlMs: 3_000, logger: quiet });
await leadership.acquire();
const state = new EtcdSharedState({ client, leadership, prefix: '/bench-ops' });
const before = client.opsTotal;
const intent = await state.openIntent('start', 'gpu-1', 'prod/type1', Date.now());
await state.finishIntent(intent.id);
const perAction = client.opsTotal - before;
await leadership.release();
await client.close();
process.stdout.write(`${JSON.stringify({ client: 'gateway+undici', txnMedianMs: median(txn).toFixed(2), campaignMedianMs: median(campaign).toFixed(2), etcdOpsPerAction: perAction })}\n`);
