import t from 'tap';
import { worstWindowShare } from '../../bench/family-windows.ts';

t.test('the worst window share is the highest share of demand that waited over any window, not the whole trace\'s', async (t) => {
  // 4 GPUs every minute, 4 waited in minute 2: a quarter of the whole trace, half of the 2-minute windows that hold it
  t.equal(worstWindowShare([4, 4, 4, 4], [0, 0, 4, 0], 2), 0.5);
  t.equal(worstWindowShare([4, 4, 4, 4], [0, 0, 4, 0], 4), 0.25, 'one window the length of the trace: its whole share');
  t.equal(worstWindowShare([4, 4, 4], [4, 4, 4], 4), 0, 'a trace shorter than the window has no window');
  t.equal(worstWindowShare([0, 0, 8, 8], [0, 0, 0, 8], 2), 0.5, 'a window without demand counts for nothing');
});
