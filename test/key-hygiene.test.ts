// Issue 11 item 1: degenerate keys are refused at import (lib/keys.ts importKeyMaterial, the
// kid-less core shared with DPoP proofs), each family by its own rules; a refused key is warned
// about once with issuer and kid, never used, and its neighbours keep working. Where Node would
// have accepted the key, the test shows it (and, for the Ed25519 small-order points, that Node
// then verifies a forged signature), so each rule is seen to matter.
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, verify as cryptoVerify } from 'node:crypto'
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { calculateJwkThumbprint, type JWK } from 'jose'
import axioms from '../index.js'
import { importJwk, importKeyMaterial, MAX_JWKS_KEYS, RSA_MAX_BITS, RSA_MAX_EXPONENT, RSA_MIN_BITS } from '../lib/keys.js'
import { createTestIssuer, generateTestKey, signJws, type TestIssuer } from '../testing.js'
import { logSink } from './attacks/harness.js'

const b64u = (b: Buffer | Uint8Array): string => Buffer.from(b).toString('base64url')
const hex = (h: string): Buffer => Buffer.from(h, 'hex')
const mod = (a: bigint, p: bigint): bigint => ((a % p) + p) % p
function pow (b: bigint, e: bigint, p: bigint): bigint {
  let r = 1n
  b = mod(b, p)
  for (; e > 0n; e >>= 1n) {
    if (e & 1n) r = r * b % p
    b = b * b % p
  }
  return r
}
const be = (n: bigint, len: number): Buffer => Buffer.from(n.toString(16).padStart(len * 2, '0'), 'hex')

function reasonOf (jwk: unknown): string | undefined {
  const r = importKeyMaterial(jwk)
  return 'unusable' in r ? r.unusable : undefined
}

// ---------------------------------------------------------------------------------------------
// EdDSA

const P25519 = 2n ** 255n - 19n
const P448 = 2n ** 448n - 2n ** 224n - 1n

/** RFC 8032 encoding of y with the sign bit of x, over `len` bytes (y may be >= p: non-canonical). */
function edEncode (y: bigint, sign: number, len: number): Buffer {
  const out = Buffer.alloc(len)
  const le = be(y, len).reverse()
  le.copy(out)
  if (sign === 1) out[len - 1] = (out[len - 1] as number) | 0x80
  return out
}

// The 8-torsion of Ed25519: y = 1 (identity), -1 (order 2), 0 (order 4, x = ±sqrt(-1)) and two
// y of order-8 points (the values libsodium's small-order table lists).
const Y8 = [hex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05'), hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a')]
  .map(b => BigInt('0x' + Buffer.from(b).reverse().toString('hex')))
const SMALL_25519: Array<[string, Buffer]> = []
for (const [name, y] of [['identity', 1n], ['order 2', P25519 - 1n], ['order 4', 0n], ['order 8 (a)', Y8[0] as bigint], ['order 8 (b)', Y8[1] as bigint], ['order 4, y = p', P25519], ['identity, y = p + 1', P25519 + 1n]] as const) {
  for (const sign of [0, 1]) SMALL_25519.push([`${name}, sign ${sign}`, edEncode(y, sign, 32)])
}
// The 4-torsion of Ed448: y = 1, -1, 0 (x = ±1), and the spellings y = p, p + 1.
const SMALL_448: Array<[string, Buffer]> = []
for (const [name, y] of [['identity', 1n], ['order 2', P448 - 1n], ['order 4', 0n], ['order 4, y = p', P448], ['identity, y = p + 1', P448 + 1n]] as const) {
  for (const sign of [0, 1]) SMALL_448.push([`${name}, sign ${sign}`, edEncode(y, sign, 57)])
}

