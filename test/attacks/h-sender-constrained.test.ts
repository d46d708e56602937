// SECURITY.md §8 H: sender-constrained tokens. A bound token presented as a plain bearer is refused
// (it would lose its binding); over `Authorization: DPoP` every RFC 9449 §4.3 proof check is one
// row, each proof built from its bytes, each refusal with its status, body, exact challenge and no
// handler run. Certificate binding over real TLS: test/dpop/http-mtls.test.ts.
import { createHash, generateKeyPairSync } from 'node:crypto'
import t, { type Test } from 'tap'
import { createDpopProof, generateDpopKey, signDpopProofRaw } from '../../testing.js'
import { accepted, b64u, createApi, createWorld, listen, rawHttp, socketGet, token } from './harness.js'
import { DPOP_OFFER } from '../fixture.js'

const world = await createWorld()
t.teardown(() => world.close())

const ALGS = DPOP_OFFER.slice('DPoP '.length)
const HTU = 'http://localhost/items'
const holder = generateDpopKey('ES256')
const bound = (over: Record<string, unknown> = {}): string => token(world, { cnf: { jkt: holder.jkt }, ...over })
const now = (): number => Math.floor(Date.now() / 1000)

interface Row { status: number, error: string, description: string, challenge: string | undefined }
const proofFault = (description: string): Row => ({ status: 401, error: 'invalid_dpop_proof', description, challenge: `DPoP error="invalid_dpop_proof", error_description="${description}", ${ALGS}` })
const tokenFault = (description: string): Row => ({ status: 401, error: 'invalid_token', description, challenge: `DPoP error="invalid_token", error_description="${description}", ${ALGS}` })

type Api = Awaited<ReturnType<typeof createApi>>

async function expectRow (t: Test, api: Api, headers: Record<string, string | string[]>, row: Row, label: string, method: 'GET' | 'POST' = 'GET'): Promise<void> {
  const out = await api.call({ method, url: '/items', headers })
  t.equal(out.status, row.status, `${label}: status`)
  t.same(out.body, { error: row.error, error_description: row.description }, `${label}: body`)
  t.equal(out.headers['www-authenticate'], row.challenge, `${label}: challenge`)
  t.equal(out.handled, 0, `${label}: handler did not run`)
}

t.test('H1 cnf.jkt or cnf["x5t#S256"] sent as Bearer: 401 invalid_token, never accepted (RFC 9449 §7.2, RFC 8705 §3)', async t => {
  const d = await createApi(t, world)
  const s = await createApi(t, world, { profile: 'S' })
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ jkt: holder.jkt }, 'DPoP-bound access token requires the DPoP scheme'],
    [{ 'x5t#S256': b64u(Buffer.alloc(32, 2)) }, 'Client certificate required'],
    [{ jwk: { kty: 'EC' } }, 'Invalid access token']
  ]
  for (const [cnf, description] of cases) {
    const tok = token(world, { cnf, scope: 'items:read items:write' })
    for (const [api, method, label] of [[d, 'GET', 'D'], [d, 'POST', 'D POST'], [s, 'GET', 'S']] as const) {
      const out = await api.call({ method, url: '/items', headers: { authorization: `Bearer ${tok}` } })
      const what = `${label} ${Object.keys(cnf)[0] as string}`
      t.equal(out.status, 401, what)
      t.same(out.body, { error: 'invalid_token', error_description: description }, what)
      t.equal(out.headers['www-authenticate'], `Bearer realm="${api.realm}", error="invalid_token", error_description="${description}"`, what)
      t.equal(out.handled, 0, what)
    }
  }
})

