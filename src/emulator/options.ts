/**
 * options: the emulator's options (programmatic `startEmulator(opts)` and the `--world world.yaml` file of
 * `src/emulator/main.ts`), as one zod schema with defaults.
 */
import { z } from 'zod';

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
  users: z.array(z.strictObject({ username: z.string(), password: z.string(), eauth: z.string() })).optional(),
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
  }).optional(),
  busy: z.array(z.string()).optional(),
  masterId: z.string().min(1).optional(),
});

/** EmulatorOptions configures `startEmulator`. */
export type EmulatorOptions = z.input<typeof EmulatorOptionsSchema>;

/** Delays are the resolved simulation timings in ms. */
export interface Delays {
  readonly startMs: number;
  readonly bootMs: number;
  readonly deployMs: number;
  readonly createMs: number;
  readonly stopMs: number;
}

/** DEFAULT_DELAYS are short, so tests run fast; the demo passes longer ones. */
export const DEFAULT_DELAYS: Delays = { startMs: 20, bootMs: 50, deployMs: 50, createMs: 50, stopMs: 20 };

/** DEFAULT_USER is the salt-api user the emulator accepts unless `users` is given. */
export const DEFAULT_USER = { username: 'autoscaler', password: 'secret', eauth: 'pam' } as const;

/** DEFAULT_PROVIDER and DEFAULT_DRIVER name the salt-cloud provider of instances that do not say. */
export const DEFAULT_PROVIDER = 'emu-cloud';
/** DEFAULT_DRIVER is the salt-cloud driver name of DEFAULT_PROVIDER. */
export const DEFAULT_DRIVER = 'emu';