t.test('Ed25519: the 14 encodings of the 8 small-order points are refused; Node alone would verify forgeries under each', async t => {
  t.equal(SMALL_25519.length, 14)
  const identityR = edEncode(1n, 0, 32)
  const forged = Buffer.concat([identityR, Buffer.alloc(32)])
  for (const [name, x] of SMALL_25519) {
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: b64u(x) }
    t.match(reasonOf(jwk), /^okp_(small_order|non_canonical)$/, name)
    const nodeKey = createPublicKey({ key: jwk, format: 'jwk' })
    let forgeries = 0
    for (let i = 0; i < 64; i++) if (cryptoVerify(null, Buffer.from(`message ${i}`), nodeKey, forged)) forgeries++
    t.ok(forgeries > 0, `${name}: Node imports it and accepts R = identity, S = 0 for ${forgeries}/64 messages`)
  }
  t.equal(reasonOf({ kty: 'OKP', crv: 'Ed25519', x: b64u(edEncode(1n, 0, 32)) }), 'okp_small_order', 'the canonical identity')
  t.equal(reasonOf({ kty: 'OKP', crv: 'Ed25519', x: b64u(edEncode(1n, 1, 32)) }), 'okp_non_canonical', 'x = 0 with the sign bit set')
  t.equal(reasonOf({ kty: 'OKP', crv: 'Ed25519', x: b64u(edEncode(P25519 + 1n, 0, 32)) }), 'okp_non_canonical', 'y >= p')
})

t.test('Ed448: the 10 encodings of the 4 low-order points are refused', async t => {
  t.equal(SMALL_448.length, 10)
  for (const [name, x] of SMALL_448) {
    const jwk = { kty: 'OKP', crv: 'Ed448', x: b64u(x) }
    t.match(reasonOf(jwk), /^okp_(small_order|non_canonical)$/, name)
    t.doesNotThrow(() => createPublicKey({ key: jwk, format: 'jwk' }), `${name}: Node would import it`)
  }
})

/** Euler's criterion for (y^2 - 1) / (d y^2 - a): whether y is the y of a point. */
function onEdwards (y: bigint, p: bigint, a: bigint, d: bigint): boolean {
  const w = mod((y * y - 1n) * pow(mod(d * y * y - a, p), p - 2n, p), p)
  return w === 0n || pow(w, (p - 1n) / 2n, p) === 1n
}

t.test('OKP: exact length, canonical encoding, on the curve; generated keys and their torsion twins pass', async t => {
  const d25519 = mod(-121665n * pow(121666n, P25519 - 2n, P25519), P25519)
  let off = 0
  for (let i = 0; off < 8; i++) {
    const y = BigInt('0x' + randomBytes(31).toString('hex'))
    if (onEdwards(y, P25519, P25519 - 1n, d25519)) continue
    off++
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: b64u(edEncode(y, i & 1, 32)) }
    t.equal(reasonOf(jwk), 'okp_off_curve', `Ed25519 y with no x (${off})`)
    t.doesNotThrow(() => createPublicKey({ key: jwk, format: 'jwk' }), 'Node would import it')
  }
  const d448 = P448 - 39081n
  for (let found = 0; found < 4;) {
    const y = BigInt('0x' + randomBytes(55).toString('hex'))
    if (onEdwards(y, P448, 1n, d448)) continue
    found++
    t.equal(reasonOf({ kty: 'OKP', crv: 'Ed448', x: b64u(edEncode(y, 0, 57)) }), 'okp_off_curve', `Ed448 y with no x (${found})`)
  }
  const ed = Buffer.from(generateTestKey('EdDSA').jwk.x as string, 'base64url')
  for (const len of [0, 31, 33, 57]) {
    const x = len === 0 ? '' : b64u(Buffer.concat([ed, Buffer.alloc(64)]).subarray(0, len))
    t.equal(reasonOf({ kty: 'OKP', crv: 'Ed25519', x }), len === 0 ? 'bad_okp' : 'okp_bad_length', `Ed25519 x of ${len} bytes`)
  }
  const ed448 = Buffer.from(generateKeyPairSync('ed448').publicKey.export({ format: 'jwk' }).x as string, 'base64url')
  t.equal(reasonOf({ kty: 'OKP', crv: 'Ed448', x: b64u(ed448.subarray(1)) }), 'okp_bad_length', 'Ed448 x of 56 bytes')
  const junk = Buffer.from(ed448)
  junk[56] = (junk[56] as number) | 0x01
  t.equal(reasonOf({ kty: 'OKP', crv: 'Ed448', x: b64u(junk) }), 'okp_non_canonical', 'Ed448 with a stray bit in the last octet')
  const text = b64u(ed)
  t.equal(reasonOf({ kty: 'OKP', crv: 'Ed25519', x: text + '=' }), 'not_base64url', 'padding')
  t.equal(reasonOf({ kty: 'OKP', crv: 'Ed25519', x: text.slice(0, 42) + '+' }), 'not_base64url', 'base64 alphabet')
  // 32 bytes = 43 characters, the last carrying 2 unused bits: set one.
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const twin = text.slice(0, 42) + ALPHABET[ALPHABET.indexOf(text[42] as string) | 1]
  t.same(Buffer.from(twin, 'base64url'), ed, 'the twin spelling decodes to the same bytes')
  t.equal(reasonOf({ kty: 'OKP', crv: 'Ed25519', x: twin }), 'not_base64url', 'non-zero unused bits')

  for (let i = 0; i < 50; i++) {
    t.equal(reasonOf(generateTestKey('EdDSA').jwk), undefined)
    t.equal(reasonOf(generateKeyPairSync('ed448').publicKey.export({ format: 'jwk' })), undefined)
  }
  t.pass('100 generated Ed25519 and Ed448 keys are imported')
  // (x, y) + (0, -1) = (-x, -y): a point with a torsion component. RFC 8032 key generation never
  // makes one; only its holder could use it, so it is imported (lib/curves.ts says why).
  const k = generateTestKey('EdDSA')
  const raw = Buffer.from(k.jwk.x as string, 'base64url')
  const y = BigInt('0x' + Buffer.from(raw).reverse().toString('hex')) & ((1n << 255n) - 1n)
  const mixed = edEncode(P25519 - y, (raw[31] as number) >> 7 ^ 1, 32)
  const m = importKeyMaterial({ kty: 'OKP', crv: 'Ed25519', x: b64u(mixed) })
  t.notOk('unusable' in m, 'a key with a torsion component is imported')
  const [h, p, s] = signJws({ alg: 'EdDSA', kid: 'x' }, { a: 1 }, k).split('.') as [string, string, string]
  t.notOk(cryptoVerify(null, Buffer.from(`${h}.${p}`), (m as { key: ReturnType<typeof createPublicKey> }).key, Buffer.from(s, 'base64url')), 'and is another key')
})

