import t from 'tap';
import { readFileSync } from 'node:fs';
import { AutoscalerError, ERROR_CODES, trimBody } from '../src/errors.ts';

t.test('docs/errors.md lists exactly the codes of the error registry', async (t) => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `(ASC_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]));
  const registered = new Set(Object.keys(ERROR_CODES));
  t.same([...registered].filter((c) => !documented.has(c)), [], 'every registered code is documented');
  t.same([...documented].filter((c) => !registered.has(c as string)), [], 'every documented code is registered');
});

t.test('an AutoscalerError carries its code and cause', async (t) => {
  const cause = new Error('inner');
  const err = new AutoscalerError('ASC_ERR_SALT_HTTP', 'salt-api answered 502', { cause });
  t.equal(err.code, 'ASC_ERR_SALT_HTTP');
  t.equal(err.cause, cause);
  t.ok(err instanceof Error);
});

t.test('trimBody flattens whitespace and cuts long bodies with their length', async (t) => {
  t.equal(trimBody('<p>\n  Could not   authenticate</p>'), '<p> Could not authenticate</p>');
  const long = 'x'.repeat(500);
  const out = trimBody(long, 10);
  t.match(out, /^x{10}…\(500 chars\)$/);
});
