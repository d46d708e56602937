// DPoP proof validation (lib/dpop/proof.ts), RFC 9449 §4.3 and §7.1: every check, each hostile
// proof built from its bytes, and the replay store's answers (sync, async, slow, failing, full).
import t from 'tap'
import { generateKeyPairSync, sign } from 'node:crypto'
import { confirmation } from '../../lib/checks.js'
import { accessTokenHash, countRawHeader, DpopVerifier, type DpopRequest, MAX_PROOF_BYTES } from '../../lib/dpop/proof.js'
import { AxiomsError } from '../../lib/errors.js'
import { type DpopReplayStore, ReplayStoreFullError } from '../../lib/dpop/replay.js'
import { decodeCompact } from '../../lib/bearer.js'
import { b64u, parts, proof, proofFromText, rawKey, refusal, settings, sha256, signatureFor, TOKEN } from './helpers.js'

const es = rawKey('ES256')
const other = rawKey('ES256')
const T0 = 1_800_000_000

interface Rig {
  v: DpopVerifier
  clock: { now: number }
  check: (dpop: DpopRequest['dpop'], over?: Partial<DpopRequest>) => ReturnType<DpopVerifier['check']>
}

function rig (dpop: unknown = {}, store?: DpopReplayStore): Rig {
  const clock = { now: T0 * 1000 }
  const s = settings(store === undefined ? dpop : { ...(dpop as object), replayStore: store })
  const v = new DpopVerifier(s, { now: () => clock.now })
  const check: Rig['check'] = (value, over = {}) => v.check({
    dpop: value,
    dpopCount: value === undefined ? 0 : 1,
    method: 'GET',
    scheme: 'https',
    host: 'api.test',
    url: '/items?page=2',
    accessToken: TOKEN,
    claims: { sub: 'user-1', cnf: { jkt: es.jkt } },
    ...over
  })
  return { v, clock, check }
}

async function reason (r: Rig, value: DpopRequest['dpop'], over?: Partial<DpopRequest>): Promise<string | undefined> {
  return (await refusal(() => r.check(value, over)))?.reason
}

t.test('a valid proof, for every supported algorithm', async t => {
  for (const alg of ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA', 'Ed448']) {
    const key = rawKey(alg)
    const r = rig()
    const p = parts(key, T0)
    const verdict = await r.check(proofFromText(JSON.stringify(p.header), JSON.stringify(p.payload), key), { claims: { cnf: { jkt: key.jkt } } })
    t.same(verdict, { jkt: key.jkt, jti: p.payload.jti, iat: T0, nonce: undefined }, alg)
  }
})

t.test('on the real clock by default', async t => {
  const v = new DpopVerifier(settings())
  const now = Math.floor(Date.now() / 1000)
  const verdict = await v.check({ dpop: proof(es, now), dpopCount: 1, method: 'GET', scheme: 'https', host: 'api.test', url: '/items', accessToken: TOKEN, claims: { cnf: { jkt: es.jkt } } })
  t.equal(verdict.iat, now)
})

t.test('the in-memory store answers synchronously: no promise on the hot path', async t => {
  const r = rig()
  const verdict = r.check(proof(es, T0))
  t.notOk(verdict instanceof Promise)
})

t.test('RFC 9449 §4.3 (1): exactly one DPoP header', async t => {
  const r = rig()
  const good = proof(es, T0)
  const e = await refusal(() => r.check(undefined))
  t.equal(e?.reason, 'dpop_missing')
  t.equal(e?.statusCode, 401)
  t.equal(e?.error, 'invalid_dpop_proof')
  t.equal(e?.error_description, 'Missing DPoP proof')
  t.equal(await reason(r, good, { dpopCount: 2 }), 'dpop_multiple', 'two lines in the raw headers')
  t.equal(await reason(r, [good, good], { dpopCount: 2 }), 'dpop_multiple', 'an array')
  t.equal(await reason(r, [good], { dpopCount: 1 }), 'dpop_multiple', 'an array of one is still not a header value')
  t.equal(await reason(r, `${good}, ${proof(es, T0)}`), 'dpop_multiple', 'lines joined by Node with ", "')
  t.equal(await reason(r, `${good},${good}`), 'dpop_multiple')
})

