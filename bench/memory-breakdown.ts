/**
 * bench/memory-breakdown: where the RSS of `salt-autoscaler serve` is, in the memory bench's setting (10,000 instances,
 * 1,000 salt events/s from the emulator). `npx tsx bench/memory-breakdown.ts [--seconds 40] [--aged PATH]`
 * (`--aged PATH`: start on a copy of the aged store at PATH, bench/aged-state.ts, written there first if missing, so
 * runs side by side start on the same state; without it, an empty store). Extra environment for the child (e.g.
 * `SALT_AUTOSCALER_HEAP_FLAGS`) passes through, as for every service-child bench.
 *
 * ```
 *  emulator child --SSE, 1,000 events/s--> serve child  <-- bench: VmRSS every second (steady = median of the second half)
 *  at the end: /proc/<pid>/smaps_rollup (file-backed vs anonymous), /proc/<pid>/smaps summed by mapping
 *              (the node binary, [heap] = malloc's main arena, anonymous: V8's 256 KiB heap pages and the rest)
 *              SIGUSR2 --> bench/memory-stats-probe.js: V8 heap spaces, memoryUsage, heap used after a full GC
 * ```
 */
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, writeConfig } from '../test/support/service-process.ts';
import { busNoise, fireAtRate, startEmulatorProcess } from './emulator-process.ts';
import { DEFAULT_FLEET, FLEET_PROVIDER, fleetConfig, fleetInstanceIds, fleetPools } from './fleet.ts';
import { fillAgedStore } from './aged-state.ts';
import { cpuSecondsOf, rssMiBOf, startServiceChild, waitServiceReady } from './service-child.ts';

const MIB = 1024 * 1024;
/** V8_PAGE_KB is the size of one V8 heap page (regular spaces): its anonymous mappings are counted apart. */
const V8_PAGE_KB = 256;

/** Mapping is one region of /proc/<pid>/smaps (kB). */
interface Mapping {
  readonly name: string;
  readonly sizeKb: number;
  rssKb: number;
}

/** readMappings parses /proc/<pid>/smaps into regions with their resident size. */
function readMappings(pid: number): Mapping[] {
  const regions: Mapping[] = [];
  let current: Mapping | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head !== null) {
      current = { name: head[3] === '' || head[3] === undefined ? '[anon]' : head[3], sizeKb: (parseInt(head[2] ?? '0', 16) - parseInt(head[1] ?? '0', 16)) / 1024, rssKb: 0 };
      regions.push(current);
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss !== null && current !== undefined) current.rssKb = Number(rss[1]);
  }
  return regions;
}

/** StatsLine is what bench/memory-stats-probe.js writes. */
interface StatsLine {
  readonly usage: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
  readonly heap: { total_physical_size: number; malloced_memory: number; peak_malloced_memory: number };
  readonly spaces: readonly { space_name: string; space_size: number; space_used_size: number; physical_space_size: number }[];
  readonly liveAfterGcBytes: number;
}

