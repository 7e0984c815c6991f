/**
 * options: the emulator's options (programmatic `startEmulator(opts)` and the `--world world.yaml` file of
 * `src/emulator/main.ts`), as one zod schema with defaults.
 */
import { z } from 'zod';
import { PERMISSIVE_ACL, type Acl } from './acl.ts';

/** InstanceOptionSchema describes one salt-cloud instance of the simulated world. */
export const InstanceOptionSchema = z.strictObject({
  id: z.string().min(1),
  provider: z.string().min(1).optional(),
  driver: z.string().min(1).optional(),
  state: z.enum(['running', 'stopped']).optional(),
  profile: z.string().min(1).optional(),
  grains: z.record(z.string(), z.unknown()).optional(),
  failDeploy: z.boolean().optional(),
});

/** InstanceOption is one instance of the world: `state: 'running'` starts it up, booted and ready. */
export type InstanceOption = z.infer<typeof InstanceOptionSchema>;

/** EmulatorOptionsSchema validates the options; every field is optional. */
export const EmulatorOptionsSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).optional(),
  host: z.string().min(1).optional(),
  /**
   * users: who may log in. `perms` is the user's external_auth list (strings and one-key objects, as in a
   * master.d file); without it, the user's entry in `masterConf` (none there: no permission at all).
   * Default: DEFAULT_USER (the product's user, with the shipped ACL) and PERMISSIVE_USER.
   */
  users: z.array(z.strictObject({
    username: z.string(), password: z.string(), eauth: z.string(),
    perms: z.array(z.union([z.string(), z.record(z.string(), z.unknown())])).readonly().optional(),
  })).optional(),
  /** masterConf: the master.d snippet whose external_auth and netapi_enable_clients apply (default: the shipped one). */
  masterConf: z.string().min(1).optional(),
  /** enabledClients: `netapi_enable_clients` (default: the master config's, else local, local_async, runner, runner_async). */
  enabledClients: z.array(z.string()).optional(),
  /** tokenExpireS: lifetime of a /login token in seconds (default 43200, Salt's token_expire). */
  tokenExpireS: z.number().positive().optional(),
  instances: z.array(InstanceOptionSchema).optional(),
  staticMinions: z.array(z.string().min(1)).optional(),
  profiles: z.record(z.string(), z.strictObject({ provider: z.string().min(1), driver: z.string().min(1).optional() })).optional(),
  /** delays of the simulated world in ms: cloud start/stop/create, minion boot after start, deploy orchestrate. */
  delays: z.strictObject({
    startMs: z.number().min(0).optional(),
    bootMs: z.number().min(0).optional(),
    deployMs: z.number().min(0).optional(),
    createMs: z.number().min(0).optional(),
    stopMs: z.number().min(0).optional(),
    /**
     * saltSecondMs: how long one second of Salt's own timeouts (manage.up's ping wait, salt-api's wait for a runner:
     * a lowstate `timeout`, else rest_timeout's 300 s) lasts. A runner whose world delays (createMs, startMs per
     * instance) outlast salt-api's wait is answered 504 and goes on, as in Salt.
     */
    saltSecondMs: z.number().min(0).optional(),
  }).optional(),
  /**
   * callDelays: how long the master takes to answer one lowstate chunk, by function name (`'*'`: every other
   * function): `ms` plus `perMinionMs` for each minion it covers (the targeted minions of a local call or of
   * manage.up, every cloud instance of cloud.query). None by default (tests answer at once); the fleet benches
   * pass REAL_MASTER_CALL_DELAYS.
   */
  callDelays: z.record(z.string(), z.strictObject({ ms: z.number().min(0), perMinionMs: z.number().min(0).optional() })).optional(),
  busy: z.array(z.string()).optional(),
  masterId: z.string().min(1).optional(),
});

/** EmulatorOptions configures `startEmulator`. */
export type EmulatorOptions = z.input<typeof EmulatorOptionsSchema>;

/** CallDelays is `callDelays` resolved: per function, a fixed part and a per-minion part, in ms. */
export type CallDelays = Readonly<Record<string, { readonly ms: number; readonly perMinionMs?: number | undefined }>>;

