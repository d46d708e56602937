// One issuer's key set: discovery, bounded fetches, a whole-set cache with background refresh,
// stale keys through an outage, one shared fetch per miss and a cooldown on unknown `kid`s.
// Keys are imported once as KeyObjects and checked against the algorithm they may serve.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import { isCanonicalBase64url } from './bearer.js'
import { checkEdwardsPoint, checkNistPoint } from './curves.js'
import { AxiomsError } from './errors.js'
import { type Attempt, discover } from './discovery.js'
import { defined, describeFailure, FetchError, fetchJson } from './fetch.js'
import { type JwksEvent, jwksChannel, type JwksMessage } from './observe.js'
import { ALGORITHMS, type IssuerSettings, type JwksSettings } from './options/index.js'

const RSA_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
/** Per curve: its key type, the algorithms it serves, its coordinate (EC) or key (OKP) length and its signature length. */
const CURVES: Record<string, { kty: 'EC' | 'OKP', algs: string[], size: number, sigLength: number }> = {
  // RFC 7518 §6.2.1.2-3: x and y are the full coordinate length; §3.4: R || S, each that long.
  'P-256': { kty: 'EC', algs: ['ES256'], size: 32, sigLength: 64 },
  'P-384': { kty: 'EC', algs: ['ES384'], size: 48, sigLength: 96 },
  'P-521': { kty: 'EC', algs: ['ES512'], size: 66, sigLength: 132 },
  // RFC 8037 §2 with RFC 8032 §5.1.2, §5.2.2 (keys) and §5.1.6, §5.2.6 (signatures).
  Ed25519: { kty: 'OKP', algs: ['EdDSA'], size: 32, sigLength: 64 },
  Ed448: { kty: 'OKP', algs: ['EdDSA'], size: 57, sigLength: 114 }
}
const KNOWN_ALGS: ReadonlySet<string> = new Set(ALGORITHMS)

/** RFC 7518 §3.3: 2048 bits at least. */
export const RSA_MIN_BITS = 2048
/**
 * Verification cost grows with the square of the modulus, so a huge one is a CPU lever: 8192 bits
 * at most, as ring's RSA_PKCS1_2048_8192 verifiers and Go's crypto/tls (CVE-2023-29409) bound it.
 */
export const RSA_MAX_BITS = 8192
/**
 * Go's crypto/rsa bound (checkPub); BoringSSL and ring allow 33 bits. Issuers use 65537; e = 1
 * makes every signature trivially valid, an even e is no RSA key, and a huge one is a CPU lever.
 */
export const RSA_MAX_EXPONENT = 2 ** 31 - 1
/** Keys of one JWKS imported at most: real sets hold a handful; each import costs up to ~0.5 ms. */
export const MAX_JWKS_KEYS = 100

/** A public key fit for signature verification, from a JWK with or without `kid` (JWKS entries, DPoP proofs). */
export interface KeyMaterial {
  readonly key: KeyObject
  /** Algorithms this key may verify: its type's, narrowed to the JWK's `alg` when present. */
  readonly algs: ReadonlySet<string>
  /** The exact length in bytes of every signature the key makes: one spelling per signature. */
  readonly sigLength: number
  /**
   * The members that define the key, as JSON in RFC 7638 order: its identity, whatever else the JWK
   * carries, and the input of its thumbprint (`jkt` is the base64url SHA-256 of it).
   */
  readonly material: string
}

export interface KeyEntry extends KeyMaterial {
  readonly kid: string
  /** Identity of the key material, to keep entries (and cached tokens) across refreshes. */
  readonly fingerprint: string
  /** False once a refresh no longer lists the key: cached tokens signed by it are dropped. */
  alive: boolean
}

/**
 * Why a JWK was not imported. The first four say the key is not meant for us (debug); the others
 * that the key is broken or degenerate (warn, once).
 */
export type UnusableReason =
  | 'not_for_signatures' | 'not_for_verify' | 'unsupported_kty' | 'alg_unsupported'
  | 'not_an_object' | 'no_kid' | 'alg_mismatch' | 'bad_rsa' | 'bad_ec' | 'bad_okp' | 'not_base64url'
  | 'rsa_too_small' | 'rsa_too_large' | 'rsa_even_modulus' | 'rsa_bad_exponent'
  | 'ec_bad_length' | 'ec_out_of_range' | 'ec_off_curve'
  | 'okp_bad_length' | 'okp_non_canonical' | 'okp_off_curve' | 'okp_small_order'
  | 'invalid_key'

