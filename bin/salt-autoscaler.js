#!/usr/bin/env node
// bin/salt-autoscaler.js: entry point; runs the compiled CLI in dist/ (`npm run build`, which `npm ci` runs as `prepare`).
const { main } = await import('../dist/cli.js');
process.exitCode = await main(process.argv.slice(2));
