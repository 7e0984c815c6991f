/**
 * import-rules: the import rules of .dependency-cruiser.cjs hold. A temp copy of src/ gets one probe file per
 * forbidden edge (each imports across that edge); one dependency-cruiser run over the copy, with the repository's
 * config, must name the expected rule for every probe, let the allowed probes through, and find nothing else:
 * what it reports outside the probes is a real violation in src/.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Probe is one file written into the copy of src/ and the rule that must reject it (undefined: it must pass). */
interface Probe {
  readonly file: string;
  readonly source: string;
  readonly rule: string | undefined;
  /** append: add the source to the copied file instead of writing a new one (the shared modules have fixed names). */
  readonly append?: true;
  /** cycleWith: the other file of a cycle (dependency-cruiser reports a cycle once, from either side). */
  readonly cycleWith?: string;
}

const forbidden: readonly Probe[] = [
  // the 8 imports the rules used to let through (issue 11)
  { file: 'src/engine/probe-undici.ts', source: "import { request } from 'undici';\nexport const probe = request;\n", rule: 'engine-no-node-or-packages' },
  { file: 'src/engine/probe-node-fs.ts', source: "import { readFileSync } from 'node:fs';\nexport const probe = readFileSync;\n", rule: 'engine-no-node-or-packages' },
  { file: 'src/engine/probe-emulator.ts', source: "import { startEmulator } from '../emulator/index.ts';\nexport const probe = startEmulator;\n", rule: 'engine-imports-core-and-ports' },
  { file: 'src/salt-api/probe-store.ts', source: "import { openStore } from '../store/sqlite-store.ts';\nexport const probe = openStore;\n", rule: 'adapters-do-not-import-each-other' },
  { file: 'src/http/probe-salt-api.ts', source: "import { SaltClient } from '../salt-api/client.ts';\nexport const probe = SaltClient;\n", rule: 'adapters-do-not-import-each-other' },
  { file: 'src/http/probe-store.ts', source: "import type { SqliteStore } from '../store/sqlite-store.ts';\nexport type Probe = SqliteStore;\n", rule: 'adapters-do-not-import-each-other' },
  { file: 'src/sim/probe-engine.ts', source: "import { Engine } from '../engine/engine.ts';\nexport const probe = Engine;\n", rule: 'adapters-use-engine-ports-only' },
  { file: 'src/sim/probe-salt-api.ts', source: "import { SaltApiActions } from '../salt-api/actions.ts';\nexport const probe = SaltApiActions;\n", rule: 'adapters-do-not-import-each-other' },
  { file: 'src/alertmanager/probe-config.ts', source: "import type { Config } from '../config/schema.ts';\nexport type Probe = Config;\n", rule: 'adapters-do-not-import-each-other' },
  { file: 'src/http/probe-prometheus.ts', source: "import { createMetrics } from '../prometheus/metrics.ts';\nexport const probe = createMetrics;\n", rule: 'adapters-do-not-import-each-other' },
  // core is pure
  { file: 'src/core/probe-node.ts', source: "import { createHash } from 'node:crypto';\nexport const probe = createHash;\n", rule: 'core-is-pure' },
  { file: 'src/core/probe-package.ts', source: "import { z } from 'zod';\nexport const probe = z;\n", rule: 'core-is-pure' },
  { file: 'src/core/probe-adapter.ts', source: "import type { SqliteStore } from '../store/sqlite-store.ts';\nexport type Probe = SqliteStore;\n", rule: 'core-is-pure' },
  { file: 'src/core/probe-engine.ts', source: "import type { Clock } from '../engine/ports.ts';\nexport type Probe = Clock;\n", rule: 'core-is-pure' },
  // the engine
  { file: 'src/engine/probe-adapter.ts', source: "import type { SqliteStore } from '../store/sqlite-store.ts';\nexport type Probe = SqliteStore;\n", rule: 'engine-imports-core-and-ports' },
  { file: 'src/engine/probe-root.ts', source: "import { startService } from '../main.ts';\nexport const probe = startService;\n", rule: 'engine-imports-core-and-ports' },
  { file: 'src/engine/probe-log-value.ts', source: "import { createLogger } from '../log.ts';\nexport const probe = createLogger;\n", rule: 'engine-log-types-only' },
  // adapters
  { file: 'src/store/probe-salt-api.ts', source: "import type { SaltClient } from '../salt-api/client.ts';\nexport type Probe = SaltClient;\n", rule: 'adapters-do-not-import-each-other' },
  { file: 'src/config/probe-prometheus.ts', source: "import type { PoolQuery } from '../prometheus/source.ts';\nexport type Probe = PoolQuery;\n", rule: 'adapters-do-not-import-each-other' },
  { file: 'src/prometheus/probe-config.ts', source: "import { defaultWorkloadQuery } from '../config/schema.ts';\nexport const probe = defaultWorkloadQuery;\n", rule: 'adapters-do-not-import-each-other' },
  { file: 'src/emulator/probe-salt-api.ts', source: "import { SaltClient } from '../salt-api/client.ts';\nexport const probe = SaltClient;\n", rule: 'adapters-do-not-import-each-other' },
  { file: 'src/store/probe-ports-value.ts', source: "import { Clock } from '../engine/ports.ts';\nexport const probe: Clock | undefined = undefined;\n", rule: 'adapters-use-port-types-only' },
  { file: 'src/sim/probe-command-line.ts', source: "import { parseCommandLine } from '../command-line.ts';\nexport const probe = parseCommandLine;\n", rule: 'adapters-import-errors-log-secret-only' },
  { file: 'src/salt-api/probe-main.ts', source: "import { startService } from '../main.ts';\nexport const probe = startService;\n", rule: 'adapters-import-errors-log-secret-only' },
  { file: 'src/emulator/probe-core.ts', source: "import type { Instance } from '../core/types.ts';\nexport type Probe = Instance;\n", rule: 'emulator-stands-alone' },
  // the shared modules drag no adapter in
  { file: 'src/log.ts', source: "\nimport type { Config } from './config/schema.ts';\nexport type Probe = Config;\n", rule: 'shared-modules-import-no-adapter', append: true },
  { file: 'src/errors.ts', source: "\nimport type { Clock } from './engine/ports.ts';\nexport type Probe = Clock;\n", rule: 'shared-modules-import-no-adapter', append: true },
  { file: 'src/json-object.ts', source: "\nimport { SaltClient } from './salt-api/client.ts';\nexport const probe = SaltClient;\n", rule: 'shared-modules-import-no-adapter', append: true },
  // cycles
  { file: 'src/sim/probe-cycle-a.ts', source: "import { b } from './probe-cycle-b.ts';\nexport const a = (): number => b() + 1;\n", rule: 'no-circular', cycleWith: 'src/sim/probe-cycle-b.ts' },
];

