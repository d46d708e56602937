// DPoP proof validation at a protected resource: RFC 9449 §4.3 (the proof) and §7.1 (its tie to
// the access token), with the hostile-input rules of access tokens. Pure apart from the replay
// store: the caller hands in what Fastify decided about the request (scheme and host after
// trustProxy, the raw target) and the verified claims of the access token.
import { createHash } from 'node:crypto'
import { decodeCompact, type DecodedToken, type JsonObject } from '../bearer.js'
import { confirmation } from '../checks.js'
import { isNonEmptyString } from '../keys.js'
import { checkSignature } from '../verify.js'
import { AxiomsError, fail } from '../errors.js'
import { STORE_RETRY_AFTER_SECONDS } from './errors.js'
import { normaliseHtu, requestHtu } from './htu.js'
import { importProofKey } from './jwk.js'
import { DpopNonces } from './nonce.js'
import type { DpopSettings } from './options.js'
import { type DpopReplayStore, MemoryReplayStore, ReplayStoreFullError } from './replay.js'

/** Proofs over this size are refused before any decoding (a large RSA key still fits). */
export const MAX_PROOF_BYTES = 8192

export interface DpopRequest {
  /** The `DPoP` header as Node gives it (`request.headers.dpop`). */
  dpop: string | string[] | undefined
  /** How many `DPoP` lines the raw headers carry (countRawHeader(request.raw.rawHeaders, 'dpop')). */
  dpopCount: number
  /** `request.method`, compared exactly with `htm`. */
  method: string
  /** `request.protocol` (follows trustProxy). */
  scheme: string
  /** `request.host`, port included (follows trustProxy). */
  host: string
  /** The raw request target, query included (`request.url`). */
  url: string
  /** The access token exactly as it came in `Authorization: DPoP <token>`. */
  accessToken: string
  /** Its verified claims: `cnf.jkt` is read from them. */
  claims: Readonly<Record<string, unknown>>
}

export interface DpopVerdict {
  /** RFC 7638 thumbprint of the proof key (equal to the token's `cnf.jkt`). */
  jkt: string
  jti: string
  iat: number
  /** With nonces on: a fresh DPoP-Nonce to send with the response, when the proof's was not the current one. */
  nonce: string | undefined
}

/** Counts the lines of one header (lower-case `name`) in Node's raw header list. */
export function countRawHeader (rawHeaders: readonly string[], name: string): number {
  let n = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const h = rawHeaders[i] as string
    if (h.length === name.length && h.toLowerCase() === name) n++
  }
  return n
}

/** RFC 9449 §4.2 `ath`: base64url of the SHA-256 of the access token's ASCII bytes. */
export function accessTokenHash (token: string): string {
  return createHash('sha256').update(token, 'latin1').digest('base64url')
}

/** The one proof of the request, bounded in size; throws on none, several or oversized. */
function onlyProof (value: string | string[] | undefined, count: number): string {
  if (count > 1 || Array.isArray(value)) fail('dpop_multiple')
  if (value === undefined) fail('dpop_missing')
  // Node joins repeated lines with ", "; a comma is never part of a compact JWS.
  if (value.includes(',')) fail('dpop_multiple')
  if (value === '' || value.length > MAX_PROOF_BYTES) fail('dpop_malformed')
  return value
}

function decode (value: string): DecodedToken {
  try {
    return decodeCompact(value, false)
  } catch {
    // decodeCompact refuses only with AxiomsError('malformed').
    fail('dpop_malformed')
  }
}

function isNumericDate (v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v)
}

export interface DpopVerifierOptions {
  /** Clock in epoch milliseconds (tests). Default Date.now. */
  now?: () => number
}

/** Checks DPoP proofs for one plugin instance: the replay store and nonces live here. */
export class DpopVerifier {
  readonly settings: DpopSettings
  readonly store: DpopReplayStore
  readonly nonces: DpopNonces | undefined
  private readonly algs: ReadonlySet<string>
  private readonly now: () => number

  constructor (settings: DpopSettings, options: DpopVerifierOptions = {}) {
    this.settings = settings
    this.now = options.now ?? Date.now
    this.algs = new Set(settings.algorithms)
    this.store = settings.replayStore ?? new MemoryReplayStore({ max: settings.replayCacheSize, now: this.now })
    const n = settings.nonce
    this.nonces = n === undefined ? undefined : new DpopNonces(n.secrets, n.lifetime, this.now)
  }

  /** The DPoP-Nonce to hand out now (nonces on), e.g. with a 401 to a request without a proof. */
  currentNonce (): string | undefined {
    return this.nonces?.current()
  }

  /**
   * Validates the request's proof against its access token. Returns the verdict, or a promise of
   * it when the replay store answers asynchronously. Every refusal is an AxiomsError, thrown or
   * rejected; with nonces on it carries the current nonce.
   */
  check (req: DpopRequest): DpopVerdict | Promise<DpopVerdict> {
    let jti: string | undefined
    try {
      const verdict = this.validate(req, j => { jti = j })
      if (verdict instanceof Promise) return verdict.catch(err => { throw this.refuse(err, jti) })
      return verdict
    } catch (err) {
      throw this.refuse(err, jti)
    }
  }

  private refuse (err: unknown, jti: string | undefined): unknown {
    // Anything but an AxiomsError is a bug: the caller reports it as internal_error.
    if (!(err instanceof AxiomsError)) return err
    const e = err
    e.jti = jti
    if (e.statusCode === 503) e.retryAfter ??= STORE_RETRY_AFTER_SECONDS
    if (this.nonces !== undefined) e.nonce = this.nonces.current()
    return e
  }

