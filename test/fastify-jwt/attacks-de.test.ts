// SECURITY.md §8 D (signature, key material) and E (claims, time) with verifier 'fastify-jwt' in
// front of the real @fastify/jwt + get-jwks. Signatures are fast-jwt's: the byte-level rows hold.
// The key-material rows do not: get-jwks and jwk-to-pem hand fast-jwt any RSA key of the JWKS
// (1024 bits, e = 1, use: enc), so D7 and D10 are shown as the gaps they are. The claim rows hold,
// since the plugin checks claims itself, before and after @fastify/jwt; for E2/E6 the stricter
// clock of the two decides.
import { createHash, generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { signJws, type TestKey } from '../../testing.js'
import { accepted, hs256, refused, segments, signatureOf, withSignature } from '../attacks/harness.js'
import { API, claimsV, createApi, createWorld, headerFor, now, token } from './fixture.js'

const world = await createWorld()
t.teardown(() => world.close())
const rs = world.k.rs
const es = world.k.es

function publish (t: { teardown: (fn: () => unknown) => void }, keys: unknown[]): void {
  world.a.setJwks({ keys })
  t.teardown(() => world.a.setJwks(undefined))
}

const P256_N = BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551')
const int32 = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(64, '0'), 'hex')

t.test('D1-D3 signature removed, swapped, off by a byte', async t => {
  const api = await createApi(t, world)
  accepted(t, await api.get(token(world)), 'warm: k-rs fetched once')
  const [h, p] = segments(token(world))
  refused(t, await api.get(`${h}.${p}.`), 'MT', api.realm, {}, 'D1')
  const one = token(world)
  const two = token(world, { scope: 'items:write' })
  refused(t, await api.get(withSignature(two, signatureOf(one))), 'SIG', api.realm, {}, 'D2 swapped')
  const sig = signatureOf(one)
  const flipped = Buffer.from(sig)
  flipped[10] = (flipped[10] as number) ^ 1
  for (const [name, s] of Object.entries({ 'one more': Buffer.concat([sig, Buffer.from([1])]), 'one less': sig.subarray(1), 'leading 00': Buffer.concat([Buffer.from([0]), sig]), flipped, zero: Buffer.alloc(256) })) {
    refused(t, await api.get(withSignature(one, s)), 'SIG', api.realm, {}, `D3 ${name}`)
  }
})

t.test('D4-D6 ECDSA: DER and wrong lengths refused, r = s = 0 refused, the high-S twin verifies', async t => {
  const api = await createApi(t, world)
  const tok = token(world, {}, {}, es)
  accepted(t, await api.get(tok), 'the original')
  const raw = signatureOf(tok)
  const r = raw.subarray(0, 32)
  const s = raw.subarray(32)
  const der = (b: Buffer): Buffer => {
    let v = b
    while (v.length > 1 && v[0] === 0) v = v.subarray(1)
    if ((v[0] as number) & 0x80) v = Buffer.concat([Buffer.from([0]), v])
    return Buffer.concat([Buffer.from([0x02, v.length]), v])
  }
  const body = Buffer.concat([der(r), der(s)])
  for (const [name, sig] of Object.entries({
    DER: Buffer.concat([Buffer.from([0x30, body.length]), body]),
    '63 bytes': raw.subarray(1),
    '65 bytes': Buffer.concat([raw, Buffer.from([0])]),
    'r = s = 0': Buffer.alloc(64),
    'r = n': Buffer.concat([int32(P256_N), s])
  })) refused(t, await api.get(withSignature(tok, sig)), 'SIG', api.realm, {}, name)
  const twin = withSignature(tok, Buffer.concat([r, int32(P256_N - BigInt('0x' + s.toString('hex')))]))
  accepted(t, await api.get(twin), 'D6 high-S twin (N6: never key a denylist by token hash)')
})

/** EMSA-PKCS1-v1_5 of SHA-256(input) for a 2048-bit modulus: the "signature" an e = 1 key accepts. */
function pkcs1Encoded (input: string): Buffer {
  const digestInfo = Buffer.from('3031300d060960864801650304020105000420', 'hex')
  const t2 = Buffer.concat([digestInfo, createHash('sha256').update(input).digest()])
  return Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(256 - t2.length - 3, 0xff), Buffer.from([0]), t2])
}

