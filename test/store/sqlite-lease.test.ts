/**
 * lease: the single-writer lease on the state file — the store's tryLease/releaseLease semantics on a real SQLite
 * file, and the LeaseKeeper (standby, take-over of a dead holder, renewal, loss, mayAct) on a manual clock.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { LeaseKeeper, parseOwner } from '../../src/store/sqlite-lease.ts';
import { localHost } from '../../src/process-name.ts';
import { openStore } from '../../src/store/sqlite-store.ts';
import { waitFor } from '../support/engine-harness.ts';

const logger = pino({ level: 'silent' });
const T0 = 1_800_000_000_000;

function tempStorePath(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'asc-lease-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'state.db');
}

t.test('tryLease: free -> taken; held and unexpired -> refused; expired -> taken over; renew keeps acquiredMs', async (t) => {
  const path = tempStorePath(t);
  const a = openStore(path, { logger });
  const b = openStore(path, { logger }); // a second process on the same file
  t.teardown(() => { a.close(); b.close(); });
  t.same(a.tryLease('A', T0, 15_000), { owner: 'A', acquiredMs: T0, expiresMs: T0 + 15_000 }, 'a free lease is taken');
  t.same(b.tryLease('B', T0 + 1_000, 15_000), { owner: 'A', acquiredMs: T0, expiresMs: T0 + 15_000 }, 'an unexpired lease of A is refused to B');
  t.same(a.tryLease('A', T0 + 5_000, 15_000), { owner: 'A', acquiredMs: T0, expiresMs: T0 + 20_000 }, 'A renews: later expiry, same acquiredMs');
  t.same(b.tryLease('B', T0 + 20_001, 15_000), { owner: 'B', acquiredMs: T0 + 20_001, expiresMs: T0 + 35_001 }, 'an expired lease is taken over');
  t.same(a.tryLease('A', T0 + 21_000, 15_000).owner, 'B', 'A no longer holds it');
});

t.test('tryLease: takeOver decides for an unexpired holder; releaseLease frees only its own lease', async (t) => {
  const path = tempStorePath(t);
  const store = openStore(path, { logger });
  t.teardown(() => store.close());
  store.tryLease('A', T0, 15_000);
  const seen: string[] = [];
  t.equal(store.tryLease('B', T0 + 1, 15_000, (h) => { seen.push(h.owner); return false; }).owner, 'A', 'takeOver false: refused');
  t.same(seen, ['A'], 'takeOver is asked about the holder');
  store.releaseLease('B');
  t.equal(store.tryLease('B', T0 + 2, 15_000).owner, 'A', 'a release by a non-holder changes nothing');
  t.equal(store.tryLease('B', T0 + 3, 15_000, () => true).owner, 'B', 'takeOver true: taken');
  store.releaseLease('B');
  t.equal(store.tryLease('C', T0 + 4, 15_000).owner, 'C', 'a released lease is free at once');
});

t.test('parseOwner reads host and pid back from the owner string', async (t) => {
  t.same(parseOwner('gpu-master-1:4242:ab12cd34'), { host: 'gpu-master-1', pid: 4242 });
  t.same(parseOwner('[::1]:host:77:x'), { host: '[::1]:host', pid: 77 });
  t.same(parseOwner('gpu-master-1@4026531836:4242:ab12cd34'), { host: 'gpu-master-1@4026531836', pid: 4242 });
  t.match(localHost(), /^[^:]+@\d+$/, 'on Linux the host carries the PID namespace');
  t.equal(parseOwner('not an owner'), undefined);
});

t.test('LeaseKeeper: standby until the holder releases, then acts; mayAct follows the lease by its own clock', async (t) => {
  const path = tempStorePath(t);
  let now = T0;
  const clock = { now: () => now };
  const a = openStore(path, { logger });
  const b = openStore(path, { logger });
  t.teardown(() => { a.close(); b.close(); });
  const leader = new LeaseKeeper({ store: a, clock, ttlMs: 3_000, logger, owner: 'elsewhere:1:aa' });
  t.equal(await leader.acquire(), true, 'the first process acquires');
  t.equal(leader.mayAct(), true);
  const standby = new LeaseKeeper({ store: b, clock, ttlMs: 3_000, logger, owner: 'elsewhere:2:bb' });
  let acquired = false;
  const waiting = standby.acquire().then((ok) => { acquired = ok; });
  await new Promise((r) => setTimeout(r, 1_200));
  t.equal(acquired, false, 'the second waits on standby while the first holds the lease');
  t.equal(standby.mayAct(), false, 'a standby may not act');
  leader.release();
  t.equal(leader.mayAct(), false, 'a released lease may not act');
  await waiting;
  t.equal(acquired, true, 'the standby takes over once the lease is released');
  t.equal(standby.mayAct(), true);
  now += 3_001;
  t.equal(standby.mayAct(), false, 'past its expiry by our clock (a stalled loop), the holder may not act before it renews');
  standby.tryOnce();
  t.equal(standby.mayAct(), true, 'and may again after renewing');
  standby.release();
});

t.test('LeaseKeeper: a holder on this host whose process is gone is taken over without waiting out its TTL', async (t) => {
  const path = tempStorePath(t);
  const store = openStore(path, { logger });
  t.teardown(() => store.close());
  const clock = { now: () => T0 };
  store.tryLease(`${localHost()}:999999:dead`, T0, 600_000);
  const alive = new Set<number>([999_998]);
  const keeper = new LeaseKeeper({ store, clock, ttlMs: 15_000, logger, isAlive: (pid) => alive.has(pid) });
  const ac = new AbortController();
  t.equal(await keeper.acquire(ac.signal), true, 'the dead holder (pid 999999) is replaced at once');
  keeper.release();
  store.tryLease(`${localHost()}:999998:live`, T0, 600_000);
  const other = new LeaseKeeper({ store, clock, ttlMs: 15_000, logger, isAlive: (pid) => alive.has(pid) });
  setTimeout(() => ac.abort(), 300);
  t.equal(await other.acquire(ac.signal), false, 'a live holder is waited for (until the abort)');
  store.tryLease('other-host:999999:x', T0, 600_000, () => true);
  const third = new LeaseKeeper({ store, clock, ttlMs: 15_000, logger, isAlive: () => false });
  const ac2 = new AbortController();
  setTimeout(() => ac2.abort(), 300);
  t.equal(await third.acquire(ac2.signal), false, 'a holder on another host is never judged by a local pid');
  store.tryLease(`${localHost()}1:999999:x`, T0, 600_000, () => true);
  const fourth = new LeaseKeeper({ store, clock, ttlMs: 15_000, logger, isAlive: () => false });
  const ac3 = new AbortController();
  setTimeout(() => ac3.abort(), 300);
  t.equal(await fourth.acquire(ac3.signal), false, 'nor one in another PID namespace (same hostname, another container)');
});

t.test('LeaseKeeper: a renewal that finds another holder is a loss: onLost once, mayAct false', async (t) => {
  const path = tempStorePath(t);
  const a = openStore(path, { logger });
  const b = openStore(path, { logger });
  t.teardown(() => { a.close(); b.close(); });
  let now = T0;
  const clock = { now: () => now };
  const lostTo: string[] = [];
  const keeper = new LeaseKeeper({ store: a, clock, ttlMs: 3_000, logger, owner: 'elsewhere:1:aa', onLost: (h) => lostTo.push(h.owner) });
  await keeper.acquire();
  keeper.keep();
  t.teardown(() => keeper.release());
  now += 10_000; // our renewals stalled past the TTL, and another process took the expired lease
  t.equal(b.tryLease('elsewhere:2:bb', now, 3_000).owner, 'elsewhere:2:bb');
  await waitFor('a renewal tick (every ttl/3 = 1 s) finds the lease taken', () => lostTo.length > 0, 30_000);
  await new Promise((r) => setTimeout(r, 1_200)); // room for another tick, which must not tell the loss again
  t.same(lostTo, ['elsewhere:2:bb'], 'onLost is called once with the new holder');
  t.equal(keeper.mayAct(), false, 'and the keeper may not act');
});

t.test('LeaseKeeper as the Leadership port: view names the leader, fence follows mayAct, onLost listeners hear the loss', async (t) => {
  const path = tempStorePath(t);
  const a = openStore(path, { logger });
  const b = openStore(path, { logger });
  t.teardown(() => { a.close(); b.close(); });
  let now = T0;
  const clock = { now: () => now };
  const keeper = new LeaseKeeper({ store: a, clock, ttlMs: 3_000, logger, owner: 'elsewhere:1:aa' });
  const heard: string[] = [];
  keeper.onLost((why) => heard.push(why));
  await keeper.acquire();
  t.same(keeper.view(), { self: 'elsewhere:1:aa', isLeader: true, leader: 'elsewhere:1:aa', sinceMs: T0, leaseRemainingMs: 3_000 });
  t.equal(keeper.self, 'elsewhere:1:aa');
  t.equal(await keeper.fence([{ key: 'k', value: 'v' }]), true, 'a leader passes the fence');
  now += 10_000; // stalled past its TTL: by its own clock it no longer leads
  t.equal(await keeper.fence([{ key: 'k', value: 'v' }]), false, 'an expired lease does not pass the fence');
  t.equal(keeper.view().isLeader, false);
  t.equal(b.tryLease('elsewhere:2:bb', now, 3_000).owner, 'elsewhere:2:bb');
  keeper.keep();
  t.teardown(() => keeper.release());
  await waitFor('a renewal tick finds the lease taken', () => heard.length > 0, 30_000);
  t.same(heard, ['the store lease was taken by elsewhere:2:bb']);
  t.match(keeper.view(), { self: 'elsewhere:1:aa', isLeader: false, leader: 'elsewhere:2:bb' });
});
