/**
 * real-salt: the service against a REAL Salt master, salt-api and minions (issue 10), with the product's own
 * salt/ files and ACL, as one story per Salt (`realSaltStory`). Run by `npm run test:salt` (as root) through two files,
 * so that tap runs two Salts at once (it runs files in parallel, never the subtests of one file): real-salt.test.ts
 * runs the oldest Salt found, real-salt-newer.test.ts every other (CI: 3006.10 and 3007.0 from ../shared/salt; the
 * labs share nothing: their own ports, directories and processes). Without a Salt each skips with the reason — never
 * a silent pass.
 *
 *   webhook --> salt-autoscaler serve (child) --salt-api, user salt-autoscaler (shipped ACL)--> master
 *                     ^  event stream (sse, then ws)                                          |
 *                     +---- reactor (shipped) -> orch.salt_autoscaler.deploy (shipped) -> training-env (shipped)
 *   instances: test-only salt-cloud driver `localproc` (test/real-salt/clouds): local minion processes
 *
 * One lab per Salt, one story (each step builds on the state the step before left):
 *   login + stream -> alert: start -> ready -> a failing deploy: failed with the state's comment -> started by
 *   hand: followed live -> scale-down through the ACL's idle check (a busy instance is never stopped) -> stopped
 *   by hand: followed live -> create from a profile and destroy -> kill -9 mid scale-up -> salt-api restart ->
 *   master restart -> ws transport -> a call outside the ACL is refused.
 * Invariants over the whole story (the real-Salt flavour of the fault matrix's): no start of a running instance
 * and one start per need; no stop of a busy instance; running instances per pool <= max (sampled); the service's
 * view equals Salt's at the end of each step. Tokens live 30 s, so every step also runs across token renewals.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SaltClient } from '../../src/salt-api/client.ts';
import { createLogger } from '../../src/log.ts';
import { alert, notification } from '../alertmanager/payloads.ts';
import { PROFILE, PROVIDER, SHARED_SECRET, SaltLab, type LabAction, type SaltSource } from '../support/real-salt.ts';
import { freePort, spawnServiceProcess, writeConfig, type SpawnedService } from '../support/service-process.ts';

const PROD = ['gpu-prod-type1-1', 'gpu-prod-type1-2', 'gpu-prod-type1-3'] as const;
const WEBHOOK_TOKEN = 'real-salt-webhook-token-7d2e';
const API_TOKEN = 'real-salt-api-token-51c9';
const MAX = { 'prod/type1': 2, 'dev/type1': 1 } as const;
/** STEP_MS bounds each wait on Salt: a start + minion key exchange + reactor + orchestrate is ~5-15 s on 2 cores. */
const STEP_MS = 90_000;
/** CONFIRM_WINDOW_MS: how long the service waits to see an open start intent in Salt before it calls the start failed. */
const CONFIRM_WINDOW_MS = 70_000;
/** DEFAULT_GATHER_MS: what Salt's default manage.up waits for a down minion (timeout 5 s + gather_job_timeout 10 s). */
const DEFAULT_GATHER_MS = 15_000;
/** ORDER is the way from a start to ready. */
const ORDER = ['starting', 'booted', 'deploying', 'ready'];

interface InstanceJson { id: string; pool: string; state: string; since: string; reason: string }
interface HistoryJson { from: string; to: string; at: string; reason: string }