t.test('size cap before decoding', async t => {
  const r = rig()
  t.equal(await reason(r, ''), 'dpop_malformed', 'empty value')
  // Over the cap: refused before decoding, whatever the bytes.
  const big = proof(es, T0, { payload: { pad: 'a'.repeat(MAX_PROOF_BYTES) } })
  t.ok(big.length > MAX_PROOF_BYTES)
  t.equal(await reason(r, big), 'dpop_malformed')
  t.equal(await reason(r, 'x'.repeat(MAX_PROOF_BYTES + 1)), 'dpop_malformed')
  // Just under the cap a padded but valid proof passes.
  const pad = MAX_PROOF_BYTES - proof(es, T0, { payload: { pad: '' } }).length
  const fits = proof(es, T0, { payload: { pad: 'a'.repeat(Math.floor(pad * 3 / 4) - 4) } })
  t.ok(fits.length <= MAX_PROOF_BYTES)
  t.equal((await r.check(fits)).jkt, es.jkt)
})

t.test('RFC 9449 §4.3 (2): a well-formed compact JWS, decoded strictly', async t => {
  const r = rig()
  const [h, p, s] = proof(es, T0).split('.') as [string, string, string]
  const hp = `${b64u('{"typ":"dpop+jwt","alg":"ES256","jwk":' + JSON.stringify(es.jwk) + '}')}`
  const cases: Array<[string, string]> = [
    ['.', 'dots only'],
    ['..', 'empty segments'],
    [`${h}.${p}`, 'two segments'],
    [`${h}.${p}.${s}.x`, 'four segments'],
    [`${h}.${p}.${s}.x.y`, 'five segments (JWE)'],
    [`${h}.${p}.`, 'empty signature'],
    [`${h}=.${p}.${s}`, 'padding'],
    [`${h}.${p}.${s.slice(0, -1)}+`, 'standard base64 character'],
    [`${h}.${p}.${s.replace(/.$/, c => c === 'A' ? 'B' : 'A')}x`, 'non-canonical length'],
    [`${b64u('not json')}.${p}.${s}`, 'header not JSON'],
    [`${b64u('[1]')}.${p}.${s}`, 'header an array'],
    [`${b64u('"dpop+jwt"')}.${p}.${s}`, 'header a string'],
    [`${hp}.${b64u('[{"jti":"x"}]')}.${s}`, 'payload an array'],
    [`${hp}.${b64u('null')}.${s}`, 'payload null'],
    [`${hp}.${b64u(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]))}.${s}`, 'payload not UTF-8'],
    [JSON.stringify({ payload: p }), 'JWS JSON serialization (one member)']
  ]
  for (const [value, label] of cases) t.equal(await reason(r, value), 'dpop_malformed', label)
  // With its commas, the full JSON serialization reads as several proofs.
  t.equal(await reason(r, JSON.stringify({ protected: h, payload: p, signature: s })), 'dpop_multiple')
  // A canonical last character matters: flipping an unused bit changes nothing in the bytes.
  const canonical = `${h}.${p}.${s}`
  const lastBits = s.length % 4 === 2 ? 'AQgw' : 'AEIMQUYcgkosw048'
  const twin = s.slice(0, -1) + (lastBits.includes(s.slice(-1)) ? String.fromCharCode(s.charCodeAt(s.length - 1) + 1) : s.slice(-1))
  t.not(twin, s)
  t.equal(await reason(r, `${h}.${p}.${twin}`), 'dpop_malformed', 'non-canonical base64url')
  t.equal((await r.check(canonical)).jkt, es.jkt)
})

t.test('RFC 9449 §4.3 (4): typ is exactly dpop+jwt', async t => {
  const r = rig()
  for (const typ of [undefined, 'DPoP+JWT', 'application/dpop+jwt', 'JWT', 'at+jwt', 'dpop+jwt ', 1, null]) {
    t.equal(await reason(r, proof(es, T0, { header: { typ } })), 'dpop_bad_typ', String(typ))
  }
})

t.test('RFC 9449 §4.3 (5): an asymmetric algorithm from the allow-list', async t => {
  const r = rig()
  for (const alg of [undefined, 'none', 'None', 'HS256', 'es256', 'ES256K', 'RSA-OAEP', '', 1, ['ES256']]) {
    t.equal(await reason(r, proof(es, T0, { header: { alg } })), 'dpop_bad_alg', JSON.stringify(alg))
  }
  // alg none with an empty signature is malformed before anything else.
  const p = parts(es, T0, { header: { alg: 'none' } })
  t.equal(await reason(r, `${b64u(JSON.stringify(p.header))}.${b64u(JSON.stringify(p.payload))}.`), 'dpop_malformed')
  // HS256 keyed with the jwk's own JSON (the key-confusion classic).
  const hs = parts(es, T0, { header: { alg: 'HS256' } })
  const input = `${b64u(JSON.stringify(hs.header))}.${b64u(JSON.stringify(hs.payload))}`
  const { createHmac } = await import('node:crypto')
  t.equal(await reason(r, `${input}.${b64u(createHmac('sha256', JSON.stringify(es.jwk)).update(input).digest())}`), 'dpop_bad_alg')
  // Narrowed configuration: RS256 is then refused even when correctly signed.
  const narrow = rig({ algorithms: ['ES256'] })
  const rs = rawKey('RS256')
  t.equal(await reason(narrow, proof(rs, T0), { claims: { cnf: { jkt: rs.jkt } } }), 'dpop_bad_alg')
  t.equal((await narrow.check(proof(es, T0))).jkt, es.jkt)
})

