// Server nonces through Fastify (RFC 9449 §8, §9): a proof without the nonce, or with a stale,
// foreign or garbled one, is answered 401 use_dpop_nonce with the nonce to retry with; the nonce
// is accepted; a proof with last period's nonce passes and gets the next one; instances sharing
// the secret accept each other's nonces; rotation; the AXIOMS_DPOP_NONCE_* twins; an instance
// without a secret says at startup that its nonces are its own.
import { createHmac, randomBytes } from 'node:crypto'
import t from 'tap'
import type { AxiomsOptions } from '../../index.js'
import { createTestIssuer } from '../../testing.js'
import { logSink } from '../attacks/harness.js'
import { dpopChallenge, passed, proofFault, refused, type Refusal, rig, type Rig, sleep } from './http.js'

const idp = await createTestIssuer()
t.teardown(() => idp.close())

const NONCE = /^[A-Za-z0-9_-]{32}$/
const REQUIRED = 'Resource server requires nonce in DPoP proof'
const STALE = 'Invalid or expired DPoP proof nonce'
const useNonce = (description: string, nonce: string): Refusal =>
  ({ status: 401, error: 'use_dpop_nonce', description, challenge: dpopChallenge('use_dpop_nonce', description), nonce })

/**
 * A nonce as the plugin's format makes it (lib/dpop/nonce.ts): the time step in 6 bytes and the
 * first 18 bytes of HMAC-SHA-256(secret, label || step), base64url. Written out here so that
 * stale and future nonces can be made; checked against what the server hands out.
 */
function mint (secret: Buffer, lifetimeSeconds: number, stepOffset = 0): string {
  const step = Math.floor(Date.now() / (lifetimeSeconds * 1000)) + stepOffset
  const data = Buffer.alloc(6)
  data.writeUIntBE(step, 0, 6)
  const mac = createHmac('sha256', secret).update('axioms-fastify dpop-nonce v1').update(data).digest().subarray(0, 18)
  return Buffer.concat([data, mac]).toString('base64url')
}

/** Waits, if needed, until at least `margin` ms are left in the current nonce period. */
async function insidePeriod (lifetimeSeconds: number, margin = 5000): Promise<void> {
  const period = lifetimeSeconds * 1000
  const left = period - (Date.now() % period)
  if (left < margin) await sleep(left + 50)
}

/** The nonce a request without one is told to use. */
async function nonceFrom (s: Rig): Promise<string> {
  const out = await s.dpop(s.bound())
  return out.headers['dpop-nonce'] as string
}

t.test('nonce: true: 401 use_dpop_nonce with the nonce, then accepted; stale and garbled nonces refused', async t => {
  await insidePeriod(300)
  const { stream, lines } = logSink()
  const s = await rig(t, { idp, options: { dpop: { nonce: true } }, fastify: { logger: { level: 'warn', stream } } })
  const warned = lines.map(l => JSON.parse(l) as Record<string, unknown>).filter(l => l.level === 40)
  t.equal(warned.length, 1, 'one warning at startup')
  t.match(warned[0], { option: 'dpop.nonce.secret', env: 'AXIOMS_DPOP_NONCE_SECRET', msg: /this instance only/ }, 'the nonces are this instance\'s only')

  const token = s.bound()
  const first = await s.dpop(token)
  const nonce = first.headers['dpop-nonce'] as string
  t.match(nonce, NONCE, 'a nonce in the NQCHAR set')
  refused(t, first, useNonce(REQUIRED, nonce), 'no nonce')
  const ok = await s.dpop(token, '/items', { nonce })
  passed(t, ok, 'the nonce')
  t.equal(ok.headers['dpop-nonce'], undefined, 'the current nonce: no new one')
  passed(t, await s.dpop(token, '/items', { nonce }), 'the same nonce again, in a new proof')

  for (const [label, bad] of [['garbled', 'not-a-nonce'], ['the right length, not ours', 'A'.repeat(32)], ['a number', 42], ['empty', ''], ['another process\'s', mint(randomBytes(32), 300)]] as const) {
    refused(t, await s.dpop(token, '/items', { claims: { nonce: bad } }), useNonce(STALE, nonce), label)
  }
  // Every refusal of a DPoP request carries the nonce, so the client can retry at once.
  const proof = s.proof(token, '/items', { nonce })
  passed(t, await s.dpop(token, '/items', { proof }), 'first use')
  refused(t, await s.dpop(token, '/items', { proof }), proofFault('DPoP proof replayed', nonce), 'a replay')
  refused(t, await s.dpop(token, '/items', { nonce, htm: 'POST', proof: s.proof(token, '/items', { nonce }) }), proofFault('DPoP proof method mismatch', nonce), 'a proof fault')
  // Bearer requests have nothing to do with nonces, but a 401 hands one out for a DPoP retry.
  const plain = await s.bearer(s.plain())
  passed(t, plain, 'Bearer')
  t.equal(plain.headers['dpop-nonce'], undefined, 'no nonce on a Bearer success')
  const none = await s.call({ url: '/items' })
  t.equal(none.status, 401)
  t.equal(none.headers['dpop-nonce'], nonce, 'a 401 without credentials hands out the nonce')
  const forbidden = await s.dpop(s.bound({ scope: 'other' }), '/items', { nonce })
  t.equal(forbidden.status, 403)
  t.equal(forbidden.headers['dpop-nonce'], undefined, 'a 403 does not (the proof\'s nonce was current)')
  t.equal(forbidden.handled, 0)
})

