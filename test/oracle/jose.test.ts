// Issue 11 item 3: differential testing against jose's jwtVerify, an independent verifier (a
// devDependency, never on the runtime path). Both sides get the same key set (ours from the test
// issuer's JWKS endpoint, jose through createLocalJWKSet), the same options and the same clock.
// Tokens are generated valid, then mutated (header members, claims, JSON text, segments,
// signatures, encodings) by fast-check; each decision is compared, and the claims on accept.
// Every disagreement must fall into a class listed in SECURITY.md ("Deliberate differences from
// jose"), or the test fails; each listed class has a witness that must still disagree.
// Replay: AXIOMS_ORACLE_SEED=<seed> npx tap test/oracle/jose.test.ts
import { constants, createHash, generateKeyPairSync, type KeyObject, sign as cryptoSign } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import fc from 'fast-check'
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { createLocalJWKSet, jwtVerify, type JWTVerifyOptions } from 'jose'
import axioms, { AxiomsError, type AxiomsOptions } from '../../index.js'
import type { Algorithm } from '../../lib/options/index.js'
import { createTestIssuer, generateTestKey, type TestKey } from '../../testing.js'

const SEED = Number(process.env.AXIOMS_ORACLE_SEED ?? ((Date.now() ^ Math.floor(Math.random() * 2 ** 31)) >>> 0))
// A few more than 20,000, so that at least 20,000 distinct tokens are judged.
const RUNS = Math.ceil(Math.max(20200, Number(process.env.AXIOMS_ORACLE_RUNS ?? 0)) / 10) * 10
t.comment(`oracle seed ${SEED}, ${RUNS} cases (replay: AXIOMS_ORACLE_SEED=${SEED} npx tap test/oracle/jose.test.ts)`)

const ISS = 'https://idp.oracle.test'
const AUD = 'https://api.oracle.test'
const ALL: Algorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']
const S_ALGS: Algorithm[] = ['RS256', 'PS256', 'ES256', 'EdDSA']
type Cfg = 'D' | 'S'
const TOL: Record<Cfg, number> = { D: 0, S: 30 }

// ---------------------------------------------------------------------------------------------
// The key set: one key per family, an alg-less RSA key, a kid shared by two keys, Ed448, and
// two degenerate keys (an Ed25519 identity point, RSA e = 1) under which forgeries verify.

const b64u = (b: Buffer | string): string => Buffer.from(b).toString('base64url')
const k = {
  rs: generateTestKey('RS256', 'k-rs'),
  ps: generateTestKey('PS256', 'k-ps'),
  any: generateTestKey('RS256', 'k-rsa-any'),
  es256: generateTestKey('ES256', 'k-es256'),
  es384: generateTestKey('ES384', 'k-es384'),
  es512: generateTestKey('ES512', 'k-es512'),
  ed: generateTestKey('EdDSA', 'k-ed'),
  dupA: generateTestKey('ES256', 'k-dup'),
  dupB: generateTestKey('ES256', 'k-dup'),
  attacker: generateTestKey('ES256', 'k-es256')
}
const ed448Pair = generateKeyPairSync('ed448')
const ed448: TestKey = { kid: 'k-ed448', alg: 'EdDSA', ...ed448Pair, jwk: { ...ed448Pair.publicKey.export({ format: 'jwk' }), kid: 'k-ed448', alg: 'EdDSA', use: 'sig' } }
const IDENTITY = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)])
const DEGENERATE = new Set(['k-ed-identity', 'k-rsa-e1'])
const JWKS = {
  keys: [
    k.rs.jwk, k.ps.jwk, { ...k.any.jwk, alg: undefined }, k.es256.jwk, k.es384.jwk, k.es512.jwk, k.ed.jwk, k.dupA.jwk, k.dupB.jwk, ed448.jwk,
    { kty: 'OKP', crv: 'Ed25519', x: b64u(IDENTITY), kid: 'k-ed-identity', alg: 'EdDSA', use: 'sig' },
    { kty: 'RSA', n: k.rs.jwk.n, e: 'AQ', kid: 'k-rsa-e1', alg: 'RS256', use: 'sig' }
  ].map(j => JSON.parse(JSON.stringify(j)) as Record<string, unknown>)
}

