/**
 * cloud-batch: group commit for `cloud.action`. A start (or stop) asked while no call of its func is in flight goes
 * to Salt at once, in a call of its own; the ones asked while one is in flight queue and go out together at the end
 * of the turn, one call per func (at most `max` instances each). Each caller is settled from its own entry.
 *
 * ```
 *   start(a)          no start call in flight ─► cloud.action func=start instances=[a]      (at once, no waiting)
 *   start(b) start(c) stop(d)    (a's call in flight: queued; stop(d): no stop in flight ─► sent at once, alone)
 *     └─ setImmediate (end of this turn, never a timer) ─► cloud.action func=start instances=[b, c]
 *        (sent even if a's call has answered by then; a start asked before that joins the queue)
 *   in flight: from the send until its callers are settled, answer or error; counted per func
 *   {lab: {localproc: {b: node}}, "Not Actioned/Not Running": [c], "Not Found": [c]}
 *     └─ b resolves with its node, c rejects (ASC_ERR_ACTION_FAILED): each from its own entry
 *   the call fails (HTTP error, timeout) ─► every caller in it rejects with that error (and the func is free again)
 *   an answer of no known shape (a runner's traceback) ─► every caller in it fails, the answer in its message
 * ```
 *
 * Why the queue: a wave of 1,000 scale-ups in a second made 1,000 salt-api requests, each with its undici request,
 * its answer to parse and its promises in flight through every scavenge (docs/benchmarks.md, "no wave"); on a real
 * master each `cloud.action` also lists every node of every provider to find its instances (~1 s), once per call.
 * In a wave a call is in flight all the time, so the wave batches. Why at once when idle: a lone scale-up queued to
 * the end of the turn left after the webhook's answer was written (webhook -> start p50 0.32 -> 0.49 ms).
 *
 * What Salt does with several names (salt/cloud/__init__.py `Map.do_action`, the same in 3006.10 and 3007.0): it
 * lists the nodes of every provider once, runs the driver's action for each name it finds, one after the other,
 * and answers `{provider: {driver: {name: result}}}`; the names it did not find are listed under both
 * `"Not Actioned/Not Running"` and `"Not Found"` at the top of the same answer (and a driver without the action
 * puts its names under `"Invalid Actions"`). The runner takes no provider with names (SaltCloudConfigError), so a
 * batch is per func, not per provider. A driver that raises ends the whole runner: the call fails for every
 * name in it, as it would have for the one name of a call of its own; the reconcile the executor schedules finds
 * what Salt did start.
 */
import { AutoscalerError, trimBody } from '../errors.ts';
import { isRecord } from '../json-object.ts';

/** CloudFunc is a `cloud.action` func the service batches. */
export type CloudFunc = 'start' | 'stop';

/** CLOUD_ACTION_BATCH_MAX: the most instances one `cloud.action` call carries (Salt runs a batch's actions one after the other). */
export const CLOUD_ACTION_BATCH_MAX = 20;

/** NOT_ACTIONED_KEYS are the top-level keys of a `cloud.action` answer that list names instead of a provider's nodes. */
const NOT_ACTIONED_KEYS = ['Not Actioned/Not Running', 'Not Found', 'Invalid Actions'] as const;

/** CloudVerb is what a call asked salt-cloud to do to its instances: a `cloud.action` func, or `cloud.destroy`. */
export type CloudVerb = CloudFunc | 'destroy';

/** CloudOutcome is what the answer says about one instance: its node, or why it was not actioned. */
export type CloudOutcome =
  | { readonly id: string; readonly ok: true; readonly node: Readonly<Record<string, unknown>> }
  | { readonly id: string; readonly ok: false; readonly error: AutoscalerError };

/**
 * outcomesOf reads a `cloud.action` or `cloud.destroy` answer for each of `ids` (in their order): a node (an object)
 * without `Error` and without `destroyed: false` is done; a node with one, a node that is no object, a name listed as
 * not actioned, or a name the answer does not have failed. An answer that is no object (a runner's traceback string)
 * fails every name with the answer in its message.
 *
 * Both runners answer the same tree (salt/cloud/__init__.py, 3006.10 and 3007.0): `Cloud.destroy` also lists the
 * names it did not find under `"Not Found"` next to the ones it destroyed, and a destroy that raised in parallel mode
 * is the node `{"Error": "..."}`. `destroyed: false` is the one destroy-only word: a node that says it was not
 * destroyed failed (no start or stop node has the key; a destroy node is `{..., destroyed: true}`, req_59).
 */
