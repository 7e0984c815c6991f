/**
 * external-auth: the master.d snippet grants the service's user exactly the functions the
 * README table lists (client + function), enables no wheel client, and targets the same
 * minions as the reactor's filter.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';

const SALT_DIR = join(import.meta.dirname, '..', '..', 'salt');
const conf: unknown = parse(readFileSync(join(SALT_DIR, 'master.d', 'salt-autoscaler.conf'), 'utf8'));
const readme = readFileSync(join(SALT_DIR, 'README.md'), 'utf8');
const reactor = readFileSync(join(SALT_DIR, 'reactor', 'salt-autoscaler', 'minion-start.sls'), 'utf8');

/** A function entry: a bare regex, or a regex with argument conditions. */
const FunEntry = z.union([z.string(), z.record(z.string(), z.object({ args: z.array(z.string()).optional(), kwargs: z.record(z.string(), z.string()).optional() }))]);
const AclEntry = z.union([z.string(), z.record(z.string(), z.array(FunEntry))]);
const MasterConf = z.object({
  netapi_enable_clients: z.array(z.string()),
  external_auth: z.object({ pam: z.object({ 'salt-autoscaler': z.array(AclEntry) }) }),
  rest_cherrypy: z.record(z.string(), z.unknown()),
});
const master = MasterConf.parse(conf);
const acl = master.external_auth.pam['salt-autoscaler'];

/** plainName turns an anchored ACL regex (`grains\.item$`) back into the function name. */
function plainName(regex: string): string {
  return regex.replace(/\$$/, '').replace(/\\\./g, '.');
}

/** granted lists `client function` for every grant of the ACL; `@jobs` is the jobs runner. */
function granted(): { grants: string[]; targets: string[] } {
  const grants: string[] = [];
  const targets: string[] = [];
  for (const entry of acl) {
    if (typeof entry === 'string') {
      if (entry === '@jobs') grants.push('runner jobs.*');
      else throw new Error(`unexpected bare ACL entry ${entry} (would grant it on every minion)`);
      continue;
    }
    for (const [key, funs] of Object.entries(entry)) {
      if (key.startsWith('@') && key !== '@runner') throw new Error(`unexpected ${key}`);
      const client = key === '@runner' ? 'runner' : 'local';
      if (client === 'local') targets.push(key);
      for (const fun of funs) {
        const regex = typeof fun === 'string' ? fun : Object.keys(fun)[0] ?? '';
        if (!regex.endsWith('$')) throw new Error(`${regex} is not anchored with $`);
        grants.push(`${client} ${plainName(regex)}`);
      }
    }
  }
  return { grants, targets };
}

/** tableRows reads `| client | function | why |` rows of the README's function table. */
function tableRows(): string[] {
  const start = readme.indexOf('| client | function | why |');
  if (start < 0) throw new Error('README has no `| client | function | why |` table');
  const rows: string[] = [];
  for (const line of readme.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').map((c) => c.trim());
    const client = cells[1] ?? '';
    const fun = /`([^`]+)`/.exec(cells[2] ?? '')?.[1] ?? '';
    rows.push(`${client} ${fun}`);
  }
  return rows;
}

t.test('external_auth grants exactly the functions of the README table', async (t) => {
  const { grants } = granted();
  const rows = tableRows();
  t.ok(rows.length >= 10, `the table has ${rows.length} rows`);
  t.same([...grants].sort(), [...rows].sort());
  t.equal(new Set(grants).size, grants.length, 'no function is granted twice');
});

t.test('external_auth grants the service what the contract says it calls', async (t) => {
  const { grants } = granted();
  for (const fun of ['grains.setval', 'grains.item', 'grains.delkey', 'grains.delval', 'cmd.retcode', 'test.ping']) {
    t.ok(grants.includes(`local ${fun}`), `local ${fun}`);
  }
  for (const fun of ['cloud.action', 'cloud.profile', 'cloud.destroy', 'cloud.query', 'cloud.full_query', 'manage.up', 'manage.status', 'manage.alived', 'event.send', 'jobs.*']) {
    t.ok(grants.includes(`runner ${fun}`), `runner ${fun}`);
  }
  t.notOk(acl.some((e) => e === '.*' || e === '@runner' || e === '@wheel'), 'no blanket grant');
});

t.test('the idle check and the grain functions are restricted to their arguments', async (t) => {
  const local = acl.flatMap((e) => (typeof e === 'string' ? [] : Object.entries(e).filter(([k]) => !k.startsWith('@')).flatMap(([, funs]) => funs)));
  const conditions = new Map(local.flatMap((f) => (typeof f === 'string' ? [] : Object.entries(f))).map(([k, v]) => [plainName(k), v.args]));
  t.same(conditions.get('cmd.retcode'), ['/usr/local/bin/training-idle$']);
  for (const fun of ['grains.setval', 'grains.item', 'grains.delkey', 'grains.delval']) t.same(conditions.get(fun), ['salt_autoscaler$'], fun);
});

t.test('netapi_enable_clients enables no wheel client', async (t) => {
  t.same(master.netapi_enable_clients, ['local', 'local_async', 'runner', 'runner_async']);
  t.notOk(master.netapi_enable_clients.some((c) => c.startsWith('wheel')));
});

t.test('rest_cherrypy listens on 8000 with TLS on', async (t) => {
  t.equal(master.rest_cherrypy['port'], 8000);
  t.type(master.rest_cherrypy['ssl_crt'], 'string');
  t.type(master.rest_cherrypy['ssl_key'], 'string');
  t.notOk('disable_ssl' in master.rest_cherrypy, 'disable_ssl only in the commented lab variant');
});

t.test('the ACL targets one expression made of the reactor\'s minion globs', async (t) => {
  const { targets } = granted();
  t.equal(targets.length, 1, 'one target entry, so a request spanning pools is allowed');
  const globsLine = /set POOL_MINION_GLOBS = (\[.*\])/.exec(reactor)?.[1];
  const globs = z.array(z.string()).min(1).parse(JSON.parse((globsLine ?? '[]').replace(/'/g, '"')));
  t.same((targets[0] ?? '').split(/\s+or\s+/), globs);
});