t.test('critical extensions, unencoded payloads and compression are refused', async t => {
  const r = rig()
  for (const header of [{ crit: ['exp'] }, { crit: [] }, { b64: false, crit: ['b64'] }, { b64: true }, { zip: 'DEF' }]) {
    t.equal(await reason(r, proof(es, T0, { header })), 'dpop_bad_header', JSON.stringify(header))
  }
  // Members nobody reads are harmless: kid, x5c, jku never select a key.
  t.equal((await r.check(proof(es, T0, { header: { kid: 'k-rs', jku: 'https://attacker.test/jwks', x5c: ['AAAA'] } }))).jkt, es.jkt)
})

t.test('RFC 9449 §4.3 (6)-(7): a public jwk that passes the JWKS key hygiene', async t => {
  const r = rig()
  const priv = es.privateKey.export({ format: 'jwk' })
  const rsaPair = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const rsaPriv = rsaPair.privateKey.export({ format: 'jwk' }) as Record<string, string>
  const rsaPub = rsaPair.publicKey.export({ format: 'jwk' }) as Record<string, string>
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' })
  const x25519 = generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' })
  const n = b64u(Buffer.concat([Buffer.from([0xc1]), Buffer.alloc(1100, 0x55), Buffer.from([0x01])]))
  const offCurve = { ...es.jwk, y: b64u(Buffer.alloc(32, 7)) }
  const flipped = (s: string): string => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A')
  const cases: Array<[unknown, string]> = [
    [undefined, 'no jwk'],
    ['{"kty":"EC"}', 'jwk as a string'],
    [[es.jwk], 'jwk as an array'],
    [null, 'jwk null'],
    [priv, 'an EC private key (d)'],
    [{ ...es.jwk, d: 'AAAA' }, 'a public key with a d member'],
    [rsaPriv, 'an RSA private key'],
    ...['p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'].map((m): [unknown, string] => [{ ...rsaPub, [m]: 'AQAB' }, `member ${m}`]),
    [{ kty: 'oct', k: 'c2VjcmV0' }, 'a symmetric key'],
    [{ kty: 'oct' }, 'kty oct'],
    [{ ...es.jwk, kty: '__proto__' }, 'kty __proto__'],
    [{ ...es.jwk, kty: 'constructor' }, 'kty constructor'],
    [{ kty: 'EC', crv: 'P-256', x: es.jwk.x }, 'EC without y'],
    [{ ...es.jwk, x: 1 }, 'x a number'],
    [{ ...es.jwk, x: '' }, 'x empty'],
    [{ ...es.jwk, x: flipped(es.jwk.x as string) + '=' }, 'x padded'],
    [{ ...es.jwk, x: (es.jwk.x as string).slice(0, -1) + '+' }, 'x in base64, not base64url'],
    [offCurve, 'EC point off the curve'],
    [{ ...es.jwk, crv: 'P-384' }, 'crv does not fit the point'],
    [{ ...es.jwk, crv: 'secp256k1' }, 'unsupported curve'],
    [x25519, 'an X25519 (key agreement) key'],
    [small, 'RSA 1024 bits'],
    [{ ...rsaPub, e: 'AQ' }, 'RSA e = 1'],
    [{ ...rsaPub, e: 'AAI' }, 'RSA e = 2 (non-canonical leading zero too)'],
    [{ ...rsaPub, e: 'Ag' }, 'RSA e = 2'],
    [{ ...rsaPub, e: b64u(Buffer.from([1, 0, 0, 0, 1])) }, 'RSA e above 2^32'],
    [{ kty: 'RSA', e: 'AQAB', n }, 'RSA modulus of 8,808 bits'],
    [{ ...es.jwk, use: 'enc' }, 'use enc'],
    [{ ...es.jwk, key_ops: ['sign'] }, 'key_ops without verify'],
    [{ ...es.jwk, key_ops: 'verify' }, 'key_ops not a list'],
    [{ ...es.jwk, alg: 'ES384' }, 'jwk alg differs from the header alg']
  ]
  for (const [jwk, label] of cases) {
    const value = proof(es, T0, { header: { jwk } })
    t.equal(await reason(r, value), 'dpop_bad_jwk', label)
  }
  // Members outside the key material are allowed when they agree.
  const ok = proof(es, T0, { header: { jwk: { ...es.jwk, alg: 'ES256', use: 'sig', key_ops: ['verify'], kid: 'mine' } } })
  t.equal((await r.check(ok)).jkt, es.jkt, 'thumbprint ignores non-required members')
  // A P-256 key under an ES384 header: the key cannot serve that alg.
  t.equal(await reason(r, proof(es, T0, { header: { alg: 'ES384' } })), 'dpop_bad_jwk')
  // An RSA key under PS256 is fine (RSA keys serve RS* and PS*).
  const rs = rawKey('RS256')
  t.equal((await r.check(proof(rs, T0, { header: { alg: 'PS256' } }, 'PS256'), { claims: { cnf: { jkt: rs.jkt } } })).jkt, rs.jkt)
})