t.test('D7 does not hold: an RSA-1024 key, and an e = 1 key, of the JWKS are used as published', async t => {
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const smallKey: TestKey = { kid: 'k-1024', alg: 'RS256', privateKey: small.privateKey, publicKey: small.publicKey, jwk: { ...small.publicKey.export({ format: 'jwk' }), kid: 'k-1024', alg: 'RS256', use: 'sig' } }
  publish(t, [rs.jwk, smallKey.jwk, { ...rs.jwk, kid: 'k-e1', e: 'AQ' }])
  const api = await createApi(t, world)
  accepted(t, await api.get(signJws(headerFor(smallKey), claimsV(world), smallKey)), 'RSA-1024 accepted (the built-in engine: 401)')
  const h = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'k-e1', typ: 'at+jwt' })).toString('base64url')
  const p = Buffer.from(JSON.stringify(claimsV(world, { scope: 'items:write' }))).toString('base64url')
  const forged = `${h}.${p}.${pkcs1Encoded(`${h}.${p}`).toString('base64url')}`
  accepted(t, await api.get(forged, '/items', 'POST'), 'a forgery without any private key passes once the IdP publishes e = 1 (the built-in engine: 401)')
})

t.test('D8 an EC point off the curve: jwk-to-pem refuses it, 401, never a 5xx', async t => {
  const y = Buffer.from(es.jwk.y as string, 'base64url')
  y[y.length - 1] = (y[y.length - 1] as number) ^ 1
  publish(t, [rs.jwk, es.jwk, { ...es.jwk, kid: 'k-off', y: y.toString('base64url') }, { kty: 'RSA', e: 'AQAB', kid: 'k-non', alg: 'RS256' }])
  const api = await createApi(t, world)
  refused(t, await api.get(token(world, {}, { kid: 'k-off' }, es)), 'IAC', api.realm, { jwks: 1 }, 'off-curve')
  refused(t, await api.get(token(world, {}, { kid: 'k-non' })), 'IAC', api.realm, { jwks: 1 }, 'RSA without n')
  accepted(t, await api.get(token(world, {}, {}, es)), 'the good EC key still works')
})

t.test('D9 RS256 header over a PSS signature and the reverse: Invalid token signature', async t => {
  publish(t, [{ ...rs.jwk, kid: 'k-rsa-any', alg: undefined }])
  const api = await createApi(t, world)
  const pss = signJws({ alg: 'PS256', kid: 'k-rsa-any', typ: 'at+jwt' }, claimsV(world), { ...rs, alg: 'PS256' })
  const pkcs1 = signJws({ alg: 'RS256', kid: 'k-rsa-any', typ: 'at+jwt' }, claimsV(world), rs)
  accepted(t, await api.get(pss), 'PS256 as signed')
  accepted(t, await api.get(pkcs1), 'RS256 as signed')
  refused(t, await api.get(`${segments(pkcs1)[0]}.${segments(pss)[1]}.${segments(pss)[2]}`), 'SIG', api.realm, {}, 'RS256 header, PSS signature')
  refused(t, await api.get(`${segments(pss)[0]}.${segments(pkcs1)[1]}.${segments(pkcs1)[2]}`), 'SIG', api.realm, {}, 'PS256 header, PKCS#1 signature')
})

t.test('D10 does not hold: a JWK with use "enc" verifies signatures (get-jwks reads kid and alg only)', async t => {
  publish(t, [{ ...rs.jwk, kid: 'k-enc', use: 'enc' }, { ...rs.jwk, kid: 'k-ops', use: undefined, key_ops: ['encrypt'] }])
  const api = await createApi(t, world)
  accepted(t, await api.get(token(world, {}, { kid: 'k-enc' })), 'use: enc (the built-in engine: 401)')
  accepted(t, await api.get(token(world, {}, { kid: 'k-ops' })), 'key_ops without verify (the built-in engine: 401)')
})

t.test('D11-D12 an oct key is never an HMAC key; private members are ignored', async t => {
  const secret = Buffer.from('published-symmetric-secret')
  const privateJwk = { ...rs.privateKey.export({ format: 'jwk' }), kid: 'k-rs', alg: 'RS256', use: 'sig' }
  publish(t, [privateJwk, { kty: 'oct', k: secret.toString('base64url'), kid: 'k-oct', alg: 'HS256', use: 'sig' }])
  const api = await createApi(t, world)
  refused(t, await api.get(hs256({ alg: 'HS256', kid: 'k-oct', typ: 'at+jwt' }, claimsV(world, { scope: 'items:write' }), secret), '/items', 'POST'), 'ALG', api.realm, {}, 'HS256 with the oct key\'s k')
  refused(t, await api.get(token(world, {}, { kid: 'k-oct' })), 'IAC', api.realm, { jwks: 1 }, 'RS256 naming the oct key')
  accepted(t, await api.get(token(world)), 'D12 the RSA key with d, p, q: its public part')
})

