/**
 * ha-pillar: the formula installs one autoscaler on each of two masters pointing at one etcd. The HA pillar example
 * renders (per master) into configs the service accepts, both on one etcd prefix, and the TLS files it names are the
 * ones the state writes.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { parseConfig } from '../../src/config/load.ts';

const DIR = join(import.meta.dirname, '..', '..', 'salt', 'salt-autoscaler');
const Pillar = z.object({
  salt_autoscaler: z.object({
    config: z.record(z.string(), z.unknown()),
    env: z.record(z.string(), z.string()),
    etcd_tls: z.record(z.string(), z.object({ source: z.string() })),
  }),
});

/** renderFor does what Salt's Jinja does with the example on master `id`: its own salt-api URL, the rest as is. */
function renderFor(id: string): z.infer<typeof Pillar> {
  const text = readFileSync(join(DIR, 'pillar-ha.example'), 'utf8');
  const masters = Object.fromEntries([...text.matchAll(/'(master\d)': '([^']+)'/g)].map((m) => [m[1], m[2]]));
  const own = masters[id];
  const other = masters[id === 'master1' ? 'master2' : 'master1'];
  if (own === undefined || other === undefined) throw new Error(`no salt-api for ${id}`);
  const plain = text.replace(/^\{%[\s\S]*?%\}\n/gm, '').replace(/\{\{ own \}\}/g, own).replace(/\{\{ other \}\}/g, other);
  return Pillar.parse(parse(plain));
}

t.test('the HA pillar example gives each master a valid config on one etcd prefix', async (t) => {
  const configs = ['master1', 'master2'].map((id) => {
    const pillar = renderFor(id).salt_autoscaler;
    return { id, pillar, config: parseConfig(pillar.config, pillar.env) };
  });
  const [one, two] = configs;
  if (one === undefined || two === undefined) throw new Error('two masters');
  t.not(one.config.salt.url, two.config.salt.url, 'each autoscaler talks to its own master\'s salt-api first');
  t.same(one.config.salt.urls, [one.config.salt.url, two.config.salt.url], 'and to the other master\'s when its own cannot be reached');
  t.same(two.config.salt.urls, [two.config.salt.url, one.config.salt.url]);
  t.ok(one.config.ha !== undefined && two.config.ha !== undefined, 'both run with ha');
  t.same(one.config.ha?.etcd.endpoints, two.config.ha?.etcd.endpoints, 'one etcd cluster');
  t.equal(one.config.ha?.etcd.prefix, two.config.ha?.etcd.prefix, 'one prefix: one autoscaler cluster');
  t.equal(one.config.ha?.etcd.password, 'change-me-for-etcd', 'the etcd password comes from the env file (SALT_AUTOSCALER_ETCD_PASSWORD)');
  const tls = one.config.ha?.etcd.tls ?? {};
  for (const [name, key] of [['ca', 'caFile'], ['cert', 'certFile'], ['key', 'keyFile']] as const) {
    t.ok(name in one.pillar.etcd_tls, `etcd_tls.${name} is installed by the state`);
    t.equal(tls[key], `/etc/salt-autoscaler/etcd/${name}.pem`, `ha.etcd.tls.${key} names the file the state writes`);
  }
});

t.test('the state writes the etcd TLS files readable by the service user and restarts the service when they change', async (t) => {
  const sls = readFileSync(join(DIR, 'init.sls'), 'utf8');
  t.match(sls, /salt_autoscaler_etcd_tls_\{\{ name \}\}:\n\s+file\.managed:\n\s+- name: \{\{ \('\/etc\/salt-autoscaler\/etcd\/' ~ name ~ '\.pem'\) \| tojson \}\}/, 'one file.managed per etcd_tls entry');
  t.match(sls, /- group: \{\{ sa\.user \| tojson \}\}\n\s+- mode: '0640'\n\s+- show_changes: False/, 'root:<service user>, 0640, contents not shown');
  t.match(sls, /- watch:[\s\S]*- file: salt_autoscaler_etcd_tls_\{\{ name \}\}/, 'the service watches them');
  const defaults = z.object({ salt_autoscaler: z.object({ etcd_tls: z.record(z.string(), z.unknown()) }) })
    .parse(parse(readFileSync(join(DIR, 'defaults.yaml'), 'utf8')));
  t.same(defaults.salt_autoscaler.etcd_tls, {}, 'none by default (no ha, or etcd over plain http)');
});