t.test('the same key imported twice is served from the import cache and still checked', async t => {
  const r = rig()
  t.equal((await r.check(proof(es, T0))).jkt, es.jkt)
  t.equal((await r.check(proof(es, T0))).jkt, es.jkt)
  // Cached key, but the per-proof members are still checked.
  t.equal(await reason(r, proof(es, T0, { header: { jwk: { ...es.jwk, use: 'enc' } } })), 'dpop_bad_jwk')
  t.equal(await reason(r, proof(es, T0, { header: { alg: 'ES384' } })), 'dpop_bad_jwk')
})

t.test('RFC 9449 §4.3 (6): the signature verifies with the jwk, exact encodings only', async t => {
  const r = rig()
  const p = parts(es, T0)
  const input = `${b64u(JSON.stringify(p.header))}.${b64u(JSON.stringify(p.payload))}`
  const good = signatureFor('ES256', es.privateKey, input)
  const flip = Buffer.from(good)
  flip[10] = (flip[10] as number) ^ 1
  const der = sign('sha256', Buffer.from(input), { key: es.privateKey, dsaEncoding: 'der' })
  const cases: Array<[Buffer, string]> = [
    [flip, 'one bit flipped'],
    [signatureFor('ES256', other.privateKey, input), 'signed by another key'],
    [der, 'DER encoding'],
    [good.subarray(0, 63), '63 bytes'],
    [Buffer.concat([good, Buffer.alloc(1)]), '65 bytes'],
    [Buffer.alloc(64), 'r = s = 0']
  ]
  for (const [sig, label] of cases) t.equal(await reason(r, `${input}.${b64u(sig)}`), 'dpop_bad_signature', label)
  t.equal((await r.check(`${input}.${b64u(good)}`)).jkt, es.jkt)
  // RS256 header over a PSS signature.
  const rs = rawKey('RS256')
  const claims = { cnf: { jkt: rs.jkt } }
  t.equal(await reason(r, proof(rs, T0, {}, 'PS256'), { claims }), 'dpop_bad_signature')
  // Payload changed after signing.
  const [h, , s] = proof(es, T0).split('.') as [string, string, string]
  t.equal(await reason(r, `${h}.${b64u(JSON.stringify({ ...p.payload, htm: 'POST' }))}.${s}`), 'dpop_bad_signature')
})

t.test('§4.2 jti: a non-empty string', async t => {
  const r = rig()
  for (const jti of [undefined, '', 1, null, ['a'], { a: 1 }]) {
    t.equal(await reason(r, proof(es, T0, { payload: { jti } })), 'dpop_jti', JSON.stringify(jti))
  }
})

t.test('RFC 9449 §4.3 (8): htm equals the method, exactly', async t => {
  const r = rig()
  for (const htm of [undefined, 'get', 'POST', 'GET ', 1, null]) {
    t.equal(await reason(r, proof(es, T0, { payload: { htm } })), 'dpop_htm', JSON.stringify(htm))
  }
  t.equal((await r.check(proof(es, T0, { payload: { htm: 'POST' } }), { method: 'POST' })).jkt, es.jkt)
  t.equal(await reason(r, proof(es, T0), { method: 'HEAD' }), 'dpop_htm', 'a GET proof on the automatic HEAD route')
})

