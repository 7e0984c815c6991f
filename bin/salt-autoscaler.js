#!/usr/bin/env node
// bin/salt-autoscaler.js: entry point; runs the compiled CLI in dist/ (`npm run build`, which `npm ci` runs as `prepare`).
// serve is a daemon: its garbage-collector settings (src/heap-flags.ts) are set before anything else is loaded, so the
// young generation has not grown yet; a flag the user sets in NODE_OPTIONS or on node's command line wins.
if (process.argv[2] === 'serve') (await import('../dist/heap-flags.js')).applyServeHeapFlags();
const { main } = await import('../dist/cli.js');
process.exitCode = await main(process.argv.slice(2));
