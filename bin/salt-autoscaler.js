#!/usr/bin/env node
// bin/salt-autoscaler.js: entry point; runs the compiled CLI in dist/ (`npm run build`, which `npm ci` runs as `prepare`).
// serve is a daemon: its garbage-collector settings (src/heap-flags.ts) are set before anything else is loaded, so the
// young generation has not grown yet; a flag the user sets, or SALT_AUTOSCALER_HEAP_FLAGS, wins.
const heapProblem = process.argv[2] === 'serve' ? (await import('../dist/heap-flags.js')).applyServeHeapFlags() : undefined;
if (heapProblem === undefined) {
  const { main } = await import('../dist/cli.js');
  process.exitCode = await main(process.argv.slice(2));
} else {
  process.stderr.write(`salt-autoscaler serve: ${heapProblem}\n`);
  process.exitCode = 2;
}