t.test('RFC 9449 §4.3 (9): htu equals the request URI without query and fragment, after normalisation', async t => {
  const r = rig()
  const equivalent = [
    'https://api.test/items',
    'https://api.test/items?page=3',
    'https://api.test/items#frag',
    'HTTPS://API.TEST/items',
    'https://api.test:443/items',
    'https://api.test/it%65ms',
    'https://api.test/a/../items',
    'https://api.test/./items'
  ]
  for (const htu of equivalent) t.equal((await r.check(proof(es, T0, { payload: { htu } }))).jkt, es.jkt, htu)
  const different = [
    undefined, 1, null, '', '/items', 'api.test/items',
    'http://api.test/items', 'https://api.test/items/', 'https://api.test/Items', 'https://api.test/other',
    'https://api.test:8443/items', 'https://api.test.evil/items', 'https://evil.test/items',
    'https://user@api.test/items', 'ftp://api.test/items', 'https://api.test/items%2F', 'https://api.test/%69tems/x',
    'https://api.test/items\n', 'https://api.test/it%6'
  ]
  for (const htu of different) t.equal(await reason(r, proof(es, T0, { payload: { htu } })), 'dpop_htu', JSON.stringify(htu))
  // The request side: Host and target as Fastify gives them.
  t.equal((await r.check(proof(es, T0), { host: 'API.test:443', url: '/items' })).jkt, es.jkt)
  t.equal(await reason(r, proof(es, T0), { url: '/other/../items' }), 'dpop_htu', 'a target with dot segments never matches')
  t.equal(await reason(r, proof(es, T0), { scheme: 'http' }), 'dpop_htu')
})

t.test('a Host or target that cannot form a URI is refused before the proof is read (PR #244)', async t => {
  const r = rig()
  const good = proof(es, T0)
  // The classic laundering: a path smuggled in Host, hoping a URL parser moves it into the query.
  for (const host of ['api.test/items?', 'api.test/items#', 'user@api.test', 'api.test:99999', 'api.test:x', '', 'api test', '[::1', 'api.test,evil.test']) {
    const e = await refusal(() => r.check(good, { host, url: '/' }))
    t.equal(e?.reason, 'dpop_request_url', JSON.stringify(host))
    t.equal(e?.statusCode, 400)
    t.equal(e?.error, 'invalid_request')
  }
  for (const url of ['items', '*', 'https://api.test/items', '/it%6', '/a\u0000b']) {
    t.equal(await reason(r, good, { url }), 'dpop_request_url', JSON.stringify(url))
  }
  t.equal(await reason(r, good, { scheme: 'ws' }), 'dpop_request_url')
})

t.test('RFC 9449 §4.3 (11): iat within iatOffset in the past and iatLeeway in the future', async t => {
  const r = rig()
  t.equal((await r.check(proof(es, T0 - 300))).iat, T0 - 300, 'exactly iatOffset old')
  t.equal(await reason(r, proof(es, T0 - 301)), 'dpop_iat', 'older than iatOffset')
  t.equal((await r.check(proof(es, T0 + 30))).iat, T0 + 30, 'exactly iatLeeway ahead')
  t.equal(await reason(r, proof(es, T0 + 31)), 'dpop_iat', 'further ahead')
  t.equal((await r.check(proof(es, T0 + 0.5))).iat, T0 + 0.5, 'fractional seconds')
  for (const iat of [undefined, '1800000000', null, true, {}]) {
    t.equal(await reason(r, proof(es, T0, { payload: { iat } })), 'dpop_iat', JSON.stringify(iat))
  }
  // 1e400 is Infinity once parsed: never a date.
  const p = parts(es, T0)
  const text = JSON.stringify({ ...p.payload, iat: 0 }).replace('"iat":0', '"iat":1e400')
  t.equal(await reason(r, proofFromText(JSON.stringify(p.header), text, es)), 'dpop_iat')
  const custom = rig({ iatOffset: '10s', iatLeeway: 0 })
  t.equal(await reason(custom, proof(es, T0 - 11)), 'dpop_iat')
  t.equal(await reason(custom, proof(es, T0 + 1)), 'dpop_iat')
  t.equal((await custom.check(proof(es, T0 - 10))).iat, T0 - 10)
})

t.test('RFC 9449 §4.3 (12): ath is the hash of this access token', async t => {
  const r = rig()
  t.equal(accessTokenHash(TOKEN), sha256(TOKEN))
  for (const ath of [undefined, '', sha256('another token'), sha256(TOKEN) + '=', sha256(TOKEN).toUpperCase(), 1]) {
    t.equal(await reason(r, proof(es, T0, { payload: { ath } })), 'dpop_ath', JSON.stringify(ath))
  }
  t.equal(await reason(r, proof(es, T0), { accessToken: TOKEN + 'x' }), 'dpop_ath', 'a proof made for another token')
})