const NOT_FOR_US: ReadonlySet<UnusableReason> = new Set(['not_for_signatures', 'not_for_verify', 'unsupported_kty', 'alg_unsupported'])

export type MaterialResult = KeyMaterial | { unusable: UnusableReason }
export type ImportResult = KeyEntry | { unusable: UnusableReason }

export function isNonEmptyString (v: unknown): v is string {
  return typeof v === 'string' && v !== ''
}

function withoutLeadingZeros (b: Buffer): Buffer {
  let i = 0
  while (i < b.length && b[i] === 0) i++
  return b.subarray(i)
}

/**
 * The kid-less core of key import: `kty`/`crv`/`alg` fit, member decoding and the degenerate-key
 * rules of each family. `use`, `key_ops` and `kid` are the caller's. Private members are ignored.
 * Pure (no Fastify, no I/O); an OKP key costs up to ~0.5 ms (point decoding), so callers that
 * import keys per request (DPoP proofs) should memoise by `material`.
 */
export function importKeyMaterial (jwk: unknown): MaterialResult {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return { unusable: 'not_an_object' }
  const j = jwk as Record<string, unknown>
  const curve = typeof j.crv === 'string' && Object.hasOwn(CURVES, j.crv) ? CURVES[j.crv] : undefined
  let algs: string[]
  if (j.kty === 'RSA') algs = RSA_ALGS
  else if ((j.kty === 'EC' || j.kty === 'OKP') && curve?.kty === j.kty) algs = curve.algs
  else return { unusable: 'unsupported_kty' }
  if (j.alg !== undefined) {
    if (typeof j.alg === 'string' && !KNOWN_ALGS.has(j.alg)) return { unusable: 'alg_unsupported' }
    if (typeof j.alg !== 'string' || !algs.includes(j.alg)) return { unusable: 'alg_mismatch' }
    algs = [j.alg]
  }
  let material: Record<string, string>
  let sigLength: number
  if (j.kty === 'RSA') {
    if (!isNonEmptyString(j.n) || !isNonEmptyString(j.e)) return { unusable: 'bad_rsa' }
    // RFC 7518 §2 Base64urlUInt, canonical (RFC 7515 §2): no padding, no stray bits, no second
    // spelling. Leading zero octets are tolerated: RFC 7518 §6.3.1.1 notes libraries emit them.
    if (!isCanonicalBase64url(j.n) || !isCanonicalBase64url(j.e)) return { unusable: 'not_base64url' }
    const n = withoutLeadingZeros(Buffer.from(j.n, 'base64url'))
    const e = withoutLeadingZeros(Buffer.from(j.e, 'base64url'))
    const bits = n.length === 0 ? 0 : (n.length - 1) * 8 + (n[0] as number).toString(2).length
    if (bits < RSA_MIN_BITS) return { unusable: 'rsa_too_small' }
    if (bits > RSA_MAX_BITS) return { unusable: 'rsa_too_large' }
    // A modulus is a product of odd primes (RFC 8017 §3.1); an even one is no RSA key.
    if (((n[n.length - 1] as number) & 1) === 0) return { unusable: 'rsa_even_modulus' }
    // RFC 8017 §3.1: 3 <= e, odd; the upper bound is RSA_MAX_EXPONENT's.
    const exponent = e.length === 0 ? 0 : e.length > 4 ? Infinity : e.readUIntBE(0, e.length)
    if (exponent < 3 || exponent > RSA_MAX_EXPONENT || exponent % 2 === 0) return { unusable: 'rsa_bad_exponent' }
    // RFC 8017 §8.2.2 step 1, §8.1.2 step 1: a signature is exactly as long as the modulus.
    sigLength = Math.ceil(bits / 8)
    material = { e: j.e, kty: 'RSA', n: j.n }
  } else {
    const c = curve as { kty: 'EC' | 'OKP', size: number, sigLength: number }
    const crv = j.crv as string
    if (c.kty === 'EC') {
      if (!isNonEmptyString(j.x) || !isNonEmptyString(j.y)) return { unusable: 'bad_ec' }
      if (!isCanonicalBase64url(j.x) || !isCanonicalBase64url(j.y)) return { unusable: 'not_base64url' }
      const x = Buffer.from(j.x, 'base64url')
      const y = Buffer.from(j.y, 'base64url')
      // RFC 7518 §6.2.1.2-3 (Node accepts a shorter or longer x or y).
      if (x.length !== c.size || y.length !== c.size) return { unusable: 'ec_bad_length' }
      const fault = checkNistPoint(crv, x, y)
      if (fault !== undefined) return { unusable: fault }
      material = { crv, kty: 'EC', x: j.x, y: j.y }
    } else {
      if (!isNonEmptyString(j.x)) return { unusable: 'bad_okp' }
      if (!isCanonicalBase64url(j.x)) return { unusable: 'not_base64url' }
      const x = Buffer.from(j.x, 'base64url')
      if (x.length !== c.size) return { unusable: 'okp_bad_length' }
      const fault = checkEdwardsPoint(crv, x)
      if (fault !== undefined) return { unusable: fault }
      material = { crv, kty: 'OKP', x: j.x }
    }
    sigLength = c.sigLength
  }
  let key: KeyObject
  try {
    key = createPublicKey({ key: material, format: 'jwk' })
    /* c8 ignore start */
  } catch {
    // The checks above are stricter than Node's import; kept so no Node version throws out of here.
    return { unusable: 'invalid_key' }
  }
  /* c8 ignore stop */
  return { key, algs: new Set(algs), sigLength, material: JSON.stringify(material) }
}