t.test('H2 Authorization: DPoP with a valid proof: accepted; the proof is not an access token; DPoP next to Bearer is not read', async t => {
  const api = await createApi(t, world)
  const tok = bound()
  accepted(t, await api.call({ url: '/items', headers: { authorization: `DPoP ${tok}`, dpop: createDpopProof(holder, { htu: HTU, accessToken: tok }) } }), 'DPoP')
  accepted(t, await api.call({ url: '/items', headers: { authorization: `dpop  ${tok}`, dpop: createDpopProof(holder, { htu: HTU, accessToken: tok }) } }), 'scheme in any case, several spaces')
  accepted(t, await api.call({ method: 'HEAD', url: '/items', headers: { authorization: `DPoP ${tok}`, dpop: createDpopProof(holder, { htm: 'HEAD', htu: HTU, accessToken: tok }) } }), 'HEAD')
  // A DPoP header next to a plain bearer token changes nothing: it is not read.
  accepted(t, await api.call({ url: '/items', headers: { authorization: `Bearer ${token(world)}`, dpop: 'garbage' } }), 'Bearer + DPoP header')
  const proof = createDpopProof(holder, { htu: HTU, accessToken: tok })
  const asBearer = await api.get(proof)
  t.equal(asBearer.status, 401)
  t.same(asBearer.body, { error: 'invalid_token', error_description: 'Missing key ID in token header' }, 'the proof as a bearer token')
  // Without any credentials, both schemes are offered.
  const none = await api.call('/items')
  t.equal(none.headers['www-authenticate'], `Bearer realm="${api.realm}", ${DPOP_OFFER}`)
})

