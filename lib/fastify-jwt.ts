// verifier: 'fastify-jwt'. The app's own @fastify/jwt (request.jwtVerify(), keys from get-jwks as
// its README shows) checks the signature; the plugin does the rest as its own engine would: the
// Authorization rules (authenticate.ts), strict decoding, the header rules, issuer pinning, the
// claim rules and the claims copy before @fastify/jwt is called (so no key is fetched for a token
// the plugin refuses anyway), and the claim rules again after it. Failures are mapped by code.
// Nothing here imports @fastify/jwt, fast-jwt or get-jwks: they stay optional peers, reached only
// through the request and the instance the app decorated.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { decodeCompact } from './bearer.js'
import { checkClaims, checkHeader } from './checks.js'
import { freezeClaims } from './claims.js'
import { AxiomsError, fail, type Reason } from './errors.js'
import { type OutcomeLog, Outcomes } from './observe.js'
import { ConfigError, type IssuerSettings, type Settings } from './options/index.js'
import type { AccessTokenClaims } from './verify.js'

/** How one upstream code is answered, and how loudly it is logged. */
export interface Mapping {
  readonly reason: Reason
  /** debug: a token problem; warn: the IdP's keys could not be had; error: the app's setup. */
  readonly level: 'debug' | 'warn' | 'error'
}

const tok = (reason: Reason): Mapping => Object.freeze({ reason, level: 'debug' })
const KEYS: Mapping = Object.freeze({ reason: 'keys_unavailable', level: 'warn' })
// Not the client's fault and not the token's: the app's @fastify/jwt or get-jwks setup.
const SETUP: Mapping = Object.freeze({ reason: 'upstream_error', level: 'error' })

/**
 * Every code @fastify/jwt 10, fast-jwt 6 and get-jwks 11 can raise, by code (never by message).
 * test/fastify-jwt/codes.test.ts reads the codes from the installed packages and fails on a gap.
 */
export const UPSTREAM_CODES: Readonly<Record<string, Mapping>> = Object.freeze({
  // @fastify/jwt: its header parsing is stricter than RFC 6750 (`Bearer  token` is its 400).
  FST_JWT_BAD_REQUEST: tok('duplicate_header'),
  // It looked elsewhere than the Authorization header (onlyCookie, cookie): the app's setup.
  FST_JWT_NO_AUTHORIZATION_IN_HEADER: SETUP,
  FST_JWT_NO_AUTHORIZATION_IN_COOKIE: SETUP,
  FST_JWT_BAD_COOKIE_REQUEST: SETUP,
  FST_JWT_AUTHORIZATION_TOKEN_EXPIRED: tok('expired'),
  // @fastify/jwt folds fast-jwt's invalid key, invalid signature, claim value and missing claim
  // into this one code. The plugin's claim rules passed before the call, so what is left is the
  // signature (or a claim rule of the app's own @fastify/jwt options).
  FST_JWT_AUTHORIZATION_TOKEN_INVALID: tok('bad_signature'),
  FST_JWT_AUTHORIZATION_TOKEN_UNTRUSTED: tok('untrusted'),
  // fast-jwt: the codes @fastify/jwt passes through as they are. FAST_JWT_MISSING_SIGNATURE is
  // also @fastify/jwt's own code for an unsigned token.
  FAST_JWT_INVALID_TYPE: tok('bad_typ'),
  FAST_JWT_INVALID_OPTION: SETUP,
  FAST_JWT_INVALID_ALGORITHM: tok('bad_algorithm'),
  FAST_JWT_INVALID_CLAIM_TYPE: tok('bad_claim'),
  FAST_JWT_INVALID_CLAIM_VALUE: tok('bad_claim'),
  FAST_JWT_INVALID_KEY: tok('key_mismatch'),
  FAST_JWT_INVALID_SIGNATURE: tok('bad_signature'),
  FAST_JWT_INVALID_PAYLOAD: tok('malformed'),
  FAST_JWT_MALFORMED: tok('malformed'),
  FAST_JWT_INACTIVE: tok('bad_claim'),
  FAST_JWT_EXPIRED: tok('expired'),
  FAST_JWT_MISSING_KEY: SETUP,
  FAST_JWT_KEY_FETCHING_ERROR: KEYS,
  FAST_JWT_SIGN_ERROR: SETUP,
  // Raised while reading the signature bytes (an ES* signature of the wrong length).
  FAST_JWT_VERIFY_ERROR: tok('bad_signature'),
  FAST_JWT_MISSING_REQUIRED_CLAIM: tok('bad_claim'),
  FAST_JWT_MISSING_SIGNATURE: tok('malformed'),
  FAST_JWT_INVALID_CRIT_HEADER: tok('bad_header'),
  // get-jwks. The plugin pins `iss` before the call, so DOMAIN_NOT_ALLOWED means that get-jwks'
  // issuersWhitelist leaves out an issuer the plugin is configured with.
  JWK_NOT_FOUND: tok('unknown_kid'),
  DOMAIN_NOT_ALLOWED: Object.freeze({ reason: 'bad_issuer', level: 'error' }),
  JWKS_REQUEST_FAILED: KEYS,
  OPENID_CONFIGURATION_REQUEST_FAILED: KEYS,
  NO_JWKS_URI: KEYS,
  NO_JWKS: KEYS
})

