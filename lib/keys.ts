// One issuer's key set: discovery, bounded fetches, a whole-set cache with background refresh,
// stale keys through an outage, one shared fetch per miss and a cooldown on unknown `kid`s.
// Keys are imported once as KeyObjects and checked against the algorithm they may serve.
import { createPublicKey, type KeyObject } from 'node:crypto'
import { AxiomsError } from './errors.js'
import { FetchError, fetchJson } from './fetch.js'
import { type JwksEvent, jwksChannel, type JwksMessage } from './observe.js'
import type { IssuerSettings, JwksSettings } from './options/index.js'
import { formatDuration } from './options/duration.js'

const RSA_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
const CURVE_ALGS: Record<string, string[]> = {
  'P-256': ['ES256'],
  'P-384': ['ES384'],
  'P-521': ['ES512'],
  Ed25519: ['EdDSA'],
  Ed448: ['EdDSA']
}

export interface KeyEntry {
  readonly kid: string
  readonly key: KeyObject
  /** Algorithms this key may verify: its type's, narrowed to the JWK's `alg` when present. */
  readonly algs: ReadonlySet<string>
  /** Identity of the key material, to keep entries (and cached tokens) across refreshes. */
  readonly fingerprint: string
  /** False once a refresh no longer lists the key: cached tokens signed by it are dropped. */
  alive: boolean
}

export type ImportResult = KeyEntry | { unusable: string }

export function isNonEmptyString (v: unknown): v is string {
  return typeof v === 'string' && v !== ''
}

