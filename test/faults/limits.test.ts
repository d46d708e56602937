// Each fetch is bounded: jwksTimeout cuts a silent host and a trickled body, jwksMaxBytes a large
// body, redirects are refused, and malformed documents or keys never cause a 5xx on a token fault.
import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { generateTestKey } from '../../testing.js'
import { INVALID, is503, issuer, rig } from '../jwks-helpers.js'

t.test('a hanging JWKS host times out after jwksTimeout: the request answers 503', async t => {
  const idp = await issuer(t)
  const s = await rig(t, { jwksUri: idp.jwksUri, jwksTimeout: '300ms', jwksPrefetch: false }, idp)
  idp.setMode('hang')
  const pending = Promise.all([s.call(idp.sign({})), s.call(idp.sign({}))])
  const [a, b] = await pending
  is503(t, a)
  is503(t, b)
  t.equal(idp.requests.jwks, 1, 'concurrent requests shared the one attempt')
  t.equal(s.app.axioms.stats().issuers[0]?.lastError, 'timeout')
  t.equal(s.calls(), 0)
  const warn = s.logs.find(l => l.cause === 'timeout')
  t.same({ level: warn?.level, stage: warn?.stage, url: warn?.url }, { level: 40, stage: 'jwks', url: idp.jwksUri })
  t.equal(warn?.msg, `axioms: JWKS fetch for ${s.idp.issuer} failed: GET ${idp.jwksUri} timed out after 300ms (jwksTimeout)`, 'the warning names the stage, the URL and the deadline')
})

t.test('a hanging discovery document times out too', async t => {
  const s = await rig(t, { jwksTimeout: '300ms', jwksPrefetch: false })
  s.idp.setMode('hang')
  is503(t, await s.call(s.idp.sign({})))
  t.equal(s.app.axioms.stats().issuers[0]?.lastError, 'timeout')
})

t.test('a trickled body (one byte per 100 ms) is cut by the same deadline', async t => {
  const idp = await issuer(t)
  const s = await rig(t, { jwksUri: idp.jwksUri, jwksTimeout: '300ms', jwksPrefetch: false }, idp)
  idp.setMode('trickle')
  is503(t, await s.call(idp.sign({})))
  t.equal(s.app.axioms.stats().issuers[0]?.lastError, 'timeout')
})

t.test('prefetch against a hanging host does not hold ready() past the timeout', async t => {
  const idp = await issuer(t)
  idp.setMode('hang')
  const s = await rig(t, { jwksUri: idp.jwksUri, jwksTimeout: '300ms' }, idp)
  await s.app.ready()
  t.equal(s.app.axioms.stats().issuers[0]?.lastError, 'timeout')
})

t.test('bodies over jwksMaxBytes are refused: a 10 MB stream and a merely large set', async t => {
  const idp = await issuer(t)
  const big = await rig(t, { jwksUri: idp.jwksUri, jwksPrefetch: false, jwksTimeout: '30s' }, idp)
  idp.setMode('big')
  is503(t, await big.call(idp.sign({})), '10 MB')
  t.equal(big.app.axioms.stats().issuers[0]?.lastError, 'too_large')
  const warn = big.logs.find(l => l.cause === 'too_large')
  t.match(warn?.msg, new RegExp(`GET ${idp.jwksUri} answered more than jwksMaxBytes \\(1048576 bytes\\): HTTP 200 \\(application/json, \\d+ bytes\\)$`))

  const idp2 = await issuer(t)
  for (let i = 0; i < 4; i++) idp2.addKey('RS256')
  const small = await rig(t, { jwksUri: idp2.jwksUri, jwksPrefetch: false, jwksMaxBytes: 1024 }, idp2)
  is503(t, await small.call(idp2.sign({})), 'five RSA keys > 1 KiB')
  t.equal(small.app.axioms.stats().issuers[0]?.lastError, 'too_large')
  const roomy = await rig(t, { jwksUri: idp2.jwksUri, jwksPrefetch: false, jwksMaxBytes: 64 * 1024 }, idp2)
  t.equal((await roomy.call(idp2.sign({}))).statusCode, 200, 'the same set under a larger cap')
})

