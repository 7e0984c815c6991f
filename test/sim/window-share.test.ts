import t from 'tap';
import { ALERT_FOR_MINUTES, windowShares } from '../../src/sim/window-share.ts';

t.test('the worst share is over full windows only, the whole trace when it is shorter than one', async (t) => {
  // windows of 2: [4,4]/8 -> 0, [4,4] with 4 waiting -> 0.5, [4,4] with 4 -> 0.5
  t.equal(windowShares([4, 4, 4, 4], [0, 0, 4, 0], 2, 1).worstShare, 0.5);
  // the young window at minute 0 (4 of 4 waited, share 1) is not a full window: it does not count as the worst
  t.equal(windowShares([4, 4, 4, 4], [4, 0, 0, 0], 2, 1).worstShare, 0.5);
  t.equal(windowShares([4, 4, 4, 4], [0, 0, 4, 0], 4, 1).worstShare, 0.25, 'one window the length of the trace');
  t.equal(windowShares([4, 4, 4], [0, 4, 0], 10, 1).worstShare, 4 / 12, 'a trace shorter than the window: its whole share');
  t.equal(windowShares([0, 0, 8, 8], [0, 0, 0, 8], 2, 1).worstShare, 0.5, 'a window without demand has a share of 0');
  t.equal(windowShares([], [], 10, 0.01).worstShare, 0);
});

t.test('the alert fires only past its `for: 1h`, on the share as the gauge reads it (a young window from its start)', async (t) => {
  t.equal(ALERT_FOR_MINUTES, 60, 'the shipped rule waits 1h');
  const minutes = 1_000;
  const demand = new Array<number>(minutes).fill(1);
  // 1 unit waited at minute 0: the young window's share 1 / (t + 1) is above 1 % while t + 1 < 100, i.e. minutes 0..98:
  // 99 minutes above the budget, the last 39 of them past the hour
  const one = new Array<number>(minutes).fill(0);
  one[0] = 1;
  t.equal(windowShares(demand, one, 10_000, 0.01).alertHours, 39 / 60);
  // exactly an hour above the budget fires nothing: share 1 / (t + 1) > 1/60 for t = 0..58 (59 minutes)
  t.equal(windowShares(demand, one, 10_000, 1 / 60).alertHours, 0);
  // the waiting leaves a moving window: with a 30-minute window, 1 waited at minute 0 counts until minute 29 only
  t.equal(windowShares(demand, one, 30, 0.01).alertHours, 0, 'above the budget for 30 minutes: no alert');
  // waiting all along: above the budget from the first minute to the last
  t.equal(windowShares(demand, demand, 30, 0.01).alertHours, (minutes - ALERT_FOR_MINUTES) / 60);
  t.equal(windowShares(demand, new Array<number>(minutes).fill(0), 30, 0).alertHours, 0, 'nothing waited: never above even a budget of 0');
});