// ---------------------------------------------------------------------------------------------
// EC

const NIST: Record<string, { p: bigint, b: bigint, size: number }> = {
  'P-256': { p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n, b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn, size: 32 },
  'P-384': { p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n, b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn, size: 48 },
  'P-521': { p: 2n ** 521n - 1n, b: 0x51953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n, size: 66 }
}

/** The point of the curve with the smallest x (all three have p = 3 mod 4: sqrt is one power). */
function smallPoint (crv: string): { x: bigint, y: bigint } {
  const { p, b } = NIST[crv] as { p: bigint, b: bigint }
  for (let x = 0n; ; x++) {
    const rhs = mod(x ** 3n - 3n * x + b, p)
    const y = pow(rhs, (p + 1n) / 4n, p)
    if (y * y % p === rhs) return { x, y }
  }
}

t.test('EC: coordinates of exactly the field length, below p, on the curve (Node checks only the last)', async t => {
  for (const crv of Object.keys(NIST)) {
    const { p, size } = NIST[crv] as { p: bigint, size: number }
    const { x, y } = smallPoint(crv)
    const jwk = { kty: 'EC', crv, x: b64u(be(x, size)), y: b64u(be(y, size)) }
    t.equal(reasonOf(jwk), undefined, `${crv}: a valid point with a small x`)
    t.equal(reasonOf({ ...jwk, x: b64u(be(x + p, size)) }), 'ec_out_of_range', `${crv}: x + p, the same point spelt again`)
    if (crv === 'P-521') {
      t.equal(reasonOf({ ...jwk, y: b64u(be(y + p, size)) }), 'ec_out_of_range', 'P-521: y + p')
      t.equal(reasonOf({ ...jwk, x: b64u(Buffer.alloc(66, 0xff)) }), 'ec_out_of_range', 'P-521: x with all 528 bits set')
    }
    t.equal(reasonOf({ ...jwk, y: b64u(be(y + 1n, size)) }), 'ec_off_curve', `${crv}: y + 1`)
    t.equal(reasonOf({ ...jwk, x: b64u(Buffer.alloc(size)), y: b64u(Buffer.alloc(size)) }), 'ec_off_curve', `${crv}: (0, 0), where an identity might be looked for`)

    const gen = generateKeyPairSync('ec', { namedCurve: crv }).publicKey.export({ format: 'jwk' })
    const gx = Buffer.from(gen.x as string, 'base64url')
    t.equal(reasonOf({ ...gen, x: b64u(Buffer.concat([Buffer.alloc(1), gx])) }), 'ec_bad_length', `${crv}: x with a leading zero octet more`)
    t.doesNotThrow(() => createPublicKey({ key: { ...gen, x: b64u(Buffer.concat([Buffer.alloc(1), gx])) }, format: 'jwk' }), `${crv}: which Node would import`)
    t.equal(reasonOf({ ...gen, y: b64u(Buffer.from(gen.y as string, 'base64url').subarray(1)) }), 'ec_bad_length', `${crv}: y one octet short`)
    t.equal(reasonOf({ ...gen, x: (gen.x as string) + '=' }), 'not_base64url', `${crv}: padded x`)
    t.equal(reasonOf({ ...gen, y: undefined }), 'bad_ec', `${crv}: no y`)
    for (let i = 0; i < 30; i++) t.equal(reasonOf(generateKeyPairSync('ec', { namedCurve: crv }).publicKey.export({ format: 'jwk' })), undefined)
  }
  // A coordinate whose leading zero an encoder dropped: Node pads it back, RFC 7518 §6.2.1.2 says no.
  for (;;) {
    const gen = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' })
    const gx = Buffer.from(gen.x as string, 'base64url')
    if (gx[0] !== 0) continue
    const short = { ...gen, x: b64u(gx.subarray(1)) }
    t.doesNotThrow(() => createPublicKey({ key: short, format: 'jwk' }), 'Node imports a 31-byte x')
    t.equal(reasonOf(short), 'ec_bad_length', 'refused')
    break
  }
})

