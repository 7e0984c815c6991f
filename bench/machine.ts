/**
 * machine: how busy the machine is while a bench runs (other processes skew every latency figure): the 1-minute
 * load average and Linux CPU pressure (`/proc/pressure/cpu`, share of time some runnable task waited for a CPU).
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

/** MachineLoad is a snapshot of the machine's contention. */
export interface MachineLoad {
  readonly cpus: number;
  readonly cpu: string;
  readonly memGiB: number;
  readonly node: string;
  readonly loadAvg1: number;
  /** cpuPressureAvg10: `some avg10` of /proc/pressure/cpu in percent (undefined where PSI is not available). */
  readonly cpuPressureAvg10?: number;
}

/** machineLoad reads the snapshot now. */
export function machineLoad(): MachineLoad {
  let cpuPressureAvg10: number | undefined;
  try {
    const m = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    if (m?.[1] !== undefined) cpuPressureAvg10 = Number(m[1]);
  } catch {
    cpuPressureAvg10 = undefined;
  }
  return {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAvg1: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    ...(cpuPressureAvg10 === undefined ? {} : { cpuPressureAvg10 }),
  };
}

/** formatMachine renders the snapshot in one line. */
export function formatMachine(m: MachineLoad): string {
  return `${m.cpus} x ${m.cpu}, ${m.memGiB} GiB, node ${m.node}; load average ${m.loadAvg1}, cpu pressure ${m.cpuPressureAvg10 ?? 'n/a'}%`;
}
