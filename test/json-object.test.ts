import t from 'tap';
import { isRecord } from '../src/json-object.ts';

t.test('an object with keys, an empty object and a null-prototype object are records', async (t) => {
  t.ok(isRecord({ a: 1 }));
  t.ok(isRecord({}));
  t.ok(isRecord(Object.create(null)));
  t.ok(isRecord(JSON.parse('{"lab": {"localproc": {}}}')));
});

t.test('null, an array and every non-object value are not records', async (t) => {
  for (const value of [null, undefined, [], [{ a: 1 }], 'a string', 0, true, Symbol('s'), () => 1]) {
    t.notOk(isRecord(value), `${typeof value} ${String(Array.isArray(value) ? 'array' : value === null ? 'null' : '')}`);
  }
});
