import t, { type Test } from 'tap'
import diagnostics from 'node:diagnostics_channel'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import axioms, { type AxiomsOptions, JWKS_CHANNEL, type JwksMessage, VERIFY_CHANNEL, type VerifyMessage } from '../index.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'

function listen<T> (t: Test, name: string): T[] {
  const seen: T[] = []
  const fn = (msg: unknown): void => { seen.push(msg as T) }
  diagnostics.subscribe(name, fn)
  t.teardown(() => { diagnostics.unsubscribe(name, fn) })
  return seen
}

async function setup (t: Test, extra: Partial<AxiomsOptions> = {}): Promise<{ app: FastifyInstance, idp: TestIssuer }> {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, jwksPrefetch: false, ...extra })
  app.get('/p', { config: { axioms: { scopes: ['read'] } } }, async () => ({ ok: true }))
  return { app, idp }
}

const get = async (app: FastifyInstance, token?: string): Promise<number> =>
  (await app.inject({ url: '/p', headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })).statusCode

t.test('channel names are exported', async t => {
  t.equal(VERIFY_CHANNEL, 'axioms-fastify:verify')
  t.equal(JWKS_CHANNEL, 'axioms-fastify:jwks')
})

t.test('axioms-fastify:verify: one message per verification, reason on failure, never the token', async t => {
  const verify = listen<VerifyMessage>(t, VERIFY_CHANNEL)
  const { app, idp } = await setup(t)
  const kid = idp.keys[0]?.kid
  const good = idp.sign({ scope: 'read', jti: 'jti-good' })
  const expired = idp.sign({ scope: 'read', jti: 'jti-expired' }, { expiresIn: -60 })
  const foreign = idp.sign({ scope: 'read', jti: 'jti-foreign', iss: 'https://elsewhere.example' })
  const badSig = good.slice(0, good.lastIndexOf('.') + 1) + Buffer.alloc(256, 7).toString('base64url')
  t.equal(await get(app, good), 200)
  t.equal(await get(app, expired), 401)
  t.equal(await get(app, foreign), 401)
  t.equal(await get(app, badSig), 401)
  t.equal(await get(app, 'not-a-jwt'), 401)
  t.equal(await get(app, idp.sign({ scope: 'nothing', jti: 'jti-403' })), 403, 'verified, then refused for scope')
  t.equal(await get(app), 401, 'no token: nothing to verify, no message')
  await t.rejects(app.axioms.verify(expired))
  t.same(verify, [
    { ok: true, issuer: idp.issuer, kid, jti: 'jti-good' },
    { ok: false, reason: 'expired', issuer: idp.issuer, kid, jti: 'jti-expired' },
    { ok: false, reason: 'bad_issuer', kid, jti: 'jti-foreign' },
    { ok: false, reason: 'bad_signature', issuer: idp.issuer, kid, jti: 'jti-good' },
    { ok: false, reason: 'malformed' },
    { ok: true, issuer: idp.issuer, kid, jti: 'jti-403' },
    { ok: false, reason: 'expired', issuer: idp.issuer, kid, jti: 'jti-expired' }
  ])
  const text = JSON.stringify(verify)
  for (const token of [good, expired, foreign, badSig]) {
    for (const part of token.split('.')) t.notOk(text.includes(part), 'no token segment in any message')
  }
})

t.test('a token without jti: no jti in the message', async t => {
  const verify = listen<VerifyMessage>(t, VERIFY_CHANNEL)
  const { app, idp } = await setup(t)
  t.equal(await get(app, idp.sign({ scope: 'read', jti: undefined })), 200)
  t.same(verify, [{ ok: true, issuer: idp.issuer, kid: idp.keys[0]?.kid }])
})

t.test('axioms-fastify:jwks: fetch, fetch_failed, cooldown', async t => {
  const jwks = listen<JwksMessage>(t, JWKS_CHANNEL)
  const { app, idp } = await setup(t, { jwksCooldown: 3600 })
  t.equal(await get(app, idp.sign({ scope: 'read' })), 200)
  t.same(jwks, [{ issuer: idp.issuer, event: 'fetch', keys: 1 }])
  t.equal(await get(app, idp.sign({ scope: 'read' }, { kid: 'unknown-1' })), 401, 'unknown kid: one refetch')
  t.equal(await get(app, idp.sign({ scope: 'read' }, { kid: 'unknown-2' })), 401, 'within the cooldown: no refetch')
  t.same(jwks.slice(1), [
    { issuer: idp.issuer, event: 'fetch', keys: 1 },
    { issuer: idp.issuer, event: 'cooldown' }
  ])
  idp.setMode('status')
  await t.rejects(app.axioms.refresh())
  t.same(jwks.at(-1), { issuer: idp.issuer, event: 'fetch_failed', cause: 'status_500', stage: 'jwks', url: idp.jwksUri, status: 500, contentType: 'application/json' })
  t.equal(idp.requests.jwks, 3)
})

t.test('axioms-fastify:jwks: stale keys used through an outage', async t => {
  const jwks = listen<JwksMessage>(t, JWKS_CHANNEL)
  const { app, idp } = await setup(t, { jwksRefreshInterval: 1, jwksCacheTtl: 3600, jwksPrefetch: true })
  await app.ready()
  idp.setMode('status')
  // Wait (bounded) for two failed background refreshes: the set is then older than one interval.
  for (let i = 0; i < 600 && jwks.filter(m => m.event === 'fetch_failed').length < 2; i++) await sleep(50)
  t.ok(jwks.filter(m => m.event === 'fetch_failed').length >= 2, 'background refreshes failed')
  t.equal(await get(app, idp.sign({ scope: 'read' })), 200, 'the cached key still works')
  t.same(jwks.filter(m => m.event === 'stale'), [{ issuer: idp.issuer, event: 'stale' }])
  t.equal(app.axioms.stats().issuers[0]?.staleUses, 1)
})

t.test('no subscriber: nothing is built, verification still works', async t => {
  t.notOk(diagnostics.hasSubscribers(VERIFY_CHANNEL))
  const { app, idp } = await setup(t)
  t.equal(await get(app, idp.sign({ scope: 'read' })), 200)
  t.equal(await get(app, idp.sign({ scope: 'read' }, { expiresIn: -60 })), 401)
})