/** Imports one JWKS entry (`use`, `key_ops`, `kid`, then importKeyMaterial), or says why it cannot be used. */
export function importJwk (jwk: unknown): ImportResult {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return { unusable: 'not_an_object' }
  const j = jwk as Record<string, unknown>
  // RFC 7517 §4.2-4.3: a key published for encryption, or without the verify operation, is not ours.
  if (j.use !== undefined && j.use !== 'sig') return { unusable: 'not_for_signatures' }
  if (j.key_ops !== undefined && !(Array.isArray(j.key_ops) && j.key_ops.includes('verify'))) return { unusable: 'not_for_verify' }
  if (!isNonEmptyString(j.kid)) return { unusable: 'no_kid' }
  const m = importKeyMaterial(j)
  if ('unusable' in m) return m
  const fingerprint = JSON.stringify([j.kid, m.material, j.alg ?? null])
  return { ...m, kid: j.kid, fingerprint, alive: true }
}

export interface KeyStoreStats {
  issuer: string
  jwksUri: string | undefined
  keys: number
  /** Epoch ms of the last successful fetch, or null. */
  fetchedAt: number | null
  fetches: number
  failures: number
  cooldownHits: number
  staleUses: number
  /** Keys of the current set refused as broken or degenerate (each logged once at warn). */
  refusedKeys: number
  lastError: string | null
}

export interface KeyStoreLog {
  warn: (obj: object, msg: string) => void
  debug: (obj: object, msg: string) => void
}

export class KeyStore {
  readonly issuer: IssuerSettings
  private readonly opts: JwksSettings
  private readonly log: KeyStoreLog
  private keys: Map<string, KeyEntry[]> | undefined
  private fetchedAt = -Infinity
  private failedAt = -Infinity
  private lastMissFetch = -Infinity
  private inflight: Promise<void> | undefined
  private inflightForMiss = false
  private jwksUri: string | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly closing = new AbortController()
  private counters = { fetches: 0, failures: 0, cooldownHits: 0, staleUses: 0 }
  private lastError: string | null = null
  /** Hashes of the JWKs the last set refused as broken: each is warned about once while listed. */
  private refused = new Set<string>()
  private warnedTooMany = false

  constructor (issuer: IssuerSettings, opts: JwksSettings, log: KeyStoreLog) {
    this.issuer = issuer
    this.opts = opts
    this.log = log
    this.jwksUri = issuer.jwksUri
  }

  private publish (event: JwksEvent, extra?: Partial<JwksMessage>): void {
    if (jwksChannel.hasSubscribers) jwksChannel.publish({ issuer: this.issuer.id, event, ...extra })
  }

