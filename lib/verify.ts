// The verification pipeline (the README: Verification), in order: syntax, header, issuer, key, signature, claims.
// Signatures are checked with node:crypto on KeyObjects imported once per (issuer, kid); see the
// README ("Why not @fastify/jwt on the hot path") for the measurement behind that choice.
import { constants, verify as cryptoVerify, type VerifyKeyObjectInput } from 'node:crypto'
import { decodeCompact, type DecodedToken, type JsonObject, MAX_TOKEN_BYTES } from './bearer.js'
import { AxiomsError, fail, type Reason } from './errors.js'
import { isNonEmptyString, type KeyEntry, KeyStore, type KeyStoreLog } from './keys.js'
import { verifyChannel } from './observe.js'
import type { Algorithm, IssuerSettings, Settings } from './options/index.js'
import { freezeClaims } from './claims.js'
import { TokenCache } from './cache.js'

/** The verified claims of an access token. Extend it through declaration merging. */
export interface AccessTokenClaims {
  iss: string
  sub?: string
  aud: string | readonly string[]
  exp: number
  iat?: number
  nbf?: number
  jti?: string
  client_id?: string
  scope?: string
  // Arrays are readonly: the claims are deep-frozen at runtime.
  scp?: string | readonly string[]
  roles?: readonly string[]
  permissions?: readonly string[]
  [claim: string]: unknown
}

interface AlgParams {
  hash: string | null
  padding?: number
  saltLength?: number
  /** ECDSA: exact length of the raw R || S signature. */
  sigLength?: number
}

const PSS = constants.RSA_PKCS1_PSS_PADDING
const PKCS1 = constants.RSA_PKCS1_PADDING
// Typed by Algorithm: an algorithm added to options.ts without its parameters does not compile.
const ALG_PARAMS: Record<Algorithm, AlgParams> = {
  RS256: { hash: 'sha256', padding: PKCS1 },
  RS384: { hash: 'sha384', padding: PKCS1 },
  RS512: { hash: 'sha512', padding: PKCS1 },
  PS256: { hash: 'sha256', padding: PSS, saltLength: 32 },
  PS384: { hash: 'sha384', padding: PSS, saltLength: 48 },
  PS512: { hash: 'sha512', padding: PSS, saltLength: 64 },
  ES256: { hash: 'sha256', sigLength: 64 },
  ES384: { hash: 'sha384', sigLength: 96 },
  ES512: { hash: 'sha512', sigLength: 132 },
  EdDSA: { hash: null }
}

// Verify options per (key, alg), built once: node:crypto reuses the KeyObject as is.
const verifyInputs = new WeakMap<KeyEntry, Map<string, VerifyKeyObjectInput>>()

function verifyInput (entry: KeyEntry, alg: string, p: AlgParams): VerifyKeyObjectInput {
  let byAlg = verifyInputs.get(entry)
  if (byAlg === undefined) {
    byAlg = new Map()
    verifyInputs.set(entry, byAlg)
  }
  let input = byAlg.get(alg)
  if (input === undefined) {
    input = { key: entry.key }
    if (p.padding !== undefined) input.padding = p.padding
    if (p.saltLength !== undefined) input.saltLength = p.saltLength
    if (p.sigLength !== undefined) input.dsaEncoding = 'ieee-p1363'
    byAlg.set(alg, input)
  }
  return input
}

/** Throws AxiomsError('bad_signature') unless `signature` is valid for `alg` under the key. */
export function checkSignature (entry: KeyEntry, alg: string, signingInput: string, signature: Buffer): void {
  // alg passed the allow-list, a subset of Algorithm.
  const p = ALG_PARAMS[alg as Algorithm]
  if (p.sigLength !== undefined && signature.length !== p.sigLength) fail('bad_signature')
  // crypto.verify answers false for any signature bytes (checked: oversized, zero, off-range);
  // were it ever to throw, Verifier.refuse still turns that into a 401, never a 5xx.
  if (!cryptoVerify(p.hash, Buffer.from(signingInput, 'latin1'), verifyInput(entry, alg, p), signature)) fail('bad_signature')
}

function isNumericDate (v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v)
}

interface IssuerEntry {
  issuer: IssuerSettings
  store: KeyStore
}