/** Imports one JWK, or says why it cannot be used for verification. Private members are ignored. */
export function importJwk (jwk: unknown): ImportResult {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return { unusable: 'not_an_object' }
  const j = jwk as Record<string, unknown>
  if (!isNonEmptyString(j.kid)) return { unusable: 'no_kid' }
  if (j.use !== undefined && j.use !== 'sig') return { unusable: 'not_for_signatures' }
  if (j.key_ops !== undefined && !(Array.isArray(j.key_ops) && j.key_ops.includes('verify'))) return { unusable: 'not_for_verify' }
  let algs: string[]
  let material: Record<string, string>
  if (j.kty === 'RSA') {
    if (!isNonEmptyString(j.n) || !isNonEmptyString(j.e)) return { unusable: 'bad_rsa' }
    algs = RSA_ALGS
    material = { kty: 'RSA', n: j.n, e: j.e }
  } else if (j.kty === 'EC' && isNonEmptyString(j.crv) && ['P-256', 'P-384', 'P-521'].includes(j.crv)) {
    if (!isNonEmptyString(j.x) || !isNonEmptyString(j.y)) return { unusable: 'bad_ec' }
    algs = CURVE_ALGS[j.crv] as string[]
    material = { kty: 'EC', crv: j.crv, x: j.x, y: j.y }
  } else if (j.kty === 'OKP' && (j.crv === 'Ed25519' || j.crv === 'Ed448')) {
    if (!isNonEmptyString(j.x)) return { unusable: 'bad_okp' }
    algs = CURVE_ALGS[j.crv] as string[]
    material = { kty: 'OKP', crv: j.crv, x: j.x }
  } else {
    return { unusable: 'unsupported_kty' }
  }
  if (j.alg !== undefined) {
    if (typeof j.alg !== 'string' || !algs.includes(j.alg)) return { unusable: 'alg_mismatch' }
    algs = [j.alg]
  }
  let key: KeyObject
  try {
    key = createPublicKey({ key: material, format: 'jwk' })
  } catch {
    return { unusable: 'invalid_key' }
  }
  if (material.kty === 'RSA') {
    // Always present on an imported RSA public key.
    const { modulusLength, publicExponent } = key.asymmetricKeyDetails as { modulusLength: number, publicExponent: bigint }
    // RFC 7518 §3.3: 2048 bits at least. e = 1 makes every signature trivially valid.
    if (modulusLength < 2048) return { unusable: 'rsa_too_small' }
    if (publicExponent < 3n || publicExponent % 2n === 0n) return { unusable: 'rsa_bad_exponent' }
  }
  const fingerprint = JSON.stringify([j.kid, material, j.alg ?? null])
  return { kid: j.kid, key, algs: new Set(algs), fingerprint, alive: true }
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
    const base = this.issuer.id.replace(/\/+$/, '')
    const { timeout, maxBytes } = this.opts
    at.stage = 'discovery'
    at.url = `${base}/.well-known/openid-configuration`
    let doc
    try {
      doc = await fetchJson(at.url, timeout, maxBytes, this.closing.signal)
    } catch (err) {
      // No discovery document: the conventional location ({issuer}/.well-known/jwks.json).
      if (err instanceof FetchError && err.status === 404) return `${base}/.well-known/jwks.json`
      throw err
    }
    const body = doc.body as Record<string, unknown> | null
    if (typeof body !== 'object' || body === null || typeof body.issuer !== 'string' || !this.issuer.accepted.includes(body.issuer)) {
      throw new FetchError('discovery_issuer_mismatch', doc)
    }
    const uri = body.jwks_uri
    if (typeof uri !== 'string' || !/^https?:\/\//i.test(uri)) throw new FetchError('discovery_no_jwks_uri', doc)
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
      const got = await fetchJson(uri, this.opts.timeout, this.opts.maxBytes, this.closing.signal)
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
      const seen = { status: failure.status, contentType: failure.contentType, bytes: failure.bytes }
      this.log.warn({ issuer: this.issuer.id, stage: at.stage, url: at.url, cause: code, ...defined(seen) },
        `axioms: ${at.stage === 'discovery' ? 'OIDC discovery' : 'JWKS fetch'} for ${this.issuer.id} failed: GET ${at.url} ${describeFailure(failure, this.opts)}`)
      this.publish('fetch_failed', { cause: code, stage: at.stage, url: at.url, ...defined(seen) })
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
    for (const jwk of list) {
      const imported = importJwk(jwk)
      if ('unusable' in imported) {
        this.log.debug({ issuer: this.issuer.id, cause: imported.unusable }, 'axioms: JWK skipped')
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
    this.fetchedAt = Date.now()
    this.lastError = null
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
      lastError: this.lastError
    }
  }
}

/** Which request of a key-set load was under way: the warning names it. */
interface Attempt { stage: 'discovery' | 'jwks', url: string }

function defined<T extends object> (obj: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> }
}

/** What came back, in words: status, content type and size, or the deadline, never the body. */
function describeFailure (err: FetchError, opts: JwksSettings): string {
  const what = [err.contentType, err.bytes === undefined ? undefined : `${err.bytes} bytes`].filter(x => x !== undefined).join(', ')
  const http = err.status === undefined ? '' : `HTTP ${err.status}${what === '' ? '' : ` (${what})`}`
  switch (err.code) {
    case 'timeout': return `timed out after ${formatDuration(opts.timeout)} (jwksTimeout)${http === '' ? '' : `, after ${http}`}`
    case 'network': return `could not be completed (connection refused, reset or closed)${http === '' ? '' : `, after ${http}`}`
    case 'too_large': return `answered more than jwksMaxBytes (${opts.maxBytes} bytes): ${http}`
    case 'invalid_json': return `answered ${http}, which is not JSON`
    case 'not_a_jwks': return `answered ${http}, a JSON document without a "keys" array`
    case 'discovery_issuer_mismatch': return `answered ${http}, a document whose "issuer" is not this issuer`
    case 'discovery_no_jwks_uri': return `answered ${http}, a document without an http(s) "jwks_uri"`
    /* c8 ignore next */
    case 'unexpected': return 'failed unexpectedly'
    default: return `answered ${http}${err.status !== undefined && err.status >= 300 && err.status < 400 ? ', a redirect, which is not followed' : ''}`
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