  /** Starts the background refresh (unref'd timer). */
  start (): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => { this.refresh().catch(() => {}) }, this.opts.refreshInterval)
    this.timer.unref()
  }

  /** Stops the background refresh and ends any fetch under way (app.close() need not wait for it). */
  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.closing.abort()
  }

  /** Fetches the set now, sharing a fetch already under way. Rejects with the fetch's error. */
  refresh (): Promise<void> {
    return this.fetchShared(false)
  }

  /** One fetch at a time; `forMiss` records whether an unknown kid started it. */
  private fetchShared (forMiss: boolean): Promise<void> {
    if (this.inflight === undefined) {
      this.inflightForMiss = forMiss
      this.inflight = this.load().finally(() => { this.inflight = undefined })
    }
    return this.inflight
  }

  private async resolveJwksUri (at: Attempt): Promise<string> {
    if (this.jwksUri !== undefined) return this.jwksUri
    const doc = await discover(this.issuer, this.opts, this.closing.signal, at)
    // No discovery document: the conventional location ({issuer}/.well-known/jwks.json).
    if (doc === undefined) return `${this.issuer.id.replace(/\/+$/, '')}/.well-known/jwks.json`
    const uri = doc.body.jwks_uri
    if (typeof uri !== 'string' || !/^https?:\/\//i.test(uri)) throw new FetchError('discovery_no_jwks_uri', doc.response)
    this.jwksUri = uri
    return uri
  }

  private async load (): Promise<void> {
    this.counters.fetches++
    const discovered = this.issuer.jwksUri === undefined
    const at: Attempt = { stage: 'jwks', url: '' }
    try {
      const uri = await this.resolveJwksUri(at)
      at.stage = 'jwks'
      at.url = uri
      const got = await fetchJson(uri, this.opts.timeout, this.opts.maxBytes, this.closing.signal, { proxy: this.opts.proxy })
      const list = (got.body as { keys?: unknown } | null)?.keys
      if (!Array.isArray(list)) throw new FetchError('not_a_jwks', got)
      this.replace(list)
      this.publish('fetch', { keys: this.size() })
    } catch (err) {
      // Discovery and fetchJson only throw FetchError; anything else would be a bug of ours.
      /* c8 ignore next */
      const failure = err instanceof FetchError ? err : new FetchError('unexpected')
      const code = failure.code
      this.counters.failures++
      this.failedAt = Date.now()
      this.lastError = code
      // A moved jwks_uri is found again through discovery on the next attempt.
      if (discovered) this.jwksUri = undefined
      // `proxy` is shown without its credentials (scheme, host, port).
      const seen = { status: failure.status, contentType: failure.contentType, bytes: failure.bytes, proxy: failure.proxy }
      const via = failure.proxy === undefined ? '' : ` through proxy ${failure.proxy}`
      this.log.warn({ issuer: this.issuer.id, stage: at.stage, url: at.url, cause: code, ...defined(seen) },
        `axioms: ${at.stage === 'discovery' ? 'OIDC discovery' : 'JWKS fetch'} for ${this.issuer.id} failed: GET ${at.url}${via} ${describeFailure(failure, this.opts)}`)
      // A key-set load is discovery, then the JWKS.
      this.publish('fetch_failed', { cause: code, stage: at.stage as 'discovery' | 'jwks', url: at.url, ...defined(seen) })
      throw err
    }
  }

  private size (): number {
    let n = 0
    for (const list of (this.keys as Map<string, KeyEntry[]>).values()) n += list.length
    return n
  }

  /** Replaces the whole set: keys no longer listed stop working, unchanged keys keep their entry. */
  private replace (list: unknown[]): void {
    const previous = new Map<string, KeyEntry>()
    if (this.keys !== undefined) for (const l of this.keys.values()) for (const e of l) previous.set(e.fingerprint, e)
    const next = new Map<string, KeyEntry[]>()
    const refused = new Set<string>()
    if (list.length > MAX_JWKS_KEYS) {
      if (!this.warnedTooMany) this.log.warn({ issuer: this.issuer.id, keys: list.length, used: MAX_JWKS_KEYS }, 'axioms: JWKS lists more keys than are imported')
      this.warnedTooMany = true
    } else {
      this.warnedTooMany = false
    }
    for (const jwk of list.slice(0, MAX_JWKS_KEYS)) {
      const imported = importJwk(jwk)
      if ('unusable' in imported) {
        this.skipped(jwk, imported.unusable, refused)
        continue
      }
      const entry = previous.get(imported.fingerprint) ?? imported
      previous.delete(imported.fingerprint)
      const same = next.get(entry.kid)
      if (same === undefined) next.set(entry.kid, [entry])
      else if (!same.some(e => e.fingerprint === entry.fingerprint)) same.push(entry)
    }
    for (const gone of previous.values()) gone.alive = false
    this.keys = next
    this.refused = refused
    this.fetchedAt = Date.now()
    this.lastError = null
  }

  /**
   * A key not meant for us (encryption, another key type) is a debug line; a broken or degenerate
   * one a warning, once while it stays listed (not again on every refresh), with issuer and kid.
   */
  private skipped (jwk: unknown, cause: UnusableReason, refused: Set<string>): void {
    const j = jwk as Record<string, unknown> | null
    const kid = typeof j?.kid === 'string' ? j.kid : undefined
    if (NOT_FOR_US.has(cause)) {
      this.log.debug({ issuer: this.issuer.id, kid, cause }, 'axioms: JWK skipped')
      return
    }
    const id = createHash('sha256').update(JSON.stringify(jwk)).digest('base64url')
    if (!this.refused.has(id) && !refused.has(id)) this.log.warn({ issuer: this.issuer.id, kid, cause }, 'axioms: JWK refused, not used')
    refused.add(id)
  }

  private usable (now: number): Map<string, KeyEntry[]> | undefined {
    if (this.keys === undefined) return undefined
    if (now - this.fetchedAt > this.opts.cacheTtl) {
      // Past the TTL without a successful fetch: the set is no longer trusted at all.
      for (const l of this.keys.values()) for (const e of l) e.alive = false
      this.keys = undefined
      return undefined
    }
    return this.keys
  }

  /** Whether the set is still trusted: fetched successfully within jwksCacheTtl. */
  trusts (now: number): boolean {
    return this.usable(now) !== undefined
  }

  /**
   * The key for (kid, alg). Returns synchronously when the set is at hand; otherwise a promise
   * that fetches (shared, with cooldown) first. Rejects with AxiomsError only.
   */
  getKey (kid: string, alg: string): KeyEntry | Promise<KeyEntry> {
    const now = Date.now()
    const keys = this.usable(now)
    if (keys !== undefined) {
      const found = keys.get(kid)
      if (found === undefined) return this.miss(kid, alg, now)
      // A key from a set older than one refresh interval: refreshes are failing (an outage).
      if (now - this.fetchedAt > this.opts.refreshInterval) this.noteStale()
      return select(found, alg)
    }
    return this.cold(kid, alg, now)
  }

  private noteStale (): void {
    this.counters.staleUses++
    this.publish('stale')
  }

  private async miss (kid: string, alg: string, now: number): Promise<KeyEntry> {
    for (;;) {
      // Join a fetch under way. One started by a background refresh may predate the key: if it
      // does not bring the kid, go round once more for a fetch of our own (cooldown permitting).
      const joined = this.inflight !== undefined
      const joinedMiss = joined && this.inflightForMiss
      if (!joined) {
        if (now - this.lastMissFetch < this.opts.cooldown) {
          this.counters.cooldownHits++
          this.publish('cooldown')
          throw new AxiomsError('unknown_kid')
        }
        this.lastMissFetch = now
      }
      try {
        await this.fetchShared(true)
      } catch {
        // The set we had is still good: the kid is unknown, the issuer is not to blame on the client.
      }
      const found = this.keys?.get(kid)
      if (found !== undefined) return select(found, alg)
      if (!joined || joinedMiss) throw new AxiomsError('unknown_kid')
      now = Date.now()
    }
  }

  private async cold (kid: string, alg: string, now: number): Promise<KeyEntry> {
    // After a failed fetch, wait a little before the next on-demand attempt (no retry storm).
    if (this.inflight === undefined && now - this.failedAt < this.retryDelay()) throw this.unavailable()
    try {
      await this.refresh()
    } catch {
      throw this.unavailable()
    }
    const found = this.keys?.get(kid)
    if (found === undefined) throw new AxiomsError('unknown_kid')
    return select(found, alg)
  }

  /** A 503 whose Retry-After is the time until the next on-demand fetch (at least 1 s). */
  private unavailable (): AxiomsError {
    const err = new AxiomsError('keys_unavailable')
    err.retryAfter = Math.max(1, Math.ceil((this.failedAt + this.retryDelay() - Date.now()) / 1000))
    return err
  }

  /** Milliseconds between on-demand attempts while no key set is at hand. */
  retryDelay (): number {
    return Math.min(this.opts.cooldown, 5000)
  }

  stats (): KeyStoreStats {
    return {
      issuer: this.issuer.id,
      jwksUri: this.jwksUri,
      keys: this.keys === undefined ? 0 : this.size(),
      fetchedAt: this.keys === undefined ? null : this.fetchedAt,
      ...this.counters,
      refusedKeys: this.keys === undefined ? 0 : this.refused.size,
      lastError: this.lastError
    }
  }
}

/** Picks the one key of this kid that may serve alg; two candidates are ambiguous and refused. */
function select (candidates: KeyEntry[], alg: string): KeyEntry {
  let chosen: KeyEntry | undefined
  for (const c of candidates) {
    if (!c.algs.has(alg)) continue
    if (chosen !== undefined) throw new AxiomsError('key_mismatch')
    chosen = c
  }
  if (chosen === undefined) throw new AxiomsError('key_mismatch')
  return chosen
}