// ---------------------------------------------------------------------------------------------
// RSA

const RSA = generateTestKey('RS256')
const e = (n: number): string => b64u(be(BigInt(n), Math.max(1, Math.ceil(n.toString(16).length / 2))))
/** An odd modulus of exactly `bits` bits (not a product of two primes: Node does not check). */
function modulus (bits: number): string {
  const bytes = randomBytes(Math.ceil(bits / 8))
  const top = bits % 8 === 0 ? 8 : bits % 8
  bytes[0] = ((bytes[0] as number) & ((1 << top) - 1)) | (1 << (top - 1))
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) | 1
  return b64u(bytes)
}

t.test('RSA: exponent odd and within 3..2^31-1, modulus odd and of 2048..8192 bits, canonical members', async t => {
  t.equal(RSA_MIN_BITS, 2048)
  t.equal(RSA_MAX_BITS, 8192)
  t.equal(RSA_MAX_EXPONENT, 2 ** 31 - 1)
  const base = { kty: 'RSA', n: RSA.jwk.n as string, e: 'AQAB' }
  for (const [label, value, reason] of [
    ['e = 0', 'AA', 'rsa_bad_exponent'], ['e = 1', e(1), 'rsa_bad_exponent'], ['e = 2', e(2), 'rsa_bad_exponent'],
    ['e = 3', e(3), undefined], ['e = 65537', 'AQAB', undefined], ['e = 65536', e(65536), 'rsa_bad_exponent'],
    ['e = 2^31 - 1', e(2 ** 31 - 1), undefined], ['e = 2^31 + 1', e(2 ** 31 + 1), 'rsa_bad_exponent'],
    ['e = 2^32 + 1 (5 octets)', b64u(hex('0100000001')), 'rsa_bad_exponent'], ['e of 2048 bits', modulus(2048), 'rsa_bad_exponent'],
    ['e = 65537 with leading zero octets (tolerated, RFC 7518 §6.3.1.1)', b64u(hex('00010001')), undefined]
  ] as const) {
    t.equal(reasonOf({ ...base, e: value }), reason, label)
    if (reason !== undefined && label !== 'e = 0') t.doesNotThrow(() => createPublicKey({ key: { ...base, e: value }, format: 'jwk' }), `${label}: Node would import it`)
  }
  const n = Buffer.from(RSA.jwk.n as string, 'base64url')
  const even = Buffer.from(n)
  even[even.length - 1] = (even[even.length - 1] as number) & 0xfe
  t.equal(reasonOf({ ...base, n: b64u(even) }), 'rsa_even_modulus')
  t.doesNotThrow(() => createPublicKey({ key: { ...base, n: b64u(even) }, format: 'jwk' }), 'Node would import an even modulus')
  for (const [bits, reason] of [[1024, 'rsa_too_small'], [2047, 'rsa_too_small'], [2048, undefined], [2049, undefined], [4096, undefined], [8192, undefined], [8193, 'rsa_too_large'], [16384, 'rsa_too_large'], [65536, 'rsa_too_large']] as const) {
    t.equal(reasonOf({ ...base, n: modulus(bits) }), reason, `${bits}-bit modulus`)
  }
  t.equal(reasonOf({ ...base, n: b64u(Buffer.concat([Buffer.alloc(1), n])) }), undefined, 'a leading zero octet in n (tolerated)')
  t.equal(reasonOf({ ...base, n: (RSA.jwk.n as string) + '==' }), 'not_base64url', 'padded n')
  t.equal(reasonOf({ ...base, e: 'AQAB=' }), 'not_base64url', 'padded e')
  t.equal(reasonOf({ ...base, e: 'AQA+' }), 'not_base64url', 'base64 alphabet')
  t.equal(reasonOf({ ...base, e: 'AQAB ' }), 'not_base64url', 'trailing space')
})