export function outcomesOf(verb: CloudVerb, ids: readonly string[], ret: unknown): CloudOutcome[] {
  const nodes = new Map<string, unknown>();
  const listed = new Map<string, string[]>();
  if (isRecord(ret)) {
    for (const [key, value] of Object.entries(ret)) {
      if ((NOT_ACTIONED_KEYS as readonly string[]).includes(key)) {
        for (const name of listedNames(value)) listed.set(name, [...(listed.get(name) ?? []), key]);
        continue;
      }
      if (!isRecord(value)) continue;
      for (const drivers of Object.values(value)) {
        if (!isRecord(drivers)) continue;
        for (const [name, node] of Object.entries(drivers)) if (!nodes.has(name)) nodes.set(name, node);
      }
    }
  }
  return ids.map((id): CloudOutcome => {
    const node = nodes.get(id);
    if (isRecord(node) && !('Error' in node) && !('error' in node) && node['destroyed'] !== false) return { id, ok: true, node };
    const keys = listed.get(id);
    const said = node !== undefined ? `it answered ${trimBody(JSON.stringify(node) ?? 'nothing', 200)}`
      : keys !== undefined ? `it listed it under ${keys.map((k) => JSON.stringify(k)).join(' and ')}`
        : `it answered ${trimBody(JSON.stringify(ret) ?? 'nothing', 200)}`;
    return { id, ok: false, error: new AutoscalerError('ASC_ERR_ACTION_FAILED', `salt-cloud did not ${verb} ${id}: ${said}`) };
  });
}

/** listedNames: the names under a not-actioned key (a list, or `{fun: [names]}` for Invalid Actions). */
function listedNames(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (isRecord(value)) return Object.values(value).flatMap((v) => (Array.isArray(v) ? v.map(String) : []));
  return [];
}

/** Waiter is one caller of an instance in a queued batch. */
interface Waiter {
  readonly resolve: (node: Readonly<Record<string, unknown>>) => void;
  readonly reject: (err: unknown) => void;
}

/** CloudActionSend makes one `cloud.action func=<func> instances=<ids>` call and returns Salt's answer. */
export type CloudActionSend = (func: CloudFunc, ids: readonly string[]) => Promise<unknown>;

/**
 * CloudActionBatcher sends a request at once when no `cloud.action` of its func is in flight, and otherwise queues
 * it for the end of the turn, where the queue goes out in calls of at most `max` instances.
 */
export class CloudActionBatcher {
  readonly #send: CloudActionSend;
  readonly #max: number;
  readonly #queued = new Map<CloudFunc, Map<string, Waiter[]>>();
  readonly #inFlight = new Map<CloudFunc, number>();
  #scheduled = false;
  /** calls: `cloud.action` calls sent (for tests and benches). */
  calls = 0;

  constructor(send: CloudActionSend, max = CLOUD_ACTION_BATCH_MAX) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`a cloud.action batch holds at least one instance, got ${max}`);
    this.#send = send;
    this.#max = max;
  }

  /** request resolves with the instance's node once the call that carries it answered, and rejects as described above. */
  request(func: CloudFunc, id: string): Promise<Readonly<Record<string, unknown>>> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      let byId = this.#queued.get(func);
      if (byId === undefined && (this.#inFlight.get(func) ?? 0) === 0) {
        void this.#call(func, [id], new Map([[id, [waiter]]])); // idle: a call of its own, sent before this returns
        return;
      }
      if (byId === undefined) { byId = new Map(); this.#queued.set(func, byId); }
      const waiters = byId.get(id);
      if (waiters === undefined) byId.set(id, [waiter]);
      else waiters.push(waiter); // the same instance twice in one queue: one name, both settled from it
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => { this.#flush(); });
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const queued = [...this.#queued];
    this.#queued.clear();
    for (const [func, byId] of queued) {
      const ids = [...byId.keys()];
      for (let i = 0; i < ids.length; i += this.#max) void this.#call(func, ids.slice(i, i + this.#max), byId);
    }
  }

  async #call(func: CloudFunc, ids: readonly string[], byId: ReadonlyMap<string, readonly Waiter[]>): Promise<void> {
    this.calls += 1;
    this.#inFlight.set(func, (this.#inFlight.get(func) ?? 0) + 1);
    try {
      let ret: unknown;
      try {
        ret = await this.#send(func, ids);
      } catch (err) {
        for (const id of ids) for (const w of byId.get(id) ?? []) w.reject(err);
        return;
      }
      for (const outcome of outcomesOf(func, ids, ret)) {
        for (const w of byId.get(outcome.id) ?? []) {
          if (outcome.ok) w.resolve(outcome.node);
          else w.reject(outcome.error);
        }
      }
    } finally {
      this.#inFlight.set(func, (this.#inFlight.get(func) ?? 1) - 1);
    }
  }
}
