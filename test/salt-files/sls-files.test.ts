/**
 * sls-files: the Salt files users copy to their master parse, and the SLS files (after a
 * Jinja-free pass) have the state ids, functions and requisites the design relies on.
 */
import t from 'tap';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';

const SALT_DIR = join(import.meta.dirname, '..', '..', 'salt');

/** walk lists every file below dir. */
function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/**
 * jinjaFree turns an SLS into plain YAML: comments and `{% ... %}` statements are dropped (so
 * both sides of an if/else remain; duplicate ids are allowed and the last one wins), and every
 * `{{ ... }}` expression becomes the placeholder `__jinja__`.
 */
function jinjaFree(text: string): string {
  return text
    .replace(/\{#[\s\S]*?#\}/g, '')
    .replace(/^[ \t]*\{%[\s\S]*?%\}[ \t]*\r?\n/gm, '')
    .replace(/\{%[\s\S]*?%\}/g, '')
    .replace(/\{\{[\s\S]*?\}\}/g, '__jinja__');
}

const Sls = z.record(z.string(), z.record(z.string(), z.array(z.unknown())));
type Sls = z.infer<typeof Sls>;

function loadSls(rel: string): Sls {
  const text = readFileSync(join(SALT_DIR, rel), 'utf8');
  return Sls.parse(parse(jinjaFree(text), { uniqueKeys: false }));
}

/** args merges a state's list of one-key mappings into one object. */
function args(sls: Sls, id: string, fun: string): Record<string, unknown> {
  const list = sls[id]?.[fun];
  if (list === undefined) throw new Error(`state ${id} has no ${fun}`);
  return Object.assign({}, ...list.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null));
}

const Requisites = z.array(z.record(z.string(), z.string()));

t.test('every non-Jinja YAML file parses', async (t) => {
  const files = walk(SALT_DIR).filter((f) => /\.(conf|ya?ml)$|pillar\.example$/.test(f));
  t.ok(files.length >= 7, `found ${files.length} YAML files`);
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    t.notMatch(text, /\{[{%]/, `${relative(SALT_DIR, file)} has no Jinja`);
    const doc: unknown = parse(text);
    t.type(doc, 'object', `${relative(SALT_DIR, file)} is a YAML mapping`);
  }
});

t.test('every SLS file parses as YAML once its Jinja is replaced by placeholders', async (t) => {
  const files = walk(SALT_DIR).filter((f) => f.endsWith('.sls'));
  t.ok(files.length >= 4, `found ${files.length} SLS files`);
  for (const file of files) {
    const sls = loadSls(relative(SALT_DIR, file));
    t.ok(Object.keys(sls).length > 0, `${relative(SALT_DIR, file)} declares states`);
  }
});

t.test('the reactor runs the deploy orchestrate with pillar target_minion', async (t) => {
  const sls = loadSls('reactor/salt-autoscaler/minion-start.sls');
  const list = sls['salt_autoscaler_deploy']?.['runner.state.orchestrate'];
  const { args: orchArgs } = z.object({ args: z.array(z.record(z.string(), z.unknown())) }).parse(list?.[0]);
  const merged = Object.assign({}, ...orchArgs);
  t.equal(merged.mods, 'orch.salt_autoscaler.deploy');
  t.same(Object.keys(z.record(z.string(), z.unknown()).parse(merged.pillar)), ['target_minion']);
  t.ok(existsSync(join(SALT_DIR, 'orch', 'salt_autoscaler', 'deploy.sls')), 'mods names an existing file');
  const conf = z.object({ reactor: z.array(z.record(z.string(), z.array(z.string()))) }).parse(parse(readFileSync(join(SALT_DIR, 'master.d', 'salt-autoscaler.conf'), 'utf8')));
  t.same(conf.reactor, [{ 'salt/minion/*/start': ['/srv/reactor/salt-autoscaler/minion-start.sls'] }]);
});

t.test('the orchestrate resets the grain, applies training-env, then marks ready or announces failure', async (t) => {
  const sls = loadSls('orch/salt_autoscaler/deploy.sls');
  const reset = args(sls, 'reset_ready_grain', 'salt.function');
  t.equal(reset.name, 'grains.setval');
  const [grain, resetValue] = z.tuple([z.string(), z.record(z.string(), z.unknown())]).parse(reset.arg);
  t.equal(grain, 'salt_autoscaler');
  t.same(resetValue, { ready: false, draining: false, deploy_started_at: '__jinja__' });

  const apply = args(sls, 'apply_training_env', 'salt.state');
  t.same(apply.sls, ['training-env']);
  t.same(Requisites.parse(apply.require), [{ salt: 'reset_ready_grain' }]);
  t.ok(existsSync(join(SALT_DIR, 'training-env', 'init.sls')), 'sls training-env exists');

  const ready = args(sls, 'set_ready_grain', 'salt.function');
  t.equal(ready.name, 'grains.setval');
  t.same(z.tuple([z.string(), z.unknown()]).parse(ready.arg)[1], { ready: true, deployed_at: '__jinja__', draining: false });
  t.same(Requisites.parse(ready.require), [{ salt: 'apply_training_env' }]);

  const announce = args(sls, 'announce_ready', 'salt.runner');
  t.equal(announce.name, 'event.send');
  t.equal(announce.tag, 'salt-autoscaler/instance/__jinja__/ready');
  t.same(Requisites.parse(announce.require), [{ salt: 'set_ready_grain' }]);
  t.equal(z.looseObject({ id: z.string() }).parse(announce.data).id, '__jinja__');

  const failed = args(sls, 'announce_failed', 'salt.runner');
  t.equal(failed.name, 'event.send');
  t.equal(failed.tag, 'salt-autoscaler/instance/__jinja__/failed');
  t.notOk('require' in failed, 'the failure event has no require');
  t.same(Requisites.parse(failed.onfail), [{ salt: 'reset_ready_grain' }, { salt: 'apply_training_env' }, { salt: 'set_ready_grain' }]);
  const data = z.looseObject({ id: z.string(), reason: z.string().min(10) }).parse(failed.data);
  t.equal(data.id, '__jinja__');
});

t.test('the orchestrate reads the minion id from pillar target_minion, as the reactor passes it', async (t) => {
  const text = readFileSync(join(SALT_DIR, 'orch', 'salt_autoscaler', 'deploy.sls'), 'utf8');
  t.match(text, /salt\['pillar\.get'\]\('target_minion'/);
  const reactor = readFileSync(join(SALT_DIR, 'reactor', 'salt-autoscaler', 'minion-start.sls'), 'utf8');
  t.match(reactor, /target_minion: \{\{ minion_id/);
  t.match(reactor, /set minion_id = data\.get\('id'/);
});

t.test('training-env installs the runtime, the agent service and the idle check the ACL allows', async (t) => {
  const sls = loadSls('training-env/init.sls');
  t.ok(sls['training_env_runtime']?.['pkg.installed'], 'runtime packages');
  t.ok(sls['training_env_runtime']?.['service.running'], 'runtime service');
  t.ok(sls['training_env_nvidia_toolkit']?.['pkg.installed'], 'NVIDIA container toolkit');
  t.ok(sls['training_env_nvidia_driver']?.['kmod.present'], 'NVIDIA kernel module');
  t.ok(sls['training_env_agent_unit']?.['file.managed'], 'agent unit file');
  const agent = args(sls, 'training_env_agent', 'service.running');
  t.same(Requisites.parse(agent.watch), [{ file: 'training_env_agent_env' }, { file: 'training_env_agent_unit' }]);
  t.equal(args(sls, 'training_env_agent_env', 'file.managed').mode, '0600');
  const idle = args(sls, 'training_env_idle_check', 'file.managed');
  t.equal(idle.mode, '0755');
  t.equal(idle.source, 'salt://__jinja__/files/training-idle.jinja');
  t.ok(existsSync(join(SALT_DIR, 'training-env', 'files', 'training-idle.jinja')), 'idle script template exists');

  const defaults = z.object({ training_env: z.object({ idle_check: z.object({ path: z.string() }), gpu: z.object({ enabled: z.boolean() }) }) })
    .parse(parse(readFileSync(join(SALT_DIR, 'training-env', 'defaults.yaml'), 'utf8')));
  t.equal(defaults.training_env.idle_check.path, '/usr/local/bin/training-idle');
  const conf = readFileSync(join(SALT_DIR, 'master.d', 'salt-autoscaler.conf'), 'utf8');
  t.ok(conf.includes(`'${defaults.training_env.idle_check.path}$'`), 'external_auth allows cmd.retcode of the installed idle check');
});

t.test('the salt-autoscaler state installs a systemd unit with the contract settings', async (t) => {
  const sls = loadSls('salt-autoscaler/init.sls');
  t.equal(args(sls, 'salt_autoscaler_env', 'file.managed').name, '/etc/salt-autoscaler/env');
  t.equal(args(sls, 'salt_autoscaler_env', 'file.managed').mode, '0600');
  t.equal(args(sls, 'salt_autoscaler_config', 'file.serialize').name, '/etc/salt-autoscaler/config.yaml');
  t.equal(args(sls, 'salt_autoscaler_config', 'file.serialize').dataset_pillar, 'salt_autoscaler:config');
  t.ok(sls['salt_autoscaler_service']?.['service.running'], 'service running');
  const unit = readFileSync(join(SALT_DIR, 'salt-autoscaler', 'files', 'salt-autoscaler.service.jinja'), 'utf8');
  for (const line of [
    'Restart=on-failure',
    'StateDirectory=salt-autoscaler',
    'User={{ sa.user }}',
    'EnvironmentFile=/etc/salt-autoscaler/env',
    'ExecStart=salt-autoscaler serve --config /etc/salt-autoscaler/config.yaml',
    'ExecReload=/bin/kill -HUP $MAINPID',
  ]) t.ok(unit.split('\n').includes(line), `unit has ${line}`);
  const defaults = z.object({ salt_autoscaler: z.object({ user: z.string(), salt_files: z.object({ master_conf_source: z.string(), reactor_source: z.string() }) }) })
    .parse(parse(readFileSync(join(SALT_DIR, 'salt-autoscaler', 'defaults.yaml'), 'utf8')));
  t.equal(defaults.salt_autoscaler.user, 'salt-autoscaler');
  for (const source of [defaults.salt_autoscaler.salt_files.master_conf_source, defaults.salt_autoscaler.salt_files.reactor_source]) {
    t.ok(existsSync(join(SALT_DIR, source.replace(/^salt:\/\//, ''))), `${source} is a file of salt/`);
  }
});
