// The verification pipeline (the README: Verification), in order: syntax, header, issuer, key, signature, claims.
// Signatures are checked with node:crypto on KeyObjects imported once per (issuer, kid); see the
// README ("Why not @fastify/jwt on the hot path") for the measurement behind that choice.
import { constants, verify as cryptoVerify, type VerifyKeyObjectInput } from 'node:crypto'
import { decodeCompact, type DecodedToken, MAX_TOKEN_BYTES } from './bearer.js'
import { checkClaims, checkHeader } from './checks.js'
import { AxiomsError, fail } from './errors.js'
import { type KeyEntry, type KeyMaterial, KeyStore, type KeyStoreLog } from './keys.js'
import { Outcomes } from './observe.js'
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
  /** RFC 7518 §3.5: the salt is as long as the hash; OpenSSL then refuses any other length. */
  saltLength?: number
  /** ECDSA: raw R || S (RFC 7518 §3.4), never DER. */
  ieee?: true
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
  ES256: { hash: 'sha256', ieee: true },
  ES384: { hash: 'sha384', ieee: true },
  ES512: { hash: 'sha512', ieee: true },
  EdDSA: { hash: null }
}

// Verify options per (key, alg), built once: node:crypto reuses the KeyObject as is.
const verifyInputs = new WeakMap<KeyMaterial, Map<string, VerifyKeyObjectInput>>()

function verifyInput (entry: KeyMaterial, alg: string, p: AlgParams): VerifyKeyObjectInput {
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
    if (p.ieee === true) input.dsaEncoding = 'ieee-p1363'
    byAlg.set(alg, input)
  }
  return input
}

/** Throws AxiomsError('bad_signature') unless `signature` is valid for `alg` under the key. */
export function checkSignature (entry: KeyMaterial, alg: string, signingInput: string, signature: Buffer): void {
  // alg passed the allow-list, a subset of Algorithm.
  const p = ALG_PARAMS[alg as Algorithm]
  // One spelling per signature: exactly the key's length (RSA: the modulus, RFC 8017 §8.1.2 and
  // §8.2.2 step 1, which OpenSSL skips for PSS; ECDSA: R || S; EdDSA: 64 or 114 bytes).
  if (signature.length !== entry.sigLength) fail('bad_signature')
  // crypto.verify answers false for any signature bytes (checked: oversized, zero, off-range);
  // were it ever to throw, Verifier.refuse answers 401 internal_error, never a 5xx.
  if (!cryptoVerify(p.hash, Buffer.from(signingInput, 'latin1'), verifyInput(entry, alg, p), signature)) fail('bad_signature')
}

interface IssuerEntry {
  issuer: IssuerSettings
  store: KeyStore
}

export interface VerifierLog extends KeyStoreLog {
  error: (obj: object, msg: string) => void
}

/** Verifies tokens for one plugin instance. Every failure is an AxiomsError. */
export class Verifier {
  private readonly settings: Settings
  private readonly byIss = new Map<string, IssuerEntry>()
  readonly stores: readonly KeyStore[]
  private readonly cache: TokenCache<VerifiedToken> | undefined
  /** For app.axioms.stats(). */
  readonly outcomes: Outcomes

  constructor (settings: Settings, log: VerifierLog) {
    this.settings = settings
    this.outcomes = new Outcomes(log)
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
   * rejects with) AxiomsError. The hooks use it to save promise hops on every request. `bound`:
   * the caller checks the token's binding (DPoP, mTLS) to the request, so a `cnf` may pass.
   */
  check (token: string, bound = false): AccessTokenClaims | Promise<AccessTokenClaims> {
    // app.axioms.verify gets any value; HTTP tokens were already bounded by extractToken.
    if (typeof token !== 'string' || token === '') throw this.refuse(new AxiomsError('malformed'), undefined, undefined, undefined)
    if (token.length > MAX_TOKEN_BYTES) throw this.refuse(new AxiomsError('token_too_large'), undefined, undefined, undefined)
    const hit = this.cached(token)
    if (hit !== undefined) {
      // Cached by a request that checked its binding; without a request there is nothing to bind.
      if (!bound && hit.cnf !== undefined) throw this.refuse(new AxiomsError('sender_constrained'), hit.iss, undefined, hit.jti)
      return hit
    }
    let kid: string | undefined
    let jti: string | undefined
    let iss: string | undefined
    try {
      const decoded = decodeCompact(token)
      const { header, payload } = decoded
      if (typeof payload.jti === 'string') jti = payload.jti
      checkHeader(this.settings, header)
      kid = header.kid as string
      const alg = header.alg as string
      // `iss` only picks among configured issuers; no URL is ever built from the token.
      const found = typeof payload.iss === 'string' ? this.byIss.get(payload.iss) : undefined
      if (found === undefined) fail('bad_issuer')
      iss = found.issuer.id
      const got = found.store.getKey(kid, alg)
      if (got instanceof Promise) return this.afterFetch(got, token, decoded, alg, found, iss, kid, jti, bound)
      return this.accept(token, decoded, alg, got, found, iss, kid, jti, bound)
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
      this.outcomes.counts.cacheHits++
      return cached.claims
    }
    this.cache?.delete(token)
    return undefined
  }

  private async afterFetch (got: Promise<KeyEntry>, token: string, decoded: DecodedToken, alg: string, found: IssuerEntry, iss: string, kid: string, jti: string | undefined, bound: boolean): Promise<AccessTokenClaims> {
    try {
      return this.accept(token, decoded, alg, await got, found, iss, kid, jti, bound)
    } catch (err) {
      throw this.refuse(err, iss, kid, jti)
    }
  }

  /** Signature, then claims; caches and reports the verified token. */
  private accept (token: string, decoded: DecodedToken, alg: string, entry: KeyEntry, found: IssuerEntry, iss: string, kid: string, jti: string | undefined, bound: boolean): AccessTokenClaims {
    const payload = decoded.payload
    checkSignature(entry, alg, decoded.signingInput, decoded.signature)
    checkClaims(this.settings, payload, found.issuer, bound)
    const claims = freezeClaims(payload) as AccessTokenClaims | undefined
    if (claims === undefined) fail('malformed')
    this.cache?.set(token, { claims, exp: payload.exp as number, key: entry, store: found.store })
    this.outcomes.accepted(iss, kid, jti)
    return claims
  }

  private refuse (err: unknown, iss: string | undefined, kid: string | undefined, jti: string | undefined): AxiomsError {
    return this.outcomes.refused(err, iss, kid, jti)
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
