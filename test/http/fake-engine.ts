/**
 * fake-engine: a plain in-memory EngineApi for the HTTP layer's tests (the HTTP layer is an adapter over
 * this port). Tests change its fields to drive what the routes and the status page show.
 */
import type { Decision, Instance, PoolView, Transition } from '../../src/core/types.ts';
import type { AlertSignal, DecisionRecord, EngineApi } from '../../src/engine/ports.ts';

type SeriesPoint = ReturnType<EngineApi['series']>[number];

/** FakeEngine implements EngineApi over arrays the test controls; it records the calls it gets. */
export class FakeEngine implements EngineApi {
  poolViews: PoolView[] = [];
  instanceList: Instance[] = [];
  historyById = new Map<string, Transition[]>();
  decisionList: DecisionRecord[] = [];
  seriesByPool = new Map<string, SeriesPoint[]>();
  healthState = { stream: true, store: true };
  readonly calls: string[] = [];
  readonly signals: AlertSignal[] = [];
  /** onScale answers scale(); by default it returns a hold. */
  onScale: (pool: string, delta: number) => Promise<Decision | undefined> = async () => ({ kind: 'hold', reason: 'fake' });

  pools(): readonly PoolView[] { return this.poolViews; }
  instances(): readonly Instance[] { return this.instanceList; }
  history(id: string, limit?: number): readonly Transition[] {
    const list = this.historyById.get(id) ?? [];
    return limit === undefined ? list : list.slice(-limit);
  }
  decisions(pool?: string, limit?: number): readonly DecisionRecord[] {
    this.calls.push(`decisions ${pool ?? '*'} ${limit ?? '-'}`);
    const list = this.decisionList.filter((record) => pool === undefined || record.pool === pool);
    return limit === undefined ? list : list.slice(0, limit);
  }
  series(pool: string): readonly SeriesPoint[] { return this.seriesByPool.get(pool) ?? []; }
  alertSignal(signal: AlertSignal): void { this.signals.push(signal); }
  pause(pool: string): boolean { return this.setPaused(pool, true); }
  resume(pool: string): boolean { return this.setPaused(pool, false); }
  async scale(pool: string, delta: number): Promise<Decision | undefined> {
    this.calls.push(`scale ${pool} ${delta}`);
    return this.onScale(pool, delta);
  }
  health(): { readonly stream: boolean; readonly store: boolean } { return this.healthState; }

  private setPaused(pool: string, paused: boolean): boolean {
    const index = this.poolViews.findIndex((view) => view.name === pool);
    const view = this.poolViews[index];
    if (view === undefined) return false;
    this.calls.push(`${paused ? 'pause' : 'resume'} ${pool}`);
    this.poolViews[index] = { ...view, paused };
    return true;
  }
}

/** poolView builds a PoolView with zero counts unless given. */
export function poolView(name: string, fields: Partial<PoolView> = {}): PoolView {
  return { name, min: 0, max: 5, ready: 0, inFlight: 0, draining: 0, failed: 0, reserved: 2, paused: false, ...fields };
}

/** instance builds an Instance of a pool in a state since `sinceMs`. */
export function instance(id: string, pool: string, state: Instance['state'], sinceMs: number, reason = 'test'): Instance {
  return { id, pool, state, sinceMs, reason, created: false };
}