  private validate (req: DpopRequest, seenJti: (jti: string) => void): DpopVerdict | Promise<DpopVerdict> {
    const s = this.settings
    const expectedJkt = confirmation(req.claims, 'jkt')
    // RFC 9449 §7.1: the DPoP scheme is for DPoP-bound tokens only.
    if (expectedJkt === undefined) fail('dpop_unbound')
    const value = onlyProof(req.dpop, req.dpopCount)
    const target = requestHtu(req.scheme, req.host, req.url)
    if (target === undefined) fail('dpop_request_url')

    // §4.3 (2)-(7): a well-formed JWT, typ, an accepted asymmetric alg, the public jwk it verifies with.
    const { header, payload, signingInput, signature } = decode(value)
    if (typeof payload.jti === 'string') seenJti(payload.jti)
    if (header.typ !== 'dpop+jwt') fail('dpop_bad_typ')
    const alg = header.alg
    if (typeof alg !== 'string' || !this.algs.has(alg)) fail('dpop_bad_alg')
    // No critical extension is understood; unencoded payloads and compression are refused.
    if (header.crit !== undefined || header.b64 !== undefined || header.zip !== undefined) fail('dpop_bad_header')
    const key = importProofKey(header.jwk, alg)
    // §4.3 (12) before the signature: a thief's key costs a hash, never a signature check.
    if (key.jkt !== expectedJkt) fail('dpop_jkt')
    try {
      checkSignature(key.entry, alg, signingInput, signature)
    } catch {
      fail('dpop_bad_signature')
    }

    // §4.2 required claims, then §4.3 (8)-(12).
    const p: JsonObject = payload
    if (!isNonEmptyString(p.jti)) fail('dpop_jti')
    if (typeof p.htm !== 'string' || p.htm !== req.method) fail('dpop_htm')
    if (typeof p.htu !== 'string' || normaliseHtu(p.htu) !== target) fail('dpop_htu')
    if (!isNumericDate(p.iat)) fail('dpop_iat')
    const now = this.now() / 1000
    if (p.iat < now - s.iatOffset || p.iat > now + s.iatLeeway) fail('dpop_iat')
    if (typeof p.ath !== 'string' || p.ath !== accessTokenHash(req.accessToken)) fail('dpop_ath')

    let fresh: string | undefined
    if (this.nonces !== undefined) {
      // §9: a proof without the server's nonce, or with a stale one, gets use_dpop_nonce.
      if (p.nonce === undefined) fail('dpop_nonce_required')
      const state = typeof p.nonce === 'string' ? this.nonces.check(p.nonce) : 'invalid'
      if (state === 'invalid') fail('dpop_nonce_invalid')
      if (state !== 'current') fresh = this.nonces.current()
    } else if (p.nonce !== undefined && typeof p.nonce !== 'string') {
      fail('dpop_bad_header')
    }

    // §11.1: last, so that only proofs good in every other respect take a place in the store.
    const verdict: DpopVerdict = { jkt: key.jkt, jti: p.jti, iat: p.iat, nonce: fresh }
    const replayKey = createHash('sha256').update(key.jkt).update('\0').update(p.jti).digest('base64url')
    // Stored for as long as some instance could still accept it: its window plus the leeway of
    // clocks between instances, and a second of margin.
    const expiresAt = Math.ceil((p.iat + s.iatOffset + s.iatLeeway) * 1000) + 1000
    const claimed = this.claim(replayKey, expiresAt)
    return claimed === undefined ? verdict : claimed.then(() => verdict)
  }

  private claim (key: string, expiresAt: number): Promise<void> | undefined {
    let answer: boolean | Promise<boolean>
    let thenable: boolean
    try {
      answer = this.store.claim(key, expiresAt)
      // Any thenable will do; reading `then` may throw too (a getter, a Proxy): the store's fault.
      thenable = typeof (answer as { then?: unknown } | undefined)?.then === 'function'
    } catch (err) {
      throw storeFailure(err)
    }
    if (answer === true) return undefined
    if (answer === false) fail('dpop_replay')
    // Anything else is no answer.
    if (!thenable) fail('dpop_store_unavailable', 'bad_answer')
    return withDeadline(Promise.resolve(answer), this.settings.replayTimeout).then(ok => {
      if (ok === false) fail('dpop_replay')
      // Anything but a boolean: the store cannot tell, so the proof is not accepted.
      if (ok !== true) fail('dpop_store_unavailable', 'bad_answer')
    })
  }
}

function storeFailure (err: unknown): AxiomsError {
  if (err instanceof ReplayStoreFullError) {
    const e = new AxiomsError('dpop_store_full')
    e.retryAfter = err.retryAfter
    e.detail = 'full'
    return e
  }
  const e = new AxiomsError('dpop_store_unavailable')
  e.detail = 'store_error'
  return e
}

// The store's answer within `ms`, or a 503: a slow or silent store never holds a request longer.
// The timer stays referenced: it is short, and a pending check must not let the process exit.
function withDeadline (answer: Promise<boolean>, ms: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const e = new AxiomsError('dpop_store_unavailable')
      e.detail = 'timeout'
      reject(e)
    }, ms)
    answer.then(ok => {
      clearTimeout(timer)
      resolve(ok)
    }, err => {
      clearTimeout(timer)
      reject(storeFailure(err))
    })
  })
}