interface Signer { kid: string, alg: string, sign: (input: Buffer) => Buffer }
function signerOf (key: TestKey, alg: string = key.alg, kid = key.kid): Signer {
  const bits = alg === 'EdDSA' ? 0 : Number(alg.slice(2))
  const hash = alg === 'EdDSA' ? null : `sha${bits}`
  const opts = alg.startsWith('PS')
    ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: bits / 8 }
    : alg.startsWith('ES') ? { dsaEncoding: 'ieee-p1363' as const } : {}
  const privateKey: KeyObject = key.privateKey
  return { kid, alg, sign: input => cryptoSign(hash, input, { key: privateKey, ...opts }) }
}
// EMSA-PKCS1-v1_5 of SHA-256(input) for a 2048-bit modulus: the signature e = 1 accepts.
function pkcs1Block (input: Buffer): Buffer {
  const t2 = Buffer.concat([Buffer.from('3031300d060960864801650304020105000420', 'hex'), createHash('sha256').update(input).digest()])
  return Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(256 - t2.length - 3, 0xff), Buffer.from([0]), t2])
}
const SIGNERS: Record<string, Signer> = {
  es256: signerOf(k.es256),
  es384: signerOf(k.es384),
  es512: signerOf(k.es512),
  ed: signerOf(k.ed),
  ed448: signerOf(ed448),
  rs: signerOf(k.rs),
  ps: signerOf(k.ps),
  anyPs384: signerOf(k.any, 'PS384'),
  anyRs512: signerOf(k.any, 'RS512'),
  dup: signerOf(k.dupA),
  attacker: signerOf(k.attacker),
  edIdentity: { kid: 'k-ed-identity', alg: 'EdDSA', sign: () => Buffer.concat([IDENTITY, Buffer.alloc(32)]) },
  rsaE1: { kid: 'k-rsa-e1', alg: 'RS256', sign: pkcs1Block }
}
const ORDERS: Record<string, bigint> = {
  ES256: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  ES384: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  ES512: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n
}

// ---------------------------------------------------------------------------------------------
// Both verifiers

const idp = await createTestIssuer({ issuer: ISS, audience: AUD, algorithms: ['ES256'] })
t.teardown(() => idp.close())
idp.setJwks(JWKS)

const OURS: Record<Cfg, AxiomsOptions> = {
  D: { issuer: ISS, jwksUri: idp.jwksUri, audience: AUD, algorithms: ALL, clockTolerance: TOL.D, env: {}, jwksTimeout: '30s' },
  S: { issuer: ISS, jwksUri: idp.jwksUri, audience: AUD, algorithms: S_ALGS, clockTolerance: TOL.S, profile: 'rfc9068', env: {}, jwksTimeout: '30s' }
}
// The same policy in jose's terms: exp required (SPEC), RFC 9068's claims present and its typ.
const JOSE: Record<Cfg, JWTVerifyOptions> = {
  D: { issuer: ISS, audience: AUD, algorithms: ALL, clockTolerance: TOL.D, requiredClaims: ['exp'] },
  S: { issuer: ISS, audience: AUD, algorithms: S_ALGS, clockTolerance: TOL.S, typ: 'at+jwt', requiredClaims: ['exp', 'iss', 'aud', 'sub', 'client_id', 'iat', 'jti'] }
}
const joseKeys = createLocalJWKSet(JWKS as Parameters<typeof createLocalJWKSet>[0])

const apps: Partial<Record<Cfg, FastifyInstance>> = {}
for (const cfg of ['D', 'S'] as const) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, OURS[cfg])
  await app.ready()
  await app.axioms.refresh()
  apps[cfg] = app
}

interface Decision { ok: boolean, why: string, claims?: string }

async function ours (cfg: Cfg, token: string): Promise<Decision> {
  try {
    const claims = await (apps[cfg] as FastifyInstance).axioms.verify(token)
    return { ok: true, why: 'ok', claims: JSON.stringify(claims) }
  } catch (err) {
    if (!(err instanceof AxiomsError)) throw err
    return { ok: false, why: err.reason }
  }
}

async function theirs (cfg: Cfg, token: string, at: number): Promise<Decision> {
  try {
    const { payload } = await jwtVerify(token, joseKeys, { ...JOSE[cfg], currentDate: new Date(at) })
    return { ok: true, why: 'ok', claims: JSON.stringify(payload) }
  } catch (err) {
    // The code, and for a claim check the claim: 'ERR_JWT_CLAIM_VALIDATION_FAILED nbf'.
    const e = err as { code?: string, claim?: string, name: string }
    return { ok: false, why: `${e.code ?? e.name}${e.claim === undefined ? '' : ` ${e.claim}`}` }
  }
}

// ---------------------------------------------------------------------------------------------
// Token recipes: built at run time against the current second, so both sides judge one clock.

const ABSENT = '\u0000absent'
const INF = '\u0000+inf'
const NINF = '\u0000-inf'
/** A time claim: seconds from now, or a raw value (ABSENT, INF, NINF, a non-number). */
type Time = { d: number } | { raw: unknown }

