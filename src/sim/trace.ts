/**
 * trace: per-minute demand traces for the simulator.
 *
 * Format: CSV with a header that has at least `time,running_gpus,pending_gpus` (extra columns ignored),
 * one row per minute; demand = running + pending GPUs. Files may be gzip-compressed (`.gz` or magic bytes).
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import { AutoscalerError } from '../errors.ts';

/** Trace is one demand trace, one sample per minute. */
export interface Trace {
  readonly name: string;
  /** demandGpus: running + pending GPUs, per minute. */
  readonly demandGpus: readonly number[];
  /** pendingGpus: the pending part of the demand, per minute. */
  readonly pendingGpus: readonly number[];
}

const gpuCount = z.coerce.number().int().nonnegative();

/** parseTrace reads the CSV text of a trace; it throws ASC_ERR_SIM_TRACE naming the first bad line. */
export function parseTrace(name: string, text: string): Trace {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  const running = header.indexOf('running_gpus');
  const pending = header.indexOf('pending_gpus');
  if (header[0] !== 'time' || running < 0 || pending < 0) {
    throw new AutoscalerError('ASC_ERR_SIM_TRACE', `trace ${name}: expected a header starting time,running_gpus,pending_gpus, got "${lines[0] ?? ''}"`);
  }
  const demandGpus: number[] = [];
  const pendingGpus: number[] = [];
  for (let n = 1; n < lines.length; n += 1) {
    const cells = (lines[n] ?? '').split(',');
    const r = gpuCount.safeParse(cells[running]);
    const p = gpuCount.safeParse(cells[pending]);
    if (!r.success || !p.success) {
      throw new AutoscalerError('ASC_ERR_SIM_TRACE', `trace ${name} line ${n + 1}: expected GPU counts (integers >= 0), got "${lines[n] ?? ''}"`);
    }
    demandGpus.push(r.data + p.data);
    pendingGpus.push(p.data);
  }
  if (demandGpus.length === 0) throw new AutoscalerError('ASC_ERR_SIM_TRACE', `trace ${name}: no rows after the header`);
  return { name, demandGpus, pendingGpus };
}

/** loadTrace reads a trace file (plain or gzip); the trace is named after the file without `.csv[.gz]`. */
export async function loadTrace(path: string): Promise<Trace> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new AutoscalerError('ASC_ERR_SIM_TRACE', `trace ${path} could not be read`, { cause });
  }
  const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b;
  const text = (gzipped ? gunzipSync(bytes) : bytes).toString('utf8');
  return parseTrace(basename(path).replace(/\.gz$/, '').replace(/\.csv$/, ''), text);
}