t.test('signature lengths are fixed per key at import: RSA the modulus, ECDSA R || S, EdDSA 64 or 114', async t => {
  const len = (jwk: unknown): number => {
    const r = importKeyMaterial(jwk)
    if ('unusable' in r) throw new Error(r.unusable)
    return r.sigLength
  }
  t.equal(len(RSA.jwk), 256)
  t.equal(len({ kty: 'RSA', n: modulus(2049), e: 'AQAB' }), 257)
  t.equal(len({ kty: 'RSA', n: modulus(3072), e: 'AQAB' }), 384)
  t.equal(len({ kty: 'RSA', n: b64u(Buffer.concat([Buffer.alloc(2), Buffer.from(RSA.jwk.n as string, 'base64url')])), e: 'AQAB' }), 256, 'leading zeros do not count')
  t.equal(len(generateTestKey('ES256').jwk), 64)
  t.equal(len(generateTestKey('ES384').jwk), 96)
  t.equal(len(generateTestKey('ES512').jwk), 132)
  t.equal(len(generateTestKey('EdDSA').jwk), 64)
  t.equal(len(generateKeyPairSync('ed448').publicKey.export({ format: 'jwk' })), 114)
})

t.test('importKeyMaterial is kid-less (DPoP proofs): no kid needed, use and key_ops left to the caller, alg still fits', async t => {
  const es = generateTestKey('ES256')
  const { kid: _k, use: _u, ...bare } = es.jwk
  const m = importKeyMaterial(bare)
  if ('unusable' in m) throw new Error(m.unusable)
  t.same([...m.algs], ['ES256'])
  t.equal(m.material, JSON.stringify({ crv: 'P-256', kty: 'EC', x: bare.x, y: bare.y }), 'identity: the defining members only')
  // material is the RFC 7638 thumbprint input: checked against jose's own computation.
  for (const jwk of [bare, generateTestKey('RS256').jwk, generateTestKey('EdDSA').jwk, generateKeyPairSync('ed448').publicKey.export({ format: 'jwk' })]) {
    const r = importKeyMaterial(jwk)
    if ('unusable' in r) throw new Error(r.unusable)
    t.equal(createHash('sha256').update(r.material).digest('base64url'), await calculateJwkThumbprint(jwk as JWK), `RFC 7638 thumbprint of a ${String(jwk.kty)} key`)
  }
  t.match(importKeyMaterial({ ...bare, d: 'private', ext: true }), { material: m.material }, 'other members do not change it')
  t.equal(reasonOf({ ...bare, alg: 'ES384' }), 'alg_mismatch')
  t.equal(reasonOf({ ...bare, alg: 'ECDH-ES' }), 'alg_unsupported')
  t.equal(reasonOf({ ...bare, crv: '__proto__' }), 'unsupported_kty')
  t.equal(reasonOf('{"kty":"EC"}'), 'not_an_object')
  // The JWKS wrapper adds kid, use and key_ops.
  t.match(importJwk({ ...bare, use: 'enc' }), { unusable: 'not_for_signatures' })
  t.match(importJwk(bare), { unusable: 'no_kid' })
  t.match(importJwk({ ...bare, kid: 'k', x: b64u(Buffer.alloc(32)) }), { unusable: 'ec_off_curve' })
})

