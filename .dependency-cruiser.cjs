/**
 * Import rules of salt-autoscaler (STYLE.md, Layout): checked by `npm run depcruise`, part of `npm run check`;
 * test/rules/import-rules.test.ts proves each rule rejects the import it names.
 *
 *   core/ ◄── engine/ (and engine/ports.ts) ◄── adapters ◄── composition roots (top-level command files)
 *
 * - core/ is pure: it imports core/ only (no node:*, no package, no errors.ts).
 * - engine/ imports core/, its own files, errors.ts, and log.ts as types only: no node:*, no package, no adapter.
 * - adapters (salt-api, alertmanager, prometheus, store, http, config, sim, emulator) import core/,
 *   engine/ports.ts (types only), their own folder, the shared modules (errors.ts, log.ts, secret.ts, process-name.ts,
 *   json-object.ts, http-request.ts) and their libraries: never another adapter, never the engine beyond ports.ts, never a composition
 *   root. config/ is an adapter too (of the YAML file): composition roots read it and hand adapters plain options.
 * - emulator/ stands in for Salt: it knows nothing of our domain (no core/, no engine/).
 * - the shared top-level modules (errors, log, log-pretty, secret, process-name, json-object, http-request, command-line, commands) import no adapter,
 *   no engine and no composition root, so importing them never drags an adapter in.
 * - every other top-level file is a composition root (main.ts, cli.ts, *-command.ts, demo.ts): the only place
 *   that imports adapters and the engine together.
 */
const ADAPTERS = '(salt-api|alertmanager|prometheus|store|etcd|http|config|sim|emulator)';
const SHARED = '(errors|log|log-batch|log-pretty|secret|process-name|json-object|http-request|command-line|commands)';

module.exports = {
  forbidden: [
    {
      name: 'core-is-pure',
      comment: 'src/core imports only src/core: no node:*, no packages, no adapters, no engine',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { pathNot: '^src/core/' },
    },
    {
      name: 'engine-no-node-or-packages',
      comment: 'src/engine does no I/O of its own: no node:* built-in, no npm package (it reaches the world through ports.ts)',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { pathNot: '^src/' },
    },
    {
      name: 'engine-imports-core-and-ports',
      comment: 'src/engine imports src/core, its own files, errors.ts and log.ts: never an adapter or a composition root',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/', pathNot: ['^src/(core|engine)/', '^src/(errors|log)\\.ts$'] },
    },
    {
      name: 'engine-log-types-only',
      comment: 'src/engine may name the Logger type; creating loggers (pino) is the composition root\'s job',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/log\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'adapters-do-not-import-each-other',
      comment: 'an adapter never imports another adapter: the composition root passes what it needs (plain options, narrow interfaces)',
      severity: 'error',
      from: { path: `^src/${ADAPTERS}/` },
      to: { path: `^src/${ADAPTERS}/`, pathNot: '^src/$1/' },
    },
    {
      name: 'adapters-use-engine-ports-only',
      comment: 'an adapter implements the engine\'s ports (src/engine/ports.ts), never imports the engine itself',
      severity: 'error',
      from: { path: `^src/${ADAPTERS}/` },
      to: { path: '^src/engine/', pathNot: '^src/engine/ports\\.ts$' },
    },
    {
      name: 'adapters-use-port-types-only',
      comment: 'an adapter imports the port interfaces as types (import type): nothing of the engine runs inside an adapter',
      severity: 'error',
      from: { path: `^src/${ADAPTERS}/` },
      to: { path: '^src/engine/ports\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'adapters-import-errors-log-secret-only',
      comment: 'of the top-level files an adapter imports errors.ts, log.ts, secret.ts, process-name.ts, json-object.ts and http-request.ts only: never main.ts, a command, or the CLI parser (a command is a composition root: top level)',
      severity: 'error',
      from: { path: `^src/${ADAPTERS}/` },
      to: { path: '^src/[^/]+$', pathNot: '^src/(errors|log|secret|process-name|json-object|http-request)\\.ts$' },
    },
    {
      name: 'emulator-stands-alone',
      comment: 'the emulator stands in for Salt: it must not share our domain types, or it would agree with our bugs',
      severity: 'error',
      from: { path: '^src/emulator/' },
      to: { path: '^src/(core|engine)/' },
    },
    {
      name: 'shared-modules-import-no-adapter',
      comment: 'errors, log, log-batch, log-pretty, secret, process-name, json-object, http-request, command-line and commands import each other only, so any layer may use them',
      severity: 'error',
      from: { path: `^src/${SHARED}\\.ts$` },
      to: { path: '^src/', pathNot: `^src/${SHARED}\\.ts$` },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
