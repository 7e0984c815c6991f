/**
 * fleet: the bench fleet, written as a real config document (a `matrix` of envs x instance types with a
 * reserved list templated by `{env}` / `{instanceType}`), so every bench builds its pools through the real
 * config schema (parseConfig) and main.ts `managedPool`, exactly as `serve` does.
 */

/** FleetShape says how big the bench fleet is: `pools` pools of `instancesPerPool` reserved instances each. */
export interface FleetShape {
  readonly pools: number;
  readonly instancesPerPool: number;
}

/** DEFAULT_FLEET is the fleet the issues ask for: 1,000 pools x 10 reserved instances = 10,000 instances. */
export const DEFAULT_FLEET: FleetShape = { pools: 1_000, instancesPerPool: 10 };

/** FLEET_PROVIDER is the salt-cloud provider every bench instance belongs to (the emulator's default one). */
export const FLEET_PROVIDER = 'emu-cloud';

/** FLEET_ENVS is how many envs the matrix spreads the pools over (pools / FLEET_ENVS instance types each). */
const FLEET_ENVS = 10;

/** fleetAxes splits `pools` into env and instance type names (envs x types = pools). */
function fleetAxes(pools: number): { envs: string[]; types: string[] } {
  const envCount = pools % FLEET_ENVS === 0 ? FLEET_ENVS : 1;
  const typeCount = pools / envCount;
  return {
    envs: Array.from({ length: envCount }, (_, i) => `env${i}`),
    types: Array.from({ length: typeCount }, (_, i) => `t${i}`),
  };
}

/** instanceIdOf names the k-th (1-based) reserved instance of a pool, as the config template does. */
export function instanceIdOf(env: string, instanceType: string, k: number): string {
  return `gpu-${env}-${instanceType}-${k}`;
}

/** fleetInstanceIds lists every reserved instance id of the fleet, pool by pool. */
export function fleetInstanceIds(shape: FleetShape): string[] {
  const { envs, types } = fleetAxes(shape.pools);
  const ids: string[] = [];
  for (const env of envs) {
    for (const type of types) {
      for (let k = 1; k <= shape.instancesPerPool; k += 1) ids.push(instanceIdOf(env, type, k));
    }
  }
  return ids;
}

/** FleetConfigOptions are the parts of the config that differ between benches. */
export interface FleetConfigOptions {
  readonly shape: FleetShape;
  readonly saltUrl: string;
  readonly storePath: string;
  readonly listen?: string;
  readonly webhookToken?: string;
  /** intervalS: the pools' scaling interval in seconds (cooldown between two actions). */
  readonly intervalS?: number;
  readonly logLevel?: string;
  readonly heartbeatInterval?: string;
  /** strategy: the pools' strategy (default threshold: its decisions need no history). */
  readonly strategy?: 'threshold' | 'budget';
}

/** fleetConfig builds the raw config document (as YAML would give it) of the bench fleet. */
export function fleetConfig(opts: FleetConfigOptions): Record<string, unknown> {
  const { envs, types } = fleetAxes(opts.shape.pools);
  const reserved = Array.from({ length: opts.shape.instancesPerPool }, (_, i) => instanceIdOf('{env}', '{instanceType}', i + 1));
  return {
    salt: {
      url: opts.saltUrl, username: 'autoscaler', password: 'secret', eauth: 'pam', transport: 'sse',
      heartbeatInterval: opts.heartbeatInterval ?? '30s', timeout: '10s',
    },
    store: { path: opts.storePath },
    http: {
      listen: opts.listen ?? '127.0.0.1:0',
      ...(opts.webhookToken === undefined ? {} : { webhookToken: opts.webhookToken }),
    },
    engine: { reconcileInterval: '1h', evaluateInterval: '1h' },
    log: { level: opts.logLevel ?? 'info' },
    matrix: {
      envs,
      instanceTypes: types,
      pool: {
        min: 0,
        max: opts.shape.instancesPerPool,
        upThreshold: 1,
        downThreshold: 0,
        interval: opts.intervalS ?? 60,
        strategy: opts.strategy ?? 'threshold',
        step: 1,
        provider: FLEET_PROVIDER,
        reserved,
        provisionTimeout: '24h',
      },
    },
  };
}

/** FleetPool is one pool of the fleet by its alert labels. */
export interface FleetPool {
  readonly name: string;
  readonly env: string;
  readonly instanceType: string;
}

/** fleetPools lists the pools of the fleet with their labels, in config order. */
export function fleetPools(shape: FleetShape): FleetPool[] {
  const { envs, types } = fleetAxes(shape.pools);
  return envs.flatMap((env) => types.map((instanceType) => ({ name: `${env}/${instanceType}`, env, instanceType })));
}

/** scaleUpPayload is one Alertmanager v4 notification asking `pool` to scale up, as of `nowMs`. */
export function scaleUpPayload(pool: FleetPool, nowMs: number, workload: number): Record<string, unknown> {
  const startsAt = new Date(nowMs).toISOString();
  const labels = { alertname: 'SaltAutoscalerScaleUp', env: pool.env, instance_type: pool.instanceType, severity: 'none' };
  return {
    version: '4',
    groupKey: `{}:{alertname="SaltAutoscalerScaleUp", env="${pool.env}", instance_type="${pool.instanceType}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'salt-autoscaler',
    groupLabels: { alertname: 'SaltAutoscalerScaleUp', env: pool.env, instance_type: pool.instanceType },
    commonLabels: labels,
    commonAnnotations: { workload: String(workload) },
    externalURL: 'http://alertmanager:9093',
    alerts: [{
      status: 'firing',
      labels,
      annotations: { workload: String(workload), summary: `queue of ${pool.name} is ${workload}` },
      startsAt,
      endsAt: new Date(nowMs + 15 * 60_000).toISOString(),
      generatorURL: 'http://prometheus:9090/graph',
      fingerprint: `fp-${pool.env}-${pool.instanceType}`,
    }],
  };
}
