import t from 'tap';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/errors.ts';
import { parseConfig, parseConfigText } from '../../src/config/load.ts';

const RUNS = 2_000;

const valid = {
  salt: { url: 'https://salt:8000', username: 'u', password: 'p', heartbeatInterval: '30s' },
  http: { listen: '127.0.0.1:9717', bodyLimit: '1MiB' },
  prometheus: { url: 'http://127.0.0.1:9090' },
  defaults: { provider: 'c', interval: '270s' },
  matrix: { envs: ['prod', 'dev'], instanceTypes: ['t1'], pool: { max: 3, reservedPattern: 'gpu-{env}-{instanceType}-*' } },
  pools: [
    { name: 'prod/t1', max: 5, min: 1 },
    { env: 'x', instanceType: 'y', max: 2, reserved: ['a', 'b'], idleCheck: { fun: 'cmd.retcode', args: ['/bin/idle'] }, failureBackoff: { base: '1m', max: '30m' } },
  ],
};

const scalar = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constantFrom('5m', '-1s', '1e400', 'NaN', '{env}', 'destroy', 'ws', '[::1]:80', 'http://x', ''));
const leafPaths: string[][] = [];
(function walk(v: unknown, path: string[]) {
  if (v !== null && typeof v === 'object') for (const [k, c] of Object.entries(v)) walk(c, [...path, k]);
  leafPaths.push(path);
})(valid, []);

/** mutate sets, deletes or adds a value at a path of the valid config. */
function mutate(base: unknown, path: readonly string[], op: 'set' | 'delete' | 'add', value: unknown): unknown {
  const copy = structuredClone(base) as Record<string, unknown>;
  if (path.length === 0) return op === 'set' ? value : copy;
  let node: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = path[path.length - 1] ?? '';
  if (op === 'delete') Reflect.deleteProperty(node, last);
  else if (op === 'add') node[`zz${last}`] = value;
  else node[last] = value;
  return copy;
}

const mutated = fc.array(fc.tuple(fc.constantFrom(...leafPaths), fc.constantFrom('set', 'delete', 'add'), fc.oneof(scalar, fc.jsonValue({ maxDepth: 2 }))), { minLength: 1, maxLength: 4 })
  .map((ops) => ops.reduce<unknown>((acc, [path, op, value]) => {
    try {
      return mutate(acc, path, op as 'set' | 'delete' | 'add', value);
    } catch {
      return acc;
    }
  }, valid));

function check(fn: () => unknown, stats: Map<string, number>): boolean {
  try {
    fn();
    stats.set('valid', (stats.get('valid') ?? 0) + 1);
    return true;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    stats.set(err.code, (stats.get(err.code) ?? 0) + 1);
    return err.problems.length > 0 && err.problems.every((p) => typeof p.path === 'string' && p.path !== '' && p.message !== '');
  }
}

t.test(`${RUNS} generated config objects and ${RUNS} YAML texts: only ConfigError, every problem with a path`, async (t) => {
  const stats = new Map<string, number>();
  fc.assert(fc.property(fc.oneof(mutated, fc.jsonValue({ maxDepth: 4 })), (raw) => check(() => parseConfig(raw, {}), stats)), { numRuns: RUNS, seed: 7 });
  fc.assert(fc.property(fc.oneof(mutated.map((v) => stringify(v)), fc.string(), mutated.map((v) => stringify(v)).chain((s) => fc.nat({ max: s.length }).map((n) => s.slice(0, n)))), (text) => check(() => parseConfigText(text, {}), stats)), { numRuns: RUNS, seed: 8 });
  t.comment(`config fuzz: ${JSON.stringify(Object.fromEntries(stats))}`);
  t.ok((stats.get('valid') ?? 0) > 0 && (stats.get('ASC_ERR_CONFIG_INVALID') ?? 0) > 0 && (stats.get('ASC_ERR_CONFIG_READ') ?? 0) > 0, 'the generator reaches valid, invalid and unreadable inputs');
});
