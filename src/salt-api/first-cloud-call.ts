/**
 * first-cloud-call: the process's first salt-cloud call goes to the master alone.
 *
 * ```
 *   call A (first)  ──► sent at once ──────────────► answered ─► open: every call after goes at once, as before
 *   call B, C (asked while A is unanswered) ─► wait ─┘ (then go together)
 *   A fails without reaching salt-api (ASC_ERR_SALT_NETWORK) ─► still closed: the next call asked goes alone
 * ```
 *
 * Why: every salt-cloud runner (`cloud.query`, `cloud.action`, `cloud.profile`, `cloud.destroy`) builds a
 * `CloudClient`, whose constructor makes salt-cloud's cache dir with `salt.utils.verify.verify_env` (Salt 3006.10 and
 * 3007.0, salt/cloud/__init__.py); `verify_env` ends the process with the errno of a failed `makedirs`. On a fresh
 * master two first calls at once race there: on 3007.0 one of them answered `SystemExit: 17` (EEXIST), which fails
 * every instance of that call (docs/benchmarks.md). Once the dir exists it does not recur. The engine's startup
 * reconcile asks `cloud.query` first, but a manual scale (`POST /api/pools/<pool>/scale`, answered while the first
 * reconcile runs) and the stop of an instance reported failed on the event stream meanwhile are not held back by it:
 * either could reach salt-cloud while that `cloud.query` runs (test/engine/first-cloud-call.test.ts).
 *
 * What it costs: the calls asked during the first one wait for its answer (about a second on a real master), once per
 * process; after it, one boolean test per call. A master rebuilt under a running service is not covered.
 */
import { AutoscalerError } from '../errors.ts';

/** FirstCloudCall runs salt-cloud calls, the first of the process alone. */
export class FirstCloudCall {
  /** #first: the call in flight that goes alone; undefined before it, and again after one that never reached salt-api. */
  #first: Promise<void> | undefined;
  /** #open: a salt-cloud call has been answered; the cache dir exists on the master. */
  #open = false;

  /** run sends `call` now if the gate is open or no call is in flight yet; otherwise after the first one is answered. */
  run<T>(call: () => Promise<T>): Promise<T> {
    return this.#open ? call() : this.#gated(call);
  }

  async #gated<T>(call: () => Promise<T>): Promise<T> {
    while (!this.#open) {
      if (this.#first === undefined) {
        const sent = call();
        this.#first = sent.then(
          () => { this.#open = true; },
          (err: unknown) => {
            if (reachedSaltApi(err)) this.#open = true;
            else this.#first = undefined;
          },
        );
        return sent;
      }
      await this.#first;
    }
    return call();
  }
}

/** reachedSaltApi: the failed call was answered by salt-api or waited for (a timeout); only a connection that failed was not. */
function reachedSaltApi(err: unknown): boolean {
  return !(err instanceof AutoscalerError && err.code === 'ASC_ERR_SALT_NETWORK');
}
