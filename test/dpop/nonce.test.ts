// Stateless DPoP nonces (lib/dpop/nonce.ts): steps, neighbours, secrets, syntax.
import t from 'tap'
import { DpopNonces } from '../../lib/dpop/nonce.js'

const A = Buffer.alloc(32, 1)
const B = Buffer.alloc(32, 2)

t.test('one nonce per step, accepted one step either side', async t => {
  let now = 1_800_000_000_000
  const n = new DpopNonces([A], 60, () => now)
  const first = n.current()
  t.match(first, /^[A-Za-z0-9_-]{32}$/, 'NQCHAR only (RFC 9449 §8.1)')
  t.equal(n.current(), first, 'stable within the step')
  t.equal(n.check(first), 'current')
  now += 60_000
  const second = n.current()
  t.not(second, first)
  t.equal(n.check(first), 'valid', 'the previous step')
  t.equal(n.check(second), 'current')
  now -= 60_000
  t.equal(n.check(second), 'valid', 'the next step (an instance whose clock runs ahead)')
  now += 240_000
  t.equal(n.check(first), 'invalid', 'two steps old')
  now = 0
  t.equal(n.check(second), 'invalid', 'far in the future')
})

t.test('secrets: the first issues, all verify; others are refused', async t => {
  const now = (): number => 1_800_000_000_000
  const old = new DpopNonces([A], 300, now)
  const rotated = new DpopNonces([B, A], 300, now)
  const foreign = new DpopNonces([B], 300, now)
  t.equal(rotated.check(old.current()), 'current')
  t.equal(old.check(rotated.current()), 'invalid')
  t.equal(foreign.check(old.current()), 'invalid')
  t.equal(new DpopNonces([A], 300).current().length, 32, 'real clock by default')
  t.throws(() => new DpopNonces([], 300), TypeError)
})

t.test('malformed nonces are invalid, not errors', async t => {
  const n = new DpopNonces([A], 300, () => 1_800_000_000_000)
  const good = n.current()
  for (const bad of ['', 'short', good + 'A', good.slice(1), good.replace(/^./, '+'), `${good.slice(0, -1)}=`, ' '.repeat(32)]) {
    t.equal(n.check(bad), 'invalid', JSON.stringify(bad))
  }
  // Same step, MAC changed in one bit.
  const bytes = Buffer.from(good, 'base64url')
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1
  t.equal(n.check(bytes.toString('base64url')), 'invalid')
})
