/** Import rules of salt-autoscaler (see STYLE: core is pure, only main.ts wires adapters). */
module.exports = {
  forbidden: [
    {
      name: 'core-is-pure',
      comment: 'src/core imports only src/core: no node:*, no packages, no adapters',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { pathNot: '^src/core/' },
    },
    {
      name: 'engine-imports-core-and-ports',
      comment: 'src/engine may import src/core, its own files and the error/log base, never an adapter',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/(salt-api|alertmanager|prometheus|store|etcd|http|config|sim|emulator)/' },
    },
    {
      name: 'adapters-do-not-import-each-other',
      severity: 'error',
      comment: 'adapters import core/ and the engine ports (types), never the engine itself or another adapter',
      from: { path: '^src/(salt-api|alertmanager|prometheus|store|etcd)/' },
      to: { path: '^src/(engine|http|sim)/', pathNot: '^src/engine/ports\\.ts$' },
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
