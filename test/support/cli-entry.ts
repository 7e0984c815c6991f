/** cli-entry: runs the CLI from the TypeScript sources (what bin/salt-autoscaler.js does with the compiled dist/). */
import { main } from '../../src/cli.ts';

process.exitCode = await main(process.argv.slice(2));
