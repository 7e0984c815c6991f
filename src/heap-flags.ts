/**
 * heap-flags: V8 settings for `serve`, a long-running daemon whose heap is small (~30 MiB live with 10,000 instances)
 * but whose event stream allocates ~16 KB of short-lived objects per salt event, and whose control work comes in bursts.
 *
 * With V8's defaults, sized for short bursts of throughput, that steady stream makes the young generation grow to
 * 2 x 16 MiB and lets old space grow to ~4x its live size before a full collection, so at 1,000 events/s the
 * process sits at ~200 MiB RSS of which ~70 MiB is garbage waiting for a collection (docs/benchmarks.md, memory).
 * Both settings below are read by V8 at each collection, so they take effect when set at runtime, and neither caps
 * the heap: a burst still gets all the memory it needs, collected sooner.
 *
 *   --semi-space-growth-factor=1   the young generation stays at its initial 2 x 1 MiB instead of growing to 2 x 16
 *   --heap-growing-percent=N       the next full collection is due at live size x (1 + N/100) (V8: up to 4x)
 *
 * One more, for the bursts: a scale-up wave (1,000 pools asked in the same second) runs code that is cold, and V8
 * compiles what turns hot with TurboFan on its worker threads, four of them, in the middle of the wave. On a 2-core
 * machine those compiles took ~0.35 of a core during the wave, from the main thread's share (docs/benchmarks.md, "The
 * wave's TurboFan compiles"). Code that stays hot (the event stream, the budget's replays) is optimized all the same,
 * after more runs; code hot for a second no longer is. Read by V8 each time a function's budget is set, so it takes
 * effect at runtime too:
 *
 *   --interrupt-budget=270336      a function must run 4x the bytecode of V8's default budget (Node 20: 67,584)
 *                                  before V8 considers optimizing it
 *
 * A flag the user sets wins: a flag of the same family is not set here, e.g. `NODE_OPTIONS=--max-semi-space-size=16`
 * keeps V8's young generation sizing up to 16 MiB. Node takes only a few V8 flags from NODE_OPTIONS (none of these), so
 * SALT_AUTOSCALER_HEAP_FLAGS replaces the list: `none` sets nothing (V8's own sizing), `--heap-growing-percent=50` sets
 * just that.
 */
import { setFlagsFromString } from 'node:v8';

/** HeapFlag is one V8 flag set for serve, and the flags whose presence on the user's side means "leave it". */
export interface HeapFlag {
  readonly flag: string;
  readonly userFlags: readonly string[];
}

/** SERVE_HEAP_FLAGS are the V8 flags `serve` sets unless the user set one of their family (see the file comment). */
export const SERVE_HEAP_FLAGS: readonly HeapFlag[] = [
  { flag: '--semi-space-growth-factor=1', userFlags: ['semi-space-growth-factor', 'max-semi-space-size', 'min-semi-space-size', 'optimize-for-size'] },
  { flag: '--heap-growing-percent=20', userFlags: ['heap-growing-percent', 'optimize-for-size'] },
  { flag: '--interrupt-budget=270336', userFlags: ['interrupt-budget'] },
];

/** flagName is the name of a node / V8 option as V8 compares it: no dashes in front, `_` as `-`, no `=value`. */
function flagName(arg: string): string {
  return arg.replace(/^-+/, '').split('=')[0]?.replaceAll('_', '-') ?? '';
}

/** HEAP_FLAGS_ENV names the environment variable that replaces SERVE_HEAP_FLAGS (`none`, or V8 flags). */
export const HEAP_FLAGS_ENV = 'SALT_AUTOSCALER_HEAP_FLAGS';

/** HeapFlagsChoice is the flags to set, or why the user's HEAP_FLAGS_ENV was refused. */
export type HeapFlagsChoice = { readonly flags: readonly string[] } | { readonly problem: string };

/**
 * heapFlagsToSet returns the user's HEAP_FLAGS_ENV list when it is set, else the flags of SERVE_HEAP_FLAGS the user
 * did not set themselves in `execArgv` (node's own command-line options) or NODE_OPTIONS.
 */
export function heapFlagsToSet(execArgv: readonly string[], env: Readonly<Record<string, string | undefined>>): HeapFlagsChoice {
  const chosen = env[HEAP_FLAGS_ENV];
  if (chosen !== undefined) {
    const flags = chosen.split(/\s+/).filter((a) => a !== '');
    if (flags.length === 1 && flags[0] === 'none') return { flags: [] };
    const bad = flags.find((f) => !/^--[a-z][a-z0-9_-]*(=[^\s=]+)?$/.test(f));
    if (bad !== undefined || flags.length === 0) {
      return { problem: `${HEAP_FLAGS_ENV}: expected 'none' or V8 flags such as --heap-growing-percent=50, got '${bad ?? chosen}'` };
    }
    return { flags };
  }
  // NODE_OPTIONS may quote its arguments ("--import=file:///a b.mjs" "--max-semi-space-size=8"), as test runners write it
  const fromEnv = (env['NODE_OPTIONS'] ?? '').split(/\s+/).map((a) => a.replace(/^"|"$/g, ''));
  const userArgs = [...execArgv, ...fromEnv].filter((a) => a.startsWith('-')).map(flagName);
  return { flags: SERVE_HEAP_FLAGS.filter((f) => !f.userFlags.some((name) => userArgs.includes(name))).map((f) => f.flag) };
}

/** applyServeHeapFlags sets the flags heapFlagsToSet chooses for this process; it returns the problem when it refused. */
export function applyServeHeapFlags(): string | undefined {
  const choice = heapFlagsToSet(process.execArgv, process.env);
  if ('problem' in choice) return choice.problem;
  for (const flag of choice.flags) setFlagsFromString(flag);
  return undefined;
}
