/**
 * acl: salt-api's authorization of one call against a user's `external_auth` entry (the "perms" /login
 * answers), written from a reading of Salt 3006's `salt/utils/minions.py` (`auth_check`, `spec_check`,
 * `__fun_check`, `__args_check`, `validate_tgt`) and checked against the real master (real_02..05 and the
 * probe described in test/fixtures/salt-api/README.md, "7. The product's ACL").
 *
 * ```
 *  local / local_async:  some entry grants it
 *     "fun-regex"                    -> every minion, any arguments
 *     {"<target>": [fun entries]}    -> every minion the call resolves to matches <target>, and a fun entry grants it
 *  fun entry: "fun-regex" | {"fun-regex": {args: [regex|null, ...], kwargs: {name: regex|null}}} (or a list of those)
 *  runner / wheel (form):  "@<form>" | "@<form>s" | "@<module>"  -> every function (of that module)
 *                          {"@<form>": [fun entries]}           -> fun entries match "<module>.<fun>"
 *                          {"@<module>": [fun entries]}         -> fun entries match "<fun>"
 * ```
 * Every regex is Python's `re.match`: anchored at the start only (entries end in `$` to anchor the end); an
 * invalid one grants nothing. Positional `args` conditions are checked in order against `str(arg)`;
 * unlisted positions are free, a missing one fails. A call resolving to no known minion passes the
 * target check (there is nothing to refuse): Salt then answers `{}` (real_04).
 */
import { globMatch } from './wire.ts';
import { isRecord } from '../json-object.ts';

/** AclEntry is one entry of a user's external_auth list as Salt stores it (a string or a one-key object). */
export type AclEntry = string | Readonly<Record<string, unknown>>;
/** Acl is a user's external_auth list. */
export type Acl = readonly AclEntry[];

/** PERMISSIVE_ACL is what the old lab's user had (`auth_01`): every local function, every runner and wheel, /jobs. */
export const PERMISSIVE_ACL: Acl = ['.*', '@jobs', '@runner', '@wheel'];

/** LocalCall is what the local check needs: the function, its positional args and kwargs, the minions it resolves to. */
export interface LocalCall {
  readonly fun: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly minions: readonly string[];
}

/** SpecVerdict is the runner/wheel check: granted, refused, or a function name Salt cannot split (`mod.fun`). */
export type SpecVerdict = 'granted' | 'refused' | 'bad-syntax';

/** sortedPerms orders perms like salt-api's `sorted_permissions`: distinct strings sorted, then distinct objects. */
export function sortedPerms(acl: Acl): AclEntry[] {
  const strings = [...new Set(acl.filter((e): e is string => typeof e === 'string'))].sort();
  const objects = new Map<string, AclEntry>();
  for (const e of acl) if (typeof e !== 'string') objects.set(JSON.stringify(e), e);
  // Salt sorts the objects by repr(); JSON text orders these one-key objects the same way (by their key first)
  return [...strings, ...[...objects.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e)];
}

