// The bounded in-memory replay store (lib/dpop/replay.ts): first use, replay, expiry, and what
// happens when it is full of unexpired entries (refusal, never early eviction).
import t from 'tap'
import { MemoryReplayStore, ReplayStoreFullError } from '../../lib/dpop/replay.js'

t.test('claim: true once, false while the entry lives, true again after it expired', async t => {
  let now = 1000
  const s = new MemoryReplayStore({ now: () => now })
  t.equal(s.claim('a', 5000), true)
  t.equal(s.claim('a', 5000), false)
  t.equal(s.claim('b', 5000), true)
  t.equal(s.size, 2)
  now = 5000
  t.equal(s.claim('a', 9000), true, 'expired at 5000')
  t.equal(s.claim('a', 9000), false)
  // An expired entry behind a live one (not swept from the front) is not a replay either.
  s.claim('long', 100_000)
  s.claim('short', 6000)
  now = 7000
  t.equal(s.claim('short', 9000), true)
  t.equal(new MemoryReplayStore().claim('x', Date.now() + 1000), true, 'real clock by default')
})

t.test('expired entries leave as new ones arrive', async t => {
  let now = 0
  const s = new MemoryReplayStore({ now: () => now })
  for (let i = 0; i < 100; i++) s.claim(`k${i}`, 1000)
  t.equal(s.size, 100)
  now = 2000
  for (let i = 0; i < 10; i++) s.claim(`n${i}`, 5000)
  t.ok(s.size <= 100 - 10 * 4 + 10, `a few dropped per claim (size ${s.size})`)
  for (let i = 0; i < 40; i++) s.claim(`m${i}`, 5000)
  t.equal(s.size, 50, 'all the expired ones gone')
})

t.test('full of unexpired entries: new proofs are refused with a Retry-After, old ones stay', async t => {
  let now = 0
  const s = new MemoryReplayStore({ max: 3, now: () => now })
  s.claim('a', 10_000)
  s.claim('b', 4_500)
  s.claim('c', 20_000)
  const err = t.throws(() => s.claim('d', 30_000)) as ReplayStoreFullError
  t.ok(err instanceof ReplayStoreFullError)
  t.equal(err.retryAfter, 5, 'seconds until the earliest entry expires')
  t.equal(s.claim('a', 10_000), false, 'a replay is still recognised while full')
  // Within the same second no new sweep runs; the answer stays the same.
  now = 200
  t.equal((t.throws(() => s.claim('e', 30_000)) as ReplayStoreFullError).retryAfter, 5)
  // After b expires and a second has passed, the sweep makes room.
  now = 4_600
  t.equal(s.claim('d', 30_000), true)
  t.equal(s.size, 3)
  t.equal((t.throws(() => s.claim('b', 30_000)) as ReplayStoreFullError).retryAfter, 6, 'full again: a expires in 5.4 s')
  // Retry-After is at least one second.
  now = 9_999
  const late = t.throws(() => s.claim('z', 30_000)) as ReplayStoreFullError
  t.equal(late.retryAfter, 1)
})

t.test('max must be a positive integer', async t => {
  for (const max of [0, -1, 1.5, Number.NaN]) t.throws(() => new MemoryReplayStore({ max }), TypeError)
})
