import t from 'tap';
import { byCodeUnits } from '../../src/core/order.ts';

t.test('byCodeUnits orders by UTF-16 code units, not by locale', async (t) => {
  // a locale order would put 'a' before 'B' and 'é' before 'z'
  t.same(['z', 'é', 'a', 'B', 'pool-10', 'pool-9'].sort(byCodeUnits), ['B', 'a', 'pool-10', 'pool-9', 'z', 'é']);
  t.equal(byCodeUnits('x', 'x'), 0);
  t.equal(byCodeUnits('a', 'b'), -1);
  t.equal(byCodeUnits('b', 'a'), 1);
});
