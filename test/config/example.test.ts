import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load.ts';
import { REFERENCE_HEADER, renderReference, withReadmeReference } from '../../src/config/reference.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

t.test('examples/config.yaml passes the schema and has the contract pools', async (t) => {
  // the schema only: the example names salt-api's CA file of a master (/etc/ssl/salt-api.pem), not of this machine
  const config = parseConfigText(readFileSync(join(ROOT, 'examples/config.yaml'), 'utf8'), { SALT_AUTOSCALER_SALT_PASSWORD: 'from-env' });
  t.same(config.pools.map((p) => p.name), ['prod/type1', 'prod/type2', 'dev/type1', 'dev/type2', 'prod/type3']);
  t.match(config.pools[0], { max: 5, reserved: ['gpu-prod-1', 'gpu-prod-2'], profile: 'gpu-type1', strategy: 'threshold', intervalMs: 270_000 });
  t.match(config.pools[2], { reservedPattern: 'gpu-dev-type1-*', workloadQuery: 'sum(queue_length{env="dev",instance_type="type1"})' });
  t.equal(config.salt.password, 'from-env');
});

t.test('docs/config.md is the generated reference of the schema (regenerate on drift)', async (t) => {
  const expected = renderReference();
  t.ok(expected.startsWith(REFERENCE_HEADER));
  t.match(expected, /\| `salt.heartbeatInterval` \| duration \| `30s` \|/);
  t.match(expected, /\| `interval` \| duration \| `270s` \|/);
  t.equal(readFileSync(join(ROOT, 'docs/config.md'), 'utf8'), expected, 'docs/config.md drifted: regenerate with `npx tsx src/config/reference.ts > docs/config.md`');
});

t.test('README.md embeds the generated config reference (regenerate on drift)', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  t.equal(withReadmeReference(readme), readme, 'README.md config reference drifted: regenerate with `npx tsx src/config/reference.ts --readme`');
});