t.test('RFC 9449 §7.1 / §6.1: the token is bound to the proof key (cnf.jkt)', async t => {
  const r = rig()
  const e = await refusal(() => r.check(proof(other, T0)))
  t.equal(e?.reason, 'dpop_jkt')
  t.equal(e?.error, 'invalid_token')
  t.equal(e?.statusCode, 401)
  // Another key is refused before its signature is checked: a thief's 8192-bit key costs a hash.
  const [oh, op] = proof(other, T0).split('.') as [string, string, string]
  t.equal(await reason(r, `${oh}.${op}.${b64u(Buffer.alloc(64, 7))}`), 'dpop_jkt', 'a garbage signature under another key')
  const unbound = await refusal(() => r.check(proof(es, T0), { claims: { sub: 'x' } }))
  t.equal(unbound?.reason, 'dpop_unbound')
  t.equal(unbound?.error, 'invalid_token')
  t.equal(await reason(r, proof(es, T0), { claims: { cnf: { 'x5t#S256': es.jkt } } }), 'dpop_unbound', 'certificate-bound only')
  t.equal(await reason(r, undefined, { claims: {} }), 'dpop_unbound', 'checked before the proof')
  for (const cnf of ['x', null, [es.jkt], { jkt: 1 }, { jkt: '' }, { jkt: es.jkt + 'A' }, { jkt: es.jkt.slice(1) }, { jkt: es.jkt.slice(0, -1) + '_' }]) {
    t.equal(await reason(r, proof(es, T0), { claims: { cnf } }), 'dpop_bad_cnf', JSON.stringify(cnf))
  }
  t.equal(confirmation({ cnf: { jkt: es.jkt } }, 'jkt'), es.jkt)
  t.equal(confirmation({}, 'jkt'), undefined)
  const claims = Object.freeze({ cnf: Object.freeze({ jkt: es.jkt }) })
  t.equal((await r.check(proof(es, T0), { claims })).jkt, es.jkt, 'frozen claims are only read')
})

t.test('RFC 9449 §11.1: a jti is never accepted twice within the window', async t => {
  const r = rig()
  const p = proof(es, T0)
  t.equal((await r.check(p)).jkt, es.jkt)
  const e = await refusal(() => r.check(p))
  t.equal(e?.reason, 'dpop_replay')
  t.equal(e?.error_description, 'DPoP proof replayed')
  // Another proof that reuses the jti, from the same key: a replay too.
  const again = proof(es, T0 + 1, { payload: { jti: decodeCompact(p).payload.jti } })
  t.equal(await reason(r, again), 'dpop_replay')
  t.equal(e?.jti, decodeCompact(p).payload.jti, 'the refusal carries the jti for logs')
  // The same jti from another key is another proof.
  t.equal((await r.check(proof(other, T0, { payload: { jti: decodeCompact(p).payload.jti } }), { claims: { cnf: { jkt: other.jkt } } })).jkt, other.jkt)
  // Once the window is over the proof is refused as old anyway.
  r.clock.now += 400_000
  t.equal(await reason(r, p), 'dpop_iat')
})

t.test('only proofs good in every other respect reach the replay store; the entry lives as long as the window', async t => {
  const seen: Array<[string, number]> = []
  const store: DpopReplayStore = { claim: (key, expiresAt) => { seen.push([key, expiresAt]); return true } }
  const r = rig({}, store)
  await refusal(() => r.check(proof(es, T0, { payload: { htm: 'POST' } })))
  await refusal(() => r.check(proof(other, T0)))
  await refusal(() => r.check(proof(es, T0, { payload: { ath: 'x' } })))
  t.equal(seen.length, 0)
  await r.check(proof(es, T0 + 10))
  t.equal(seen.length, 1)
  const [key, expiresAt] = seen[0] as [string, number]
  t.match(key, /^[A-Za-z0-9_-]{43}$/, 'a fixed-length key, whatever the jti')
  t.equal(expiresAt, (T0 + 10 + 300 + 30) * 1000 + 1000, 'iat + iatOffset + iatLeeway, plus a second')
})