// ---------------------------------------------------------------------------------------------
// Through the plugin: refused keys are never used, warned about once, counted; neighbours work.

interface Setup { app: FastifyInstance, idp: TestIssuer, lines: string[], calls: () => number }

async function setup (t: Test, jwks: unknown): Promise<Setup> {
  const idp = await createTestIssuer({ algorithms: ['ES256'] })
  t.teardown(() => idp.close())
  idp.setJwks(jwks)
  const { stream, lines } = logSink()
  const app = Fastify({ logger: { level: 'debug', stream } })
  t.teardown(() => app.close())
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, jwksCooldown: 0 })
  let calls = 0
  app.get('/p', { config: { axioms: { scopes: ['read'] } } }, async () => { calls++; return { ok: true } })
  await app.ready()
  return { app, idp, lines, calls: () => calls }
}

const parsed = (lines: string[]): Array<Record<string, any>> => lines.map(l => JSON.parse(l) as Record<string, any>)
const claims = (iss: string): Record<string, unknown> => {
  const now = Math.floor(Date.now() / 1000)
  return { iss, aud: 'your-api-audience', iat: now, exp: now + 300, scope: 'read' }
}

t.test('a JWKS with degenerate keys: each refused key answers 401, is warned about once, counted; the good keys keep working', async t => {
  const good = generateTestKey('ES256', 'good')
  const ed = generateTestKey('EdDSA', 'ed-good')
  const identity = { kty: 'OKP', crv: 'Ed25519', x: b64u(edEncode(1n, 0, 32)), kid: 'ed-identity', use: 'sig' }
  const order8 = { kty: 'OKP', crv: 'Ed25519', x: b64u(edEncode(Y8[0] as bigint, 1, 32)), kid: 'ed-order8', alg: 'EdDSA' }
  const e1 = { kty: 'RSA', n: RSA.jwk.n, e: 'AQ', kid: 'rsa-e1' }
  const huge = { kty: 'RSA', n: modulus(16384), e: 'AQAB', kid: 'rsa-16k' }
  const offCurve = { ...good.jwk, kid: 'ec-off', y: b64u(be(BigInt('0x' + Buffer.from(good.jwk.y as string, 'base64url').toString('hex')) ^ 1n, 32)) }
  const enc = { ...generateTestKey('RS256').jwk, kid: 'enc', use: 'enc' }
  const s = await setup(t, { keys: [identity, good.jwk, order8, e1, huge, offCurve, ed.jwk, enc, 'garbage'] })
  const iss = s.idp.issuer
  const invalid = { error: 'invalid_token', error_description: 'Invalid access token' }

  // Forgeries Node alone would verify: R = identity, S = 0, on a message it accepts.
  for (const bad of [identity, order8]) {
    const nodeKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: bad.x }, format: 'jwk' })
    let token = ''
    for (let i = 0; token === ''; i++) {
      const input = `${b64u(Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: bad.kid })))}.${b64u(Buffer.from(JSON.stringify({ ...claims(iss), jti: `forged-${i}` })))}`
      const sig = Buffer.concat([edEncode(1n, 0, 32), Buffer.alloc(32)])
      if (cryptoVerify(null, Buffer.from(input), nodeKey, sig)) token = `${input}.${b64u(sig)}`
    }
    const res = await s.app.inject({ url: '/p', headers: { authorization: `Bearer ${token}` } })
    t.equal(res.statusCode, 401, `${bad.kid}: forged token refused`)
    t.same(res.json(), invalid)
    t.match(res.headers['www-authenticate'], /error_description="Invalid access token"/)
  }
  for (const kid of ['rsa-e1', 'rsa-16k', 'ec-off', 'enc']) {
    const alg = kid === 'ec-off' ? 'ES256' : 'RS256'
    const token = signJws({ alg, kid }, claims(iss), alg === 'ES256' ? good : RSA)
    const res = await s.app.inject({ url: '/p', headers: { authorization: `Bearer ${token}` } })
    t.equal(res.statusCode, 401, kid)
    t.same(res.json(), invalid, kid)
  }
  t.equal(s.calls(), 0, 'no handler ran')
  t.equal((await s.app.inject({ url: '/p', headers: { authorization: `Bearer ${signJws({ alg: 'ES256', kid: 'good' }, claims(iss), good)}` } })).statusCode, 200, 'the good EC key works')
  t.equal((await s.app.inject({ url: '/p', headers: { authorization: `Bearer ${signJws({ alg: 'EdDSA', kid: 'ed-good' }, claims(iss), ed)}` } })).statusCode, 200, 'the good Ed25519 key works')

  await s.app.axioms.refresh()
  await s.app.axioms.refresh()
  const lines = parsed(s.lines)
  const warns = lines.filter(l => l.level === 40 && l.msg === 'axioms: JWK refused, not used')
  t.same(warns.map(l => [l.issuer, l.kid, l.cause]).sort(), [
    [iss, 'ec-off', 'ec_off_curve'],
    [iss, 'ed-identity', 'okp_small_order'],
    [iss, 'ed-order8', 'okp_small_order'],
    [iss, 'rsa-16k', 'rsa_too_large'],
    [iss, 'rsa-e1', 'rsa_bad_exponent'],
    [iss, undefined, 'not_an_object']
  ].sort(), 'one warning per refused key, not repeated by the refreshes')
  t.ok(s.app.axioms.stats().issuers[0]?.fetches as number >= 3, 'the set was fetched again')
  t.ok(lines.some(l => l.level === 20 && l.kid === 'enc' && l.cause === 'not_for_signatures'), 'a key not meant for signatures is a debug line')
  t.notOk(warns.some(l => l.kid === 'enc'), 'and no warning')
  t.match(s.app.axioms.stats().issuers[0], { keys: 2, refusedKeys: 6 })
  t.notMatch(s.lines.join('\n'), /"x":|"n":/, 'no key material in the logs')

  // The key leaves the set and comes back: warned about again.
  s.idp.setJwks({ keys: [good.jwk] })
  await s.app.axioms.refresh()
  t.match(s.app.axioms.stats().issuers[0], { keys: 1, refusedKeys: 0 })
  s.idp.setJwks({ keys: [good.jwk, identity] })
  await s.app.axioms.refresh()
  t.equal(parsed(s.lines).filter(l => l.level === 40 && l.kid === 'ed-identity').length, 2)
})