const mib = (bytes: number): string => (bytes / MIB).toFixed(1);
const mibOfKb = (kb: number): string => (kb / 1024).toFixed(1);

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '40' }, aged: { type: 'string' } }, strict: true });
const shape = DEFAULT_FLEET;
const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'asc-bench-breakdown-'));
const ids = fleetInstanceIds(shape);
const emu = await startEmulatorProcess(dir, { instances: ids.map((id) => ({ id, provider: FLEET_PROVIDER, state: 'stopped' as const })) });
try {
  const storePath = join(dir, 'state.db');
  if (values.aged !== undefined) {
    if (!existsSync(values.aged)) fillAgedStore(values.aged, shape, Date.now());
    copyFileSync(values.aged, storePath);
  }
  const port = await freePort();
  const configPath = writeConfig(dir, fleetConfig({
    shape, saltUrl: emu.url, storePath, listen: `127.0.0.1:${port}`, heartbeatInterval: '5s', ...(values.aged === undefined ? {} : { strategy: 'budget' as const }),
  }));
  const statsOut = join(dir, 'stats.jsonl');
  appendFileSync(statsOut, '');
  const probe = fileURLToPath(new URL('memory-stats-probe.js', import.meta.url));
  const service = await startServiceChild(configPath, port, join(dir, 'service.log'), { nodeArgs: ['--expose-gc', `--import=${probe}`], env: { BENCH_MEM_STATS_OUT: statsOut } });
  try {
    const pid = service.child.pid ?? 0;
    await waitServiceReady(service, fleetPools(shape).at(-1)?.name ?? '');
    const seconds = Number(values.seconds);
    const samples: number[] = [];
    const cpu0 = cpuSecondsOf(pid);
    const wall0 = Date.now();
    const sampler = setInterval(() => samples.push(rssMiBOf(pid)), 1_000);
    await fireAtRate(emu.url, 1_000, seconds * 1_000, busNoise(ids)).finally(() => clearInterval(sampler));
    const cpuShare = (cpuSecondsOf(pid) - cpu0) / ((Date.now() - wall0) / 1_000);
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const mappings = readMappings(pid);
    process.kill(pid, 'SIGUSR2');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const stats = JSON.parse(readFileSync(statsOut, 'utf8').trim().split('\n').at(-1) ?? '{}') as StatsLine;
    const half = samples.slice(Math.floor(samples.length / 2)).sort((a, b) => a - b);
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? Number.NaN);
    const byName = new Map<string, number>();
    for (const m of mappings) byName.set(m.name, (byName.get(m.name) ?? 0) + m.rssKb);
    const anon = mappings.filter((m) => m.name === '[anon]');
    const v8PagesKb = anon.filter((m) => m.sizeKb === V8_PAGE_KB).reduce((s, m) => s + m.rssKb, 0);
    const otherAnonKb = anon.filter((m) => m.sizeKb !== V8_PAGE_KB).reduce((s, m) => s + m.rssKb, 0);
    const node = mappings.filter((m) => m.name === process.execPath || m.name.endsWith('/bin/node'));
    process.stdout.write([
      `memory breakdown of serve: ${ids.length} instances, 1000 events/s for ${seconds} s, ${values.aged === undefined ? 'empty store' : 'aged store'}; service cpu ${cpuShare.toFixed(3)} of a core`,
      `  RSS: steady ${half[Math.floor(half.length / 2)] ?? Number.NaN} MiB (median of the second half); now ${mibOfKb(field('Rss'))} MiB = file-backed ${mibOfKb(field('Rss') - field('Anonymous'))} + anonymous ${mibOfKb(field('Anonymous'))}`,
      `  file-backed: node binary ${mibOfKb(node.reduce((s, m) => s + m.rssKb, 0))} MiB (${node.filter((m) => m.rssKb > 0).map((m) => `${mibOfKb(m.rssKb)} of ${mibOfKb(m.sizeKb)}`).join(', ')}), other files ${mibOfKb(field('Rss') - field('Anonymous') - node.reduce((s, m) => s + m.rssKb, 0))}`,
      `  anonymous: V8 heap pages (${V8_PAGE_KB} KiB mappings) ${mibOfKb(v8PagesKb)} MiB, malloc main arena [heap] ${mibOfKb(byName.get('[heap]') ?? 0)}, other anonymous ${mibOfKb(otherAnonKb)} (thread arenas and stacks, V8 large objects and code)`,
      `  V8: heap used ${mib(stats.usage.heapUsed)} MiB, after a full GC ${mib(stats.liveAfterGcBytes)}; committed ${mib(stats.heap.total_physical_size)}; external ${mib(stats.usage.external)} (array buffers ${mib(stats.usage.arrayBuffers)}); V8 malloced ${mib(stats.heap.malloced_memory)} (peak ${mib(stats.heap.peak_malloced_memory)})`,
      `  V8 spaces (committed / used MiB): ${stats.spaces.filter((s) => s.physical_space_size > 0).map((s) => `${s.space_name} ${mib(s.physical_space_size)} / ${mib(s.space_used_size)}`).join(', ')}`,
    ].join('\n') + '\n');
  } finally {
    await service.stop();
  }
} finally {
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
}
