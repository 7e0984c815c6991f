/**
 * tsx-sources: loads tsx so that tap's coverage can map V8's byte offsets back to .ts lines. The tap config
 * imports this file instead of `tsx` (package.json "tap" > "node-arg").
 *
 * Why: tsx puts `sourcesContent: [null]` in its inline source maps unless NODE_V8_COVERAGE is set, and tap
 * measures coverage through an inspector session without setting it. c8 (v8-to-istanbul) then takes the null as
 * an empty original file and every loaded file reports 1/1 statement covered. Setting NODE_V8_COVERAGE would
 * make Node write its own raw coverage file for every process, so instead a load hook placed in front of tsx
 * (tsx-sources-hooks.mjs) drops the empty sourcesContent, and c8 reads the .ts file from disk.
 *
 * Child processes that ask for tsx (`node --import tsx …`: the service and emulator processes of the tests) get
 * the same hook through NODE_OPTIONS; a child that does not ask for tsx (the compiled bin) is left alone.
 */
import { register } from 'node:module';
import process from 'node:process';

const SELF = import.meta.url;
const asksForTsx = (arg) => arg === 'tsx' || arg === '--import=tsx' || arg.includes('/node_modules/tsx/') || arg.endsWith('tsx-sources.mjs');

if (process.execArgv.some(asksForTsx)) {
  await import('tsx');
  // registered after tsx, so it runs first and sees what tsx produced (hooks chain last-in, first-out)
  register('./tsx-sources-hooks.mjs', import.meta.url);
}
if (!(process.env.NODE_OPTIONS ?? '').includes(SELF)) {
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${SELF}`.trim();
}
