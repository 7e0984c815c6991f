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

t.test('the alert fires only past its `for: 1h`, on the share weighed by the part of the window measured', async (t) => {
  t.equal(ALERT_FOR_MINUTES, 60, 'the shipped rule waits 1h');
  const minutes = 1_000;
  const demand = new Array<number>(minutes).fill(1);
  const at0 = (waited: number): number[] => [waited, ...new Array<number>(minutes - 1).fill(0)];
  // a young pool's first rise: 1 waited at minute 0 is a share of 1 / (t + 1) of what it measured, but of a whole
  // window of 10,000 minutes at that rate only 1 / 10,000: below a 1 % budget, no alert
  t.equal(windowShares(demand, at0(1), 10_000, 0.01).alertHours, 0);
  // 200 waited at minute 0: 2 % of a whole window's demand, over the budget from the first minute: fires from minute 60
  t.equal(windowShares(demand, at0(200), 10_000, 0.01).alertHours, (minutes - ALERT_FOR_MINUTES) / 60);
  // a window that moves on: 200 waited at minute 0 is in a 30-minute window for minutes 0..29 only
  t.equal(windowShares(demand, at0(200), 30, 0.01).alertHours, 0, 'over the budget for 30 minutes: no alert');
  // with a 10-minute window, waiting in minutes 0..50 keeps the share above the budget until minute 59: 60 minutes
  const waitedFor = (n: number): number[] => [...new Array<number>(n).fill(1), ...new Array<number>(minutes - n).fill(0)];
  t.equal(windowShares(demand, waitedFor(51), 10, 0.01).alertHours, 0, 'over the budget for 60 minutes, not more: no alert');
  t.equal(windowShares(demand, waitedFor(52), 10, 0.01).alertHours, 1 / 60, 'over for 61 minutes: the alert fires for its last one');
  // waiting all along: above the budget from the first minute to the last
  t.equal(windowShares(demand, demand, 30, 0.01).alertHours, (minutes - ALERT_FOR_MINUTES) / 60);
  t.equal(windowShares(demand, new Array<number>(minutes).fill(0), 30, 0).alertHours, 0, 'nothing waited: never above even a budget of 0');
});
