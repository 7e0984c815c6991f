/**
 * ops-command: `salt-autoscaler status|pause|resume|scale` — the HTTP API from a shell on the master, with the
 * address and the API token taken from the same config file the service runs with.
 *
 *   status [--json]        GET /api/pools, /api/instances, /api/decisions -> three tables (or one JSON object)
 *   pause POOL | resume POOL | scale POOL DELTA
 *                          POST /api/pools/<pool>/<action> with the bearer apiToken
 *
 * Exit codes: 0 done, 1 the service refused or could not be reached (its reason is printed), 2 bad usage.
 */
import { request } from 'undici';
import { commandSpec } from './commands.ts';
import { parseCommandLine, stringValue, UsageError } from './command-line.ts';
import type { Config } from './config/load.ts';
import type { DecisionJson, InstanceJson, PoolJson } from './http/api-shapes.ts';
import { budgetText, formatAge, leadText, overBudget } from './http/status-page.ts';

export type OpsAction = 'status' | 'pause' | 'resume' | 'scale';

interface Out { write(chunk: string): unknown }

/** serviceUrl is where the service answers, from `http.listen` (a wildcard bind is reached on loopback). */
export function serviceUrl(config: Pick<Config, 'http'>): string {
  const { host, port } = config.http;
  const reach = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reach.includes(':') ? `[${reach}]` : reach}:${port}`;
}

/** table renders rows under a header with columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

async function call(method: 'GET' | 'POST', url: string, token: string | undefined, body?: unknown): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await request(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await res.body.text();
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.statusCode, json };
}

function errorOf(json: unknown): string {
  if (typeof json === 'object' && json !== null && 'error' in json) return String((json as { error: unknown }).error);
  return typeof json === 'string' ? json.slice(0, 300) : JSON.stringify(json).slice(0, 300);
}

/** renderStatus prints the pools, the instances and the newest decisions as plain tables. */
export function renderStatus(pools: readonly PoolJson[], instances: readonly InstanceJson[], decisions: readonly DecisionJson[], nowMs: number): string {
  const poolTable = table(
    ['POOL', 'READY', 'IN FLIGHT', 'DRAINING', 'FAILED', 'RESERVED', 'MIN', 'MAX', 'PAUSED', 'LEAD', 'WAITING'],
    pools.map((p) => [
      p.name, String(p.ready), String(p.inFlight), String(p.draining), String(p.failed), String(p.reserved), String(p.min), String(p.max), p.paused ? 'yes' : 'no', leadText(p),
      // the status page's cell: waiting of budget (a young pool's part of the window), OVER as the over-budget alert judges it
      `${budgetText(p)}${overBudget(p) ? ' OVER' : ''}`,
    ]),
  );
  const active = instances.filter((i) => i.state !== 'stopped');
  const instanceTable = active.length === 0
    ? `no instance running (${instances.length} stopped)`
    : table(['INSTANCE', 'POOL', 'STATE', 'FOR', 'REASON'],
      active.map((i) => [i.id, i.pool, i.state, formatAge(nowMs - Date.parse(i.since)), i.reason]))
      + (instances.length > active.length ? `\n(${instances.length - active.length} more stopped)` : '');
  const decisionTable = decisions.length === 0
    ? 'no decisions yet'
    : table(['AT', 'POOL', 'ACTION', 'TARGETS', 'REASON'],
      decisions.map((d) => [d.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), d.pool, d.dryRun ? `${d.action} (dry run)` : d.action, d.targets.join(',') || '-', d.reason]));
  return `${poolTable}\n\n${instanceTable}\n\nLAST DECISIONS\n${decisionTable}\n`;
}

/** runOpsCommand runs one of status | pause | resume | scale against the service the config describes. */
export async function runOpsCommand(action: OpsAction, args: readonly string[], config: Config, out: Out, err: Out): Promise<number> {
  const spec = commandSpec(action);
  if (spec === undefined) throw new Error(`no spec for ${action}`);
  let parsed;
  try {
    parsed = parseCommandLine(spec, args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err.write(`${e.message}\n`);
    return 2;
  }
  const { positionals } = parsed;
  const values = { url: stringValue(parsed, 'url'), limit: stringValue(parsed, 'limit'), json: parsed.values['json'] };
  const base = (values.url ?? serviceUrl(config)).replace(/\/+$/, '');
  const token = config.http.apiToken;
  try {
    if (action === 'status') {
      const limit = Number(values.limit ?? '10');
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) { err.write('status: --limit must be a whole number from 1 to 1000\n'); return 2; }
      const [pools, instances, decisions] = await Promise.all([
        call('GET', `${base}/api/pools`, undefined), call('GET', `${base}/api/instances`, undefined), call('GET', `${base}/api/decisions?limit=${limit}`, undefined),
      ]);
      const failed = [pools, instances, decisions].find((r) => r.status !== 200);
      if (failed !== undefined) { err.write(`status: the service answered ${failed.status}: ${errorOf(failed.json)}\n`); return 1; }
      if (values.json === true) {
        out.write(`${JSON.stringify({ pools: pools.json, instances: instances.json, decisions: decisions.json })}\n`);
      } else {
        out.write(renderStatus(pools.json as PoolJson[], instances.json as InstanceJson[], decisions.json as DecisionJson[], Date.now()));
      }
      return 0;
    }
    const pool = positionals[0];
    if (pool === undefined || pool === '') { err.write(`${action}: expected a pool name, e.g. salt-autoscaler ${action} prod/type1${action === 'scale' ? ' 2' : ''} --config FILE\n`); return 2; }
    let body: unknown;
    if (action === 'scale') {
      const delta = Number(positionals[1]);
      if (!Number.isInteger(delta) || delta === 0) { err.write(`scale: expected a whole, non-zero delta after the pool (e.g. 2 or -1), got ${JSON.stringify(positionals[1] ?? '')}\n`); return 2; }
      body = { delta };
    }
    if (token === undefined) { err.write(`${action}: http.apiToken is not set (config or SALT_AUTOSCALER_API_TOKEN); the service refuses writes without it\n`); return 2; }
    const res = await call('POST', `${base}/api/pools/${encodeURIComponent(pool)}/${action}`, token, body);
    if (res.status !== 200) { err.write(`${action}: the service answered ${res.status}: ${errorOf(res.json)}\n`); return 1; }
    if (values.json === true) { out.write(`${JSON.stringify(res.json)}\n`); return 0; }
    const answer = res.json as { pool: string; paused?: boolean; delta?: number; decision?: { action: string; targets: string[]; reason: string } | null };
    if (action === 'scale') {
      const d = answer.decision;
      out.write(d === null || d === undefined ? `${pool}: nothing decided\n` : `${pool}: ${d.action}${d.targets.length > 0 ? ` ${d.targets.join(',')}` : ''} — ${d.reason}\n`);
    } else {
      out.write(`${pool}: ${answer.paused === true ? 'paused' : 'resumed'}\n`);
    }
    return 0;
  } catch (e) {
    const code = (e as { code?: string }).code;
    err.write(`${action}: cannot reach the service at ${base}${code === undefined ? '' : ` (${code})`}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
