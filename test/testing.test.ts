// axioms-fastify/testing itself: the issuer's documents, every mode, signing options, rotation,
// and the helpers it exports.
import t from 'tap'
import { createPublicKey, verify } from 'node:crypto'
import { createTestIssuer, generateTestKey, signJws, type Algorithm } from '../testing.js'
import { FetchError, fetchJson } from '../lib/fetch.js'

const part = (token: string, i: number): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[i] as string, 'base64url').toString()) as Record<string, unknown>

t.test('serves discovery and the JWKS; counts and logs requests; 404 elsewhere', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  t.equal(idp.issuer, idp.url)
  const doc = await (await fetch(idp.discoveryUri)).json() as Record<string, unknown>
  t.same(doc, { issuer: idp.issuer, jwks_uri: idp.jwksUri, id_token_signing_alg_values_supported: ['RS256'] })
  const jwks = await (await fetch(`${idp.jwksUri}?x=1`)).json() as { keys: Array<Record<string, unknown>> }
  t.equal(jwks.keys.length, 1)
  t.equal(jwks.keys[0]?.d, undefined, 'no private parts published')
  t.equal(jwks.keys[0]?.use, 'sig')
  t.equal((await fetch(`${idp.url}/other`)).status, 404)
  t.same(idp.requests, { jwks: 1, discovery: 1 })
  t.same(idp.log.map(r => r.document), ['discovery', 'jwks'])
  t.ok(typeof idp.log[0]?.at === 'number')
})

