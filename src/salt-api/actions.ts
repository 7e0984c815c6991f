/**
 * actions: SaltActions (engine port) over salt-api, interpreting the return shapes recorded from Salt 3006.
 *
 * - cloud.action / cloud.destroy / cloud.query answer `{provider: {driver: {name: node}}}` (req_23, req_30, req_59);
 *   nothing done is `{"Not Actioned/Not Running": [...], "Not Found": [...]}` (req_34) -> ASC_ERR_ACTION_FAILED.
 * - a start (stop) asked with no `cloud.action` of its func in flight goes out at once; the ones asked while one is
 *   in flight go out at the end of the turn as one call per func with every instance in `instances` (at most
 *   CLOUD_ACTION_BATCH_MAX), each caller settled from its own entry (cloud-batch.ts, group commit).
 * - `instances` is always a LIST: Salt 3006 turns a string into a set of its characters (req_25b).
 * - cloud.profile answers keyed by instance name (req_58).
 * - grains.item: a missing grain is `""` (req_51); cmd.retcode on a down minion answers `{}` (req_55): never idle.
 *
 * - the process's first salt-cloud call goes alone; the ones asked meanwhile wait for its answer (first-cloud-call.ts:
 *   on a fresh master two first calls at once race making salt-cloud's cache dir).
 *
 * A cloud call that succeeded logs at debug (with what Salt said): its line of record is the engine's `action done`.
 */
import { AutoscalerError, SaltApiError, trimBody } from '../errors.ts';
import type { CloudInstance, IdleResult, ReadyGrain, SaltActions } from '../engine/ports.ts';
import type { Logger } from '../log.ts';
import type { SaltClient } from './client.ts';
import { CLOUD_ACTION_BATCH_MAX, CloudActionBatcher, outcomesOf, type CloudFunc } from './cloud-batch.ts';
import { FirstCloudCall } from './first-cloud-call.ts';
import { CloudTree, GrainsItemReturn, ProfileReturn, isCloudTree, isGrainsItemReturn, readyGrainWire } from './wire.ts';
import { isRecord } from '../json-object.ts';

/** PRESENCE_TIMEOUT_S / PRESENCE_GATHER_TIMEOUT_S: manage.up's test.ping wait and its job-gather wait, in seconds. */
const PRESENCE_TIMEOUT_S = 2;
const PRESENCE_GATHER_TIMEOUT_S = 3;

/** GRAIN is the grain the deploy orchestrate sets and the drain toggles. */
export const GRAIN = 'salt_autoscaler';

/** SaltApiActionsOptions: `cloudActionBatchMax` caps the instances of one `cloud.action` call (default CLOUD_ACTION_BATCH_MAX). */
export interface SaltApiActionsOptions {
  readonly cloudActionBatchMax?: number;
}

/** SaltApiActions implements SaltActions with a SaltClient. */
export class SaltApiActions implements SaltActions {
  readonly #client: SaltClient;
  readonly #log: Logger;
  readonly #batcher: CloudActionBatcher;
  readonly #firstCloud = new FirstCloudCall();