t.test('a body cut off mid-way: 503, and the warning says what had come back', async t => {
  const idp = await issuer(t)
  const cut = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4000' })
    res.write('{"keys":[')
    setTimeout(() => res.socket?.destroy(), 20)
  })
  await new Promise<void>(resolve => cut.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise(resolve => cut.close(resolve)))
  const url = `http://127.0.0.1:${(cut.address() as AddressInfo).port}/jwks`
  const s = await rig(t, { jwksUri: url, jwksPrefetch: false }, idp)
  is503(t, await s.call(idp.sign({})))
  const warn = s.logs.find(l => l.cause === 'network')
  t.equal(warn?.msg, `axioms: JWKS fetch for ${idp.issuer} failed: GET ${url} could not be completed (connection refused, reset or closed), after HTTP 200 (application/json, 9 bytes)`)
})

t.test('redirects are refused', async t => {
  const idp = await issuer(t)
  const s = await rig(t, { jwksUri: idp.jwksUri, jwksPrefetch: false }, idp)
  idp.setMode('redirect')
  is503(t, await s.call(idp.sign({})))
  t.equal(s.app.axioms.stats().issuers[0]?.lastError, 'status_302')
  t.equal(idp.requests.jwks, 1, 'the redirect was not followed')
})

t.test('malformed documents: 503 without a set, a fixed cause in the log', async t => {
  for (const [body, cause] of [
    ['{"keys": [', 'invalid_json'],
    ['<html>oops</html>', 'invalid_json'],
    ['[]', 'not_a_jwks'],
    ['"keys"', 'not_a_jwks'],
    ['null', 'not_a_jwks'],
    [{ keys: 'all of them' }, 'not_a_jwks'],
    [{ nokeys: [] }, 'not_a_jwks']
  ] as const) {
    const idp = await issuer(t)
    idp.setJwks(body)
    const s = await rig(t, { jwksUri: idp.jwksUri, jwksPrefetch: false }, idp)
    is503(t, await s.call(idp.sign({})), String(cause))
    t.equal(s.app.axioms.stats().issuers[0]?.lastError, cause)
    t.ok(s.logs.some(l => l.cause === cause && l.level === 40), `${cause}: warn`)
  }
})

t.test('malformed keys are skipped: the good one works, tokens for the bad ones get 401', async t => {
  const idp = await issuer(t)
  const good = idp.keys[0]!
  const other = generateTestKey('RS256', 'broken')
  idp.setJwks({
    keys: [1, 'x', null, [], {}, { kty: 'RSA' }, { kty: 'RSA', kid: 'broken', n: 'AA', e: 'AQAB' },
      { ...other.jwk, n: 123 }, { kty: 'EC', kid: 'ec', crv: 'P-256', x: 'AA', y: 'AA' }, good.jwk]
  })
  const s = await rig(t, { jwksUri: idp.jwksUri, jwksPrefetch: false }, idp)
  t.equal((await s.call(idp.sign({}))).statusCode, 200)
  t.equal(s.app.axioms.stats().issuers[0]?.keys, 1)
  for (const kid of ['broken', 'ec']) {
    const res = await s.call(idp.signRaw({ alg: 'RS256', kid }, { iss: idp.issuer, aud: 'your-api-audience', exp: Math.floor(Date.now() / 1000) + 60 }, other))
    t.same([res.statusCode, res.json()], [401, INVALID], kid)
  }
})

t.test('an empty key list: every token is 401 (not 5xx)', async t => {
  const idp = await issuer(t)
  idp.setJwks({ keys: [] })
  const s = await rig(t, { jwksUri: idp.jwksUri, jwksPrefetch: false }, idp)
  const res = await s.call(idp.sign({}))
  t.same([res.statusCode, res.json()], [401, INVALID])
})

t.test('a refresh that changes keys between requests replaces the whole set', async t => {
  const idp = await issuer(t)
  const s = await rig(t, { jwksUri: idp.jwksUri }, idp)
  await s.app.ready()
  const first = idp.sign({})
  const extra = idp.addKey('ES256', 'added')
  await s.app.axioms.refresh()
  t.equal(s.app.axioms.stats().issuers[0]?.keys, 2)
  idp.setJwks({ keys: [extra.jwk] })
  await s.app.axioms.refresh()
  t.equal(s.app.axioms.stats().issuers[0]?.keys, 1)
  const res = await s.call(first)
  t.same([res.statusCode, res.json()], [401, INVALID], 'removed key')
  t.equal((await s.call(idp.signRaw({ alg: 'ES256', kid: 'added' }, { iss: idp.issuer, aud: 'your-api-audience', exp: Math.floor(Date.now() / 1000) + 60 }, extra))).statusCode, 200)
})
