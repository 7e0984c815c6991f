/**
 * world: the simulated Salt world behind the emulator: salt-cloud instances, their minions and grains, and the
 * event sequences a real master fires (as recorded in sse_04, sse_05 and sse_11).
 *
 *   stopped --cloud.action start--> running (minion down) --bootMs--> booted (salt/minion/<id>/start)
 *      ^                                                                  | reactor: orchestrate
 *      |                                                                  v
 *      +--------cloud.action stop (any phase)-------- ready <--deployMs-- deploying --failDeploy--> failed
 *   (cloud.profile: absent --createMs--> running, then as start; cloud.destroy: any --> absent)
 *
 * Every start or stop bumps the instance's `epoch`, so timers of an older phase do nothing when they fire.
 */
import { EventBus, Timers } from './bus.ts';
import { JidGenerator } from './wire.ts';
import { DEFAULT_DRIVER, DEFAULT_PROVIDER, type Delays, type InstanceOption } from './options.ts';

/** Phase is where an instance is in its start / deploy sequence. */
export type Phase = 'stopped' | 'starting' | 'booting' | 'deploying' | 'ready' | 'failed' | 'stopping';

/** InstanceView is the read-only snapshot of one instance that `emulator.world` hands out. */
export interface InstanceView {
  readonly id: string;
  readonly provider: string;
  readonly driver: string;
  readonly profile: string | undefined;
  readonly state: 'running' | 'stopped';
  readonly phase: Phase;
  readonly minionUp: boolean;
  readonly keyAccepted: boolean;
  readonly busy: boolean;
  readonly failDeploy: boolean;
  readonly grains: Readonly<Record<string, unknown>>;
}

interface Minion {
  readonly id: string;
  grains: Record<string, unknown>;
  up: boolean;
  accepted: boolean;
  busy: boolean;
}

interface Instance {
  readonly id: string;
  readonly provider: string;
  readonly driver: string;
  readonly profile: string | undefined;
  state: 'running' | 'stopped';
  phase: Phase;
  pid: number | null;
  failDeploy: boolean;
  failStart: boolean;
  epoch: number;
}

/** ORCH_MODS is the deploy orchestrate the reactor runs for a started minion (the salt/ folder's). */
export const ORCH_MODS = 'orch.salt_autoscaler.deploy';
/** READY_GRAIN is the grain the deploy orchestrate sets on success (contract). */
export const READY_GRAIN = 'salt_autoscaler';

const FAKE_PUB = '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAemulatoremulatoremulat\n-----END PUBLIC KEY-----';

/** WorldDeps are what the world needs from the emulator: the bus, timers, jids, the clock and the timings. */
export interface WorldDeps {
  readonly bus: EventBus;
  readonly timers: Timers;
  readonly jids: JidGenerator;
  readonly now: () => number;
  readonly delays: Delays;
  readonly masterId: string;
  readonly profiles: Readonly<Record<string, { provider: string; driver?: string | undefined }>>;
}

/** CloudResult is the per-instance result of a cloud action, grouped by provider and driver by the caller. */
export interface CloudResult {
  readonly provider: string;
  readonly driver: string;
  readonly name: string;
  readonly value: Record<string, unknown>;
}

/** World holds the simulated instances and minions and runs their event sequences. */
export class World {
  readonly #minions = new Map<string, Minion>();
  readonly #instances = new Map<string, Instance>();
  /** #making: instances salt-cloud is creating: not listed by the cloud (cloud.query, actions: Not Found) until made. */
  readonly #making = new Set<string>();
  readonly #d: WorldDeps;
  #pidSeq = 13000;