/** Verifies tokens for one plugin instance. Every failure is an AxiomsError. */
export class Verifier {
  private readonly settings: Settings
  private readonly byIss = new Map<string, IssuerEntry>()
  readonly stores: readonly KeyStore[]
  private readonly cache: TokenCache<VerifiedToken> | undefined
  /** For app.axioms.stats(): tokens verified, answered from the token cache, refused (by reason). */
  readonly counts = { verified: 0, cacheHits: 0, refused: 0 }
  readonly refusedBy: Partial<Record<Reason, number>> = Object.create(null)

  constructor (settings: Settings, log: KeyStoreLog) {
    this.settings = settings
    const stores: KeyStore[] = []
    for (const issuer of settings.issuers) {
      const store = new KeyStore(issuer, settings.jwks, log)
      stores.push(store)
      for (const iss of issuer.accepted) this.byIss.set(iss, { issuer, store })
    }
    this.stores = stores
    this.cache = settings.tokenCache > 0 ? new TokenCache(settings.tokenCache) : undefined
  }

  /** Resolves to the frozen claims, or rejects with AxiomsError. */
  async verify (token: string): Promise<AccessTokenClaims> {
    return await this.check(token)
  }

  /**
   * verify() without a promise when none is needed: the claims, synchronously, when the token is
   * cached or its key is at hand; a promise only while the key set is being fetched. Throws (or
   * rejects with) AxiomsError. The hooks use it to save promise hops on every request.
   */
  check (token: string): AccessTokenClaims | Promise<AccessTokenClaims> {
    // app.axioms.verify gets any value; HTTP tokens were already bounded by extractToken.
    if (typeof token !== 'string' || token === '') throw this.refuse(new AxiomsError('malformed'), undefined, undefined, undefined)
    if (token.length > MAX_TOKEN_BYTES) throw this.refuse(new AxiomsError('token_too_large'), undefined, undefined, undefined)
    const hit = this.cached(token)
    if (hit !== undefined) return hit
    let kid: string | undefined
    let jti: string | undefined
    let iss: string | undefined
    try {
      const decoded = decodeCompact(token)
      const { header, payload } = decoded
      if (typeof payload.jti === 'string') jti = payload.jti
      this.checkHeader(header)
      kid = header.kid as string
      const alg = header.alg as string
      // `iss` only picks among configured issuers; no URL is ever built from the token.
      const found = typeof payload.iss === 'string' ? this.byIss.get(payload.iss) : undefined
      if (found === undefined) fail('bad_issuer')
      iss = found.issuer.id
      const got = found.store.getKey(kid, alg)
      if (got instanceof Promise) return this.afterFetch(got, token, decoded, alg, found, iss, kid, jti)
      return this.accept(token, decoded, alg, got, found, iss, kid, jti)
    } catch (err) {
      throw this.refuse(err, iss, kid, jti)
    }
  }

  /** The claims of a token in the token cache and still good, or undefined. */
  cached (token: string): AccessTokenClaims | undefined {
    const cached = this.cache?.get(token)
    if (cached === undefined) return undefined
    // Never past exp, nor past the key's removal, nor past jwksCacheTtl without a good fetch.
    const now = Date.now()
    if (cached.store.trusts(now) && cached.key.alive && now / 1000 < cached.exp) {
      this.counts.cacheHits++
      return cached.claims
    }
    this.cache?.delete(token)
    return undefined
  }

  private async afterFetch (got: Promise<KeyEntry>, token: string, decoded: DecodedToken, alg: string, found: IssuerEntry, iss: string, kid: string, jti: string | undefined): Promise<AccessTokenClaims> {
    try {
      return this.accept(token, decoded, alg, await got, found, iss, kid, jti)
    } catch (err) {
      throw this.refuse(err, iss, kid, jti)
    }
  }

  /** Signature, then claims; caches and reports the verified token. */
  private accept (token: string, decoded: DecodedToken, alg: string, entry: KeyEntry, found: IssuerEntry, iss: string, kid: string, jti: string | undefined): AccessTokenClaims {
    const payload = decoded.payload
    checkSignature(entry, alg, decoded.signingInput, decoded.signature)
    this.checkClaims(payload, found.issuer)
    const claims = freezeClaims(payload) as AccessTokenClaims | undefined
    if (claims === undefined) fail('malformed')
    this.cache?.set(token, { claims, exp: payload.exp as number, key: entry, store: found.store })
    this.counts.verified++
    if (verifyChannel.hasSubscribers) verifyChannel.publish(jti === undefined ? { ok: true, issuer: iss, kid } : { ok: true, issuer: iss, kid, jti })
    return claims
  }