t.test('options: issuer, audience, expiresIn, discovery off, every algorithm', async t => {
  const algorithms: Algorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']
  const idp = await createTestIssuer({ issuer: 'https://idp.test/tenant', audience: ['a', 'b'], expiresIn: 60, discovery: false, algorithms })
  t.teardown(() => idp.close())
  t.equal(idp.issuer, 'https://idp.test/tenant')
  t.equal((await fetch(idp.discoveryUri)).status, 404)
  t.equal(idp.requests.discovery, 0)
  t.equal(idp.keys.length, 10)
  for (const alg of algorithms) {
    const token = idp.sign({ sub: 'u' }, { alg })
    const h = part(token, 0)
    const p = part(token, 1)
    t.equal(h.alg, alg)
    t.equal(p.iss, 'https://idp.test/tenant')
    t.same(p.aud, ['a', 'b'])
    t.equal((p.exp as number) - (p.iat as number), 60)
    const key = idp.keys.find(k => k.kid === h.kid)!
    const [hh, pp, ss] = token.split('.') as [string, string, string]
    const hash = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`
    const opts = alg.startsWith('PS') ? { padding: 6, saltLength: Number(alg.slice(2)) / 8 } : alg.startsWith('ES') ? { dsaEncoding: 'ieee-p1363' as const } : {}
    t.ok(verify(hash, Buffer.from(`${hh}.${pp}`), { key: createPublicKey({ key: key.jwk as never, format: 'jwk' }), ...opts }, Buffer.from(ss, 'base64url')), `${alg} verifies with the published JWK`)
  }
  const rsOnly = await createTestIssuer()
  t.teardown(() => rsOnly.close())
  t.throws(() => rsOnly.sign({}, { alg: 'ES256' }), /no signing key for ES256/)
})

t.test('sign options: override and drop claims and header members', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const token = idp.sign({ iat: undefined, jti: undefined, sub: 's', exp: 42 }, { kid: null, typ: null, header: { cty: 'x' }, expiresIn: 5 })
  const h = part(token, 0)
  const p = part(token, 1)
  t.same(Object.keys(h).sort(), ['alg', 'cty'])
  t.same(p, { iss: idp.issuer, aud: 'your-api-audience', exp: 42, sub: 's' })
  const typed = part(idp.sign({}, { kid: 'other', typ: 'JWT', expiresIn: 7 }), 0)
  t.same(typed, { alg: 'RS256', kid: 'other', typ: 'JWT' })
  const p2 = part(idp.sign({}, { expiresIn: 7 }), 1)
  t.equal((p2.exp as number) - (p2.iat as number), 7)
  t.equal(part(idp.sign(), 0).typ, 'at+jwt', 'default typ')
})

t.test('signRaw and signJws: raw JSON text, any key', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const raw = idp.signRaw('{"alg":"RS256","kid":"k","kid":"dup"}', '{"a":1}')
  t.equal(Buffer.from(raw.split('.')[0] as string, 'base64url').toString(), '{"alg":"RS256","kid":"k","kid":"dup"}')
  const other = generateTestKey('ES256', 'es')
  t.same(part(idp.signRaw({ alg: 'ES256', kid: 'es' }, { b: 2 }, other), 1), { b: 2 })
  t.equal(Buffer.from(signJws({ alg: 'ES256' }, 'x', other).split('.')[2] as string, 'base64url').length, 64, 'ES256: raw R || S')
  t.match(generateTestKey('RS256').kid, /^rs256-/)
})

t.test('rotate, keepOld, addKey, setJwks, setDiscovery', async t => {
  const idp = await createTestIssuer({ algorithms: ['RS256', 'ES256'] })
  t.teardown(() => idp.close())
  const first = idp.keys.map(k => k.kid)
  idp.rotate({ keepOld: true })
  t.equal(idp.keys.length, 4)
  t.same(idp.keys.slice(2).map(k => k.kid), first)
  idp.rotate()
  t.equal(idp.keys.length, 2)
  t.notOk(idp.keys.some(k => first.includes(k.kid)))
  const added = idp.addKey('EdDSA', 'ed')
  t.equal(added.kid, 'ed')
  t.equal(idp.keys.length, 3)
  t.not(part(idp.sign(), 0).kid, 'ed', 'added keys do not sign by default')
  idp.setJwks('not json')
  t.equal(await (await fetch(idp.jwksUri)).text(), 'not json')
  idp.setJwks({ keys: [] })
  t.same(await (await fetch(idp.jwksUri)).json(), { keys: [] })
  idp.setJwks(undefined)
  t.equal(((await (await fetch(idp.jwksUri)).json()) as { keys: unknown[] }).keys.length, 3)
  idp.setDiscovery({ issuer: 'x' })
  t.same(await (await fetch(idp.discoveryUri)).json(), { issuer: 'x' })
  idp.setDiscovery(undefined)
  t.equal(((await (await fetch(idp.discoveryUri)).json()) as { issuer: string }).issuer, idp.issuer)
})

async function code (url: string, timeout = 2000, maxBytes = 1024 * 1024): Promise<string> {
  try {
    await fetchJson(url, timeout, maxBytes)
    return 'ok'
  } catch (err) {
    return (err as FetchError).code
  }
}

t.test('modes', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const modes = [['down', 'network'], ['status', 'status_500'], ['html', 'status_502'], ['notfound', 'status_404'], ['redirect', 'status_302'], ['hang', 'timeout'], ['big', 'too_large'], ['trickle', 'timeout'], ['ok', 'ok']] as const
  for (const [mode, expected] of modes) {
    idp.setMode(mode)
    t.equal(await code(idp.jwksUri, 300), expected, mode)
  }
  idp.setMode('big')
  const big = await fetch(idp.jwksUri)
  const body = await big.text()
  t.ok(body.length > 10_000_000, 'big: more than 10 MB, read to the end')
  t.same(Object.keys(JSON.parse(body) as object), ['keys', 'padding'])
  idp.setMode('trickle')
  idp.setJwks('{}')
  t.same(await fetchJson(idp.jwksUri, 5000, 1024), { status: 200, body: {}, contentType: 'application/json', bytes: 2 }, 'trickle: a short document completes')
})

t.test('delay: answers late; a client that gave up gets nothing', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  idp.setDelay(200)
  t.equal(await code(idp.jwksUri, 50), 'timeout')
  t.equal(await code(idp.jwksUri, 5000), 'ok')
  await new Promise(resolve => setTimeout(resolve, 250))
  idp.setDelay(0)
  t.equal(await code(idp.jwksUri), 'ok')
  t.equal(idp.requests.jwks, 3)
})

t.test('close() ends hanging, trickling and delayed answers', async t => {
  const idp = await createTestIssuer()
  idp.setMode('hang')
  const hung = fetch(idp.jwksUri).then(r => r.text()).catch(() => 'closed')
  idp.setMode('trickle')
  const trickled = fetch(idp.jwksUri).then(r => r.text()).catch(() => 'closed')
  idp.setMode('ok')
  idp.setDelay(60_000)
  const delayed = fetch(idp.jwksUri).then(r => r.text()).catch(() => 'closed')
  await new Promise(resolve => setTimeout(resolve, 150))
  await idp.close()
  t.same(await Promise.all([hung, trickled, delayed]), ['closed', 'closed', 'closed'])
})

t.test('pluginOptions: this issuer, its audience, no AXIOMS_* variables', async t => {
  const idp = await createTestIssuer({ audience: ['api-a', 'api-b'] })
  t.teardown(() => idp.close())
  t.same(idp.pluginOptions(), { issuer: idp.issuer, audience: ['api-a', 'api-b'], env: {} })
  t.same(idp.pluginOptions({ tokenCache: 5, env: { AXIOMS_REALM: 'r' } }), { issuer: idp.issuer, audience: ['api-a', 'api-b'], env: { AXIOMS_REALM: 'r' }, tokenCache: 5 }, 'extra options win')
})