t.test('H3 every RFC 9449 §4.3 proof check, one row each', async t => {
  const api = await createApi(t, world)
  const tok = bound({ scope: 'items:read items:write' })
  const auth = `DPoP ${tok}`
  const ath = b64u(createHash('sha256').update(tok).digest())
  const payload = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ jti: `j-${Math.random()}`, htm: 'GET', htu: HTU, iat: now(), ath, ...over })
  const header = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ typ: 'dpop+jwt', alg: 'ES256', jwk: holder.jwk, ...over })
  const raw = (h: Record<string, unknown>, p: Record<string, unknown>): string => signDpopProofRaw(holder, h, p)
  const other = generateDpopKey('ES256')
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const rsa1024 = { kid: 'small', alg: 'RS256' as const, ...small, jwk: small.publicKey.export({ format: 'jwk' }) as Record<string, unknown>, jkt: '' }
  const drop = (o: Record<string, unknown>, k: string): Record<string, unknown> => { const c = { ...o }; Reflect.deleteProperty(c, k); return c }
  const good = raw(header(), payload())
  const [gh, gp, gs] = good.split('.') as [string, string, string]

  const rows: Array<[string, string | string[] | undefined, Row]> = [
    ['(1) no DPoP header', undefined, proofFault('Missing DPoP proof')],
    ['(1) two DPoP headers', [good, raw(header(), payload())], proofFault('Multiple DPoP proofs')],
    ['(1) two proofs in one line', `${good}, ${good}`, proofFault('Multiple DPoP proofs')],
    ['(2) not a JWT', 'not-a-proof', proofFault('Malformed DPoP proof')],
    ['(2) four segments', `${good}.x`, proofFault('Malformed DPoP proof')],
    ['(2) padded segment', `${gh}=.${gp}.${gs}`, proofFault('Malformed DPoP proof')],
    ['(2) payload is an array', `${gh}.${b64u(Buffer.from('[1]'))}.${gs}`, proofFault('Malformed DPoP proof')],
    ['(2) over 8 KiB', `${gh}.${'A'.repeat(9000)}.${gs}`, proofFault('Malformed DPoP proof')],
    ['(4) typ JWT', raw(header({ typ: 'JWT' }), payload()), proofFault('Invalid DPoP proof type')],
    ['(4) typ missing', raw(drop(header(), 'typ'), payload()), proofFault('Invalid DPoP proof type')],
    ['(4) typ DPOP+JWT', raw(header({ typ: 'DPOP+JWT' }), payload()), proofFault('Invalid DPoP proof type')],
    ['(5) alg none', `${b64u(Buffer.from(JSON.stringify(header({ alg: 'none' }))))}.${gp}.${gs}`, proofFault('Invalid or unsupported DPoP proof algorithm')],
    ['(5) alg HS256', `${b64u(Buffer.from(JSON.stringify(header({ alg: 'HS256' }))))}.${gp}.${gs}`, proofFault('Invalid or unsupported DPoP proof algorithm')],
    ['(5) crit', raw(header({ crit: ['exp'] }), payload()), proofFault('Invalid DPoP proof')],
    ['(6) jwk missing', raw(drop(header(), 'jwk'), payload()), proofFault('Invalid DPoP proof key')],
    ['(6) jwk with the private d', raw(header({ jwk: { ...holder.jwk, d: holder.privateKey.export({ format: 'jwk' }).d } }), payload()), proofFault('Invalid DPoP proof key')],
    ['(6) jwk oct', raw(header({ jwk: { kty: 'oct', k: 'c2VjcmV0' } }), payload()), proofFault('Invalid DPoP proof key')],
    ['(6) jwk RSA-1024', signDpopProofRaw(rsa1024, header({ alg: 'RS256', jwk: rsa1024.jwk }), payload()), proofFault('Invalid DPoP proof key')],
    ['(6) jwk on another curve than alg', raw(header({ alg: 'ES384' }), payload()), proofFault('Invalid DPoP proof key')],
    ['(7) signed by another key', signDpopProofRaw(other, header(), payload()), proofFault('Invalid DPoP proof signature')],
    ['(7) signature of another proof', `${gh}.${b64u(Buffer.from(JSON.stringify(payload())))}.${gs}`, proofFault('Invalid DPoP proof signature')],
    ['(8) htm POST for a GET', raw(header(), payload({ htm: 'POST' })), proofFault('DPoP proof method mismatch')],
    ['(8) htm get', raw(header(), payload({ htm: 'get' })), proofFault('DPoP proof method mismatch')],
    ['(9) htu of another host', raw(header(), payload({ htu: 'http://evil.test/items' })), proofFault('DPoP proof URL mismatch')],
    ['(9) htu https', raw(header(), payload({ htu: 'https://localhost/items' })), proofFault('DPoP proof URL mismatch')],
    ['(9) htu of another path', raw(header(), payload({ htu: 'http://localhost/admin' })), proofFault('DPoP proof URL mismatch')],
    ['(9) htu missing', raw(header(), drop(payload(), 'htu')), proofFault('DPoP proof URL mismatch')],
    ['(10) iat 301 s old', raw(header(), payload({ iat: now() - 301 })), proofFault('DPoP proof is not recent')],
    ['(10) iat 40 s ahead (30 s leeway)', raw(header(), payload({ iat: now() + 40 })), proofFault('DPoP proof is not recent')],
    ['(10) iat a string', raw(header(), payload({ iat: String(now()) })), proofFault('DPoP proof is not recent')],
    ['(11) jti missing', raw(header(), drop(payload(), 'jti')), proofFault('Missing or invalid DPoP proof identifier')],
    ['(11) jti empty', raw(header(), payload({ jti: '' })), proofFault('Missing or invalid DPoP proof identifier')],
    ['(§7.1) ath missing', raw(header(), drop(payload(), 'ath')), proofFault('DPoP proof access token hash mismatch')],
    ['(§7.1) ath of another token', raw(header(), payload({ ath: b64u(createHash('sha256').update('x').digest()) })), proofFault('DPoP proof access token hash mismatch')]
  ]
  for (const [label, dpop, row] of rows) {
    await expectRow(t, api, dpop === undefined ? { authorization: auth } : { authorization: auth, dpop }, row, label)
  }

  // (11) a jti is accepted once: the same proof again is a replay.
  const once = raw(header(), payload())
  accepted(t, await api.call({ url: '/items', headers: { authorization: auth, dpop: once } }), 'first use')
  await expectRow(t, api, { authorization: auth, dpop: once }, proofFault('DPoP proof replayed'), '(11) replayed')

  // §7.1: the token's cnf.jkt names the proof's key; the DPoP scheme is for bound tokens only.
  const otherTok = token(world, { cnf: { jkt: other.jkt } })
  await expectRow(t, api, { authorization: `DPoP ${otherTok}`, dpop: createDpopProof(holder, { htu: HTU, accessToken: otherTok }) }, tokenFault('Access token is not bound to the DPoP proof key'), 'jkt of another key')
  const plain = token(world)
  await expectRow(t, api, { authorization: `DPoP ${plain}`, dpop: createDpopProof(holder, { htu: HTU, accessToken: plain }) }, tokenFault('Access token is not DPoP-bound'), 'plain token over DPoP')
  // The access token is still verified first: an expired bound token is invalid_token on the DPoP challenge.
  const expired = bound({ exp: now() - 10 })
  await expectRow(t, api, { authorization: `DPoP ${expired}`, dpop: createDpopProof(holder, { htu: HTU, accessToken: expired }) }, tokenFault('Token has expired'), 'expired bound token')
  // 403s name the scope on the DPoP challenge too.
  const out = await api.call({ method: 'POST', url: '/items', headers: { authorization: `DPoP ${bound()}`, dpop: 'x' } })
  t.equal(out.status, 401, 'the proof is checked before the route\'s requirements')
  const reader = bound({ scope: 'items:read' })
  const forbidden = await api.call({ method: 'POST', url: '/items', headers: { authorization: `DPoP ${reader}`, dpop: createDpopProof(holder, { htm: 'POST', htu: HTU, accessToken: reader }) } })
  t.equal(forbidden.status, 403)
  t.equal(forbidden.headers['www-authenticate'], `DPoP error="insufficient_scope", error_description="Insufficient role, scope or permission", scope="items:write", ${ALGS}`)
  t.equal(forbidden.handled, 0)
})

