import t from 'tap';
import { readFileSync } from 'node:fs';
import { AutoscalerError, ERROR_CODES, outcomeUnknown, SaltApiError, trimBody } from '../src/errors.ts';

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

t.test('outcomeUnknown: only a timeout (or 504) and a lost connection leave what Salt did unknown', async (t) => {
  const unknown = Object.keys(ERROR_CODES).filter((code) => outcomeUnknown(Object.assign(new Error(code), { code })));
  t.same(unknown, ['ASC_ERR_SALT_TIMEOUT', 'ASC_ERR_SALT_NETWORK'], 'of every registered code, these two');
  t.ok(outcomeUnknown(new SaltApiError('ASC_ERR_SALT_TIMEOUT', 'salt-api answered 504', { endpoint: '/', status: 504 })), 'salt-api\'s 504, as the client raises it');
  t.notOk(outcomeUnknown(new SaltApiError('ASC_ERR_SALT_RUNNER', 'cloud.action failed', { endpoint: '/', status: 500 })), 'Salt\'s own answer');
  t.ok(outcomeUnknown({ code: 'ASC_ERR_SALT_NETWORK' }), 'read by code: a port\'s error need not be an AutoscalerError');
  for (const err of [undefined, null, 'ASC_ERR_SALT_TIMEOUT', new Error('no code'), { code: 504 }]) t.notOk(outcomeUnknown(err), `not unknown: ${String(err)}`);
});