t.test('replay store answers: async, failing, slow, full, nonsense', async t => {
  const p = (): string => proof(es, T0)
  const asyncTrue = rig({}, { claim: async () => true })
  const verdict = asyncTrue.check(p())
  t.ok(verdict instanceof Promise, 'an async store gives a promise')
  t.equal((await verdict).jkt, es.jkt)
  t.equal(await reason(rig({}, { claim: async () => false }), p()), 'dpop_replay')
  // A foreign thenable is an answer too.
  const thenable = { claim: () => ({ then: (ok: (v: boolean) => void) => ok(true) }) as unknown as Promise<boolean> }
  t.equal((await rig({}, thenable).check(p())).jkt, es.jkt)

  const rejecting = await refusal(() => rig({}, { claim: async () => { throw new Error('ECONNREFUSED') } }).check(p()))
  t.equal(rejecting?.reason, 'dpop_store_unavailable')
  t.equal(rejecting?.statusCode, 503)
  t.equal(rejecting?.error, 'temporarily_unavailable')
  t.equal(rejecting?.retryAfter, 5)
  t.equal(rejecting?.detail, 'store_error')
  const throwing = await refusal(() => rig({}, { claim: () => { throw new Error('boom') } }).check(p()))
  t.equal(throwing?.reason, 'dpop_store_unavailable')
  t.equal(throwing?.detail, 'store_error')
  for (const answer of [undefined, 'OK', 1, null]) {
    const sync = await refusal(() => rig({}, { claim: () => answer as unknown as boolean }).check(p()))
    t.equal(sync?.reason, 'dpop_store_unavailable', `sync ${String(answer)}`)
    t.equal(sync?.detail, 'bad_answer')
    const later = await refusal(() => rig({}, { claim: async () => answer as unknown as boolean }).check(p()))
    t.equal(later?.reason, 'dpop_store_unavailable', `async ${String(answer)}`)
  }
  // An answer whose `then` cannot even be read (a throwing getter, a Proxy) is the store's fault too.
  const getter = { get then (): never { throw new Error('no then') } }
  const trap = new Proxy({}, { get () { throw new Error('trap') } })
  for (const [label, answer] of [['throwing then getter', getter], ['throwing Proxy', trap]] as const) {
    const odd = await refusal(() => rig({}, { claim: () => answer as unknown as boolean }).check(p()))
    t.equal(odd?.reason, 'dpop_store_unavailable', label)
    t.equal(odd?.statusCode, 503, label)
    t.equal(odd?.detail, 'store_error', label)
  }
  const full = await refusal(() => rig({}, { claim: () => { throw new ReplayStoreFullError(7) } }).check(p()))
  t.equal(full?.reason, 'dpop_store_full')
  t.equal(full?.statusCode, 503)
  t.equal(full?.retryAfter, 7)
  t.equal(full?.detail, 'full')

  // A store that never answers: refused within replayTimeout, not left hanging.
  const silent = rig({ replayTimeout: '150ms' }, { claim: () => new Promise<boolean>(() => {}) })
  const started = Date.now()
  const hung = await refusal(() => silent.check(p()))
  const took = Date.now() - started
  t.equal(hung?.reason, 'dpop_store_unavailable')
  t.equal(hung?.detail, 'timeout')
  t.ok(took >= 140 && took < 2000, `answered after ${took} ms`)
  // A late answer after the deadline changes nothing.
  let late: ((v: boolean) => void) | undefined
  const slow = rig({ replayTimeout: '50ms' }, { claim: () => new Promise<boolean>(resolve => { late = resolve }) })
  t.equal(await reason(slow, p()), 'dpop_store_unavailable')
  late?.(true)
})

t.test('server nonces (RFC 9449 §9)', async t => {
  const secret = 'n'.repeat(32)
  const r = rig({ nonce: { secret, lifetime: '60s' } })
  const first = await refusal(() => r.check(proof(es, T0)))
  t.equal(first?.reason, 'dpop_nonce_required')
  t.equal(first?.statusCode, 401)
  t.equal(first?.error, 'use_dpop_nonce')
  t.equal(first?.error_description, 'Resource server requires nonce in DPoP proof')
  const nonce = first?.nonce as string
  t.match(nonce, /^[A-Za-z0-9_-]{32}$/)
  t.equal(r.v.currentNonce(), nonce)
  const ok = await r.check(proof(es, T0, { payload: { nonce } }))
  t.equal(ok.nonce, undefined, 'current nonce: nothing new to send')
  // A step later the old nonce still works, and the answer hands out the new one.
  r.clock.now += 60_000
  const rolled = await r.check(proof(es, T0 + 60, { payload: { nonce } }))
  t.equal(rolled.nonce, r.v.currentNonce())
  t.not(rolled.nonce, nonce)
  // Two steps later it is stale.
  r.clock.now += 60_000
  const stale = await refusal(() => r.check(proof(es, T0 + 120, { payload: { nonce } })))
  t.equal(stale?.reason, 'dpop_nonce_invalid')
  t.equal(stale?.error, 'use_dpop_nonce')
  t.equal(stale?.nonce, r.v.currentNonce())
  for (const bad of ['', 'x', 1, null, nonce.slice(0, -1) + (nonce.endsWith('A') ? 'B' : 'A'), 'A'.repeat(32)]) {
    t.equal(await reason(r, proof(es, T0 + 120, { payload: { nonce: bad } })), 'dpop_nonce_invalid', JSON.stringify(bad))
  }
  // Any refusal while nonces are on carries the current nonce.
  const other401 = await refusal(() => r.check(proof(es, T0 + 120, { payload: { htm: 'PUT' } })))
  t.equal(other401?.reason, 'dpop_htm')
  t.equal(other401?.nonce, r.v.currentNonce())
  // The nonce check comes after the proof's own checks and before the replay store.
  t.equal(await reason(r, proof(other, T0 + 120)), 'dpop_jkt')
})