/** reMatch is Python's `re.match(pattern, value)` as a boolean: anchored at the start; an invalid pattern never matches. */
export function reMatch(pattern: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})`, 'u').test(value);
  } catch {
    return false;
  }
}

/** compoundMatch tells whether minion `id` matches a compound target of globs (`A or B`, `and`, `not`, `L@a,b`). */
export function compoundMatch(expr: string, id: string): boolean {
  const words = expr.trim().split(/\s+/).filter((w) => w !== '');
  // `or` binds loosest, then `and`, then `not`, as Python evaluates the expression Salt builds
  return splitOn(words, 'or').some((conj) => conj.length > 0 && splitOn(conj, 'and').every((term) => termMatch(term, id)));
}

function splitOn(words: readonly string[], op: string): string[][] {
  const out: string[][] = [[]];
  for (const w of words) {
    if (w === op) out.push([]);
    else out[out.length - 1]?.push(w);
  }
  return out;
}

function termMatch(term: readonly string[], id: string): boolean {
  let negate = false;
  let i = 0;
  while (term[i] === 'not') {
    negate = !negate;
    i += 1;
  }
  const word = term[i];
  if (word === undefined || i !== term.length - 1) return false;
  let hit: boolean;
  if (word.startsWith('L@')) hit = word.slice(2).split(',').includes(id);
  else if (word.startsWith('E@')) hit = reMatch(word.slice(2), id);
  else if (/^[A-Z]@/.test(word)) hit = false; // grains, pillar, subnet, ... targets: no world to match them against
  else hit = globMatch(word, id);
  return negate ? !hit : hit;
}

/** localAllowed is the check of a `local` / `local_async` call (publish's `auth_check`). */
export function localAllowed(acl: Acl, call: LocalCall): boolean {
  for (const entry of acl) {
    if (typeof entry === 'string') {
      if (reMatch(entry, call.fun)) return true;
      continue;
    }
    const only = oneKey(entry);
    if (only === undefined || only[0].startsWith('@')) continue;
    const [target, conds] = only;
    if (!call.minions.every((id) => compoundMatch(target, id))) continue;
    if (funCheck(conds, call.fun, call.args, call.kwargs)) return true;
  }
  return false;
}

/** specAllowed is the check of a runner or wheel call (`spec_check`); `kwarg` is the call's kwarg dict. */
export function specAllowed(acl: Acl, form: 'runner' | 'wheel', fun: string, kwarg: Readonly<Record<string, unknown>>): SpecVerdict {
  if (acl.length === 0) return 'refused';
  const comps = fun.split('.');
  if (comps.length !== 2) return 'bad-syntax';
  const [mod = '', name = ''] = comps;
  const args = Array.isArray(kwarg['arg']) ? (kwarg['arg'] as unknown[]) : undefined;
  const inner = kwarg['kwarg'];
  const kwargs = isRecord(inner) ? inner : undefined;
  for (const entry of acl) {
    if (typeof entry === 'string') {
      if (entry.startsWith('@') && (entry.slice(1) === mod || entry.slice(1) === form || entry === `@${form}s`)) return 'granted';
      continue;
    }
    const only = oneKey(entry);
    if (only === undefined || !only[0].startsWith('@')) continue;
    const [key, conds] = only;
    if (key.slice(1) === mod && funCheck(conds, name, args, kwargs)) return 'granted';
    if ((key.slice(1) === form || key === `@${form}s`) && funCheck(conds, fun, args, kwargs)) return 'granted';
  }
  return 'refused';
}

function oneKey(entry: Readonly<Record<string, unknown>>): [string, unknown] | undefined {
  const keys = Object.keys(entry);
  if (keys.length !== 1 || keys[0] === undefined) return undefined;
  return [keys[0], entry[keys[0]]];
}

function funCheck(conds: unknown, fun: string, args: readonly unknown[] | undefined, kwargs: Readonly<Record<string, unknown>> | undefined): boolean {
  for (const cond of Array.isArray(conds) ? conds : [conds]) {
    if (typeof cond === 'string') {
      if (reMatch(cond, fun)) return true;
    } else if (isRecord(cond)) {
      const only = oneKey(cond);
      if (only !== undefined && reMatch(only[0], fun) && argsCheck(only[1], args, kwargs)) return true;
    }
  }
  return false;
}

function argsCheck(valid: unknown, args: readonly unknown[] | undefined, kwargs: Readonly<Record<string, unknown>> | undefined): boolean {
  for (const cond of Array.isArray(valid) ? valid : [valid]) {
    if (!isRecord(cond)) continue;
    const condArgs: unknown[] = Array.isArray(cond['args']) ? cond['args'] : [];
    const argsOk = condArgs.every((pattern, i) => {
      if (args === undefined || args.length <= i) return false;
      return pattern === null || reMatch(String(pattern), pyStr(args[i]));
    });
    if (!argsOk) continue;
    const condKwargs = isRecord(cond['kwargs']) ? cond['kwargs'] : {};
    const kwargsOk = Object.entries(condKwargs).every(([k, pattern]) => {
      if (kwargs === undefined || !(k in kwargs)) return false;
      return pattern === null || reMatch(String(pattern), pyStr(kwargs[k]));
    });
    if (kwargsOk) return true;
  }
  return false;
}

/** pyStr approximates Python's `str()` of a JSON value, which is what Salt matches argument patterns against. */
function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  return pyRepr(v);
}

function pyRepr(v: unknown): string {
  if (typeof v === 'string') return `'${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (isRecord(v)) return `{${Object.entries(v).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  return pyStr(v);
}