  constructor(deps: WorldDeps, instances: readonly InstanceOption[], staticMinions: readonly string[], busy: readonly string[]) {
    this.#d = deps;
    for (const id of staticMinions) this.#minions.set(id, { id, grains: baseGrains(id, {}), up: true, accepted: true, busy: false });
    for (const opt of instances) {
      const running = opt.state === 'running';
      this.#instances.set(opt.id, {
        id: opt.id, provider: opt.provider ?? DEFAULT_PROVIDER, driver: opt.driver ?? DEFAULT_DRIVER, profile: opt.profile,
        state: running ? 'running' : 'stopped', phase: running ? 'ready' : 'stopped', pid: running ? this.#nextPid() : null,
        failDeploy: opt.failDeploy ?? false, failStart: false, epoch: 0,
      });
      const grains = baseGrains(opt.id, opt.grains ?? {});
      if (running) grains[READY_GRAIN] = { ready: true, deployed_at: Math.floor(deps.now() / 1000), draining: false };
      this.#minions.set(opt.id, { id: opt.id, grains, up: running, accepted: running, busy: false });
    }
    for (const id of busy) this.setBusy(id, true);
  }

  #nextPid(): number {
    this.#pidSeq += 1;
    return this.#pidSeq;
  }

  // ---- views -------------------------------------------------------------------------------------

  /** instance returns a snapshot of instance `id`, or undefined when it does not exist. */
  instance(id: string): InstanceView | undefined {
    const inst = this.#instances.get(id);
    if (inst === undefined) return undefined;
    const m = this.#minions.get(id);
    return {
      id, provider: inst.provider, driver: inst.driver, profile: inst.profile, state: inst.state, phase: inst.phase,
      minionUp: m?.up ?? false, keyAccepted: m?.accepted ?? false, busy: m?.busy ?? false, failDeploy: inst.failDeploy,
      grains: structuredClone(m?.grains ?? {}),
    };
  }

  /** instances returns a snapshot of every instance, sorted by id. */
  instances(): InstanceView[] {
    return [...this.#instances.keys()].sort().flatMap((id) => this.instance(id) ?? []);
  }

  /** setBusy makes the minion's idle check (cmd.retcode) return 1 (busy) or 0 (idle). */
  setBusy(id: string, busy: boolean): void {
    const m = this.#minions.get(id);
    if (m) m.busy = busy;
  }

  /** setFailDeploy makes the next deploy orchestrates of `id` fail (or succeed again). */
  setFailDeploy(id: string, fail: boolean): void {
    const inst = this.#instances.get(id);
    if (inst) inst.failDeploy = fail;
  }

  /** failStart makes the next cloud.action start of `id` fail with a Salt-style error. */
  failStart(id: string): void {
    const inst = this.#instances.get(id);
    if (inst) inst.failStart = true;
  }

  /** acceptedMinions lists minions whose key is accepted (the ones a target can match), sorted. */
  acceptedMinions(): string[] {
    return [...this.#minions.values()].filter((m) => m.accepted).map((m) => m.id).sort();
  }

  /** upMinions lists minions that are connected, sorted. */
  upMinions(): string[] {
    return [...this.#minions.values()].filter((m) => m.up).map((m) => m.id).sort();
  }

  /** minion returns the live minion record (grains are mutable through grains.* functions). */
  minion(id: string): { readonly id: string; grains: Record<string, unknown>; readonly up: boolean; readonly busy: boolean } | undefined {
    return this.#minions.get(id);
  }

  /** keys returns the key lists of wheel key.list_all. */
  keys(): { minions: string[]; minions_pre: string[]; minions_rejected: string[]; minions_denied: string[]; local: string[] } {
    return { minions: this.acceptedMinions(), minions_pre: [], minions_rejected: [], minions_denied: [], local: ['master.pem', 'master.pub'] };
  }

  /** node returns the cloud.query (or, with `full`, cloud.full_query / show_instance) view of an instance. */
  node(id: string, full: boolean): Record<string, unknown> | undefined {
    const inst = this.#instances.get(id);
    if (inst === undefined) return undefined;
    const base: Record<string, unknown> = {
      id: `emu-${id}`, name: id, image: 'emu-image', size: inst.profile ?? 'gpu', state: inst.state,
      private_ips: ['127.0.0.1'], public_ips: [],
    };
    if (!full) return base;
    return { ...base, pid: inst.pid, minion_id: id, config_dir: `/etc/salt/cloud.d/${id}`, provider: `${inst.provider}:${inst.driver}`, driver: inst.driver };
  }

  /** allNodes lists every instance as `[provider, driver, name]`, sorted by name. */
  allNodes(): { provider: string; driver: string; name: string }[] {
    return [...this.#instances.values()].sort((a, b) => a.id.localeCompare(b.id)).map((i) => ({ provider: i.provider, driver: i.driver, name: i.id }));
  }

  /** exists says whether instance `id` exists. */
  exists(id: string): boolean {
    return this.#instances.has(id);
  }

  // ---- cloud actions (called inside a runner's new/ret) ------------------------------------------

  /** start starts one stopped instance: cloud starting/started events, then boot and deploy later. */
  async start(id: string): Promise<CloudResult> {
    const inst = this.#must(id);
    const { bus, delays } = this.#d;
    if (inst.state === 'running' && inst.phase !== 'stopping') {
      return this.#result(inst, { name: id, state: 'running', pid: inst.pid, changed: false, comment: `${id} is already running.` });
    }
    inst.epoch += 1;
    const epoch = inst.epoch;
    bus.publish(`salt/cloud/${id}/starting`, { name: id, instance_id: `emu-${id}`, event: 'starting instance' });
    if (inst.failStart) {
      inst.failStart = false;
      await this.#d.timers.sleep(delays.startMs);
      return this.#result(inst, { Error: `Failed to start ${id}: the provider refused the request (simulated)` });
    }
    inst.phase = 'starting';
    const minion = this.#minions.get(id);
    if (minion) delete minion.grains[READY_GRAIN];
    await this.#d.timers.sleep(delays.startMs);
    if (inst.epoch !== epoch) return this.#result(inst, { name: id, state: inst.state, pid: inst.pid, changed: false, comment: `${id} was interrupted.` });
    inst.state = 'running';
    inst.pid = this.#nextPid();
    inst.phase = 'booting';
    bus.publish(`salt/cloud/${id}/started`, { name: id, instance_id: `emu-${id}`, event: 'started instance' });
    this.#d.timers.after(delays.bootMs, () => this.#boot(id, epoch));
    return this.#result(inst, { name: id, state: 'running', pid: inst.pid, changed: true, comment: `${id} was started.` });
  }

  /** stop stops one instance: cloud stopping/stopped events; the minion goes down at once. */
  async stop(id: string): Promise<CloudResult> {
    const inst = this.#must(id);
    if (inst.state === 'stopped' && inst.phase === 'stopped') {
      return this.#result(inst, { name: id, state: 'stopped', pid: null, changed: false, comment: `${id} is already stopped.` });
    }
    await this.#halt(inst);
    return this.#result(inst, { name: id, state: 'stopped', pid: null, changed: true, comment: `${id} was stopped.` });
  }

  /**
   * create creates instance `id` from profile `prof` (cloud.profile): creating .. created, then boots. While the cloud
   * makes it (createMs) the provider does not list it, as with the real lab's driver (test/real-salt/profile-timeout):
   * cloud.query leaves it out and a cloud.action answers Not Found.
   */
  async create(id: string, prof: string): Promise<Record<string, unknown>> {
    const { bus, delays } = this.#d;
    if (this.#instances.has(id) || this.#making.has(id)) return { Error: `${id} already exists` };
    const profile = this.#d.profiles[prof];
    if (profile === undefined) return { Error: `Profile ${prof} is not defined` };
    const driver = profile.driver ?? this.#driverOf(profile.provider);
    bus.publish(`salt/cloud/${id}/creating`, { driver, profile: prof, name: id, provider: `${profile.provider}:${driver}`, event: 'starting create' });
    bus.publish(`salt/cloud/${id}/requesting`, { kwargs: { name: id, image: 'emu-image', size: prof }, event: 'requesting instance' });
    const inst: Instance = { id, provider: profile.provider, driver, profile: prof, state: 'stopped', phase: 'starting', pid: null, failDeploy: false, failStart: false, epoch: 1 };
    this.#making.add(id);
    this.#minions.set(id, { id, grains: baseGrains(id, {}), up: false, accepted: true, busy: false });
    bus.publish(`salt/cloud/${id}/starting`, { name: id, instance_id: `emu-${id}`, event: 'starting instance' });
    await this.#d.timers.sleep(delays.createMs);
    this.#making.delete(id);
    this.#instances.set(id, inst);
    inst.state = 'running';
    inst.pid = this.#nextPid();
    inst.phase = 'booting';
    bus.publish(`salt/cloud/${id}/started`, { name: id, instance_id: `emu-${id}`, event: 'started instance' });
    bus.publish(`salt/cloud/${id}/created`, { driver, profile: prof, name: id, provider: `${profile.provider}:${driver}`, event: 'created instance' });
    this.#d.timers.after(delays.bootMs, () => this.#boot(id, 1));
    return { name: id, state: 'running', pid: inst.pid, changed: true, comment: `${id} was started.`, ...this.node(id, true) };
  }

  /** destroy stops and removes instance `id` and deletes its minion key. */
  async destroy(id: string): Promise<CloudResult> {
    const inst = this.#must(id);
    this.#d.bus.publish(`salt/cloud/${id}/destroying`, { name: id, event: 'destroying instance' });
    await this.#halt(inst);
    this.#instances.delete(id);
    this.#minions.delete(id);
    this.#d.bus.publish(`salt/cloud/${id}/destroyed`, { name: id, event: 'destroyed instance' });
    return this.#result(inst, { name: id, state: 'stopped', pid: null, changed: true, comment: `${id} was stopped.`, destroyed: true });
  }

  async #halt(inst: Instance): Promise<void> {
    const { bus, delays } = this.#d;
    const id = inst.id;
    inst.epoch += 1;
    inst.phase = 'stopping';
    const minion = this.#minions.get(id);
    if (minion) minion.up = false;
    bus.publish(`salt/cloud/${id}/stopping`, { name: id, instance_id: `emu-${id}`, event: 'stopping instance' });
    await this.#d.timers.sleep(delays.stopMs);
    inst.state = 'stopped';
    inst.pid = null;
    inst.phase = 'stopped';
    bus.publish(`salt/cloud/${id}/stopped`, { name: id, instance_id: `emu-${id}`, event: 'stopped instance' });
  }

  #driverOf(provider: string): string {
    for (const i of this.#instances.values()) if (i.provider === provider) return i.driver;
    return DEFAULT_DRIVER;
  }

  #must(id: string): Instance {
    const inst = this.#instances.get(id);
    if (inst === undefined) throw new Error(`no instance ${id}`);
    return inst;
  }

  #result(inst: Instance, value: Record<string, unknown>): CloudResult {
    return { provider: inst.provider, driver: inst.driver, name: inst.id, value };
  }

  // ---- boot and deploy (the reactor and the orchestrate) -----------------------------------------

  #boot(id: string, epoch: number): void {
    const inst = this.#instances.get(id);
    const minion = this.#minions.get(id);
    if (inst === undefined || minion === undefined || inst.epoch !== epoch) return;
    const { bus } = this.#d;
    minion.up = true;
    minion.accepted = true;
    bus.publish('salt/auth', { result: true, act: 'accept', id, pub: FAKE_PUB });
    bus.publish(`minion/refresh/${id}`, { 'Minion data cache refresh': id });
    const started = `Minion ${id} started at ${new Date(this.#d.now()).toUTCString().replace(/,/g, '').replace(' GMT', '')}`;
    bus.publish('minion_start', { id, cmd: '_minion_event', pretag: null, data: started, tag: 'minion_start' });
    bus.publish(`salt/minion/${id}/start`, { id, cmd: '_minion_event', pretag: null, data: started, tag: `salt/minion/${id}/start` });
    this.#deploy(inst, epoch);
  }

  #deploy(inst: Instance, epoch: number): void {
    const { bus, jids, now, timers, delays } = this.#d;
    const id = inst.id;
    inst.phase = 'deploying';
    const orchJid = jids.next(now());
    const orch = { fun: 'runner.state.orchestrate', jid: orchJid, user: 'Reactor', fun_args: [{ mods: ORCH_MODS, pillar: { target_minion: id } }] };
    bus.publish(`salt/run/${orchJid}/new`, orch);
    const stepJid = jids.next(now());
    bus.publish(`salt/run/${stepJid}/args`, {
      type: 'state', tgt: id, name: 'deploy_training_env',
      args: { arg: ['salt_autoscaler.training'], kwarg: { queue: false, concurrent: false }, ret: '', timeout: null, tgt_type: 'glob', ssh: false, expect_minions: true },
    });
    const stateArg = ['salt_autoscaler.training', { __kwarg__: true, queue: false, concurrent: false }];
    const stateJid = this.#jobNew(id, 'state.sls', stateArg);
    bus.publish(`minion/refresh/${id}`, { 'Minion data cache refresh': id });
    timers.after(delays.deployMs, () => {
      if (inst.epoch !== epoch || this.#instances.get(id) !== inst) return;
      if (inst.failDeploy) this.#deployFailed(inst, orch, stepJid, stateJid, stateArg);
      else this.#deploySucceeded(inst, orch, stepJid, stateJid, stateArg);
    });
  }

  #jobNew(id: string, fun: string, arg: unknown[]): string {
    const { bus, jids, now } = this.#d;
    const jid = jids.next(now());
    bus.publish(jid, { minions: [id] });
    bus.publish(`salt/job/${jid}/new`, { jid, tgt_type: 'glob', tgt: id, user: 'root', fun, arg, minions: [id], missing: [] });
    return jid;
  }

  #jobRet(id: string, jid: string, fun: string, arg: unknown[], ret: unknown, success: boolean, retcode: number, out?: string): void {
    this.#d.bus.publish(`salt/job/${jid}/ret/${id}`, {
      cmd: '_return', id, success, return: ret, retcode, jid, fun, fun_args: arg, user: 'root', ...(out === undefined ? {} : { out }),
    });
  }

  #stateReturn(id: string, ok: boolean): Record<string, unknown> {
    const ret: Record<string, unknown> = {
      'file_|-training_env_marker_|-/etc/salt-autoscaler/deployed_|-managed': {
        changes: { diff: 'New file' }, comment: 'File /etc/salt-autoscaler/deployed updated', name: '/etc/salt-autoscaler/deployed',
        result: true, __sls__: 'salt_autoscaler.training', __run_num__: 0, start_time: '00:00:00.000000', duration: 20.5, __id__: 'training_env_marker',
      },
    };
    if (!ok) ret[`test_|-simulated_failure_|-simulated provisioning failure for ${id}_|-fail_without_changes`] = this.#failedState(id);
    return ret;
  }

  #failedState(id: string): Record<string, unknown> {
    return {
      name: `simulated provisioning failure for ${id}`, changes: {}, result: false, comment: 'Failure!',
      __sls__: 'salt_autoscaler.training', __run_num__: 1, start_time: '00:00:00.000000', duration: 0.4, __id__: 'simulated_failure',
    };
  }

  #deploySucceeded(inst: Instance, orch: Record<string, unknown>, stepJid: string, stateJid: string, stateArg: unknown[]): void {
    const { bus, now, masterId } = this.#d;
    const id = inst.id;
    const stateRet = this.#stateReturn(id, true);
    this.#jobRet(id, stateJid, 'state.sls', stateArg, stateRet, true, 0, 'highstate');
    // the lab's minion-side announcement (sse_04, sse_11), kept so the sequence matches the recordings
    bus.publish(`salt/run/${stepJid}/args`, {
      type: 'function', tgt: id, name: 'event.send',
      args: { arg: ['autoscaler/instance/ready'], kwarg: { data: { id, source: ORCH_MODS } }, ret: '', timeout: null, tgt_type: 'glob', ssh: false, expect_minions: false, _cmd_meta: true },
    });
    const sendArg = ['autoscaler/instance/ready', { __kwarg__: true, data: { id, source: ORCH_MODS } }];
    const sendJid = this.#jobNew(id, 'event.send', sendArg);
    bus.publish('autoscaler/instance/ready', {
      id, cmd: '_minion_event', pretag: null, tag: 'autoscaler/instance/ready',
      data: { __pub_fun: 'event.send', __pub_arg: sendArg, __pub_tgt: id, __pub_jid: sendJid, __pub_ret: '', __pub_tgt_type: 'glob', __pub_user: 'root', id, source: ORCH_MODS },
    });
    this.#jobRet(id, sendJid, 'event.send', sendArg, true, true, 0);
    // the contract steps: ready grain, then the runner event from the master
    const grain = { ready: true, deployed_at: Math.floor(now() / 1000), draining: false };
    bus.publish(`salt/run/${stepJid}/args`, {
      type: 'function', tgt: id, name: 'grains.setval',
      args: { arg: [READY_GRAIN, grain], kwarg: {}, ret: '', timeout: null, tgt_type: 'glob', ssh: false, expect_minions: false, _cmd_meta: true },
    });
    const grainArg = [READY_GRAIN, grain];
    const grainJid = this.#jobNew(id, 'grains.setval', grainArg);
    const minion = this.#minions.get(id);
    if (minion) minion.grains[READY_GRAIN] = { ...grain };
    this.#jobRet(id, grainJid, 'grains.setval', grainArg, { [READY_GRAIN]: grain }, true, 0, 'nested');
    bus.publish(`minion/refresh/${id}`, { 'Minion data cache refresh': id });
    inst.phase = 'ready';
    const eventJid = this.#runnerEvent(stepJid, `salt-autoscaler/instance/${id}/ready`, { id });
    const steps: Record<string, unknown> = {
      'salt_|-deploy_training_env_|-deploy_training_env_|-state': {
        name: 'deploy_training_env', changes: { out: 'highstate', ret: { [id]: stateRet } }, comment: `States ran successfully. Updating ${id}.`,
        result: true, __jid__: stateJid, __sls__: ORCH_MODS, __run_num__: 0, start_time: '00:00:00.000000', duration: 450.1, __id__: 'deploy_training_env',
      },
      'salt_|-announce_ready_|-event.send_|-function': {
        name: 'event.send', changes: { ret: { [id]: true } }, comment: `Function ran successfully. Function event.send ran on ${id}.`,
        result: true, __jid__: sendJid, __sls__: ORCH_MODS, __run_num__: 1, start_time: '00:00:00.000000', duration: 190.2, __id__: 'announce_ready',
      },
      'salt_|-contract_ready_grain_|-grains.setval_|-function': {
        name: 'grains.setval', changes: { ret: { [id]: { [READY_GRAIN]: grain } } }, comment: `Function ran successfully. Function grains.setval ran on ${id}.`,
        result: true, __jid__: grainJid, __sls__: ORCH_MODS, __run_num__: 2, start_time: '00:00:00.000000', duration: 300.3, __id__: 'contract_ready_grain',
      },
      'salt_|-contract_ready_event_|-event.send_|-runner': {
        name: 'event.send', changes: { return: true }, result: true, comment: "Runner function 'event.send' executed.",
        __jid__: eventJid, __sls__: ORCH_MODS, __run_num__: 3, start_time: '00:00:00.000000', duration: 150.4, __id__: 'contract_ready_event',
      },
    };
    bus.publish(`salt/run/${String(orch['jid'])}/ret`, { ...orch, return: { data: { [masterId]: steps }, outputter: 'highstate', retcode: 0 }, success: true });
  }

  #deployFailed(inst: Instance, orch: Record<string, unknown>, stepJid: string, stateJid: string, stateArg: unknown[]): void {
    const { bus, masterId } = this.#d;
    const id = inst.id;
    const stateRet = this.#stateReturn(id, false);
    this.#jobRet(id, stateJid, 'state.sls', stateArg, stateRet, false, 2, 'highstate');
    const failed = { ...this.#failedState(id), retcode: 2 };
    bus.publish('test.fail_without_changes', failed);
    bus.publish(`salt/job/${stateJid}/sub/${id}/error/state.sls`, {
      ...failed, jid: stateJid, id, success: false, return: 'Error: test.fail_without_changes', fun: 'state.sls', user: 'root',
    });
    inst.phase = 'failed';
    const reason = `Run failed on minions: ${id}`;
    const eventJid = this.#runnerEvent(stepJid, `salt-autoscaler/instance/${id}/failed`, { id, reason });
    const steps: Record<string, unknown> = {
      'salt_|-deploy_training_env_|-deploy_training_env_|-state': {
        name: 'deploy_training_env', changes: { out: 'highstate', ret: { [id]: stateRet } }, comment: reason, result: false,
        __jid__: stateJid, __sls__: ORCH_MODS, __run_num__: 0, start_time: '00:00:00.000000', duration: 284.2, __id__: 'deploy_training_env',
      },
      'salt_|-announce_ready_|-event.send_|-function': {
        changes: {}, result: false, duration: 0.002, start_time: '00:00:00.000000',
        comment: `One or more requisite failed: ${ORCH_MODS}.deploy_training_env`, __run_num__: 1, __sls__: ORCH_MODS, __id__: 'announce_ready', name: 'event.send',
      },
      'salt_|-contract_failed_event_|-event.send_|-runner': {
        name: 'event.send', changes: { return: true }, result: true, comment: "Runner function 'event.send' executed.",
        __jid__: eventJid, __sls__: ORCH_MODS, __run_num__: 2, start_time: '00:00:00.000000', duration: 150.4, __id__: 'contract_failed_event',
      },
    };
    bus.publish(`salt/run/${String(orch['jid'])}/ret`, { ...orch, return: { data: { [masterId]: steps }, outputter: 'highstate', retcode: 1 }, success: false });
  }

  /** #runnerEvent is the orchestrate's `salt.runner event.send` step: args, run new, the event, run ret. */
  #runnerEvent(stepJid: string, tag: string, data: Record<string, unknown>): string {
    const { bus, jids, now } = this.#d;
    bus.publish(`salt/run/${stepJid}/args`, { type: 'runner', name: 'event.send', args: [], kwargs: { tag, data } });
    const jid = jids.next(now());
    const run = { fun: 'runner.event.send', jid, user: 'Reactor', fun_args: [{ tag, data }] };
    bus.publish(`salt/run/${jid}/new`, run);
    const fired = bus.publish(tag, data);
    bus.publish(`salt/run/${jid}/ret`, { ...run, fun_args: [{ tag, data: fired?.data ?? data }], return: true, success: true });
    return jid;
  }
}

function baseGrains(id: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    id, host: id, fqdn: id, localhost: id, nodename: id, os: 'Debian', os_family: 'Debian', osrelease: '12', kernel: 'Linux',
    saltversion: '3006.10', num_cpus: 8, mem_total: 64000, ipv4: ['127.0.0.1'], master: '127.0.0.1', ...structuredClone(extra),
  };
}
