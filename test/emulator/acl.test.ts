// acl: the emulator grants and refuses calls like Salt 3006's external_auth check, for the shipped ACL.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { compoundMatch, localAllowed, reMatch, sortedPerms, specAllowed, type Acl } from '../../src/emulator/acl.ts';
import { readMasterConf } from '../../src/emulator/master-conf.ts';

const shipped: Acl = readMasterConf().externalAuth['pam']?.['salt-autoscaler'] ?? [];

t.test('the shipped ACL answers /login perms in the order real Salt did (real_01)', async (t) => {
  const body = readFileSync(new URL('../fixtures/salt-api/real_01_login_shipped_acl.body', import.meta.url), 'utf8');
  const recorded = JSON.parse(body) as { return: [{ perms: unknown }] };
  t.same(sortedPerms(shipped), recorded.return[0].perms);
});

t.test('re.match anchors at the start only, and an invalid pattern grants nothing', async (t) => {
  t.ok(reMatch('grains.item', 'grains.items'), 'no $: a longer name matches');
  t.notOk(reMatch('grains.item$', 'grains.items'));
  t.notOk(reMatch('item$', 'grains.item'), 'anchored at the start');
  t.notOk(reMatch('(', '('));
});

t.test('compound targets: or, and, not, lists', async (t) => {
  const cases: [string, string, boolean][] = [
    ['gpu-prod-* or gpu-dev-*', 'gpu-dev-1', true],
    ['gpu-prod-* or gpu-dev-*', 'gpu-stage-1', false],
    ['gpu-* and not gpu-dev-*', 'gpu-dev-1', false],
    ['gpu-* and not gpu-dev-*', 'gpu-prod-1', true],
    ['L@a,b or c*', 'b', true],
    ['G@os:Debian', 'a', false],
  ];
  for (const [expr, id, want] of cases) t.equal(compoundMatch(expr, id), want, `${expr} ~ ${id}`);
});

/** local builds a local call of the shipped ACL's shape on `minions`. */
const local = (fun: string, args: unknown[], minions: string[], kwargs: Record<string, unknown> = {}): boolean =>
  localAllowed(shipped, { fun, args, kwargs, minions });

t.test('local calls: the function, its listed positional args and every targeted minion must be granted', async (t) => {
  t.ok(local('test.ping', [], ['gpu-prod-type1-1']));
  t.ok(local('grains.setval', ['salt_autoscaler', { draining: true }], ['gpu-dev-1']), 'unlisted positions are free');
  t.ok(local('cmd.retcode', ['/usr/local/bin/training-idle', 'x'], ['gpu-dev-1']), 'an extra positional arg is free (probe)');
  t.ok(local('grains.delkey', ['salt_autoscaler'], ['gpu-dev-1'], { force: true }), 'kwargs are free');
  t.notOk(local('cmd.run', ['id'], ['gpu-prod-type1-1']), 'a function the ACL lacks (real_02)');
  t.notOk(local('cmd.retcode', ['/bin/true'], ['gpu-prod-type1-1']), 'an argument the ACL does not allow (real_03)');
  t.notOk(local('grains.setval', [], ['gpu-prod-type1-1']), 'a listed positional arg that is missing (probe)');
  t.notOk(local('grains.items', [], ['gpu-prod-type1-1']), 'grains.item$ does not grant grains.items');
  t.notOk(local('test.ping', [], ['lab-other-1']), 'a known minion outside the target (probe: 401)');
  t.notOk(local('test.ping', [], ['gpu-prod-type1-1', 'lab-other-1']), 'one targeted minion outside refuses the whole call (probe)');
  t.ok(local('test.ping', [], []), 'a target that resolves to no known minion passes, Salt answers {} (real_04)');
});

t.test('runner calls: @runner entries, @jobs grants the whole jobs module, the rest is refused', async (t) => {
  t.equal(specAllowed(shipped, 'runner', 'cloud.action', { func: 'start', instances: ['gpu-dev-1'] }), 'granted');
  t.equal(specAllowed(shipped, 'runner', 'manage.up', {}), 'granted');
  t.equal(specAllowed(shipped, 'runner', 'jobs.active', {}), 'granted', 'real_05: jobs.active answered {} because @jobs grants it');
  t.equal(specAllowed(shipped, 'runner', 'jobs.list_jobs', {}), 'granted');
  t.equal(specAllowed(shipped, 'runner', 'manage.versions', {}), 'refused', 'probe: 401');
  t.equal(specAllowed(shipped, 'runner', 'cloud.actions', {}), 'refused', 'anchored with $');
  t.equal(specAllowed(shipped, 'wheel', 'key.list_all', {}), 'refused');
  t.equal(specAllowed(shipped, 'runner', 'noseparator', {}), 'bad-syntax');
  t.equal(specAllowed([], 'runner', 'manage.up', {}), 'refused', 'no perms, nothing granted');
  t.equal(specAllowed(['@runner'], 'runner', 'anything.at_all', {}), 'granted');
  const withArgs: Acl = [{ '@runner': [{ 'event.send$': { args: ['salt-autoscaler/.*'] } }] }];
  t.equal(specAllowed(withArgs, 'runner', 'event.send', { tag: 'salt-autoscaler/heartbeat' }), 'refused', 'runner args are looked for in kwarg.arg');
  t.equal(specAllowed(withArgs, 'runner', 'event.send', { arg: ['salt-autoscaler/heartbeat'] }), 'granted');
});
