// Issue 11 item 4: signature edge vectors per algorithm, built byte by byte. Each refusal asserts
// status, body, exact challenge, that the handler did not run and that no JWKS request was made
// (harness `refused`). Decisions recorded here and in SECURITY.md: high-S ECDSA is accepted (D6,
// OpenSSL and RFC 7518 semantics); a PSS salt other than the hash length is refused (RFC 7518
// §3.5); every signature is exactly the key's length (one spelling per token).
import { constants, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto'
import t from 'tap'
import { signJws, type TestKey } from '../../testing.js'
import type { Algorithm } from '../../lib/options/index.js'
import { accepted, b64u, claimsV, createApi, createWorld, headerFor, refused, segments, signatureOf, withSignature } from './harness.js'

const world = await createWorld()
t.teardown(() => world.close())
const a = world.a

// Beyond the corpus keys (k-rs, k-es, k-ps, k-ed, k-rs512): one key per remaining algorithm, an
// Ed448 key, a 3072-bit RSA key, and a P-384 key published under an ES256 kid's neighbour.
const keys: Record<string, TestKey> = {
  RS256: world.k.rs,
  RS512: world.k.rs512,
  PS256: world.k.ps,
  ES256: world.k.es,
  EdDSA: world.k.ed,
  RS384: a.addKey('RS384', 'k-rs384'),
  PS384: a.addKey('PS384', 'k-ps384'),
  PS512: a.addKey('PS512', 'k-ps512'),
  ES384: a.addKey('ES384', 'k-es384'),
  ES512: a.addKey('ES512', 'k-es512')
}
function manual (kid: string, alg: Algorithm, pair: { privateKey: TestKey['privateKey'], publicKey: TestKey['publicKey'] }, jwkAlg: boolean): TestKey {
  return { kid, alg, ...pair, jwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, use: 'sig', ...(jwkAlg ? { alg } : {}) } }
}
const ed448 = manual('k-ed448', 'EdDSA', generateKeyPairSync('ed448'), true)
const rsa3072 = manual('k-rs3072', 'RS256', generateKeyPairSync('rsa', { modulusLength: 3072 }), true)
a.setJwks({ keys: [...a.keys.map(k => k.jwk), ed448.jwk, rsa3072.jwk] })

const api = await createApi(t, world)
const realm = api.realm

const ORDER: Record<string, { n: bigint, size: number }> = {
  ES256: { n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n, size: 32 },
  ES384: { n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n, size: 48 },
  ES512: { n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n, size: 66 }
}
const be = (n: bigint, len: number): Buffer => Buffer.from(n.toString(16).padStart(len * 2, '0'), 'hex')
const big = (b: Buffer): bigint => BigInt('0x' + b.toString('hex'))

/** A token of `key` with V's claims, re-signed until `want(signature)` holds (for leading zeros). */
function tokenWhere (key: TestKey, want: (sig: Buffer) => boolean = () => true, claims: Record<string, unknown> = {}): string {
  for (;;) {
    const tok = signJws(headerFor(key), claimsV(claims), key)
    if (want(signatureOf(tok))) return tok
  }
}

function der (r: Buffer, s: Buffer): Buffer {
  const int = (b: Buffer): Buffer => {
    let i = 0
    while (i < b.length - 1 && b[i] === 0) i++
    let v = b.subarray(i)
    if ((v[0] as number) & 0x80) v = Buffer.concat([Buffer.from([0]), v])
    return Buffer.concat([Buffer.from([0x02, v.length]), v])
  }
  const body = Buffer.concat([int(r), int(s)])
  const len = body.length < 128 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length])
  return Buffer.concat([Buffer.from([0x30]), len, body])
}