/**
 * REAL_MASTER_CALL_DELAYS model a Salt master with salt-api (rest_cherrypy) on a 2-core VM, the machine `npm run bench
 * -- --full` is judged on, for whoever runs the emulator without a master to time (tests, the demo, a bench run
 * without `../shared/salt`): `npm run bench` times the master of its own run and gives those delays to its reconcile
 * bench (bench/real-master.ts, `measuredDelays`). The same master on this VM answers up to ~2x slower one hour than
 * another (the host's speed: `JSON.parse` in bench/ingest.ts moved 381 -> 262 MB/s the same day, and the VM's CPU
 * changed between sessions, Intel Xeon to AMD EPYC), so the model is the middle of every recorded run it is of
 * (bench/results/real-master-*.json: the quiet ones, the moderately loaded ones, Salt 3006.10 and 3007.0, both hosts):
 * each call's fixed and per-node part chosen so that the worst ratio on either side of 1.025x is smallest (minimax in
 * log terms), which puts every such run within 0.7-1.5x (MODEL_BAND; table in docs/benchmarks.md). A master beside
 * our benches (load 9-33) is up to 10x slower than quiet, as recorded.
 * `cloud.query` took 0.74-1.33 s at 100 nodes and 1.2-2.3 s at 10,000 (the lab's localproc driver lists local
 * directories; a real provider pages an HTTP API, which can only be slower); `cloud.action` 0.8-1.18 s at 100 and
 * 1.1-2.0 s at 10,000 (salt-cloud lists the nodes to find the instance's provider); `manage.up` 0.58-1.22 s and
 * `grains.item` 0.19-0.37 s with the 3 live minions the lab runs. Their per-minion parts (the master decrypting and
 * storing each return) are estimates, not timings: thousands of live minions cannot be run on this machine; `'*'`
 * (event.send, grains.setval, the idle check) is not timed either. `cloud.query` and `cloud.action` scale with the
 * nodes the world holds, the others with the minions they target (functions.ts, coveredMinions).
 */
export const REAL_MASTER_CALL_DELAYS: CallDelays = {
  'cloud.query': { ms: 1_025, perMinionMs: 0.068 },
  'cloud.action': { ms: 1_095, perMinionMs: 0.04 },
  'manage.up': { ms: 860, perMinionMs: 0.05 },
  'grains.item': { ms: 270, perMinionMs: 0.05 },
  '*': { ms: 300 },
};

/** Delays are the resolved simulation timings in ms. */
export interface Delays {
  readonly startMs: number;
  readonly bootMs: number;
  readonly deployMs: number;
  readonly createMs: number;
  readonly stopMs: number;
  readonly saltSecondMs: number;
}

/** DEFAULT_DELAYS are short, so tests run fast; the demo passes longer ones. */
export const DEFAULT_DELAYS: Delays = { startMs: 20, bootMs: 50, deployMs: 50, createMs: 50, stopMs: 20, saltSecondMs: 10 };

/**
 * DEFAULT_USER is the product's salt-api user; its perms are its `external_auth.pam` entry of the master config
 * (the shipped salt/master.d/salt-autoscaler.conf unless `masterConf` says otherwise), enforced like salt-api does.
 */
export const DEFAULT_USER: EmulatorUser = { username: 'salt-autoscaler', password: 'secret', eauth: 'pam' };

/**
 * PERMISSIVE_USER may call everything (the old lab user's perms, auth_01), for tests about other things than
 * permissions: the salt-api client's and the emulator's own tests, and the documented commands run against it. It
 * is among the default users. The demo logs in as DEFAULT_USER, and so do the engine's tests
 * (test/support/engine-harness.ts `testEmulatorOptions`: the emulator alone with DEFAULT_USER, bound by the shipped
 * ACL), so a call the shipped ACL does not grant fails them.
 */
export const PERMISSIVE_USER: EmulatorUser = { username: 'autoscaler', password: 'secret', eauth: 'pam', perms: PERMISSIVE_ACL };

/** EmulatorUser is one entry of `users`. */
export interface EmulatorUser {
  readonly username: string;
  readonly password: string;
  readonly eauth: string;
  readonly perms?: Acl;
}

/** DEFAULT_ENABLED_CLIENTS is `netapi_enable_clients` when the master config does not set it: the shipped list. */
export const DEFAULT_ENABLED_CLIENTS: readonly string[] = ['local', 'local_async', 'runner', 'runner_async'];

/** DEFAULT_PROVIDER and DEFAULT_DRIVER name the salt-cloud provider of instances that do not say. */
export const DEFAULT_PROVIDER = 'emu-cloud';
/** DEFAULT_DRIVER is the salt-cloud driver name of DEFAULT_PROVIDER. */
export const DEFAULT_DRIVER = 'emu';