  /** Counts and reports a refusal; the AxiomsError to throw. */
  private refuse (err: unknown, iss: string | undefined, kid: string | undefined, jti: string | undefined): AxiomsError {
    // Every failure above is an AxiomsError; anything else would be a bug, still answered 401.
    /* c8 ignore next */
    const e = err instanceof AxiomsError ? err : new AxiomsError('malformed')
    e.jti = jti
    this.counts.refused++
    this.refusedBy[e.reason] = (this.refusedBy[e.reason] ?? 0) + 1
    if (verifyChannel.hasSubscribers) {
      const msg: Record<string, unknown> = { ok: false, reason: e.reason }
      if (iss !== undefined) msg.issuer = iss
      if (kid !== undefined) msg.kid = kid
      if (jti !== undefined) msg.jti = jti
      verifyChannel.publish(msg)
    }
    return e
  }

  private checkHeader (h: JsonObject): void {
    const s = this.settings
    if (typeof h.alg !== 'string' || !s.algorithms.has(h.alg)) fail('bad_algorithm')
    if (!isNonEmptyString(h.kid)) fail('missing_kid')
    if (h.typ === undefined) {
      if (s.rfc9068) fail('bad_typ')
    } else if (typeof h.typ !== 'string' || !s.tokenTypes.has(h.typ)) {
      fail('bad_typ')
    }
    // No critical extension is understood; unencoded payloads and compression are refused;
    // a nested JWT is not an access token.
    if (h.crit !== undefined || h.b64 !== undefined || h.zip !== undefined ||
      (typeof h.cty === 'string' && h.cty.toUpperCase() === 'JWT')) {
      fail('bad_header')
    }
  }

  private checkClaims (p: JsonObject, issuer: IssuerSettings): void {
    const s = this.settings
    const now = Date.now() / 1000
    const tol = s.clockTolerance
    if (p.exp === undefined || p.exp === null) fail('missing_exp')
    if (!isNumericDate(p.exp)) fail('bad_claim')
    if (now >= p.exp + tol) fail('expired')
    if (p.nbf !== undefined && (!isNumericDate(p.nbf) || p.nbf > now + tol)) fail('bad_claim')
    if (p.iat !== undefined && (!isNumericDate(p.iat) || p.iat > now + tol)) fail('bad_claim')
    if (!this.audienceMatches(p, issuer.audiences)) fail('bad_audience')
    if (s.rfc9068) {
      // RFC 9068 §2.2 (iss and exp are checked above): `aud` itself, even where a preset reads the
      // audience elsewhere; strings for the rest, and an empty subject names nobody.
      if (!Object.hasOwn(p, 'aud') || !isNonEmptyString(p.sub) || !isNonEmptyString(p.client_id) || !isNonEmptyString(p.jti) || !isNumericDate(p.iat)) fail('bad_claim')
    }
    // A sender-constrained token (DPoP, mTLS) presented as a plain bearer loses its binding.
    if (p.cnf !== undefined) fail('sender_constrained')
  }

  private audienceMatches (p: JsonObject, audiences: ReadonlySet<string>): boolean {
    for (const name of this.settings.audienceClaims) {
      const aud = Object.hasOwn(p, name) ? p[name] : undefined
      if (typeof aud === 'string') {
        if (audiences.has(aud)) return true
      } else if (Array.isArray(aud)) {
        for (const a of aud) if (typeof a === 'string' && audiences.has(a)) return true
      }
    }
    return false
  }

  /** Starts background refreshes and, if configured, fetches every key set once. */
  async start (prefetch: boolean): Promise<void> {
    for (const store of this.stores) store.start()
    if (prefetch) await Promise.all(this.stores.map(store => store.refresh().catch(() => {})))
  }

  stop (): void {
    for (const store of this.stores) store.stop()
    this.cache?.clear()
  }

  cacheSize (): number {
    return this.cache?.size ?? 0
  }
}

interface VerifiedToken {
  claims: AccessTokenClaims
  exp: number
  key: KeyEntry
  store: KeyStore
}
