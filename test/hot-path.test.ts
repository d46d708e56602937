// The hot-path shortcuts of issue 4 change no answer: decoded headers are shared but frozen and
// bounded, and check() answers synchronously only when nothing has to be fetched.
import t from 'tap'
import Fastify from 'fastify'
import axioms from '../index.js'
import { decodeCompact } from '../lib/bearer.js'
import { AxiomsError } from '../lib/errors.js'
import { createTestIssuer } from '../testing.js'
import { offered } from './fixture.js'

const b64 = (s: string): string => Buffer.from(s).toString('base64url')
const payload = b64('{"sub":"a"}')
const sig = 'AAAA'

t.test('decoded headers are memoised, frozen, bounded and never wrong', async t => {
  const segments = Array.from({ length: 80 }, (_, i) => b64(JSON.stringify({ alg: 'RS256', kid: `k${i}` })))
  const first = segments.map(h => decodeCompact(`${h}.${payload}.${sig}`).header)
  for (const [i, h] of first.entries()) t.same(h, { alg: 'RS256', kid: `k${i}` })
  t.ok(Object.isFrozen(first[79]))
  t.equal(decodeCompact(`${segments[79] as string}.${payload}.${sig}`).header, first[79], 'a recent header is shared')
  // The first ones were evicted: decoded again, with the same content.
  const again = decodeCompact(`${segments[0] as string}.${payload}.${sig}`).header
  t.not(again, first[0])
  t.same(again, { alg: 'RS256', kid: 'k0' })
  // A bad header is never memoised: it fails every time.
  for (let i = 0; i < 2; i++) {
    t.throws(() => decodeCompact(`${b64('[1]')}.${payload}.${sig}`), AxiomsError)
  }
})

t.test('check() is synchronous with the key at hand, a promise while fetching', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { issuer: idp.issuer, audience: 'your-api-audience', jwksPrefetch: false, env: {} })
  let calls = 0
  app.get('/p', { config: { axioms: {} } }, async () => { calls++; return { ok: true } })
  await app.ready()
  const token = idp.sign({ sub: 'u' })
  // Cold: the key set is fetched first, then the same answers as before.
  const cold = await app.inject({ url: '/p', headers: { authorization: `Bearer ${token}` } })
  t.equal(cold.statusCode, 200)
  const unknown = await app.inject({ url: '/p', headers: { authorization: `Bearer ${idp.sign({}, { kid: 'nope' })}` } })
  t.equal(unknown.statusCode, 401)
  t.equal(unknown.json().error, 'invalid_token')
  const warm = await app.inject({ url: '/p', headers: { authorization: `Bearer ${idp.sign({ sub: 'v' })}` } })
  t.equal(warm.statusCode, 200)
  const bad = await app.inject({ url: '/p', headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` } })
  t.equal(bad.statusCode, 401)
  t.equal(bad.json().error_description, 'Invalid token signature')
  const none = await app.inject({ url: '/p' })
  t.equal(none.statusCode, 401)
  t.equal(none.headers['www-authenticate'], offered(idp.issuer))
  t.equal(calls, 2)
  t.equal(idp.requests.jwks, 2, 'the cold fetch, then one refetch for the unknown kid')
  await t.resolves(app.axioms.verify(token))
})