type EncOp = 'none' | 'pretty' | 'bom' | 'dup' | 'escape' | 'badutf8' | 'trail' | 'array'
type PostOp = 'none' | 'sigflip' | 'sigshort' | 'siglead0' | 'sigtrail0' | 'droplead0' | 'highS' | 'der' | 'sigzero' |
  'pad' | 'bits' | 'ws' | 'segpad' | 'swap' | 'drop' | 'dupseg' | 'extraseg' | 'emptyseg' | 'insert' | 'caseflip' | 'graftsig' | 'grafthead'

interface Recipe {
  cfg: Cfg
  signer: keyof typeof SIGNERS
  alg: unknown
  kid: unknown
  typ: unknown
  extras: ReadonlyArray<readonly [string, unknown]>
  iss: unknown
  aud: unknown
  exp: Time
  nbf: Time
  iat: Time
  sub: unknown
  clientId: unknown
  jti: unknown
  cnf: unknown
  extra: ReadonlyArray<readonly [string, unknown]>
  deep: number
  big: number
  encHeader: EncOp
  encPayload: EncOp
  dupValue: unknown
  post: PostOp
  at: number
  ch: string
}

const BASE: Omit<Recipe, 'cfg' | 'signer'> = {
  alg: undefined,
  kid: undefined,
  typ: 'at+jwt',
  extras: [],
  iss: ISS,
  aud: AUD,
  exp: { d: 300 },
  nbf: { raw: ABSENT },
  iat: { d: 0 },
  sub: 'user-1',
  clientId: 'c1',
  jti: 'jti-1',
  cnf: ABSENT,
  extra: [],
  deep: 0,
  big: 0,
  encHeader: 'none',
  encPayload: 'none',
  dupValue: null,
  post: 'none',
  at: 0,
  ch: ' '
}
const base = (cfg: Cfg, signer: keyof typeof SIGNERS, over: Partial<Recipe> = {}): Recipe => ({ ...BASE, cfg, signer, ...over })

function timeValue (v: Time, now: number): unknown {
  return 'd' in v ? now + v.d : v.raw
}

function setMember (o: Record<string, unknown>, name: string, value: unknown): void {
  if (value === ABSENT) delete o[name]
  else Object.defineProperty(o, name, { value, enumerable: true, writable: true, configurable: true })
}

function jsonText (o: unknown): string {
  return JSON.stringify(o).replaceAll(JSON.stringify(INF), '1e400').replaceAll(JSON.stringify(NINF), '-1e400')
}

