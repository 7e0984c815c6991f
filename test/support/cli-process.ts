/**
 * cli-process: how tests run `salt-autoscaler` as a child process. They run the TypeScript sources through tsx, so a
 * test never checks a stale build; the compiled package (dist/ through bin/salt-autoscaler.js) is checked by
 * test/cli.test.ts (the bin runs dist) and test/e2e/packed-install.test.ts (npm pack, install, run).
 */
import { fileURLToPath } from 'node:url';

const TSX = import.meta.resolve('tsx');
const ENTRY = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));

/** cliArgs is the node argument list that runs `salt-autoscaler <args>` from the sources (works from any cwd). */
export function cliArgs(args: readonly string[]): string[] {
  return ['--import', TSX, ENTRY, ...args];
}
