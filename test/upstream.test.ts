// Evidence for the README's "why not" section, against a local hanging issuer and a test issuer:
// get-jwks ignores its documented `timeout`, and @fastify/jwt wired with get-jwks as get-jwks'
// README shows answers 500 for a token with an unknown kid. Bounded: we race our own timer.
import t from 'tap'
import Fastify from 'fastify'
import fjwt from '@fastify/jwt'
import buildGetJwks from 'get-jwks'
import { createTestIssuer } from '../testing.js'

const PENDING = Symbol('pending')
const after = async (ms: number): Promise<typeof PENDING> => new Promise(resolve => setTimeout(() => resolve(PENDING), ms))

t.test('get-jwks: the documented timeout (300 ms) is ignored; getJwk is still pending at 1.5 s', async t => {
  const idp = await createTestIssuer()
  idp.setMode('hang')
  // README: "timeout: how long it should wait to retrieve a JWK before it fails". Not in its types.
  const getJwks = buildGetJwks({ timeout: 300, providerDiscovery: false } as Parameters<typeof buildGetJwks>[0])
  const lookup = getJwks.getJwk({ domain: idp.url, alg: 'RS256', kid: 'any' })
  lookup.catch(() => {}) // rejects once we close the hanging connection below
  const outcome = await Promise.race([lookup.then(() => 'resolved', () => 'rejected'), after(1500)])
  t.equal(outcome, PENDING, 'still pending five times past its timeout')
  t.equal(idp.requests.jwks, 1)
  await idp.close()
})

t.test('@fastify/jwt + get-jwks (as get-jwks\' README wires them): unknown kid answers 500', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  const getJwks = buildGetJwks({ issuersWhitelist: [idp.issuer] })
  await app.register(fjwt, {
    decode: { complete: true },
    secret: (_request: unknown, token: { header: { kid: string, alg: string }, payload: { iss: string } }, callback: (err: Error | null, key?: string) => void) => {
      const { header: { kid, alg }, payload: { iss } } = token
      getJwks.getPublicKey({ kid, domain: iss, alg }).then(key => callback(null, key), callback)
    }
  } as unknown as Parameters<typeof fjwt>[1])
  app.addHook('onRequest', async request => { await request.jwtVerify() })
  app.get('/p', async () => ({ ok: true }))

  const good = await app.inject({ url: '/p', headers: { authorization: `Bearer ${idp.sign({ sub: 'u' })}` } })
  t.equal(good.statusCode, 200, 'the wiring works for a good token')
  const unknown = await app.inject({ url: '/p', headers: { authorization: `Bearer ${idp.sign({ sub: 'u' }, { kid: 'no-such-kid' })}` } })
  t.equal(unknown.statusCode, 500, 'a client-controlled kid becomes a server error')
  t.equal(unknown.headers['www-authenticate'], undefined, 'and no challenge')
  const again = await app.inject({ url: '/p', headers: { authorization: `Bearer ${idp.sign({ sub: 'u' }, { kid: 'another-one' })}` } })
  t.equal(again.statusCode, 500)
  t.equal(idp.requests.jwks, 3, 'one JWKS fetch per unknown kid: no cooldown')
})