// Codes of the network errors that fetch (get-jwks' transport) puts in a TypeError's `cause`:
// undici's own (UND_ERR_SOCKET, ...) and system ones (ECONNREFUSED, EAI_AGAIN, ...), not ERR_*.
const NETWORK_CAUSE = /^(?:UND_ERR_[A-Z_]+|E(?!RR_)[A-Z_]+)$/

/** The mapping of an error raised by request.jwtVerify(), and the code to log with it. */
export function classify (err: unknown): { mapping: Mapping | undefined, code: string } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown, cause?: { code?: unknown }, name?: unknown }
  if (typeof e.code === 'string') return { mapping: UPSTREAM_CODES[e.code], code: e.code }
  // get-jwks lets fetch's own failures through: a refused or reset connection, a non-JSON body
  // (it parses before looking at the status), an aborted request (fetchOptions.signal).
  if (err instanceof TypeError && typeof e.cause?.code === 'string' && NETWORK_CAUSE.test(e.cause.code)) return { mapping: KEYS, code: e.cause.code }
  if (err instanceof SyntaxError) return { mapping: KEYS, code: 'invalid_json' }
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return { mapping: KEYS, code: String(e.name) }
  return { mapping: undefined, code: typeof e.name === 'string' ? e.name : 'unknown' }
}

type JwtVerify = () => Promise<unknown>
type LookupToken = (request: FastifyRequest) => unknown

const kDeadline = Symbol('axioms.deadline')

/** Verifies a request's token through the app's @fastify/jwt. Every failure is an AxiomsError. */
export class FastifyJwtVerifier {
  private readonly settings: Settings
  private readonly byIss = new Map<string, IssuerSettings>()
  private lookupToken: LookupToken | undefined
  /** For app.axioms.stats(). */
  readonly outcomes: Outcomes

  constructor (settings: Settings, log: OutcomeLog) {
    this.settings = settings
    this.outcomes = new Outcomes(log)
    for (const issuer of settings.issuers) for (const iss of issuer.accepted) this.byIss.set(iss, issuer)
  }

  /** onReady (@fastify/jwt may be registered after this plugin): the app's @fastify/jwt must be there. */
  attach (fastify: FastifyInstance): void {
    const jwt = (fastify as unknown as { jwt?: { lookupToken?: unknown } }).jwt
    if (!fastify.hasRequestDecorator('jwtVerify') || typeof jwt?.lookupToken !== 'function') {
      throw new ConfigError('verifier', this.settings.verifierEnv, 'is "fastify-jwt", but request.jwtVerify of @fastify/jwt is missing: register @fastify/jwt (without a namespace or a renamed jwtVerify) in this scope or a parent one, with get-jwks as its secret (README: "Already on @fastify/jwt + get-jwks?"), or use verifier "builtin"')
    }
    this.lookupToken = jwt.lookupToken as LookupToken
  }