t.test('{ secret, lifetime }: instances sharing the secret accept each other\'s nonces; periods either side', async t => {
  await insidePeriod(3600)
  const secret = randomBytes(32)
  const { stream, lines } = logSink()
  const opts: AxiomsOptions = { dpop: { nonce: { secret, lifetime: '1h' } } }
  const a = await rig(t, { idp, options: opts, fastify: { logger: { level: 'warn', stream } } })
  const b = await rig(t, {
    idp,
    options: opts,
    routes: (app, spy) => {
      app.get<{ Params: { id: string } }>('/docs/:id', { onRequest: app.checkObjectOwnership<{ user: string }, { id: string }>({ getObject: r => ({ user: r.params.id }) }) }, async request => { spy(request); return { ok: true } })
    }
  })
  t.same(lines, [], 'no warning with a secret')
  const nonce = await nonceFrom(a)
  t.equal(nonce, mint(secret, 3600), 'the nonce is the period and its HMAC')
  t.equal(await nonceFrom(b), nonce, 'both instances hand out the same nonce')

  const token = a.bound()
  const other = { key: a.key }
  passed(t, await b.dpop(token, '/items', { ...other, nonce }), 'A\'s nonce at B')
  const previous = mint(secret, 3600, -1)
  for (const [s, label] of [[a, 'A'], [b, 'B']] as const) {
    const out = await s.dpop(token, '/items', { ...other, nonce: previous })
    passed(t, out, `${label}: last period's nonce`)
    t.equal(out.headers['dpop-nonce'], nonce, `${label}: the answer hands out the current one`)
  }
  const docToken = a.bound({ sub: 'user-1' })
  const doc = await b.dpop(docToken, '/docs/user-1', { ...other, nonce: previous })
  passed(t, doc, 'ownership route with last period\'s nonce')
  t.equal(doc.headers['dpop-nonce'], nonce, 'checkObjectOwnership hands out the current nonce too')
  const ahead = await a.dpop(token, '/items', { ...other, nonce: mint(secret, 3600, 1) })
  passed(t, ahead, 'next period\'s nonce (an instance whose clock runs ahead)')
  t.equal(ahead.headers['dpop-nonce'], nonce)
  refused(t, await a.dpop(token, '/items', { ...other, nonce: mint(secret, 3600, -2) }), useNonce(STALE, nonce), 'two periods old')
  refused(t, await a.dpop(token, '/items', { ...other, nonce: mint(secret, 3600, 2) }), useNonce(STALE, nonce), 'two periods ahead')
  refused(t, await a.dpop(token, '/items', { ...other, nonce: mint(randomBytes(32), 3600) }), useNonce(STALE, nonce), 'a nonce under another secret')
  refused(t, await a.dpop(token, '/items', { ...other, nonce: mint(secret, 300) }), useNonce(STALE, nonce), 'a nonce of another lifetime')

  // An instance without the secret has its own nonces: each refuses the other's.
  const lone = await rig(t, { idp, options: { dpop: { nonce: { lifetime: '1h' } } } })
  const own = await nonceFrom(lone)
  t.not(own, nonce)
  refused(t, await lone.dpop(token, '/items', { ...other, nonce }), useNonce(STALE, own), 'A\'s nonce at an instance without the secret')
  refused(t, await a.dpop(token, '/items', { ...other, nonce: own }), useNonce(STALE, nonce), 'its nonce at A')
})

t.test('rotation: the first secret issues, every secret verifies; the AXIOMS_DPOP_NONCE_* twins', async t => {
  await insidePeriod(600)
  const old = randomBytes(32)
  // A string secret, as AXIOMS_DPOP_NONCE_SECRET gives it (its UTF-8 bytes are the key).
  const next = randomBytes(36).toString('base64url')
  const before = await rig(t, { idp, options: { dpop: { nonce: { secret: old, lifetime: 600 } } } })
  const during = await rig(t, { idp, options: { dpop: { nonce: { secret: [next, old], lifetime: 600 } } } })
  const after = await rig(t, { idp, options: { env: { AXIOMS_DPOP_NONCE: 'true', AXIOMS_DPOP_NONCE_SECRET: next, AXIOMS_DPOP_NONCE_LIFETIME: '10m' } } })
  const oldNonce = await nonceFrom(before)
  const newNonce = await nonceFrom(during)
  t.equal(oldNonce, mint(old, 600))
  t.equal(newNonce, mint(Buffer.from(next), 600), 'the first secret issues')
  t.equal(await nonceFrom(after), newNonce, 'the variables give the same nonces as the option')
  const token = before.bound()
  const k = { key: before.key }
  passed(t, await during.dpop(token, '/items', { ...k, nonce: oldNonce }), 'the old secret\'s nonce during the rotation')
  passed(t, await during.dpop(token, '/items', { ...k, nonce: newNonce }), 'the new one')
  passed(t, await after.dpop(token, '/items', { ...k, nonce: newNonce }), 'the new one after the rotation')
  refused(t, await after.dpop(token, '/items', { ...k, nonce: oldNonce }), useNonce(STALE, newNonce), 'the old secret\'s nonce once it is gone')
  refused(t, await before.dpop(token, '/items', { ...k, nonce: newNonce }), useNonce(STALE, oldNonce), 'an instance not yet rotated')
})

t.test('nonces configured while DPoP is disabled: no warning, no nonce', async t => {
  const { stream, lines } = logSink()
  const s = await rig(t, { idp, options: { dpop: { mode: 'disabled', nonce: true } }, dpopRoute: false, fastify: { logger: { level: 'warn', stream } } })
  t.same(lines, [], 'nothing said about nonces nobody uses')
  const out = await s.call({ url: '/items' })
  t.equal(out.status, 401)
  t.equal(out.headers['dpop-nonce'], undefined)
  t.equal(out.headers['www-authenticate'], `Bearer realm="${s.realm}"`)
})