t.test('H3 over a real socket: two DPoP lines, the htu from the Host header', async t => {
  const api = await createApi(t, world)
  const port = await listen(api.app)
  const tok = bound()
  const htu = 'http://127.0.0.1/items' // the Host line socketGet sends
  const ok = await socketGet(port, '/items', [`Authorization: DPoP ${tok}`, `DPoP: ${createDpopProof(holder, { htu, accessToken: tok })}`])
  t.equal(ok.status, 200)
  const twice = await socketGet(port, '/items', [`Authorization: DPoP ${tok}`, `DPoP: ${createDpopProof(holder, { htu, accessToken: tok })}`, `DPoP: ${createDpopProof(holder, { htu, accessToken: tok })}`])
  t.equal(twice.status, 401)
  t.same(JSON.parse(twice.body), { error: 'invalid_dpop_proof', error_description: 'Multiple DPoP proofs' })
  // A Host the client did not sign for: the proof names 127.0.0.1, the request says otherwise.
  const host = await rawHttp(port, `GET /items HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\nAuthorization: DPoP ${tok}\r\nDPoP: ${createDpopProof(holder, { htu, accessToken: tok })}\r\n\r\n`)
  t.same(JSON.parse(host.body), { error: 'invalid_dpop_proof', error_description: 'DPoP proof URL mismatch' })
  t.equal(api.calls, 1)
})

t.test('H3 dpop: false keeps DPoP an unsupported scheme', async t => {
  const api = await createApi(t, world, { options: { dpop: false } })
  const tok = bound()
  const out = await api.call({ url: '/items', headers: { authorization: `DPoP ${tok}`, dpop: createDpopProof(holder, { htu: HTU, accessToken: tok }) } })
  t.equal(out.status, 401)
  t.same(out.body, { error: 'invalid_token', error_description: 'Invalid Authorization Bearer' })
  t.equal(out.headers['www-authenticate'], `Bearer realm="${api.realm}"`)
  t.equal(out.handled, 0)
})