  /** Resolves to the frozen claims, or rejects with AxiomsError. */
  async verify (request: FastifyRequest, token: string): Promise<AccessTokenClaims> {
    let iss: string | undefined
    let kid: string | undefined
    let jti: string | undefined
    try {
      const { header, payload } = decodeCompact(token)
      if (typeof payload.jti === 'string') jti = payload.jti
      checkHeader(this.settings, header)
      kid = header.kid as string
      const issuer = typeof payload.iss === 'string' ? this.byIss.get(payload.iss) : undefined
      if (issuer === undefined) fail('bad_issuer')
      iss = issuer.id
      // Before any key is fetched: a token refused here costs the IdP nothing.
      checkClaims(this.settings, payload, issuer, true)
      const claims = freezeClaims(payload) as AccessTokenClaims | undefined
      if (claims === undefined) fail('malformed')
      await this.upstream(request, token, iss)
      // Again, on the clock of now: get-jwks may have fetched for a while.
      checkClaims(this.settings, payload, issuer, true)
      this.outcomes.accepted(iss, kid, jti)
      return claims
    } catch (err) {
      throw this.refuse(err, iss, kid, jti)
    }
  }

  /** The app's @fastify/jwt on the very token the plugin read, within jwksTimeout. */
  private async upstream (request: FastifyRequest, token: string, iss: string): Promise<void> {
    let theirs: unknown
    try {
      theirs = (this.lookupToken as LookupToken)(request)
    } catch (err) {
      throw mapped(request, err, iss)
    }
    if (theirs !== token) {
      // Its extractToken (or cookie) names another token: the plugin's checks would not be about
      // the token @fastify/jwt verifies.
      request.log.error({ issuer: iss }, 'axioms: verifier "fastify-jwt": the app\'s @fastify/jwt reads another token than the Authorization header\'s (extractToken, cookie): both must read the same token')
      fail('upstream_error')
    }
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(kDeadline), this.settings.jwks.timeout).unref()
    })
    try {
      await Promise.race([(request as unknown as { jwtVerify: JwtVerify }).jwtVerify(), deadline])
    } catch (err) {
      throw mapped(request, err, iss)
    } finally {
      clearTimeout(timer)
    }
  }

  private refuse (err: unknown, iss: string | undefined, kid: string | undefined, jti: string | undefined): AxiomsError {
    return this.outcomes.refused(err, iss, kid, jti)
  }
}

/** The plugin's answer to an upstream failure, logged by kind: only codes, never messages or bodies. */
function mapped (request: FastifyRequest, err: unknown, iss: string): AxiomsError {
  if (err === kDeadline) {
    request.log.warn({ issuer: iss, cause: 'timeout' }, 'axioms: verifier "fastify-jwt": request.jwtVerify() did not finish within jwksTimeout')
    return new AxiomsError('keys_unavailable')
  }
  const { mapping, code } = classify(err)
  if (mapping === undefined) {
    // A gap in UPSTREAM_CODES (a new upstream code, or an error without one): never a 5xx.
    request.log.error({ issuer: iss, code }, 'axioms: verifier "fastify-jwt": an error of @fastify/jwt or get-jwks that the plugin does not map (answered 401)')
    return new AxiomsError('upstream_error')
  }
  if (mapping.level === 'warn') {
    request.log.warn({ issuer: iss, cause: code }, 'axioms: verifier "fastify-jwt": no key could be had from the identity provider')
  } else if (mapping.level === 'error') {
    request.log.error({ issuer: iss, code }, 'axioms: verifier "fastify-jwt": @fastify/jwt or get-jwks is set up in a way this mode cannot use')
  }
  return new AxiomsError(mapping.reason)
}