t.test('E1, E3-E5 exp: required, finite, checked by the plugin before any fetch', async t => {
  const api = await createApi(t, world)
  const n = now()
  refused(t, await api.get(token(world, { exp: n - 1 })), 'EXP', api.realm, {}, 'E1 now - 1')
  refused(t, await api.get(token(world, { exp: n })), 'EXP', api.realm, {}, 'E1 now')
  refused(t, await api.get(token(world, { exp: undefined })), 'NOEXP', api.realm, {}, 'E3')
  for (const exp of ['9999999999', true, {}]) refused(t, await api.get(token(world, { exp })), 'IAC', api.realm, {}, `E4 ${JSON.stringify(exp)}`)
  const inf = signJws(headerFor(rs), JSON.stringify(claimsV(world)).replace(/"exp":\d+/, '"exp":1e400'), rs)
  refused(t, await api.get(inf), 'IAC', api.realm, {}, 'E4 1e400 (N2)')
  accepted(t, await api.get(token(world, { exp: n + 10 * 365 * 86400 })), 'E5 ten years')
})

t.test('E2, E6 clockTolerance: the stricter clock decides, so give @fastify/jwt the same tolerance', async t => {
  // Times from the clock at each token, 10 s inside or outside the 60 s tolerance: a slow runner
  // between two requests must not move a token across it.
  const lenient = await createApi(t, world, { options: { clockTolerance: 60 }, jwt: { verify: { clockTolerance: 60_000 } } })
  accepted(t, await lenient.get(token(world, { exp: now() - 50 })), 'E2 exp now - 50, both at 60 s')
  refused(t, await lenient.get(token(world, { exp: now() - 70 })), 'EXP', lenient.realm, {}, 'E2 exp now - 70')
  accepted(t, await lenient.get(token(world, { nbf: now() + 30 })), 'E6 nbf now + 30')
  refused(t, await lenient.get(token(world, { nbf: now() + 120 })), 'IAC', lenient.realm, {}, 'E6 nbf now + 120')
  const onlyOurs = await createApi(t, world, { options: { clockTolerance: 60 } })
  refused(t, await onlyOurs.get(token(world, { exp: now() - 50 })), 'EXP', onlyOurs.realm, { jwks: 1 }, 'E2 differs without it: fast-jwt\'s 0 s (FST_JWT_AUTHORIZATION_TOKEN_EXPIRED)')
  refused(t, await onlyOurs.get(token(world, { nbf: now() + 30 })), 'IAC', onlyOurs.realm, {}, 'E6 likewise (FAST_JWT_INACTIVE)')
})

t.test('E7-E8, E14 iat in the future; the RFC 9068 claims under profile S', async t => {
  const d = await createApi(t, world)
  refused(t, await d.get(token(world, { iat: now() + 3600 })), 'IAC', d.realm, {}, 'E7 future iat')
  refused(t, await d.get(token(world, { iat: 'x' })), 'IAC', d.realm, {}, 'E7 iat "x"')
  const s = await createApi(t, world, { profile: 'S' })
  for (const claim of ['iat', 'sub', 'client_id', 'jti']) {
    accepted(t, await d.get(token(world, { [claim]: undefined })), `E8 D without ${claim}`)
    refused(t, await s.get(token(world, { [claim]: undefined })), 'IAC', s.realm, {}, `E8 S without ${claim}`)
  }
  for (const sub of [123, '']) refused(t, await s.get(token(world, { sub })), 'IAC', s.realm, {}, `E14 sub ${JSON.stringify(sub)}`)
})

t.test('E9-E10 iss: exactly a configured issuer, checked before get-jwks is asked', async t => {
  const api = await createApi(t, world)
  const a = world.a.issuer
  for (const iss of [world.b.issuer, undefined, [a], a + '/', a.toUpperCase(), a.replace('http:', 'https:'), a.replace('127.0.0.1', 'localhost')]) {
    refused(t, await api.get(token(world, { iss })), 'ISS', api.realm, {}, `iss ${JSON.stringify(iss)}`)
  }
  t.equal(world.b.requests.jwks, 0, 'B never asked')
})

t.test('E11-E13 aud: contains ours, exactly; E15 ID tokens; E16 / H1 cnf', async t => {
  const api = await createApi(t, world)
  for (const aud of ['other', ['other'], [], '', 1, {}, [1], undefined, 'https://api.test.evil', 'https://api.tes', `${API}/`, 'a'.repeat(4000)]) {
    refused(t, await api.get(token(world, { aud })), 'AUD', api.realm, {}, `aud ${JSON.stringify(aud)?.slice(0, 30)}`)
  }
  accepted(t, await api.get(token(world, { aud: ['https://other.test', API] })), 'E12')
  const idToken = { aud: 'c1', nonce: 'n', at_hash: 'x' }
  refused(t, await api.get(token(world, idToken, { typ: 'JWT' })), 'AUD', api.realm, {}, 'E15 D')
  const s = await createApi(t, world, { profile: 'S' })
  refused(t, await s.get(token(world, idToken, { typ: 'JWT' })), 'TYP', s.realm, {}, 'E15 S')
  for (const cnf of [{ jkt: 'abc' }, { 'x5t#S256': 'abc' }]) refused(t, await api.get(token(world, { cnf })), 'IAC', api.realm, {}, `cnf ${Object.keys(cnf)[0]}`)
})
