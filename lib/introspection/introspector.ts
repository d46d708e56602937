// RFC 7662 token introspection for opaque access tokens: one POST per token at a time
// (single-flight), answers reused for no longer than the token's `exp` and `cacheTtl`, the same
// deadline, size cap, proxy and outage answer (503) as JWKS fetches, and the same claim rules as
// JWTs on what comes back.
import { checkIntrospected, type ClaimRules } from '../checks.js'
import { freezeClaims } from '../claims.js'
import { type Attempt, discover, OAUTH_METADATA } from '../discovery.js'
import { AxiomsError, fail } from '../errors.js'
import { defined, describeFailure, FetchError, fetchJson } from '../fetch.js'
import { introspectionChannel, type IntrospectionMessage, type Outcomes } from '../observe.js'
import type { JwksSettings } from '../options/index.js'
import { TokenCache } from '../cache.js'
import type { AccessTokenClaims } from '../verify.js'
import { introspectionRequest } from './client-auth.js'
import type { IntrospectionSettings } from './options.js'

export interface IntrospectionStats {
  endpoint: string | undefined
  /** Answers of the endpoint: active tokens, inactive ones; failed requests; answers reused. */
  active: number
  inactive: number
  failures: number
  cacheHits: number
  lastError: string | null
}

export interface IntrospectorLog {
  warn: (obj: object, msg: string) => void
  debug: (obj: object, msg: string) => void
}

// Answers about the request rather than the endpoint's health (a malformed or oversized request):
// possibly this token's doing, so they hold back no other token (one client must not be able to
// stop introspection for the rest).
const ABOUT_THE_REQUEST: ReadonlySet<number> = new Set([400, 413, 414, 422])

interface Answer {
  /** The frozen claims of an active token; undefined for an inactive one. */
  claims: AccessTokenClaims | undefined
  /** Epoch ms until which the answer may be reused. */
  until: number
}

export class Introspector {
  private readonly s: IntrospectionSettings
  private readonly rules: ClaimRules
  private readonly http: JwksSettings
  private readonly log: IntrospectorLog
  private readonly outcomes: Outcomes
  private readonly cache: TokenCache<Answer> | undefined
  private readonly inflight = new Map<string, Promise<Answer>>()
  private endpoint: string | undefined
  private discovering: Promise<string> | undefined
  private failedAt = -Infinity
  private warnedAt = -Infinity
  private readonly closing = new AbortController()
  private readonly counters = { active: 0, inactive: 0, failures: 0, cacheHits: 0 }
  private lastError: string | null = null

  constructor (settings: IntrospectionSettings, rules: ClaimRules, http: JwksSettings, log: IntrospectorLog, outcomes: Outcomes) {
    this.s = settings
    this.rules = rules
    this.http = http
    this.log = log
    this.outcomes = outcomes
    this.endpoint = settings.endpoint
    this.cache = settings.cacheTtl > 0 ? new TokenCache(settings.cacheSize) : undefined
  }

  /** Whether this token is introspected: every token (`tokens: 'all'`), or one that is not a JWS. */
  applies (token: string): boolean {
    if (this.s.tokens === 'all') return true
    const first = token.indexOf('.')
    const second = first === -1 ? -1 : token.indexOf('.', first + 1)
    return second === -1 || token.indexOf('.', second + 1) !== -1
  }

  /**
   * The claims of an active token, or an AxiomsError: 401 for an inactive token or claims that
   * fail the rules, 503 when the endpoint cannot answer. `bound`: the caller checks a `cnf`.
   */
  async introspect (token: string, bound: boolean): Promise<AccessTokenClaims> {
    let claims: AccessTokenClaims | undefined
    try {
      const answer = this.fresh(token) ?? await this.ask(token)
      claims = answer.claims
      if (claims === undefined) fail('inactive_token')
      // Checked on every use: a reused answer is as good as the clock says.
      checkIntrospected(this.rules, claims, this.s.issuer, bound)
    } catch (err) {
      throw this.outcomes.refused(err, this.s.issuer.id, undefined, typeof claims?.jti === 'string' ? claims.jti : undefined)
    }
    this.outcomes.accepted(this.s.issuer.id, undefined, typeof claims.jti === 'string' ? claims.jti : undefined)
    return claims
  }

  private fresh (token: string): Answer | undefined {
    const hit = this.cache?.get(token)
    if (hit === undefined) return undefined
    if (Date.now() < hit.until) {
      this.counters.cacheHits++
      return hit
    }
    this.cache?.delete(token)
    return undefined
  }

  /** One request per token at a time: concurrent requests with the same token share it. */
  private ask (token: string): Promise<Answer> {
    let pending = this.inflight.get(token)
    if (pending === undefined) {
      pending = this.load(token).finally(() => this.inflight.delete(token))
      this.inflight.set(token, pending)
    }
    return pending
  }