t.test(`a JWKS of more than ${MAX_JWKS_KEYS} keys: the first ${MAX_JWKS_KEYS} are imported, one warning`, async t => {
  const k = generateTestKey('ES256')
  const keys = Array.from({ length: MAX_JWKS_KEYS + 5 }, (_, i) => ({ ...k.jwk, kid: `k${i}` }))
  const s = await setup(t, { keys })
  const call = async (kid: string): Promise<number> => (await s.app.inject({ url: '/p', headers: { authorization: `Bearer ${signJws({ alg: 'ES256', kid }, claims(s.idp.issuer), k)}` } })).statusCode
  t.equal(await call('k0'), 200)
  t.equal(await call(`k${MAX_JWKS_KEYS - 1}`), 200)
  t.equal(await call(`k${MAX_JWKS_KEYS}`), 401, 'past the bound')
  await s.app.axioms.refresh()
  const warns = parsed(s.lines).filter(l => l.level === 40 && l.msg === 'axioms: JWKS lists more keys than are imported')
  t.equal(warns.length, 1, 'once, not on every refresh')
  t.match(warns[0], { issuer: s.idp.issuer, keys: MAX_JWKS_KEYS + 5, used: MAX_JWKS_KEYS })
  t.equal(s.app.axioms.stats().issuers[0]?.keys, MAX_JWKS_KEYS)
  s.idp.setJwks({ keys: keys.slice(0, 3) })
  await s.app.axioms.refresh()
  s.idp.setJwks({ keys })
  await s.app.axioms.refresh()
  t.equal(parsed(s.lines).filter(l => l.msg === 'axioms: JWKS lists more keys than are imported').length, 2, 'again after a set that fitted')
})
