// The test kit's DPoP and certificate-binding helpers (testing.ts): RFC vectors, proofs the
// verifier accepts, every member overridable or droppable, and bound tokens from a test issuer.
import t from 'tap'
import {
  certificateThumbprint, createDpopProof, createTestIssuer, dpopAccessTokenHash, generateDpopKey, jwkThumbprint,
  signCertificateBoundToken, signDpopBoundToken, signDpopProofRaw, type Algorithm
} from '../../testing.js'
import { jwkThumbprint as libThumbprint } from '../../lib/dpop/jwk.js'
import { accessTokenHash, DpopVerifier } from '../../lib/dpop/proof.js'
import { certificateThumbprint as libCertificateThumbprint } from '../../lib/mtls.js'
import { decodeCompact } from '../../lib/bearer.js'
import { settings } from './helpers.js'
import { selfSigned } from './certs.js'

// RFC 7638 §3.1: the example key and its thumbprint.
const RFC7638_KEY = {
  kty: 'RSA',
  n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
  e: 'AQAB',
  alg: 'RS256',
  kid: '2011-04-29'
}
const RFC7638_THUMBPRINT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'

t.test('RFC 7638 thumbprints: the RFC example, and the kit agreeing with the plugin', async t => {
  t.equal(jwkThumbprint(RFC7638_KEY), RFC7638_THUMBPRINT, 'kit')
  t.equal(libThumbprint(RFC7638_KEY), RFC7638_THUMBPRINT, 'plugin')
  for (const alg of ['ES256', 'ES384', 'ES512', 'RS256', 'PS256', 'EdDSA'] as Algorithm[]) {
    const key = generateDpopKey(alg)
    t.equal(key.jkt, libThumbprint(key.jwk), alg)
    t.equal(key.kid, key.jkt)
    t.equal(key.alg, alg)
    t.notOk('d' in key.jwk, 'the jwk is public')
  }
  t.equal(generateDpopKey().alg, 'ES256', 'ES256 by default')
  t.throws(() => jwkThumbprint({ kty: 'oct', k: 'x' }), /unsupported kty/)
  t.equal(libThumbprint({ kty: 'oct', k: 'x' }), undefined)
  t.equal(libThumbprint({ kty: 'RSA', n: 'x' }), undefined, 'a required member missing')
})

t.test('createDpopProof: a proof the verifier accepts', async t => {
  const key = generateDpopKey()
  const token = 'a.b.c'
  const value = createDpopProof(key, { htm: 'POST', htu: 'https://api.test/orders', accessToken: token })
  const { header, payload } = decodeCompact(value, false)
  t.same(header, { typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk })
  t.same(Object.keys(payload).sort(), ['ath', 'htm', 'htu', 'iat', 'jti'])
  t.equal(payload.ath, accessTokenHash(token))
  t.equal(dpopAccessTokenHash(token), accessTokenHash(token))
  t.ok(Math.abs((payload.iat as number) - Date.now() / 1000) < 5)
  t.match(payload.jti, /^[0-9a-f-]{36}$/)
  const v = new DpopVerifier(settings())
  const verdict = await v.check({ dpop: value, dpopCount: 1, method: 'POST', scheme: 'https', host: 'api.test', url: '/orders', accessToken: token, claims: { cnf: { jkt: key.jkt } } })
  t.equal(verdict.jkt, key.jkt)
})

t.test('createDpopProof: defaults, overrides and dropped members', async t => {
  const key = generateDpopKey('EdDSA')
  const plain = decodeCompact(createDpopProof(key, { htu: 'https://api.test/' }), false).payload
  t.equal(plain.htm, 'GET')
  t.notOk('ath' in plain)
  t.notOk('nonce' in plain)
  const custom = decodeCompact(createDpopProof(key, {
    htu: 'https://api.test/',
    iat: 1000,
    jti: 'fixed',
    nonce: 'n-1',
    accessToken: 'tok',
    header: { typ: 'JWT', kid: 'extra', jwk: undefined },
    claims: { htm: undefined, ath: undefined, extra: true }
  }), false)
  t.same(custom.header, { typ: 'JWT', alg: 'EdDSA', kid: 'extra' })
  t.same(custom.payload, { jti: 'fixed', htu: 'https://api.test/', iat: 1000, nonce: 'n-1', extra: true })
  const raw = signDpopProofRaw(key, '{"typ":"dpop+jwt","typ":"x"}', '[1]')
  t.equal(Buffer.from(raw.split('.')[0] as string, 'base64url').toString(), '{"typ":"dpop+jwt","typ":"x"}', 'raw JSON text kept as is')
  t.equal(Buffer.from(raw.split('.')[1] as string, 'base64url').toString(), '[1]')
})

t.test('bound tokens from a test issuer', async t => {
  const idp = await createTestIssuer({ algorithms: ['ES256'] })
  t.teardown(() => idp.close())
  const key = generateDpopKey()
  const bound = decodeCompact(signDpopBoundToken(idp, key, { scope: 'read', cnf: 'replaced' }, { expiresIn: 60 })).payload
  t.same(bound.cnf, { jkt: key.jkt })
  t.equal(bound.scope, 'read')
  t.equal((bound.exp as number) - (bound.iat as number), 60)
  t.same(decodeCompact(signDpopBoundToken(idp, key)).payload.cnf, { jkt: key.jkt })

  const cert = await selfSigned('client')
  const x5t = libCertificateThumbprint(cert.der)
  t.equal(certificateThumbprint(cert.cert), x5t, 'PEM')
  t.equal(certificateThumbprint(cert.der), x5t, 'DER')
  t.same(decodeCompact(signCertificateBoundToken(idp, cert.cert, { sub: 'svc' })).payload.cnf, { 'x5t#S256': x5t })
  t.equal(decodeCompact(signCertificateBoundToken(idp, cert.der)).payload.sub, undefined)
  t.throws(() => certificateThumbprint('not a certificate'), /not a PEM certificate/)
})
