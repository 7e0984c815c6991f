import t from 'tap';
import { costliestWindow, worstWindow } from '../../bench/budget-gap.ts';

t.test('the costliest window is where the policy paid most above the reference, by whole steps', async (t) => {
  // 6 minutes, windows of 2 stepped by 1: the policy pays 3 more in minutes 3 and 4, 1 more in minute 0
  t.same(costliestWindow([2, 1, 1, 4, 3, 1], [1, 1, 1, 2, 2, 1], 2, 1), { from: 3, excess: 3 });
  t.same(costliestWindow([2, 1, 1, 4, 3, 1], [1, 1, 1, 2, 2, 1], 2, 2), { from: 2, excess: 2 }, 'only windows that start on a step');
  t.same(costliestWindow([1, 1], [2, 2], 2, 1), { from: 0, excess: -2 }, 'a policy cheaper everywhere: the least saving');
  t.equal(costliestWindow([1], [1], 2, 1), undefined, 'a series shorter than the window has none');
});

t.test('the worst window is the one whose demand waited the largest share, by whole steps', async (t) => {
  // windows of 2 stepped by 1: minutes 2-3 waited 4 of 8, minutes 1-2 4 of 12
  t.same(worstWindow([8, 8, 4, 4], [0, 0, 4, 0], 2, 1), { from: 2, share: 0.5 });
  t.same(worstWindow([8, 8, 4, 4], [0, 0, 4, 0], 2, 2), { from: 2, share: 0.5 }, 'a step of 2 still reaches it');
  t.same(worstWindow([0, 0, 4, 4], [0, 0, 0, 0], 2, 1), { from: 1, share: 0 }, 'a window without demand is skipped');
  t.equal(worstWindow([0, 0], [0, 0], 2, 1), undefined, 'no demand at all: none');
});