  constructor(client: SaltClient, logger: Logger, opts: SaltApiActionsOptions = {}) {
    this.#client = client;
    this.#log = logger.child({ component: 'salt-actions' });
    this.#batcher = new CloudActionBatcher(
      (func, ids) => this.#firstCloud.run(() => this.#client.lowstate({ client: 'runner', fun: 'cloud.action', kwarg: { func, instances: [...ids] } })),
      opts.cloudActionBatchMax ?? CLOUD_ACTION_BATCH_MAX,
    );
  }

  /** cloudActionCalls: how many `cloud.action` calls start and stop have sent (several instances may share one). */
  get cloudActionCalls(): number { return this.#batcher.calls; }

  /** start runs `cloud.action func=start instances=[id, …]`: at once if no start call is in flight, else with the other starts queued behind it. */
  async start(id: string): Promise<void> {
    await this.#cloudAction('start', id);
  }

  /** stop runs `cloud.action func=stop instances=[id, …]`: at once if no stop call is in flight, else with the other stops queued behind it. */
  async stop(id: string): Promise<void> {
    await this.#cloudAction('stop', id);
  }

  /**
   * create runs `cloud.profile prof=<profile> instances=[id]`; the answer is keyed by instance name. salt-cloud answers
   * once the VM is up and bootstrapped, minutes on a real cloud: with `waitMs`, salt-api and this call wait that long
   * (the pool's provisionTimeout), not salt.timeout.
   */
  async create(id: string, profile: string, waitMs?: number): Promise<void> {
    const waitS = waitMs === undefined ? undefined : Math.max(1, Math.ceil(waitMs / 1000));
    const ret = await this.#firstCloud.run(() => this.#client.runner('cloud.profile', { prof: profile, instances: [id] }, waitS));
    const out = ProfileReturn.safeParse(ret);
    const node = out.success ? out.data[id] : undefined;
    if (!isRecord(node) || 'Error' in node || 'error' in node) {
      throw failed('create', id, ret);
    }
    this.#log.debug({ minion: id, profile }, 'instance created');
  }

  /** destroy runs `cloud.destroy instances=[id]`; the answer is read as a `cloud.action`'s (outcomesOf). */
  async destroy(id: string): Promise<void> {
    const ret = await this.#firstCloud.run(() => this.#client.runner('cloud.destroy', { instances: [id] }));
    for (const outcome of outcomesOf('destroy', [id], ret)) if (!outcome.ok) throw outcome.error;
    this.#log.debug({ minion: id }, 'instance destroyed');
  }

  /** setDraining sets `salt_autoscaler:draining` (keeping the grain's other keys) with grains.setval. */
  async setDraining(id: string, draining: boolean): Promise<void> {
    const current = await this.#grainObject(id);
    const value = { ...current, draining };
    const ret = await this.#client.local(id, 'grains.setval', { arg: [GRAIN, value] });
    const answer = ret[id];
    if (!isRecord(answer) || !isRecord(answer[GRAIN])) {
      throw failed(draining ? 'drain' : 'undrain', id, ret);
    }
  }

  /** fireEvent runs runner `event.send` with the tag and data; Salt answers `true` (req_56). */
  async fireEvent(tag: string, data: Readonly<Record<string, unknown>>): Promise<void> {
    const ret = await this.#client.runner('event.send', { tag, data });
    if (ret !== true) {
      throw new SaltApiError('ASC_ERR_SALT_RUNNER', `event.send ${tag} returned ${trimBody(JSON.stringify(ret) ?? 'nothing', 120)}, expected true`, { endpoint: '/', status: 200 });
    }
  }

  /** idleCheck runs `fun args` on the minion: 0 (or true) = idle, an absent minion = unreachable, anything else = busy. */
  async idleCheck(id: string, fun: string, args: readonly unknown[]): Promise<IdleResult> {
    const ret = await this.#client.local(id, fun, { arg: args });
    if (!(id in ret)) return 'unreachable';
    const value = ret[id];
    if (value === 0 || value === true) return 'idle';
    if (typeof value !== 'number' && typeof value !== 'boolean') {
      this.#log.info({ minion: id, fun, sample: trimBody(JSON.stringify(value) ?? '', 120) }, 'idle check answered a non-retcode value: not idle');
    }
    return 'busy';
  }

  /** cloudInstances runs `cloud.query` and flattens provider/driver/name; `providers` filters by provider name. */
  async cloudInstances(providers?: readonly string[]): Promise<readonly CloudInstance[]> {
    const ret = await this.#firstCloud.run(() => this.#client.runner('cloud.query'));
    if (!isCloudTree(ret)) {
      const cause = CloudTree.safeParse(ret).error; // the slow path says what is wrong
      throw new SaltApiError('ASC_ERR_SALT_RESPONSE', 'cloud.query returned an unexpected shape, expected {provider: {driver: {name: node}}}', { endpoint: '/', status: 200, body: JSON.stringify(ret) ?? '' }, { cause });
    }
    const out: CloudInstance[] = [];
    for (const [provider, drivers] of Object.entries(ret)) {
      if (providers !== undefined && !providers.includes(provider)) continue;
      for (const nodes of Object.values(drivers)) {
        for (const [name, node] of Object.entries(nodes)) {
          const state = isRecord(node) && (typeof node['state'] === 'string' || typeof node['state'] === 'number') ? String(node['state']).toLowerCase() : 'unknown';
          out.push({ id: name, state, provider });
        }
      }
    }
    return out;
  }

  /**
   * minionsUp runs runner `manage.up` (a list of minion ids, req_11) for `ids` (a list target) with short timeouts:
   * with Salt's defaults (timeout 5 s + gather_job_timeout 10 s) one stopped minion makes every call take ~16 s
   * (real_16). The timeouts go inside `kwarg`: a top-level `timeout` is salt-api's own wait for the runner and
   * answers 504 when it runs out (real_15).
   */
  async minionsUp(ids?: readonly string[]): Promise<readonly string[]> {
    const target = ids === undefined ? {} : { tgt: [...ids], tgt_type: 'list' };
    const ret = await this.#client.lowstate({
      client: 'runner', fun: 'manage.up',
      kwarg: { ...target, timeout: PRESENCE_TIMEOUT_S, gather_job_timeout: PRESENCE_GATHER_TIMEOUT_S },
    });
    if (!Array.isArray(ret) || !ret.every((x): x is string => typeof x === 'string')) {
      throw new SaltApiError('ASC_ERR_SALT_RESPONSE', 'manage.up returned something other than a list of minion ids', { endpoint: '/', status: 200, body: JSON.stringify(ret) ?? '' });
    }
    return ret;
  }

  /** readyGrains runs `grains.item salt_autoscaler` with `tgt_type: list`; a missing minion or grain (`""`) is absent. */
  async readyGrains(ids: readonly string[]): Promise<ReadonlyMap<string, ReadyGrain>> {
    const map = new Map<string, ReadyGrain>();
    if (ids.length === 0) return map;
    const ret = await this.#client.local(ids, 'grains.item', { arg: [GRAIN], tgtType: 'list' });
    if (!isGrainsItemReturn(ret)) {
      const cause = GrainsItemReturn.safeParse(ret).error;
      throw new SaltApiError('ASC_ERR_SALT_RESPONSE', 'grains.item returned an unexpected shape', { endpoint: '/', status: 200, body: JSON.stringify(ret) ?? '' }, { cause });
    }
    for (const [id, answer] of Object.entries(ret)) {
      if (!isRecord(answer)) continue;
      const g = readyGrainWire(answer[GRAIN]);
      if (g === undefined || g === '') continue;
      map.set(id, {
        ready: g.ready === true,
        draining: g.draining === true,
        ...(g.deployed_at === undefined ? {} : { deployedAtMs: Math.round(g.deployed_at * 1000) }),
      });
    }
    return map;
  }

  async #cloudAction(func: CloudFunc, id: string): Promise<void> {
    const node = await this.#batcher.request(func, id);
    this.#log.debug({ minion: id, action: func, changed: node['changed'] }, 'cloud action done');
  }

  async #grainObject(id: string): Promise<Readonly<Record<string, unknown>>> {
    const ret = await this.#client.local(id, 'grains.item', { arg: [GRAIN] });
    const answer = ret[id];
    if (!isRecord(answer)) {
      throw new AutoscalerError('ASC_ERR_ACTION_FAILED', `minion ${id} did not answer grains.item ${GRAIN} (down or unknown)`);
    }
    const grain = answer[GRAIN];
    return isRecord(grain) ? grain : {};
  }
}

function failed(action: string, id: string, ret: unknown): AutoscalerError {
  const body = trimBody(JSON.stringify(ret) ?? 'nothing', 200);
  return new AutoscalerError('ASC_ERR_ACTION_FAILED', `salt-cloud did not ${action} ${id}: it answered ${body}`);
}
