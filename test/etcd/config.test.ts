import t from 'tap';
import { checkConfig, parseConfig } from '../../src/config/load.ts';

const base = {
  salt: { url: 'http://salt:8000', username: 'a', password: 'p' },
  pools: [{ env: 'prod', instanceType: 't1', max: 2, provider: 'cp', reserved: ['g1'] }],
};
const problems = (ha: unknown, env: Record<string, string> = {}): string[] =>
  checkConfig({ ...base, ha }, env).problems.map((p) => `${p.path}: ${p.message}`);

t.test('without ha, the config has no ha section (one process, SQLite alone)', async (t) => {
  t.equal(parseConfig(base, {}).ha, undefined);
});

t.test('ha.etcd takes endpoints and defaults prefix, leaseTtl and timeout', async (t) => {
  const config = parseConfig({ ...base, ha: { etcd: { endpoints: ['http://127.0.0.1:2379', 'https://etcd2:2379'] } } }, {});
  t.same(config.ha, { etcd: { endpoints: ['http://127.0.0.1:2379', 'https://etcd2:2379'], prefix: '/salt-autoscaler', leaseTtlMs: 10_000, timeoutMs: 2_000 } });
  t.ok(Object.isFrozen(config.ha?.etcd.endpoints), 'frozen like the rest');
});

t.test('the etcd password comes from env when the file does not set it, and the file wins', async (t) => {
  const etcd = { endpoints: ['http://e:2379'], username: 'autoscaler' };
  t.equal(parseConfig({ ...base, ha: { etcd } }, { SALT_AUTOSCALER_ETCD_PASSWORD: 'from-env' }).ha?.etcd.password, 'from-env');
  t.equal(parseConfig({ ...base, ha: { etcd: { ...etcd, password: 'in-file' } } }, { SALT_AUTOSCALER_ETCD_PASSWORD: 'from-env' }).ha?.etcd.password, 'in-file');
  t.same(problems({ etcd }), ['ha.etcd.password: is required with ha.etcd.username: set it in the file or in env SALT_AUTOSCALER_ETCD_PASSWORD']);
  t.same(problems({ etcd: { endpoints: ['http://e:2379'], password: 'x' } }), ['ha.etcd.username: is required with ha.etcd.password: etcd authenticates a user']);
});

t.test('every ha.etcd problem is reported with its path', async (t) => {
  t.match(problems({ etcd: { endpoints: [] } }), ['ha.etcd.endpoints: must list at least one etcd member']);
  t.match(problems({ etcd: {} }), [/^ha\.etcd\.endpoints: /]);
  t.match(problems({ etcd: { endpoints: ['etcd:2379'] } }), [/^ha\.etcd\.endpoints\[0\]: expected an http/]);
  t.match(problems({ etcd: { endpoints: ['http://u:p@e:2379'] } }), [/^ha\.etcd\.endpoints\[0\]: must not carry credentials/]);
  t.match(problems({ etcd: { endpoints: ['http://e:2379'], leaseTtl: '1s' } }), [/^ha\.etcd\.leaseTtl: must be at least 2s, got 1s/]);
  t.match(problems({ etcd: { endpoints: ['http://e:2379'], leaseTtl: '1h' } }), [/^ha\.etcd\.leaseTtl: must be at most 5m/]);
  t.match(problems({ etcd: { endpoints: ['http://e:2379'], leaseTtl: '2500ms' } }), [/^ha\.etcd\.leaseTtl: must be whole seconds/]);
  t.match(problems({ etcd: { endpoints: ['http://e:2379'], prefix: 'no-slash/' } }), [/^ha\.etcd\.prefix: expected a key prefix/]);
  t.match(problems({ etcd: { endpoints: ['http://e:2379'], tls: { certFile: '/c.pem' } } }), ['ha.etcd.tls.keyFile: certFile and keyFile go together']);
  t.match(problems({ etcd: { endpoints: ['http://e:2379'], ttl: '5s' } }), ['ha.etcd.ttl: unknown key']);
  t.match(problems({ etcd: { endpoints: ['http://e:2379'] }, mode: 'x' }), ['ha.mode: unknown key']);
});