for (const alg of ['ES256', 'ES384', 'ES512'] as const) {
  t.test(`${alg}: r or s zero, n or above, high-S, DER, over-long and short encodings, leading zeros`, async t => {
    const key = keys[alg] as TestKey
    const { n, size } = ORDER[alg] as { n: bigint, size: number }
    // A signature whose r starts with a zero octet: the fixed-width form is the only spelling.
    const tok = tokenWhere(key, sig => sig[0] === 0, { scope: 'items:read' })
    const raw = signatureOf(tok)
    t.equal(raw.length, 2 * size)
    const r = raw.subarray(0, size)
    const s = raw.subarray(size)
    accepted(t, await api.get(tok), 'the original, r with a leading zero octet')
    const cases: Record<string, Buffer> = {
      'r = s = 0': Buffer.alloc(2 * size),
      'r = 0': Buffer.concat([Buffer.alloc(size), s]),
      's = 0': Buffer.concat([r, Buffer.alloc(size)]),
      'r = n': Buffer.concat([be(n, size), s]),
      's = n': Buffer.concat([r, be(n, size)]),
      'r = n + 1': Buffer.concat([be(n + 1n, size), s]),
      's = n + 1': Buffer.concat([r, be(n + 1n, size)]),
      's = n + s (same s mod n, when it fits)': Buffer.concat([r, be(big(s) + n < 2n ** BigInt(8 * size) ? big(s) + n : n + 2n, size)]),
      'r all ones': Buffer.concat([Buffer.alloc(size, 0xff), s]),
      DER: der(r, s),
      'r without its leading zero (one octet short)': Buffer.concat([r.subarray(1), s]),
      'one octet more in front': Buffer.concat([Buffer.from([0]), raw]),
      'one octet more at the end': Buffer.concat([raw, Buffer.from([0])]),
      'r and s each zero-padded by one octet': Buffer.concat([Buffer.from([0]), r, Buffer.from([0]), s]),
      'r\'s leading zero moved between r and s': Buffer.concat([r.subarray(1), Buffer.from([0]), s]).subarray(0, 2 * size),
      'one octet short at the end': raw.subarray(0, raw.length - 1)
    }
    for (const [name, sig] of Object.entries(cases)) refused(t, await api.get(withSignature(tok, sig)), 'SIG', realm, {}, name)
    // High-S twin (n - s): valid ECDSA, accepted as OpenSSL and RFC 7518 do (SECURITY.md D6).
    accepted(t, await api.get(withSignature(tok, Buffer.concat([r, be(n - big(s), size)]))), 'high-S twin')
  })
}

t.test('ECDSA keys of the wrong curve: the token\'s alg must fit the key the kid names', async t => {
  for (const [alg, kid] of [['ES256', 'k-es384'], ['ES384', 'k-es'], ['ES512', 'k-es384'], ['ES384', 'k-es512']] as const) {
    const signer = keys[alg] as TestKey
    refused(t, await api.get(signJws(headerFor(signer, { kid }), claimsV(), signer)), 'IAC', realm, {}, `${alg} under ${kid}`)
  }
  // The right alg for the named key, a signature by another curve's key: the length gives it away.
  const es384 = keys.ES384 as TestKey
  const h = headerFor(keys.ES256 as TestKey)
  const foreign = signJws(h, claimsV(), es384)
  refused(t, await api.get(foreign), 'SIG', realm, {}, 'ES256 header, 96-byte P-384 signature')
})

const RSA_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const
const pssOf = (alg: string, saltLength: number): { padding: number, saltLength: number } => ({ padding: constants.RSA_PKCS1_PSS_PADDING, saltLength })

for (const alg of RSA_ALGS) {
  t.test(`${alg}: exactly the modulus length; leading zero dropped or added, trailing zero, >= n, zero`, async t => {
    const key = keys[alg] as TestKey
    const tok = tokenWhere(key, sig => sig[0] === 0)
    const sig = signatureOf(tok)
    t.equal(sig.length, 256)
    accepted(t, await api.get(tok), 'the original, with a leading zero octet')
    const [h, p] = segments(tok)
    const hash = `sha${alg.slice(2)}`
    const opts = alg.startsWith('PS') ? pssOf(alg, Number(alg.slice(2)) / 8) : {}
    const short = sig.subarray(1)
    // What the length check is for: OpenSSL verifies a PSS signature with its zero octet dropped.
    t.equal(cryptoVerify(hash, Buffer.from(`${h}.${p}`), { key: key.publicKey, ...opts }, short), alg.startsWith('PS'), `node:crypto alone ${alg.startsWith('PS') ? 'accepts' : 'refuses'} the 255-byte form`)
    const nBytes = Buffer.from(key.jwk.n as string, 'base64url')
    const cases: Record<string, Buffer> = {
      'leading zero dropped (255 bytes)': short,
      'one more leading zero (257 bytes)': Buffer.concat([Buffer.from([0]), sig]),
      'trailing zero (257 bytes)': Buffer.concat([sig, Buffer.from([0])]),
      'the modulus itself': nBytes,
      'modulus + 1 (above n)': Buffer.from((big(nBytes) + 1n).toString(16).padStart(512, '0'), 'hex'),
      'all ones': Buffer.alloc(256, 0xff),
      zero: Buffer.alloc(256),
      one: Buffer.concat([Buffer.alloc(255), Buffer.from([1])]),
      'empty after one byte': Buffer.from([0])
    }
    for (const [name, s] of Object.entries(cases)) refused(t, await api.get(withSignature(tok, s)), 'SIG', realm, {}, name)
  })
}