t.test('nonces work across instances that share the secret, and only those', async t => {
  const a = rig({ nonce: { secret: ['s'.repeat(32)] } })
  const b = rig({ nonce: { secret: Buffer.from('s'.repeat(32)) } })
  const c = rig({ nonce: { secret: 't'.repeat(32) } })
  const nonce = a.v.currentNonce() as string
  t.equal(b.v.currentNonce(), nonce)
  t.equal((await b.check(proof(es, T0, { payload: { nonce } }))).jkt, es.jkt)
  t.equal(await reason(c, proof(es, T0, { payload: { nonce } })), 'dpop_nonce_invalid')
  // Rotation: a new first secret issues, the old one still verifies.
  const rotated = rig({ nonce: { secret: ['u'.repeat(32), 's'.repeat(32)] } })
  t.not(rotated.v.currentNonce(), nonce)
  t.equal((await rotated.check(proof(es, T0, { payload: { nonce } }))).nonce, undefined)
  // nonce: true without a secret: a per-process random one.
  const e1 = rig({ nonce: true })
  const e2 = rig({ nonce: true })
  t.not(e1.v.currentNonce(), e2.v.currentNonce())
  t.equal(e1.v.settings.nonce?.ephemeral, true)
})

t.test('nonces off: a string nonce is ignored, another type refused', async t => {
  const r = rig()
  t.equal(r.v.currentNonce(), undefined)
  t.equal((await r.check(proof(es, T0, { payload: { nonce: 'whatever' } }))).nonce, undefined)
  t.equal(await reason(r, proof(es, T0, { payload: { nonce: 1 } })), 'dpop_bad_header')
  const e = await refusal(() => r.check(proof(es, T0, { payload: { htm: 'PUT' } })))
  t.equal(e?.nonce, undefined)
})

t.test('countRawHeader counts lines of one header, any case', async t => {
  t.equal(countRawHeader(['DPoP', 'a', 'host', 'x', 'dpop', 'b', 'DPOP', 'c', 'dpopx', 'd'], 'dpop'), 3)
  t.equal(countRawHeader([], 'dpop'), 0)
})

t.test('proof headers do not enter the access-token header memo', async t => {
  const value = proof(es, T0)
  t.notOk(Object.isFrozen(decodeCompact(value, false).header), 'memo off: a fresh header object')
  t.ok(Object.isFrozen(decodeCompact(value).header), 'memo on (access tokens): frozen and shared')
})

t.test('every refusal is a AxiomsError with a stable code, and no stack frames', async t => {
  const e = await refusal(() => rig().check(undefined)) as AxiomsError
  t.equal(e.code, 'AXIOMS_DPOP_MISSING')
  t.equal(e.stack, 'AxiomsError: Missing DPoP proof')
  t.same(JSON.parse(JSON.stringify(e)), { error: 'invalid_dpop_proof', error_description: 'Missing DPoP proof' })
  t.ok(e instanceof AxiomsError)
  t.notOk(new Error('x') instanceof AxiomsError)
  t.notOk((null as unknown) instanceof AxiomsError)
})

t.test('duplicate JSON members: the last one, as JSON.parse gives it, is what every check reads', async t => {
  const r = rig()
  const p = parts(es, T0)
  const jwk = JSON.stringify(es.jwk)
  const header = `{"typ":"JWT","alg":"none","jwk":${jwk},"typ":"dpop+jwt","alg":"ES256"}`
  const payload = JSON.stringify(p.payload).replace('{', '{"jti":"first","htm":"POST",')
  const verdict = await r.check(proofFromText(header, payload, es))
  t.equal(verdict.jti, p.payload.jti, 'the later jti')
  const flipped = `{"typ":"dpop+jwt","alg":"ES256","jwk":${jwk},"typ":"JWT"}`
  t.equal(await reason(r, proofFromText(flipped, JSON.stringify(parts(es, T0).payload), es)), 'dpop_bad_typ')
})

t.test('the proof\'s jwk: own members only, whatever Object.prototype carries', async t => {
  const r = rig()
  const proto = Object.prototype as Record<string, unknown>
  for (const [member, value] of [['use', 'enc'], ['key_ops', ['sign']], ['alg', 'RS256'], ['d', 'x']] as const) {
    proto[member] = value
    try {
      t.equal((await r.check(proof(es, T0, { payload: { jti: `polluted-${member}` } }))).jkt, es.jkt, `Object.prototype.${member} is not the key's`)
    } finally {
      delete proto[member]
    }
  }
})
