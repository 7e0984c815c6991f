/**
 * main: the emulator as a process, for end-to-end tests and `npm run demo`:
 * `tsx src/emulator/main.ts [--port 18000] [--host 127.0.0.1] [--world world.yaml]`.
 * Prints one JSON line `{"url": "http://127.0.0.1:18000"}` on stdout once listening; serves until SIGTERM/SIGINT.
 * The world file holds EmulatorOptions (instances, staticMinions, profiles, delays, users, ...) as YAML.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { EmulatorOptionsSchema } from './options.ts';
import { startEmulator } from './server.ts';

const { values } = parseArgs({
  options: { port: { type: 'string' }, host: { type: 'string' }, world: { type: 'string' } },
  strict: true,
});

const fromFile: unknown = values.world === undefined ? {} : parseYaml(readFileSync(values.world, 'utf8'));
const parsed = EmulatorOptionsSchema.safeParse(fromFile ?? {});
if (!parsed.success) {
  for (const issue of parsed.error.issues) process.stderr.write(`${values.world ?? 'world'}: ${issue.path.join('.')}: ${issue.message}\n`);
  process.exit(2);
}
const opts = {
  ...parsed.data,
  ...(values.port === undefined ? {} : { port: Number(values.port) }),
  ...(values.host === undefined ? {} : { host: values.host }),
};
const emulator = await startEmulator(opts);
process.stdout.write(`${JSON.stringify({ url: emulator.url })}\n`);

const stop = (): void => {
  emulator.close().then(() => process.exit(0), (err: unknown) => {
    process.stderr.write(`salt-api emulator: close failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
