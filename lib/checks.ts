// The header and claim rules (README: Verification, steps 3 and 5), pure: no keys, no signatures, no I/O.
// The built-in engine runs them around its signature check; verifier 'fastify-jwt' runs the same
// ones around the app's @fastify/jwt, so both refuse the same tokens for the same reasons.
import type { JsonObject } from './bearer.js'
import { fail } from './errors.js'
import { isNonEmptyString } from './keys.js'
import type { IssuerSettings, Settings } from './options/index.js'

export type HeaderRules = Pick<Settings, 'algorithms' | 'tokenTypes' | 'rfc9068'>
export type ClaimRules = Pick<Settings, 'clockTolerance' | 'rfc9068' | 'audienceClaims'>

function isNumericDate (v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v)
}

/** `alg` allowed, `kid` present, `typ` allowed, no `crit`, `b64`, `zip` or nested JWT. */
export function checkHeader (s: HeaderRules, h: JsonObject): void {
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

// The bindings the request path can enforce: DPoP (RFC 9449 §6.1) and certificates (RFC 8705 §3.1).
const BINDINGS = new Set(['jkt', 'x5t#S256'])

function knownBinding (cnf: unknown): boolean {
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return false
  const members = Object.keys(cnf)
  return members.length > 0 && members.every(m => BINDINGS.has(m))
}

/**
 * `exp` required; `exp`/`nbf`/`iat` finite and not in the future; `aud`; RFC 9068. `cnf`: refused
 * unless `bound` (a request whose binding the caller then checks) and made only of bindings the
 * plugin can check.
 */
export function checkClaims (s: ClaimRules, p: JsonObject, issuer: IssuerSettings, bound = false): void {
  checkTimesAndAudience(s, p, issuer, true)
  if (s.rfc9068) {
    // RFC 9068 §2.2 (iss and exp are checked above): `aud` itself, even where a preset reads the
    // audience elsewhere; strings for the rest, and an empty subject names nobody.
    if (!Object.hasOwn(p, 'aud') || !isNonEmptyString(p.sub) || !isNonEmptyString(p.client_id) || !isNonEmptyString(p.jti) || !isNumericDate(p.iat)) fail('bad_claim')
  }
  checkBinding(p, bound)
}

// RFC 7662 §2.2 token_type (an RFC 6749 §7.1 type), ORY Hydra's token_use, Keycloak's typ, Cognito's
// token_use; compared without case, as token types are (RFC 6749 §5.1).
const TOKEN_KIND_MEMBERS = ['token_type', 'token_use', 'typ'] as const
const ACCESS_TOKEN_KINDS: ReadonlySet<string> = new Set(['bearer', 'dpop', 'access_token', 'access', 'at+jwt', 'application/at+jwt', 'urn:ietf:params:oauth:token-type:access_token'])

/**
 * An active RFC 7662 introspection answer (the introspector keeps no claims of inactive ones), by
 * the rules of a JWT's claims where the RFC leaves room: `iss`, when given, one of the issuer's; `exp` required and in the
 * future; `nbf`, `iat`, `aud` and `cnf` as for a JWT (RFC 9068 is about JWTs: it does not apply).
 */
export function checkIntrospected (s: ClaimRules, p: JsonObject, issuer: IssuerSettings, bound: boolean): void {
  if (p.iss !== undefined && (typeof p.iss !== 'string' || !issuer.accepted.includes(p.iss))) fail('bad_issuer')
  // An endpoint may answer for refresh or ID tokens too (Hydra's token_use, Keycloak's typ): each
  // member that names the kind of token must name an access token.
  for (const member of TOKEN_KIND_MEMBERS) {
    const v = p[member]
    if (v !== undefined && (typeof v !== 'string' || !ACCESS_TOKEN_KINDS.has(v.toLowerCase()))) fail('bad_typ')
  }
  // exp required, as for a JWT, though RFC 7662 makes it optional: a token that never expires is
  // not one to accept on an answer that may be reused, and the claims' type promises it.
  checkTimesAndAudience(s, p, issuer, true)
  checkBinding(p, bound)
}

function checkTimesAndAudience (s: ClaimRules, p: JsonObject, issuer: IssuerSettings, requireExp: boolean): void {
  const now = Date.now() / 1000
  const tol = s.clockTolerance
  if (p.exp === undefined || p.exp === null) {
    if (requireExp) fail('missing_exp')
  } else {
    if (!isNumericDate(p.exp)) fail('bad_claim')
    if (now >= p.exp + tol) fail('expired')
  }
  if (p.nbf !== undefined && (!isNumericDate(p.nbf) || p.nbf > now + tol)) fail('bad_claim')
  if (p.iat !== undefined && (!isNumericDate(p.iat) || p.iat > now + tol)) fail('bad_claim')
  if (!audienceMatches(s, p, issuer.audiences)) fail('bad_audience')
}

// A sender-constrained token whose binding nobody checks would lose it (RFC 9449 §7.2, RFC 8705 §3).
function checkBinding (p: JsonObject, bound: boolean): void {
  if (p.cnf !== undefined && !(bound && knownBinding(p.cnf))) fail('sender_constrained')
}

// A SHA-256 thumbprint, base64url: 43 characters, the last one canonical.
const THUMBPRINT = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/

/**
 * The binding a token's `cnf` names (RFC 9449 §6.1 `jkt`, RFC 8705 §3.1 `x5t#S256`): undefined
 * when the token has none; throws when `cnf` or the member are there but not a SHA-256 thumbprint.
 */
export function confirmation (claims: Readonly<Record<string, unknown>>, member: 'jkt' | 'x5t#S256'): string | undefined {
  if (!Object.hasOwn(claims, 'cnf')) return undefined
  const bad = member === 'jkt' ? 'dpop_bad_cnf' : 'mtls_bad_cnf'
  const cnf = claims.cnf
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) fail(bad)
  if (!Object.hasOwn(cnf, member)) return undefined
  const value = (cnf as Record<string, unknown>)[member]
  if (typeof value !== 'string' || !THUMBPRINT.test(value)) fail(bad)
  return value
}

function audienceMatches (s: ClaimRules, p: JsonObject, audiences: ReadonlySet<string>): boolean {
  for (const name of s.audienceClaims) {
    const aud = Object.hasOwn(p, name) ? p[name] : undefined
    if (typeof aud === 'string') {
      if (audiences.has(aud)) return true
    } else if (Array.isArray(aud)) {
      for (const a of aud) if (typeof a === 'string' && audiences.has(a)) return true
    }
  }
  return false
}