  private async load (token: string): Promise<Answer> {
    // After a failure, wait a little before the next request (no retry storm on a sick endpoint).
    if (Date.now() - this.failedAt < this.retryDelay()) throw this.unavailable()
    const at: Attempt = { stage: 'introspection', url: this.endpoint ?? '' }
    let body: Record<string, unknown>
    try {
      const endpoint = await this.resolveEndpoint(at)
      at.stage = 'introspection'
      at.url = endpoint
      const { headers, body: form } = introspectionRequest(this.s, endpoint, token)
      const got = await fetchJson(endpoint, this.http.timeout, this.http.maxBytes, this.closing.signal, { method: 'POST', headers, body: form, proxy: this.http.proxy })
      const answer = got.body
      if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) throw new FetchError('not_an_introspection', got)
      // Own members only, as for a token's claims: nothing is read from a polluted prototype.
      body = Object.assign(Object.create(null), answer) as Record<string, unknown>
      if (typeof body.active !== 'boolean') throw new FetchError('not_an_introspection', got)
      // Without iss the answer speaks for the endpoint's issuer: say so, as the claims' type promises.
      if (body.iss === undefined) body.iss = this.s.issuer.id
    } catch (err) {
      this.failed(err, at)
      throw this.unavailable()
    }
    const now = Date.now()
    const claims = body.active === true ? freezeClaims(body) as AccessTokenClaims | undefined : undefined
    // Nested past the claim depth: the claims are unusable (the token itself is not malformed).
    if (body.active === true && claims === undefined) fail('bad_claim')
    if (claims === undefined) this.counters.inactive++
    else this.counters.active++
    this.lastError = null
    if (introspectionChannel.hasSubscribers) introspectionChannel.publish({ issuer: this.s.issuer.id, event: 'introspect', active: claims !== undefined } satisfies IntrospectionMessage)
    // Never past the token's exp; an inactive token stays inactive, so cacheTtl alone bounds it.
    const exp = typeof claims?.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : Infinity
    const answer: Answer = { claims, until: Math.min(now + this.s.cacheTtl, exp) }
    this.cache?.set(token, answer)
    return answer
  }

  private async resolveEndpoint (at: Attempt): Promise<string> {
    if (this.endpoint !== undefined) return this.endpoint
    this.discovering ??= this.discoverEndpoint(at).finally(() => { this.discovering = undefined })
    return await this.discovering
  }

  private async discoverEndpoint (at: Attempt): Promise<string> {
    // OpenID Connect discovery first, then RFC 8414 authorization server metadata.
    const doc = await discover(this.s.issuer, this.http, this.closing.signal, at) ??
      await discover(this.s.issuer, this.http, this.closing.signal, at, OAUTH_METADATA)
    const uri = doc?.body.introspection_endpoint
    if (typeof uri !== 'string' || !/^https?:\/\//i.test(uri)) throw new FetchError('discovery_no_introspection_endpoint', doc?.response)
    this.endpoint = uri
    return uri
  }

  private failed (err: unknown, at: Attempt): void {
    // The request and discovery only throw FetchError; anything else would be a bug of ours.
    /* c8 ignore next */
    const failure = err instanceof FetchError ? err : new FetchError('unexpected')
    this.counters.failures++
    const now = Date.now()
    if (failure.status === undefined || !ABOUT_THE_REQUEST.has(failure.status)) this.failedAt = now
    this.lastError = failure.code
    const seen = { status: failure.status, contentType: failure.contentType, bytes: failure.bytes, proxy: failure.proxy }
    const via = failure.proxy === undefined ? '' : ` through proxy ${failure.proxy}`
    const what = at.stage === 'discovery' ? `GET ${at.url}` : `POST ${at.url}`
    const hint = at.stage === 'introspection' && (failure.status === 401 || failure.status === 403)
      ? ': the endpoint refused this API\'s client (check introspection.clientId and its secret or key)'
      : ''
    // At most one warning per retry delay; the others at debug (a client can cause ABOUT_THE_REQUEST ones).
    const quiet = now - this.warnedAt < this.retryDelay()
    if (!quiet) this.warnedAt = now
    this.log[quiet ? 'debug' : 'warn']({ issuer: this.s.issuer.id, stage: at.stage, url: at.url, cause: failure.code, ...defined(seen) },
      `axioms: token introspection for ${this.s.issuer.id} failed: ${what}${via} ${describeFailure(failure, this.http)}${hint}`)
    if (introspectionChannel.hasSubscribers) {
      introspectionChannel.publish({ issuer: this.s.issuer.id, event: 'introspect_failed', cause: failure.code, stage: at.stage as 'discovery' | 'introspection', url: at.url, ...defined({ status: failure.status }) } satisfies IntrospectionMessage)
    }
  }

  /** Milliseconds between requests while the endpoint fails: as on-demand JWKS fetches. */
  private retryDelay (): number {
    return Math.min(this.http.cooldown, 5000)
  }

  /** A 503 whose Retry-After is the time until the endpoint will be asked again (at least 1 s). */
  private unavailable (): AxiomsError {
    const err = new AxiomsError('keys_unavailable')
    err.retryAfter = Math.max(1, Math.ceil((this.failedAt + this.retryDelay() - Date.now()) / 1000))
    return err
  }

  stop (): void {
    this.closing.abort()
    this.cache?.clear()
  }

  stats (): IntrospectionStats {
    return { endpoint: this.endpoint, ...this.counters, lastError: this.lastError }
  }
}