t.test('PSS with a salt other than the hash length: refused (RFC 7518 §3.5), though an "auto" verifier accepts it', async t => {
  for (const alg of ['PS256', 'PS384', 'PS512'] as const) {
    const key = keys[alg] as TestKey
    const hLen = Number(alg.slice(2)) / 8
    const hash = `sha${alg.slice(2)}`
    const h = b64u(JSON.stringify(headerFor(key)))
    const p = b64u(JSON.stringify(claimsV()))
    const input = Buffer.from(`${h}.${p}`)
    const right = cryptoSign(hash, input, { key: key.privateKey, ...pssOf(alg, hLen) })
    accepted(t, await api.get(`${h}.${p}.${b64u(right)}`), `${alg} salt ${hLen}`)
    for (const salt of [0, 20, hLen - 1, hLen + 1, 256 - hLen - 2]) {
      const sig = cryptoSign(hash, input, { key: key.privateKey, ...pssOf(alg, salt) })
      t.ok(cryptoVerify(hash, input, { key: key.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig), `${alg} salt ${salt}: valid for a verifier that recovers the salt length`)
      refused(t, await api.get(`${h}.${p}.${b64u(sig)}`), 'SIG', realm, {}, `${alg} salt ${salt}`)
    }
  }
})

t.test('RSA keys of another size: a 3072-bit key verifies its own 384-byte signatures only', async t => {
  const tok = signJws(headerFor(rsa3072), claimsV(), rsa3072)
  t.equal(signatureOf(tok).length, 384)
  accepted(t, await api.get(tok), 'RS256 with the 3072-bit key')
  const twoK = signJws(headerFor(rsa3072), claimsV(), { ...world.k.rs, kid: 'k-rs3072' })
  refused(t, await api.get(twoK), 'SIG', realm, {}, '256-byte signature of a 2048-bit key under the 3072-bit kid')
  const padded = withSignature(twoK, Buffer.concat([Buffer.alloc(128), signatureOf(twoK)]))
  refused(t, await api.get(padded), 'SIG', realm, {}, 'the same, zero-padded to 384 bytes')
  refused(t, await api.get(signJws(headerFor(world.k.rs), claimsV(), { ...rsa3072, kid: 'k-rs' })), 'SIG', realm, {}, '384-byte signature under the 2048-bit kid')
})

t.test('EdDSA: exactly 64 bytes (Ed25519) or 114 (Ed448); S >= L and the identity trick refused', async t => {
  const ed = keys.EdDSA as TestKey
  const tok = tokenWhere(ed)
  const sig = signatureOf(tok)
  t.equal(sig.length, 64)
  accepted(t, await api.get(tok), 'Ed25519 original')
  const L = 2n ** 252n + 27742317777372353535851937790883648493n
  const S = BigInt('0x' + Buffer.from(sig.subarray(32)).reverse().toString('hex'))
  const sPlusL = Buffer.from((S + L).toString(16).padStart(64, '0'), 'hex').reverse()
  const identity = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)])
  const cases: Record<string, Buffer> = {
    '63 bytes': sig.subarray(0, 63),
    '65 bytes (trailing zero)': Buffer.concat([sig, Buffer.from([0])]),
    '65 bytes (leading zero)': Buffer.concat([Buffer.from([0]), sig]),
    'S + L (the same S mod L, non-canonical)': Buffer.concat([sig.subarray(0, 32), sPlusL]),
    'R = identity, S = 0': Buffer.concat([identity, Buffer.alloc(32)]),
    'all zero': Buffer.alloc(64),
    'an Ed448 signature length': Buffer.concat([sig, Buffer.alloc(50)])
  }
  for (const [name, s] of Object.entries(cases)) refused(t, await api.get(withSignature(tok, s)), 'SIG', realm, {}, name)

  const tok448 = signJws(headerFor(ed448), claimsV(), ed448)
  const sig448 = signatureOf(tok448)
  t.equal(sig448.length, 114)
  accepted(t, await api.get(tok448), 'Ed448 original')
  for (const [name, s] of Object.entries({
    '113 bytes': sig448.subarray(0, 113),
    '115 bytes': Buffer.concat([sig448, Buffer.from([0])]),
    'an Ed25519-sized signature': sig448.subarray(0, 64)
  })) refused(t, await api.get(withSignature(tok448, s)), 'SIG', realm, {}, `Ed448 ${name}`)
  refused(t, await api.get(signJws(headerFor(ed448), claimsV(), ed)), 'SIG', realm, {}, 'an Ed25519 signature under the Ed448 kid')
  refused(t, await api.get(signJws(headerFor(ed), claimsV(), ed448)), 'SIG', realm, {}, 'an Ed448 signature under the Ed25519 kid')
  t.ok(createPublicKey({ key: ed448.jwk as never, format: 'jwk' }).asymmetricKeyType === 'ed448')
})