/** helpers are written but not judged on their own (the other half of a cycle). */
const helpers: readonly Probe[] = [
  { file: 'src/sim/probe-cycle-b.ts', source: "import { a } from './probe-cycle-a.ts';\nexport const b = (): number => a() - 1;\n", rule: 'no-circular' },
];

const allowed: readonly Probe[] = [
  { file: 'src/engine/probe-log-type.ts', source: "import type { Logger } from '../log.ts';\nexport type Probe = Logger;\n", rule: undefined },
  { file: 'src/engine/probe-core-errors.ts', source: "import { decide } from '../core/decide.ts';\nimport { AutoscalerError } from '../errors.ts';\nexport const probe = [decide, AutoscalerError];\n", rule: undefined },
  { file: 'src/store/probe-ports-type.ts', source: "import type { Clock } from '../engine/ports.ts';\nimport { AutoscalerError } from '../errors.ts';\nimport type { Logger } from '../log.ts';\nexport type Probe = Clock | Logger | AutoscalerError;\n", rule: undefined },
  { file: 'src/emulator/probe-json-object.ts', source: "import { isRecord } from '../json-object.ts';\nexport const probe = isRecord;\n", rule: undefined },
  { file: 'src/http/probe-shared.ts', source: "import { secretsEqual } from '../secret.ts';\nimport type { Instance } from '../core/types.ts';\nexport const probe: [typeof secretsEqual, Instance?] = [secretsEqual];\n", rule: undefined },
  { file: 'src/probe-root.ts', source: "import { Engine } from './engine/engine.ts';\nimport { openStore } from './store/sqlite-store.ts';\nimport { SaltClient } from './salt-api/client.ts';\nimport { loadConfig } from './config/load.ts';\nexport const probe = [Engine, openStore, SaltClient, loadConfig];\n", rule: undefined },
];

interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: { readonly name: string; readonly severity: string };
}

/** cruise runs dependency-cruiser over `dir/src` with the repository's config and returns its violations. */
async function cruise(dir: string): Promise<readonly Violation[]> {
  const bin = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
  const child = spawn(process.execPath, [bin, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk; });
  await once(child, 'close');
  let report: { summary?: { violations?: Violation[] } };
  try {
    report = JSON.parse(out) as typeof report;
  } catch (cause) {
    throw new Error(`dependency-cruiser gave no JSON report (stderr: ${err.slice(0, 2000)})`, { cause });
  }
  const violations = report.summary?.violations;
  if (violations === undefined) throw new Error('dependency-cruiser report has no summary.violations');
  return violations;
}

t.test('the import rules reject every forbidden edge and only those', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'import-rules-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(ROOT, 'src'), join(dir, 'src'), { recursive: true });
  for (const name of ['.dependency-cruiser.cjs', 'tsconfig.json', 'package.json']) cpSync(join(ROOT, name), join(dir, name));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  for (const probe of [...forbidden, ...allowed, ...helpers]) {
    const path = join(dir, probe.file);
    mkdirSync(dirname(path), { recursive: true });
    if (probe.append === true) appendFileSync(path, probe.source);
    else writeFileSync(path, probe.source);
  }

  const violations = await cruise(dir);
  const probed = new Set([...forbidden, ...allowed, ...helpers].map((p) => p.file));

  t.same(violations.filter((v) => !probed.has(v.from)).map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`), [],
    'src/ itself has no violation (npm run depcruise passes)');
  for (const probe of forbidden) {
    const names = violations.filter((v) => v.from === probe.file || v.from === probe.cycleWith).map((v) => v.rule.name);
    t.ok(names.includes(probe.rule ?? ''), `${probe.file} is rejected by ${probe.rule ?? ''}`, { found: names });
  }
  for (const probe of allowed) {
    t.same(violations.filter((v) => v.from === probe.file).map((v) => `${v.rule.name} -> ${v.to}`), [], `${probe.file} is allowed`);
  }
  t.ok(violations.every((v) => v.rule.severity === 'error'), 'every rule is an error (npm run check fails on it)');
});