/** realSaltStory registers the story against one Salt as a subtest of the file's test. */
export function realSaltStory(source: SaltSource): void {
  t.test(`Salt ${source.label}: the shipped setup end to end`, { timeout: 900_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'asc-real-salt-svc-'));
    const lab = await SaltLab.start(source, { reserved: [...PROD], tokenExpireS: 30 });
    t.comment(`${lab.saltVersion} at ${lab.apiUrl}`);
    const port = await freePort();
    const config = (transport: 'sse' | 'ws'): string => writeConfig(dir, {
      salt: { url: lab.apiUrl, username: 'salt-autoscaler', eauth: 'sharedsecret', transport, heartbeatInterval: '3s', heartbeatTimeout: '6s', timeout: '60s' },
      store: { path: join(dir, 'state.db'), leaseTtl: '3s' },
      http: { listen: `127.0.0.1:${port}`, webhookToken: WEBHOOK_TOKEN, apiToken: API_TOKEN },
      engine: { evaluateInterval: '1s', reconcileInterval: '1h', startConfirmWindow: `${CONFIRM_WINDOW_MS / 1000}s` },
      log: { level: 'debug' },
      defaults: {
        provider: PROVIDER, strategy: 'target', perInstance: 1, interval: '2s', provisionTimeout: '3m', drainTimeout: '1m',
        failureBackoff: { base: '3s', max: '6s' },
      },
      pools: [
        { name: 'prod/type1', env: 'prod', instanceType: 'type1', min: 0, max: MAX['prod/type1'], reserved: [...PROD] },
        { name: 'dev/type1', env: 'dev', instanceType: 'type1', min: 0, max: MAX['dev/type1'], reservedPattern: 'gpu-dev-type1-*', profile: PROFILE, scaleIn: 'destroy' },
      ],
    }, `config-${transport}.yaml`);
    const env = { SALT_AUTOSCALER_SALT_PASSWORD: SHARED_SECRET };
    let service: SpawnedService | undefined;
    const outputs: string[] = [];
    const start = async (transport: 'sse' | 'ws' = 'sse'): Promise<SpawnedService> => {
      const s = spawnServiceProcess(config(transport), port, env);
      await s.healthy(60_000);
      service = s;
      return s;
    };
    const stopService = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
      if (service === undefined) return;
      const s = service;
      service = undefined;
      const timer = setTimeout(() => { void s.kill('SIGKILL'); }, 10_000);
      await s.kill(signal);
      clearTimeout(timer);
      outputs.push(s.output());
    };
    // invariant sampler: running instances per pool never above max
    const overMax: string[] = [];
    let samples = 0;
    const sampler = setInterval(() => {
      samples += 1;
      const running = lab.runningNames();
      for (const [pool, max] of Object.entries(MAX)) {
        const prefix = pool === 'prod/type1' ? 'gpu-prod-type1-' : 'gpu-dev-type1-';
        const n = running.filter((r) => r.startsWith(prefix)).length;
        if (n > max) overMax.push(`${new Date().toISOString()} ${pool}: ${n} running > max ${max} (${running.join(', ')})`);
      }
    }, 500);
    t.teardown(async () => {
      clearInterval(sampler);
      await stopService('SIGKILL');
      if (!t.passing()) {
        const kept = join(tmpdir(), `real-salt-service-${Date.now()}.log`);
        writeFileSync(kept, outputs.join('\n-----\n'));
        const info = outputs.join('\n-----\n').split('\n').filter((l) => !l.includes('"msg":"request"') && !l.startsWith('{"level":20'));
        console.error(`\n===== service output, info and above (tail; all of it in ${kept}) =====\n${info.join('\n').slice(-30_000)}`);
        console.error(`\n===== localproc actions =====\n${lab.actions().map((a) => JSON.stringify(a)).join('\n')}`);
        console.error(`\n===== master log (tail) =====\n${lab.logTail('master', 80)}`);
      }
      await lab.close();
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    });

    const svc = (): SpawnedService => {
      if (service === undefined) throw new Error('the service is not running');
      return service;
    };
    const instances = async (): Promise<InstanceJson[]> => (await (await fetch(`${svc().url}/api/instances`)).json()) as InstanceJson[];
    const stateOf = async (id: string): Promise<string | undefined> => (await instances()).find((i) => i.id === id)?.state;
    const history = async (id: string): Promise<HistoryJson[]> => ((await (await fetch(`${svc().url}/api/instances/${encodeURIComponent(id)}`)).json()) as { history: HistoryJson[] }).history;
    const workload = async (pool: 'prod' | 'dev', value: number): Promise<void> => {
      const res = await fetch(`${svc().url}/alertmanager/webhook`, {
        method: 'POST',
        headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(notification([alert({ env: pool, type: 'type1', workload: String(value), fingerprint: `${pool}-wl` })], {
          groupKey: `{}:{env="${pool}", instance_type="type1"}`, groupLabels: { env: pool, instance_type: 'type1' }, commonLabels: { env: pool, instance_type: 'type1' },
        })),
      });
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
    };
    const waitState = async (id: string, want: string | ((s: string | undefined) => boolean), what: string, ms = STEP_MS): Promise<void> => {
      const ok = typeof want === 'string' ? (s: string | undefined) => s === want : want;
      let last = '';
      await lab.waitFor(async () => {
        const all = await instances();
        last = all.map((i) => `${i.id} ${i.state}`).join(', ');
        return ok(all.find((i) => i.id === id)?.state);
      }, ms, () => `${id} ${what} (instances: ${last})`);
    };
    const metric = async (name: string): Promise<number> => {
      const text = await (await fetch(`${svc().url}/metrics`)).text();
      return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
    };
    /** sameAsSalt: every managed instance the service holds as running-ish is running in Salt, and the other way round. */
    const sameAsSalt = async (t: Test, label: string): Promise<void> => {
      let diff: string[] = [];
      const check = async (): Promise<boolean> => {
        const running = new Set(lab.runningNames());
        diff = (await instances()).filter((i) => {
          const up = ['ready', 'draining', 'starting', 'booted', 'deploying', 'creating'].includes(i.state);
          const down = i.state === 'stopped';
          return (up && !running.has(i.id)) || (down && running.has(i.id));
        }).map((i) => `${i.id}: service ${i.state}, Salt ${running.has(i.id) ? 'running' : 'stopped'}`);
        return diff.length === 0;
      };
      await lab.waitFor(check, 30_000, () => `state == Salt after ${label}: ${diff.join('; ')}`).catch(() => undefined);
      t.same(diff, [], `state == Salt after ${label}`);
    };
    // a story: once a step fails, the later ones (built on its state) are skipped with the reason, not run into timeouts
    let brokenAt: string | undefined;
    const step = async (name: string, fn: (t: Test) => Promise<void>): Promise<void> => {
      await t.test(name, brokenAt === undefined ? {} : { skip: `an earlier step failed: ${brokenAt}` }, async (tt) => {
        try {
          await fn(tt);
        } catch (err) {
          tt.fail(String(err instanceof Error ? err.message : err));
        }
        if (!tt.passing()) brokenAt = name;
      });
    };
    const starts = (id: string, after = 0): LabAction[] => lab.actions().filter((a) => a.name === id && a.action === 'start' && a.at * 1000 >= after);

    // ---------------------------------------------------------------- 1. login and the event stream
    await step('logs in as the shipped ACL user and connects the event stream', async (t) => {
      const s = await start('sse');
      await lab.waitFor(async () => (await fetch(`${s.url}/readyz`)).status === 200, 60_000, '/readyz (stream connected, store open)');
      t.notMatch(s.output(), /unexpected shape/, 'no unexpected /login shape');
      await lab.waitFor(() => s.output().includes('reconciled with Salt'), 60_000, 'the startup reconcile');
      t.pass('the startup reconcile ran against the real master');
      const perms = (await lab.login())?.perms;
      t.ok(Array.isArray(perms) && perms.some((p) => typeof p === 'object'), 'the real /login perms mix strings and objects');
    });

    // ---------------------------------------------------------------- 2. alert -> start -> ready
    let first = '';
    await step('an alert starts a reserved instance that becomes ready through the shipped reactor and orchestrate', async (t) => {
      const began = Date.now();
      await workload('prod', 1);
      await lab.waitFor(async () => (await instances()).some((i) => i.pool === 'prod/type1' && i.state === 'ready'), STEP_MS, 'a ready prod instance');
      const ready = (await instances()).find((i) => i.pool === 'prod/type1' && i.state === 'ready');
      first = ready?.id ?? '';
      t.comment(`queue -> ready in ${Date.now() - began} ms`);
      const path = (await history(first)).map((h) => h.to);
      // booted or deploying may be skipped: salt-api has no replay, and events fired while the stream reconnects
      // (every token renewal here, 30 s tokens) are lost; the next one on the way still places the instance
      t.equal(path[0], 'starting', 'the start issued first');
      t.equal(path.at(-1), 'ready', 'ready at the end');
      t.ok(path.every((s, i) => i === 0 || ORDER.indexOf(s) > ORDER.indexOf(path[i - 1] ?? '')), `on the way in order: ${path.join(' -> ')}`);
      t.equal(starts(first).length, 1, 'one cloud.action start for one need');
      const grains = lab.run('salt', [first, 'grains.item', 'salt_autoscaler', '--out=json']);
      t.match(grains.stdout, /"ready": true/, 'the orchestrate set the ready grain');
      await sameAsSalt(t, 'the scale-up');
    });

    // ---------------------------------------------------------------- 3. a failing deploy
    await step('a deploy that fails in training-env makes the instance failed with the failing state\'s comment, and it is stopped', async (t) => {
      for (const id of PROD) if (id !== first) lab.setDeployFails(id, true);
      await workload('prod', 2);
      let failedId = '';
      await lab.waitFor(async () => {
        for (const id of PROD) {
          if (id !== first && (await history(id)).some((h) => h.to === 'failed')) { failedId = id; return true; }
        }
        return false;
      }, STEP_MS, 'a failed prod instance');
      const failure = (await history(failedId)).find((h) => h.to === 'failed');
      t.match(failure?.reason, /training_env_agent_image_missing: pillar training_env:agent:image is not set/, 'the reason is the failing state\'s id and comment');
      await workload('prod', 1); // no more retries: the pool backs off and would start it again for a workload of 2
      await lab.waitFor(async () => {
        const h = await history(failedId);
        const at = h.findIndex((x) => x.to === 'failed');
        return at >= 0 && h.slice(at).some((x) => x.to === 'stopped');
      }, STEP_MS, `${failedId} stopped after failing`);
      t.ok(lab.actions().some((a) => a.name === failedId && a.action === 'stop' && a.by === 'salt-api'), 'the service sent the failed instance a stop');
      for (const id of PROD) lab.setDeployFails(id, false);
      await sameAsSalt(t, 'the failed deploy');
    });

    // ---------------------------------------------------------------- 4. started by hand, followed live
    const other = PROD.find((id) => id !== first) ?? '';
    await step('an instance started by hand with salt-cloud is followed live from the events to ready', async (t) => {
      const reconcilesBefore = await metric('salt_autoscaler_reconcile_runs_total');
      lab.setBusy(first, true); // the one the service started runs a training job from now on
      await lab.cloudByHand('start', other);
      await waitState(other, (s) => s === 'ready' || s === 'draining' || s === 'stopping', 'followed to ready', STEP_MS);
      const path = await history(other);
      t.ok(path.some((h) => /started outside the autoscaler/.test(h.reason)), 'the history says it was started outside the autoscaler');
      t.ok(path.some((h) => h.to === 'ready'), 'it became ready');
      t.ok(path.filter((h) => h.to === 'ready').every((h) => !/^reconcile/.test(h.reason)), 'from the events, not from a reconcile');
      t.comment(`reconcile runs while following it: ${(await metric('salt_autoscaler_reconcile_runs_total')) - reconcilesBefore}`);
    });

    // ---------------------------------------------------------------- 5. scale-down through the idle check
    await step('scale-down runs the shipped idle check through the ACL and never stops the busy instance', async (t) => {
      // two ready for a workload of 1: the idle one goes, the busy one stays
      await waitState(other, 'stopped', 'drained and stopped (idle)');
      t.equal(await stateOf(first), 'ready', 'the busy instance is still ready');
      await workload('prod', 0);
      await lab.waitFor(async () => (await (await fetch(`${svc().url}/api/decisions?pool=prod%2Ftype1`)).text()).includes('no ready instance is confirmed idle'), 30_000, 'a decision that kept the busy instance');
      t.ok(lab.running(first), 'the busy instance still runs with workload 0');
      lab.setBusy(first, false);
      await waitState(first, 'stopped', 'stopped once idle');
      const stops = lab.actions().filter((a) => a.action === 'stop' && a.by === 'salt-api');
      t.same(stops.filter((a) => a.busy), [], 'no stop was ever sent to a busy instance');
      await sameAsSalt(t, 'the scale-down');
    });

    // ---------------------------------------------------------------- 6. stopped by hand, followed live
    await step('an instance stopped by hand is followed live, and the pool replaces it', async (t) => {
      await workload('prod', 1);
      let id = '';
      await lab.waitFor(async () => { id = (await instances()).find((i) => i.pool === 'prod/type1' && i.state === 'ready')?.id ?? ''; return id !== ''; }, STEP_MS, 'a ready prod instance');
      const began = Date.now();
      await lab.cloudByHand('stop', id);
      await lab.waitFor(async () => (await history(id)).some((h) => h.to === 'stopped' && Date.parse(h.at) >= began - 1000), 30_000, `${id} followed to stopped`);
      t.comment(`stop by hand -> stopped in the service: ${Date.now() - began} ms`);
      // the replacement may be the same reserved instance, started again: a start issued after the stop, then ready
      const stoppedAt = Date.parse((await history(id)).filter((h) => h.to === 'stopped').at(-1)?.at ?? '') || began;
      await lab.waitFor(async () => {
        for (const i of (await instances()).filter((x) => x.pool === 'prod/type1' && x.state === 'ready')) {
          if ((await history(i.id)).some((h) => h.to === 'ready' && Date.parse(h.at) > stoppedAt)) return true;
        }
        return false;
      }, STEP_MS, 'a replacement');
      t.ok(starts(id, stoppedAt).length + PROD.filter((p) => p !== id).reduce((n, p) => n + starts(p, stoppedAt).length, 0) === 1, 'one start replaced it');
      await sameAsSalt(t, 'the stop by hand');
    });

    // ---------------------------------------------------------------- 7. create from a profile, destroy
    await step('a pool without a reserve creates an instance from its profile, and destroys it on scale-in', async (t) => {
      await workload('dev', 1);
      let id = '';
      await lab.waitFor(async () => { id = (await instances()).find((i) => i.pool === 'dev/type1' && i.state === 'ready')?.id ?? ''; return id !== ''; }, STEP_MS, 'a created dev instance ready');
      t.match(id, /^gpu-dev-type1-/, 'the created minion id is inside the pool pattern (and so the reactor globs and the ACL)');
      t.ok(lab.actions().some((a) => a.name === id && a.action === 'create'), 'created through cloud.profile');
      await workload('dev', 0);
      await lab.waitFor(() => lab.actions().some((a) => a.name === id && a.action === 'destroy'), STEP_MS, `${id} destroyed`);
      const q = lab.run('salt-run', ['cloud.query', '--out=json']);
      t.notMatch(q.stdout, new RegExp(id), 'gone from salt-cloud');
    });

    // ---------------------------------------------------------------- 8. kill -9 mid scale-up
    await step('kill -9 mid scale-up and a restart end in exactly one start per need', async (t) => {
      const began = Date.now();
      const readyBefore = (await instances()).filter((i) => i.pool === 'prod/type1' && i.state === 'ready').map((i) => i.id);
      await workload('prod', 2);
      await lab.waitFor(async () => (await instances()).some((i) => i.pool === 'prod/type1' && (i.state === 'starting' || i.state === 'booted')), 30_000, 'a start under way');
      await stopService('SIGKILL');
      const startsBeforeRestart = lab.actions().filter((a) => a.action === 'start' && a.by === 'salt-api' && a.at * 1000 >= began).length;
      t.comment(`Salt had acted on ${startsBeforeRestart} start(s) of this step when the service was killed`);
      await start('sse');
      await workload('prod', 2);
      // the kill may land after the start intent is durable but before its call left (the call waits for the turn's
      // commit): then the restarted service waits out the confirm window before it calls that start failed and
      // starts another reserved instance; one start per need either way
      await lab.waitFor(async () => (await instances()).filter((i) => i.pool === 'prod/type1' && i.state === 'ready').length === 2, CONFIRM_WINDOW_MS + STEP_MS, 'two ready prod instances');
      const newStarts = lab.actions().filter((a) => a.action === 'start' && a.by === 'salt-api' && a.at * 1000 >= began && a.name.startsWith('gpu-prod'));
      t.equal(newStarts.length, 2 - readyBefore.length, `one start for the one need (${newStarts.map((a) => a.name).join(', ')})`);
      await sameAsSalt(t, 'the kill -9');
    });

    // ---------------------------------------------------------------- 9. salt-api restart, master restart
    await step('a salt-api restart mid-stream: the service logs in again and reconnects', async (t) => {
      const reconnects = await metric('salt_autoscaler_stream_reconnects_total');
      await lab.stopApi();
      await lab.startApi();
      await lab.waitFor(async () => (await metric('salt_autoscaler_stream_reconnects_total')) > reconnects && (await fetch(`${svc().url}/readyz`)).status === 200, 60_000, 'the stream back after the salt-api restart');
      t.pass('reconnected');
      await workload('prod', 1);
      await lab.waitFor(async () => (await instances()).filter((i) => i.pool === 'prod/type1' && i.state === 'ready').length === 1, STEP_MS, 'scaled in to one after the restart');
      await sameAsSalt(t, 'the salt-api restart');
    });

    await step('a master restart (stream silent, events lost): the heartbeat notices and a reconcile restores the truth', async (t) => {
      const gaps = service?.output().match(/event stream gap/g)?.length ?? 0;
      await lab.stopMaster();
      await lab.startMaster();
      await lab.waitFor(async () => (await lab.login()) !== undefined, 60_000, 'the master answering logins again');
      await lab.waitFor(() => (service?.output().match(/event stream gap/g)?.length ?? 0) > gaps, 60_000, 'a gap noticed');
      await lab.waitFor(async () => (await fetch(`${svc().url}/readyz`)).status === 200, 60_000, 'ready again');
      t.pass('the service noticed the silent stream and is ready again');
      await sameAsSalt(t, 'the master restart');
    });

    // ---------------------------------------------------------------- 10. ws transport and timings
    await step('the websocket transport follows the same events', async (t) => {
      await stopService();
      const s = await start('ws');
      await lab.waitFor(async () => (await fetch(`${s.url}/readyz`)).status === 200, 60_000, 'ws stream connected');
      await workload('prod', 2);
      await lab.waitFor(async () => (await instances()).filter((i) => i.pool === 'prod/type1' && i.state === 'ready').length === 2, STEP_MS, 'two ready over ws');
      const second = (await instances()).filter((i) => i.pool === 'prod/type1' && i.state === 'ready').map((i) => i.id);
      const viaEvents = await Promise.all(second.map(async (id) => (await history(id)).some((h) => h.reason === 'ready event' || h.reason === 'deploy orchestrate succeeded')));
      t.ok(viaEvents.some(Boolean), 'readiness came from a ready event over the websocket');
      // Salt's default manage.up waits timeout 5 s + gather_job_timeout 10 s whenever an accepted minion is down
      // (stopped reserved instances: ~16 s a call, real_16). A reconcile asks for less than that one call does.
      const began = Date.now();
      const up = await lab.runAsync('salt-run', ['manage.up', '--out=json']);
      const defaultUpMs = Date.now() - began;
      t.equal(up.status, 0, 'manage.up with Salt\'s defaults ran');
      const durations = [...(outputs.join('\n') + s.output()).matchAll(/"durationMs":(\d+),"msg":"reconciled with Salt"/g)].map((m) => Number(m[1]));
      const sorted = [...durations].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)] ?? Number.POSITIVE_INFINITY;
      t.comment(`reconciles: ${durations.length}, median ${median} ms, max ${sorted.at(-1) ?? 0} ms; one default manage.up with stopped minions: ${defaultUpMs} ms`);
      t.ok(durations.length >= 3, 'reconciles were logged with their duration');
      // Before the fix every reconcile with a stopped reserve took >= 16 s (one default manage.up, real_16). The bound
      // is that floor, not a speed target: measured medians are 2-6 s, on a loaded 2-core machine.
      t.ok(median < DEFAULT_GATHER_MS, `a reconcile (median ${median} ms) does not wait out Salt's default manage.up timeouts (${DEFAULT_GATHER_MS} ms)`);
      await sameAsSalt(t, 'the ws run');
    });

    // ---------------------------------------------------------------- 11. the ACL refuses the rest
    await step('a call outside the shipped ACL is refused to the service\'s user', async (t) => {
      const client = new SaltClient({ url: lab.apiUrl, username: 'salt-autoscaler', password: SHARED_SECRET, eauth: 'sharedsecret', tlsVerify: true, timeoutMs: 30_000, logger: createLogger({ level: 'silent' }) });
      const id = (await instances()).find((i) => i.state === 'ready')?.id ?? PROD[0];
      await t.rejects(client.local(id, 'cmd.run', { arg: ['id'] }), { code: 'ASC_ERR_SALT_AUTH' }, 'cmd.run is refused');
      await t.rejects(client.local(id, 'cmd.retcode', { arg: ['/bin/true'] }), { code: 'ASC_ERR_SALT_AUTH' }, 'cmd.retcode of another command is refused');
      await t.rejects(client.runner('manage.versions'), { code: 'ASC_ERR_SALT_AUTH' }, 'a runner outside @runner is refused');
      // Allowed means salt-api took the call and answered with a minion's return. A minion can miss a ping's
      // gather window on a loaded machine, or stay deaf for a while after the master restart of step 9 (CI saw one
      // instance answer `false` four times in a row, 3006.10). So every ready instance is pinged in one call, and
      // again up to 4 times: one `true` shows the ACL let the call through; a refusal throws ASC_ERR_SALT_AUTH at once.
      let answer: Record<string, unknown> = {};
      let pinged: string[] = [id];
      for (let attempt = 0; attempt < 4; attempt += 1) {
        const ready = (await instances()).filter((i) => i.state === 'ready').map((i) => i.id);
        pinged = ready.length > 0 ? ready : [id];
        answer = (await client.local(pinged, 'test.ping', { tgtType: 'list' })) as Record<string, unknown>;
        if (Object.values(answer).includes(true)) break;
        t.comment(`test.ping of ${pinged.join(', ')} answered ${JSON.stringify(answer)}; asking again`);
        for (const name of pinged) t.comment(`${name}'s minion log ends:\n${lab.minionLogTail(name, 15)}`);
      }
      const yes = Object.entries(answer).filter(([, v]) => v === true).map(([k]) => k);
      t.ok(yes.length > 0, `test.ping, in the ACL, is allowed (true from ${yes.join(', ') || 'none'} of ${pinged.join(', ')})`);
      t.same(Object.keys(answer).filter((k) => !pinged.includes(k)), [], 'only the targeted minions answered');
      await t.rejects(client.wheel('key.list_all'), 'the wheel client is not enabled');
    });

    // ---------------------------------------------------------------- invariants over the whole story
    await step('invariants over the whole run', async (t) => {
      const acts = lab.actions();
      const doubles = acts.filter((a) => a.action === 'start' && a.by === 'salt-api' && a.was_running);
      t.same(doubles, [], 'no start of an instance that was already running');
      const busyStops = acts.filter((a) => (a.action === 'stop' || a.action === 'destroy') && a.by === 'salt-api' && a.busy);
      t.same(busyStops, [], 'no stop or destroy of a busy instance');
      t.same(overMax, [], `running instances per pool <= max in ${samples} samples`);
      t.ok(samples > 100, 'the sampler ran all along');
      const all = outputs.join('\n') + (service?.output() ?? '');
      t.notMatch(all, /Authorization error occurred/, 'the service never made a call the ACL refuses');
      t.notMatch(all, /unexpected shape/, 'every salt-api answer had a shape the client knows');
    });
  });
}