function encode (text: string, op: EncOp, dupValue: unknown): Buffer {
  switch (op) {
    case 'pretty': {
      // Re-indented JSON text, with 1e400 kept as written (JSON.parse would make it Infinity).
      const marked = text.replace(/(-?)1e400/g, (_m, sign: string) => JSON.stringify(sign === '' ? INF : NINF))
      let pretty: string
      try {
        pretty = JSON.stringify(JSON.parse(marked), null, 1)
      } catch {
        return Buffer.from(text) // '1e400' inside a generated string: leave the text alone
      }
      return Buffer.from(pretty.replaceAll(JSON.stringify(INF), '1e400').replaceAll(JSON.stringify(NINF), '-1e400'))
    }
    case 'bom': return Buffer.from('\uFEFF' + text)
    case 'dup': return Buffer.from(text.length > 2 ? text.slice(0, -1) + `,"${['iss', 'aud', 'exp', 'kid', 'alg', 'typ', 'sub'][text.length % 7] as string}":${JSON.stringify(dupValue) ?? 'null'}}` : text)
    case 'escape': return Buffer.from(text.replace(/"([a-z])/, (_m, c: string) => `"\\u00${c.charCodeAt(0).toString(16)}`))
    case 'badutf8': return Buffer.concat([Buffer.from(text.slice(0, -1) + ',"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')])
    case 'trail': return Buffer.from(text + 'x')
    case 'array': return Buffer.from(`[${text}]`)
    default: return Buffer.from(text)
  }
}

function build (r: Recipe, now: number): string {
  const s = SIGNERS[r.signer] as Signer
  const header: Record<string, unknown> = { alg: s.alg, kid: s.kid, typ: 'at+jwt' }
  setMember(header, 'alg', r.alg === undefined ? s.alg : r.alg)
  setMember(header, 'kid', r.kid === undefined ? s.kid : r.kid)
  setMember(header, 'typ', r.typ)
  for (const [name, value] of r.extras) setMember(header, name, value)
  const claims: Record<string, unknown> = {}
  setMember(claims, 'iss', r.iss)
  setMember(claims, 'aud', r.aud)
  setMember(claims, 'sub', r.sub)
  setMember(claims, 'client_id', r.clientId)
  setMember(claims, 'iat', timeValue(r.iat, now))
  setMember(claims, 'nbf', timeValue(r.nbf, now))
  setMember(claims, 'exp', timeValue(r.exp, now))
  setMember(claims, 'jti', r.jti)
  setMember(claims, 'scope', 'items:read')
  setMember(claims, 'cnf', r.cnf)
  for (const [name, value] of r.extra) setMember(claims, name, value)
  if (r.deep > 0) {
    let v: unknown = 1
    for (let i = 0; i < r.deep; i++) v = i % 2 === 0 ? [v] : { v }
    claims.deep = v
  }
  if (r.big > 0) claims.big = 'b'.repeat(r.big)
  const h = b64u(encode(jsonText(header), r.encHeader, r.dupValue))
  const p = b64u(encode(jsonText(claims), r.encPayload, r.dupValue))
  const input = `${h}.${p}`
  return mutate(`${input}.${b64u(s.sign(Buffer.from(input)))}`, r, s)
}

const POOL: string[] = []

function mutate (token: string, r: Recipe, s: Signer): string {
  const segs = token.split('.') as [string, string, string]
  const sig = Buffer.from(segs[2], 'base64url')
  const at = r.at
  const withSig = (b: Buffer): string => `${segs[0]}.${segs[1]}.${b64u(b)}`
  const insertAt = (str: string, c: string): string => str.slice(0, at % (str.length + 1)) + c + str.slice(at % (str.length + 1))
  switch (r.post) {
    case 'sigflip': { const b = Buffer.from(sig); const i = at % b.length; b[i] = (b[i] as number) ^ (1 << (at % 8)); return withSig(b) }
    case 'sigshort': return withSig(sig.subarray(0, sig.length - 1))
    case 'siglead0': return withSig(Buffer.concat([Buffer.from([0]), sig]))
    case 'sigtrail0': return withSig(Buffer.concat([sig, Buffer.from([0])]))
    case 'droplead0': return sig[0] === 0 ? withSig(sig.subarray(1)) : token
    case 'highS': {
      const n = ORDERS[s.alg]
      if (n === undefined) return token
      const half = sig.length / 2
      const sv = BigInt('0x' + sig.subarray(half).toString('hex'))
      return withSig(Buffer.concat([sig.subarray(0, half), Buffer.from((n - sv).toString(16).padStart(half * 2, '0'), 'hex')]))
    }
    case 'der': return ORDERS[s.alg] === undefined ? token : withSig(Buffer.concat([Buffer.from([0x30, sig.length + 4, 2, sig.length / 2]), sig.subarray(0, sig.length / 2), Buffer.from([2, sig.length / 2]), sig.subarray(sig.length / 2)]))
    case 'sigzero': return withSig(Buffer.alloc(sig.length))
    case 'pad': return segs[2].length % 4 === 0 ? token : `${segs[0]}.${segs[1]}.${segs[2]}${'='.repeat(4 - segs[2].length % 4)}`
    case 'bits': {
      const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
      const last = segs[2].at(-1) as string
      const rest = segs[2].length % 4
      if (rest === 0) return token
      return `${segs[0]}.${segs[1]}.${segs[2].slice(0, -1)}${A[A.indexOf(last) | (rest === 2 ? 1 + (at % 15) : 1 + (at % 3))]}`
    }
    case 'ws': return `${segs[0]}.${segs[1]}.${insertAt(segs[2], r.ch === ' ' || r.ch === '\n' || r.ch === '\t' ? r.ch : ' ')}`
    case 'segpad': { const i = at % 2; const copy = [...segs]; copy[i] = copy[i] + '='.repeat((4 - (copy[i] as string).length % 4) % 4 || 4); return copy.join('.') }
    case 'swap': return `${segs[1]}.${segs[0]}.${segs[2]}`
    case 'drop': return segs.filter((_, i) => i !== at % 3).join('.')
    case 'dupseg': return [...segs, segs[at % 3]].join('.')
    case 'extraseg': return `${token}.${b64u(String(at))}`
    case 'emptyseg': { const copy = [...segs]; copy[at % 3] = ''; return copy.join('.') }
    case 'insert': return insertAt(token, r.ch)
    case 'caseflip': {
      const i = at % token.length
      const c = token[i] as string
      const f = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()
      return token.slice(0, i) + f + token.slice(i + 1)
    }
    case 'graftsig': return `${segs[0]}.${segs[1]}.${(POOL[at % POOL.length] as string).split('.')[2] as string}`
    case 'grafthead': return `${(POOL[at % POOL.length] as string).split('.')[0] as string}.${segs[1]}.${segs[2]}`
    default: return token
  }
}

const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('', null, 0, -1, 1e308, true, [], {}, '__proto__', 'at+jwt', ISS, AUD, 'k-es256', ['x'], '\ud800', 'x\udfffy', '\u{1f600}', '\u0000', 'é\u0301')
)
const time = (tol: number): fc.Arbitrary<Time> => fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0, -1, 1, -tol, -tol - 1, -tol + 1, tol, tol + 1, tol - 1, 300, 3600, -3600, 10 * 365 * 86400).map(d => ({ d })) },
  { weight: 2, arbitrary: fc.constantFrom(0.5, -0.5, 0.001, -0.001, tol + 0.5, -tol - 0.5, tol + 0.999).map(d => ({ d })) },
  { weight: 1, arbitrary: fc.integer({ min: -100000, max: 100000 }).map(d => ({ d })) },
  { weight: 3, arbitrary: fc.constantFrom<unknown>(ABSENT, null, INF, NINF, '9999999999', true, {}, [], 1e20, -1e20, 0).map(raw => ({ raw })) }
)
const claimString: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom<unknown>(ABSENT, '', 1, null, ['x'], {}, true) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }
)
const HEADER_EXTRAS: Array<[string, unknown]> = [
  ['crit', ['b64']], ['b64', true], ['b64', false], ['crit', ['urn:x']], ['crit', []], ['zip', 'DEF'], ['cty', 'JWT'], ['cty', 'jwt'],
  ['cty', 'application/json'], ['jku', 'https://attacker.test/jwks'], ['x5u', 'https://attacker.test/x'], ['jwk', { kty: 'EC' }],
  ['x5c', ['MIIB']], ['enc', 'A128GCM'], ['x-custom', 1], ['__proto__', { alg: 'none' }], ['kid', 'k-ed'], ['alg', 'none']
]
const SIGNER_WEIGHTS: Array<[keyof typeof SIGNERS, number]> = [
  ['es256', 60], ['ed', 36], ['es384', 16], ['es512', 3], ['ed448', 8], ['rs', 3], ['ps', 4], ['anyPs384', 2], ['anyRs512', 1],
  ['dup', 4], ['attacker', 4], ['edIdentity', 4], ['rsaE1', 2]
]
const POSTS: Array<[PostOp, number]> = [
  ['sigflip', 3], ['sigshort', 2], ['siglead0', 1], ['sigtrail0', 1], ['droplead0', 3], ['highS', 3], ['der', 1],
  ['sigzero', 1], ['pad', 3], ['bits', 3], ['ws', 2], ['segpad', 1], ['swap', 1], ['drop', 1], ['dupseg', 1], ['extraseg', 1],
  ['emptyseg', 1], ['insert', 2], ['caseflip', 2], ['graftsig', 1], ['grafthead', 1]
]
const ENCS: Array<[EncOp, number]> = [['pretty', 2], ['bom', 1], ['dup', 3], ['escape', 2], ['badutf8', 1], ['trail', 1], ['array', 1]]
const weighted = <T>(list: Array<[T, number]>): fc.Arbitrary<T> => fc.oneof(...list.map(([v, weight]) => ({ weight, arbitrary: fc.constant(v) })))

/** What each field becomes when a recipe mutates it (a valid token otherwise). */
const mutations = (cfg: Cfg): { [K in Mutable]: fc.Arbitrary<Recipe[K]> } => ({
  alg: fc.constantFrom<unknown>(ABSENT, 'none', 'HS256', 'RS256', 'ES256', 'EdDSA', 'Ed25519', 'es256', 'ES256K', '', null, 1),
  kid: fc.constantFrom<unknown>(ABSENT, '', 'nope', 'k-es256', 'k-es384', 'k-ed', 'k-ed448', 'k-rsa-any', 'k-dup', 'k-ed-identity', 1, null, ['k-es256'], '__proto__'),
  typ: fc.constantFrom<unknown>(ABSENT, 'JWT', 'jwt', 'application/jwt', 'application/at+jwt', 'AT+JWT', 'Application/At+Jwt', 'at+JWT', 'dpop+jwt', '', 1, null, 'at+jwt; charset=x'),
  extras: fc.oneof(fc.subarray(HEADER_EXTRAS, { minLength: 1, maxLength: 2 }), fc.array(fc.tuple(fc.string({ maxLength: 6 }), jsonish), { minLength: 1, maxLength: 2 })),
  iss: fc.constantFrom<unknown>(ABSENT, 'https://other.test', ISS + '/', [ISS], null, 1, ISS.toUpperCase()),
  aud: fc.constantFrom<unknown>([AUD], ['x', AUD], [1, AUD], ['x'], 'x', [], ABSENT, null, {}, AUD + '/', [[AUD]]),
  exp: time(TOL[cfg]),
  nbf: time(TOL[cfg]),
  iat: time(TOL[cfg]),
  sub: claimString,
  clientId: claimString,
  jti: claimString,
  cnf: fc.constantFrom<unknown>({ jkt: 'x' }, null, 1, {}),
  extra: fc.array(fc.tuple(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', 'exp', 'roles')), jsonish), { minLength: 1, maxLength: 3 }),
  deep: fc.integer({ min: 28, max: 40 }),
  big: fc.integer({ min: 5500, max: 6500 }),
  encHeader: weighted(ENCS),
  encPayload: weighted(ENCS),
  post: weighted(POSTS)
})
type Mutable = 'alg' | 'kid' | 'typ' | 'extras' | 'iss' | 'aud' | 'exp' | 'nbf' | 'iat' | 'sub' | 'clientId' | 'jti' | 'cnf' | 'extra' |
  'deep' | 'big' | 'encHeader' | 'encPayload' | 'post'
const MUTABLE: Mutable[] = ['alg', 'kid', 'typ', 'extras', 'iss', 'aud', 'exp', 'nbf', 'iat', 'sub', 'clientId', 'jti', 'cnf', 'extra',
  'deep', 'big', 'encHeader', 'encPayload', 'post']
// Signature and encoding edits weigh more: they are where verifiers differ most.
const PICKS: Mutable[] = [...MUTABLE, 'post', 'post', 'post', 'encPayload', 'encHeader', 'exp', 'iat', 'nbf', 'typ', 'kid']

/** A valid token's recipe with zero to three fields mutated. */
const recipe: fc.Arbitrary<Recipe> = fc.constantFrom<Cfg>('D', 'D', 'S').chain(cfg => fc.record({
  signer: weighted(SIGNER_WEIGHTS),
  pick: fc.oneof({ weight: 3, arbitrary: fc.constant<Mutable[]>([]) }, { weight: 7, arbitrary: fc.uniqueArray(fc.constantFrom(...PICKS), { minLength: 1, maxLength: 3 }) }),
  values: fc.record(mutations(cfg)),
  dupValue: jsonish,
  at: fc.nat(),
  ch: fc.constantFrom('.', '=', '+', '/', ' ', '~', 'é', '\n', '\t', '%', 'A', '_')
}).map(({ signer, pick, values, dupValue, at, ch }) => {
  // A jti of its own: no two recipes make the same token by accident.
  const r = base(cfg, signer, { dupValue, at, ch, jti: `jti-${at}` })
  for (const f of pick) (r as unknown as Record<string, unknown>)[f] = values[f]
  return r
}))

// ---------------------------------------------------------------------------------------------
// Classification of disagreements, from the token itself (never from which runtime decided).

const CANONICAL = /^[A-Za-z0-9_-]+$/
function canonical (seg: string): boolean {
  if (!CANONICAL.test(seg)) return false
  const rest = seg.length % 4
  if (rest === 1) return false
  return rest === 0 || Buffer.from(Buffer.from(seg, 'base64url').toString('base64url')).toString() === seg
}
function lenientJson (seg: string | undefined): Record<string, unknown> | undefined {
  if (seg === undefined) return undefined
  try {
    const text = Buffer.from(seg.replace(/[\s=]/g, ''), 'base64url').toString('utf8').replace(/^\uFEFF/, '')
    const v: unknown = JSON.parse(text)
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}
function depth (v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0
  let d = 0
  for (const x of Object.values(v)) d = Math.max(d, depth(x))
  return d + 1
}
const isFraction = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && !Number.isInteger(v)

/** The documented class of a disagreement, or undefined (an unlisted difference: a failure). */
function classify (cfg: Cfg, token: string, o: Decision, j: Decision, now: number): string | undefined {
  const segs = token.split('.')
  const header = lenientJson(segs[0]) ?? {}
  const payload = lenientJson(segs[1]) ?? {}
  const tol = TOL[cfg]
  const dates = [payload.exp, payload.nbf, payload.iat]
  if (o.ok && j.ok) return o.claims === j.claims ? 'agree' : undefined
  if (o.ok === j.ok) return 'agree'
  if (o.ok) {
    // We accept what jose refuses.
    if (header.kid === 'k-ed448' && j.why === 'ERR_JWKS_NO_MATCHING_KEY') return 'ed448'
    if (isFraction(payload.nbf) && j.why === 'ERR_JWT_CLAIM_VALIDATION_FAILED nbf') return 'fractional_date'
    return undefined
  }
  switch (o.why) {
    case 'malformed': {
      if (segs.some(s => !canonical(s))) return 'base64url_strict'
      const bytes = segs.slice(0, 2).map(s => Buffer.from(s, 'base64url'))
      if (bytes.some(b => b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf)) return 'utf8_bom'
      if (depth(payload) > 32) return 'claims_depth'
      return undefined
    }
    case 'token_too_large': return token.length > 8192 ? 'token_size' : undefined
    case 'missing_kid': return header.kid === undefined ? 'kid_required' : undefined
    case 'bad_header':
      return header.crit !== undefined || header.b64 !== undefined || header.zip !== undefined || (typeof header.cty === 'string' && header.cty.toUpperCase() === 'JWT') ? 'extension_headers' : undefined
    case 'bad_typ':
      if (cfg === 'D') return header.typ !== undefined ? 'typ_allow_list' : undefined
      return typeof header.typ === 'string' && ['at+jwt', 'application/at+jwt'].includes(header.typ.toLowerCase()) ? 'typ_case' : undefined
    case 'bad_claim':
      if (dates.some(v => v === Infinity || v === -Infinity)) return 'non_finite_date'
      if (typeof payload.iat === 'number' && payload.iat > now + tol) return 'future_iat'
      if (cfg === 'S' && [payload.sub, payload.client_id, payload.jti].some(v => typeof v !== 'string' || v === '')) return 'rfc9068_claim_types'
      return undefined
    case 'expired': return isFraction(payload.exp) ? 'fractional_date' : undefined
    case 'sender_constrained': return payload.cnf !== undefined ? 'cnf_bearer' : undefined
    case 'bad_signature':
      return typeof header.alg === 'string' && header.alg.startsWith('PS') && Buffer.from(segs[2] ?? '', 'base64url').length < 256 ? 'rsa_signature_length' : undefined
    case 'unknown_kid': return typeof header.kid === 'string' && DEGENERATE.has(header.kid) ? 'degenerate_key' : undefined
    default: return undefined
  }
}
const CLASSES = ['base64url_strict', 'utf8_bom', 'claims_depth', 'token_size', 'kid_required', 'extension_headers', 'typ_allow_list', 'typ_case',
  'non_finite_date', 'future_iat', 'rfc9068_claim_types', 'fractional_date', 'cnf_bearer', 'rsa_signature_length', 'degenerate_key', 'ed448']

/** The class ids of SECURITY.md's table of deliberate differences. */
function documented (): string[] {
  const text = readFileSync(new URL('../../SECURITY.md', import.meta.url), 'utf8')
  const start = text.indexOf('### Deliberate differences from jose')
  if (start === -1) return []
  const section = text.slice(start).split('\n').slice(1)
  const out: string[] = []
  for (const line of section) {
    if (line.startsWith('#')) break
    const m = /^\| `([a-z0-9_]+)` \|/.exec(line)
    if (m !== null) out.push(m[1] as string)
  }
  return out
}

interface Judged { cfg: Cfg, token: string, o: Decision, j: Decision, now: number }

/**
 * Builds the tokens inside one second and runs them through both verifiers, ours one by one
 * (it answers synchronously once keys are at hand), jose's concurrently (WebCrypto works in
 * Node's thread pool). Both judge the same second, so `exp = now` means the same to each.
 */
async function judge (cases: Array<[Cfg, (now: number) => string]>): Promise<Judged[]> {
  for (;;) {
    // Stay clear of a second boundary: a batch takes a few milliseconds.
    if (Date.now() % 1000 > 940) await sleep(1000 - (Date.now() % 1000) + 2)
    const at = Date.now()
    const now = Math.floor(at / 1000)
    const built = cases.map(([cfg, make]) => ({ cfg, token: make(now) }))
    const o: Decision[] = []
    for (const { cfg, token } of built) o.push(await ours(cfg, token))
    // A slow turn (a loaded machine, a key fetch) crossed into the next second: judge again.
    if (Math.floor(Date.now() / 1000) !== now) continue
    const j = await Promise.all(built.map(async ({ cfg, token }) => theirs(cfg, token, at)))
    return built.map(({ cfg, token }, i) => ({ cfg, token, o: o[i] as Decision, j: j[i] as Decision, now }))
  }
}

for (const name of ['es256', 'ed', 'es384', 'ps', 'rs']) POOL.push(build(base('D', name), Math.floor(Date.now() / 1000)))

// A PS256 token whose signature starts with a zero octet (about 1 in 256), for its short twin.
function psWithLeadingZero (now: number): string {
  for (let i = 0; ; i++) {
    const tok = build(base('D', 'ps', { jti: `lead-${i}` }), now)
    if (Buffer.from(tok.split('.')[2] as string, 'base64url')[0] === 0) return tok
  }
}

// One witness per documented class: each must still disagree, and be classified so.
const WITNESSES: Array<[string, Cfg, (now: number) => string]> = [
  ['base64url_strict', 'D', now => build(base('D', 'es256', { post: 'pad' }), now)],
  ['utf8_bom', 'D', now => build(base('D', 'es256', { encPayload: 'bom' }), now)],
  ['claims_depth', 'D', now => build(base('D', 'ed', { deep: 40 }), now)],
  ['token_size', 'D', now => build(base('D', 'es256', { big: 6500 }), now)],
  ['kid_required', 'D', now => build(base('D', 'es384', { kid: ABSENT }), now)],
  ['extension_headers', 'D', now => build(base('D', 'es256', { extras: [['zip', 'DEF']] }), now)],
  ['typ_allow_list', 'D', now => build(base('D', 'es256', { typ: 'dpop+jwt' }), now)],
  ['typ_case', 'S', now => build(base('S', 'es256', { typ: 'AT+JWT' }), now)],
  ['non_finite_date', 'D', now => build(base('D', 'es256', { exp: { raw: INF } }), now)],
  ['future_iat', 'D', now => build(base('D', 'es256', { iat: { d: 3600 } }), now)],
  ['rfc9068_claim_types', 'S', now => build(base('S', 'es256', { sub: '' }), now)],
  ['fractional_date', 'D', now => build(base('D', 'es256', { exp: { d: 0.001 } }), now)],
  ['cnf_bearer', 'D', now => build(base('D', 'es256', { cnf: { jkt: 'x' } }), now)],
  ['rsa_signature_length', 'D', now => { const tok = psWithLeadingZero(now); const [h, p, s] = tok.split('.') as [string, string, string]; return `${h}.${p}.${b64u(Buffer.from(s, 'base64url').subarray(1))}` }],
  ['degenerate_key', 'D', now => build(base('D', 'edIdentity'), now)],
  ['ed448', 'D', now => build(base('D', 'ed448'), now)]
]

t.test('the classes of deliberate differences: SECURITY.md, the classifier and the witnesses list the same ones', async t => {
  t.same([...documented()].sort(), [...CLASSES].sort(), 'SECURITY.md lists exactly the classes the test knows')
  t.same(WITNESSES.map(w => w[0]).sort(), [...CLASSES].sort(), 'one witness per class')
})

t.test('each documented difference still disagrees, in the documented class', async t => {
  for (const [name, cfg, make] of WITNESSES) {
    // fractional_date (exp = now + 1 ms) needs a clock past the first milliseconds of the second.
    if (name === 'fractional_date') while (Date.now() % 1000 < 20) await sleep(20)
    const [r] = await judge([[cfg, make]]) as [Judged]
    t.not(r.o.ok, r.j.ok, `${name}: the verifiers disagree (ours ${r.o.why}, jose ${r.j.why})`)
    t.equal(classify(cfg, r.token, r.o, r.j, r.now), name, `${name}: classified`)
  }
  // Both agree on the baseline of every configuration and signer family.
  for (const [cfg, signer] of [['D', 'es256'], ['D', 'ed'], ['D', 'rs'], ['D', 'ps'], ['D', 'anyPs384'], ['D', 'es512'], ['S', 'es256'], ['S', 'ed']] as const) {
    const [r] = await judge([[cfg, now => build(base(cfg, signer), now)]]) as [Judged]
    t.ok(r.o.ok && r.j.ok && r.o.claims === r.j.claims, `${cfg} ${signer}: both accept, same claims`)
  }
})

const BATCH = 10

t.test(`${RUNS} generated and mutated tokens: every disagreement is a documented difference`, async t => {
  const seen = new Map<string, number>()
  const outcomes = new Map<string, number>()
  const distinct = new Set<string>()
  let n = 0
  const t0 = performance.now()
  await fc.assert(fc.asyncProperty(fc.array(recipe, { minLength: BATCH, maxLength: BATCH }), async recipes => {
    for (const { cfg, token, o, j, now } of await judge(recipes.map(r => [r.cfg, now => build(r, now)]))) {
      n++
      distinct.add(`${cfg} ${token}`)
      const key = `${o.ok ? 'accept' : 'refuse'}/${j.ok ? 'accept' : 'refuse'}`
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
      const cls = classify(cfg, token, o, j, now)
      if (cls === undefined) {
        throw new Error(`unlisted disagreement (config ${cfg}): ours ${o.ok ? 'accepts' : `refuses (${o.why})`}, jose ${j.ok ? 'accepts' : `refuses (${j.why})`}` +
          `${o.ok && j.ok ? ' with other claims' : ''}\ntoken ${token}`)
      }
      if (cls !== 'agree') seen.set(cls, (seen.get(cls) ?? 0) + 1)
    }
  }), { seed: SEED, numRuns: RUNS / BATCH })
  const ms = performance.now() - t0
  t.comment(`seed ${SEED}: ${n} cases (${distinct.size} distinct tokens) in ${(ms / 1000).toFixed(1)} s; outcomes (ours/jose) ${JSON.stringify(Object.fromEntries(outcomes))}`)
  t.comment(`documented differences seen: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`)
  t.ok(distinct.size >= 20000, 'at least 20,000 distinct tokens judged')
  t.ok((outcomes.get('accept/accept') ?? 0) > n / 5 && (outcomes.get('refuse/refuse') ?? 0) > n / 5, 'the mix reaches both verdicts often')
})
