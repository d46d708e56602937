// Options and their AXIOMS_* environment twins -> one frozen Settings object. Every check throws
// at register() time with the option's name and its environment variable: a bad configuration
// must never turn into a per-request 500.
import { type ClaimName, type ClaimSources, DEFAULT_CLAIM_SOURCES, type Requirement } from './claims.js'
import { type PresetName, type PresetOptions, PRESET_NAMES, presetClaims } from './presets.js'

export const ALGORITHMS = Object.freeze([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'
] as const)
export type Algorithm = typeof ALGORITHMS[number]

const DEFAULT_TOKEN_TYPES = Object.freeze(['JWT', 'jwt', 'at+jwt', 'application/jwt', 'application/at+jwt'])
const RFC9068_TOKEN_TYPES = Object.freeze(['at+jwt', 'application/at+jwt'])

/** One trusted issuer of a multi-issuer setup (`issuers`). */
export interface IssuerOptions {
  /** The exact `iss` value (or values) of this issuer's tokens. */
  issuer: string | string[]
  /** Where its keys are; discovered from the issuer when absent. */
  jwksUri?: string
  /** Audience(s) for this issuer's tokens; the top-level `audience` when absent. */
  audience?: string | string[]
}

export interface ProtectedResourceMetadataOptions {
  /** The resource identifier; defaults to the request's origin. */
  resource?: string
  /** Scopes listed in the document; defaults to every scope a route requires. */
  scopesSupported?: string[]
  /** Authorization servers; defaults to the configured issuers. */
  authorizationServers?: string[]
}

export interface OpenApiOptions {
  /** Name of the security scheme added to the document. Default `axioms`. */
  securitySchemeName?: string
}

export interface AxiomsOptions {
  audience?: string | string[]
  domain?: string
  issuer?: string | string[]
  jwksUri?: string
  /** Several trusted issuers (multi-tenant APIs, migrations): `iss` picks one, before any fetch. */
  issuers?: IssuerOptions[]
  algorithms?: Algorithm[]
  tokenTypes?: string[]
  profile?: 'rfc9068'
  scopeClaims?: ClaimName[]
  rolesClaims?: ClaimName[]
  permissionsClaims?: ClaimName[]
  /** Claim names and paths of one identity provider; explicit *Claims options win. */
  preset?: PresetName | PresetOptions
  /** Seconds of leeway for `exp`, `nbf`, `iat`. */
  clockTolerance?: number
  safeMethods?: string[]
  /** Seconds between background refreshes of each JWKS. */
  jwksRefreshInterval?: number
  /** Seconds a key set is trusted without a successful fetch. */
  jwksCacheTtl?: number
  jwksPrefetch?: boolean
  /** Least seconds between refetches caused by an unknown `kid`. */
  jwksCooldown?: number
  /** Milliseconds for each discovery or JWKS request, body included. */
  jwksTimeout?: number
  /** Largest discovery or JWKS response accepted, in bytes. */
  jwksMaxBytes?: number
  realm?: string
  errorResponse?: 'reply' | 'throw'
  tokenMiddleware?: boolean
  tokenCache?: number
  /**
   * Most signature checks of one event-loop turn run together before their requests go on, so
   * that their responses leave in a burst. 0 verifies each token as its request arrives. Default 16.
   */
  verifyBatch?: number
  /** RFC 9728: serve /.well-known/oauth-protected-resource and name it in challenges. */
  protectedResourceMetadata?: boolean | ProtectedResourceMetadataOptions
  /** @fastify/swagger integration: `false` leaves the OpenAPI document alone. Default true. */
  openapi?: boolean | OpenApiOptions
  /** Where AXIOMS_* variables are read from. Default `process.env`. */
  env?: Record<string, string | undefined>
}

export interface IssuerSettings {
  /** The issuer identifier: discovery base, default realm, RFC 9728 authorization server. */
  readonly id: string
  /** Exact `iss` values accepted for this issuer. */
  readonly accepted: readonly string[]
  readonly jwksUri: string | undefined
  readonly audiences: ReadonlySet<string>
}

export interface JwksSettings {
  readonly refreshInterval: number
  readonly cacheTtl: number
  readonly prefetch: boolean
  readonly cooldown: number
  readonly timeout: number
  readonly maxBytes: number
}

export interface Settings {
  readonly issuers: readonly IssuerSettings[]
  readonly algorithms: ReadonlySet<string>
  readonly tokenTypes: ReadonlySet<string>
  /** profile 'rfc9068': `typ` required, and `iss exp aud sub client_id iat jti` too. */
  readonly rfc9068: boolean
  readonly claims: ClaimSources
  readonly audienceClaims: readonly string[]
  readonly clockTolerance: number
  readonly safeMethods: ReadonlySet<string>
  readonly jwks: JwksSettings
  readonly realm: string
  readonly errorResponse: 'reply' | 'throw'
  readonly tokenMiddleware: boolean
  readonly tokenCache: number
  readonly verifyBatch: number
  readonly protectedResourceMetadata: Readonly<ProtectedResourceMetadataOptions> | undefined
  readonly openapi: Readonly<Required<OpenApiOptions>> | undefined
}

export class ConfigError extends Error {
  constructor (option: string, env: string | undefined, problem: string) {
    super(`axioms-fastify: option "${option}"${env === undefined ? '' : ` (env ${env})`} ${problem}`)
    this.name = 'ConfigError'
  }
}

type Env = Record<string, string | undefined>

interface Source<T> { value: T, env: string | undefined }

function pick<T> (options: AxiomsOptions, key: keyof AxiomsOptions, env: Env, envName: string, parse: (raw: string) => T): Source<T | undefined> {
  const value = options[key]
  if (value !== undefined) return { value: value as T, env: undefined }
  const raw = env[envName]
  if (raw === undefined || raw.trim() === '') return { value: undefined, env: envName }
  try {
    return { value: parse(raw.trim()), env: envName }
  } catch (err) {
    throw new ConfigError(key, envName, `could not be read: ${(err as Error).message}`)
  }
}

// Env lists: a JSON array, or comma-separated values.
function parseList (raw: string): unknown {
  if (raw.startsWith('[')) return JSON.parse(raw)
  return raw.split(',').map(s => s.trim()).filter(s => s !== '')
}

function parseNumber (raw: string): number {
  const n = Number(raw)
  if (!Number.isFinite(n)) throw new Error(`"${raw}" is not a number`)
  return n
}

function parseBoolean (raw: string): boolean {
  const v = raw.toLowerCase()
  if (v === 'true' || v === '1' || v === 'yes') return true
  if (v === 'false' || v === '0' || v === 'no') return false
  throw new Error(`"${raw}" is not a boolean (true or false)`)
}

function parseString (raw: string): string {
  return raw
}

function stringList (src: Source<unknown>, name: string, what = 'must be a non-empty string or a list of them'): string[] | undefined {
  const v = src.value
  if (v === undefined) return undefined
  const list = typeof v === 'string' ? [v] : v
  if (!Array.isArray(list) || list.length === 0 || list.some(s => typeof s !== 'string' || s.trim() === '')) {
    throw new ConfigError(name, src.env, what)
  }
  return list as string[]
}

function httpUrl (value: string, name: string, env: string | undefined): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(name, env, `must be an absolute http(s) URL, got "${value}"`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(name, env, `must use http or https, got "${url.protocol}"`)
  }
  return value
}

function claimNames (src: Source<unknown>, name: string): ClaimName[] | undefined {
  const v = src.value
  if (v === undefined) return undefined
  const ok = Array.isArray(v) && v.length > 0 && v.every(n =>
    (typeof n === 'string' && n !== '') ||
    (Array.isArray(n) && n.length > 0 && n.every(k => typeof k === 'string' && k !== '')))
  if (!ok) throw new ConfigError(name, src.env, 'must be a non-empty list of claim names or key paths (string[])')
  return (v as ClaimName[]).map(n => typeof n === 'string' ? n : Object.freeze([...n]))
}

function numberIn (src: Source<unknown>, name: string, fallback: number, min: number, integer = false): number {
  const v = src.value
  if (v === undefined) return fallback
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    throw new ConfigError(name, src.env, `must be ${integer ? 'an integer' : 'a number'} >= ${min}`)
  }
  return v
}

function booleanOf (src: Source<unknown>, name: string, fallback: boolean): boolean {
  const v = src.value
  if (v === undefined) return fallback
  if (typeof v !== 'boolean') throw new ConfigError(name, src.env, 'must be true or false')
  return v
}

function normaliseDomain (domain: string): string {
  return domain.replace(/^https?:\/\//i, '').replace(/\/+$/, '')
}

function audienceSet (src: Source<unknown>, name: string): Set<string> | undefined {
  const list = stringList(src, name, 'must be a non-empty string or a list of them (the API identifier tokens are issued for)')
  return list === undefined ? undefined : new Set(list)
}

function presetOf (value: unknown, env: string | undefined): PresetOptions | undefined {
  if (value === undefined) return undefined
  const obj = typeof value === 'string' ? { name: value } : value
  if (typeof obj !== 'object' || obj === null || !PRESET_NAMES.includes((obj as PresetOptions).name)) {
    throw new ConfigError('preset', env, `must be one of ${PRESET_NAMES.join(', ')}`)
  }
  const clientId = (obj as PresetOptions).clientId
  if (clientId !== undefined && (typeof clientId !== 'string' || clientId === '')) {
    throw new ConfigError('preset', env, 'clientId must be a non-empty string')
  }
  return obj as PresetOptions
}

/** verifyBatch when not set: a burst's first response waits for at most 15 other signature checks. */
export const DEFAULT_VERIFY_BATCH = 16

const OPTION_NAMES: ReadonlySet<string> = new Set<keyof AxiomsOptions>([
  'audience', 'domain', 'issuer', 'jwksUri', 'issuers', 'algorithms', 'tokenTypes', 'profile', 'scopeClaims',
  'rolesClaims', 'permissionsClaims', 'preset', 'clockTolerance', 'safeMethods', 'jwksRefreshInterval',
  'jwksCacheTtl', 'jwksPrefetch', 'jwksCooldown', 'jwksTimeout', 'jwksMaxBytes', 'realm', 'errorResponse',
  'tokenMiddleware', 'tokenCache', 'verifyBatch', 'protectedResourceMetadata', 'openapi', 'env'
])

/** Reads options (explicit first, then AXIOMS_* variables) into frozen settings, or throws. */
export function resolveSettings (input: AxiomsOptions = {}): Settings {
  if (typeof input !== 'object' || input === null) throw new ConfigError('options', undefined, 'must be an object')
  // A misspelt option (`audiance`, `jwksCoolDown`) would silently fall back to a default.
  for (const key of Object.keys(input)) {
    if (!OPTION_NAMES.has(key)) throw new ConfigError(key, undefined, `is not an option of axioms-fastify (options: ${[...OPTION_NAMES].join(', ')})`)
  }
  const env: Env = input.env ?? process.env

  const audiences = audienceSet(pick(input, 'audience', env, 'AXIOMS_AUDIENCE', parseList), 'audience')

  const domainSrc = pick(input, 'domain', env, 'AXIOMS_DOMAIN', parseString)
  let domain: string | undefined
  if (domainSrc.value !== undefined) {
    if (typeof domainSrc.value !== 'string' || normaliseDomain(domainSrc.value) === '' || /\s/.test(domainSrc.value)) {
      throw new ConfigError('domain', domainSrc.env, 'must be a host name such as "your-tenant.auth0.com"')
    }
    domain = normaliseDomain(domainSrc.value)
  }

  const issuerSrc = pick(input, 'issuer', env, 'AXIOMS_ISS_URL', parseList)
  const issuerList = stringList(issuerSrc, 'issuer')
  issuerList?.forEach(i => httpUrl(i, 'issuer', issuerSrc.env))

  const jwksSrc = pick(input, 'jwksUri', env, 'AXIOMS_JWKS_URL', parseString)
  if (jwksSrc.value !== undefined && typeof jwksSrc.value !== 'string') throw new ConfigError('jwksUri', jwksSrc.env, 'must be a URL string')
  const jwksUri = jwksSrc.value === undefined ? undefined : httpUrl(jwksSrc.value, 'jwksUri', jwksSrc.env)

  const issuers: IssuerSettings[] = []
  if (input.issuers !== undefined) {
    if (!Array.isArray(input.issuers) || input.issuers.length === 0) {
      throw new ConfigError('issuers', undefined, 'must be a non-empty list of { issuer, jwksUri?, audience? }')
    }
    if (issuerList !== undefined || domain !== undefined || jwksUri !== undefined) {
      throw new ConfigError('issuers', undefined, 'cannot be combined with issuer, domain or jwksUri: list every issuer in issuers')
    }
    input.issuers.forEach((entry, i) => {
      const name = `issuers[${i}]`
      if (typeof entry !== 'object' || entry === null) throw new ConfigError(name, undefined, 'must be an object { issuer, jwksUri?, audience? }')
      const accepted = stringList({ value: entry.issuer, env: undefined }, `${name}.issuer`)
      if (accepted === undefined) throw new ConfigError(`${name}.issuer`, undefined, 'is required')
      accepted.forEach(a => httpUrl(a, `${name}.issuer`, undefined))
      const own = audienceSet({ value: entry.audience, env: undefined }, `${name}.audience`)
      const aud = own ?? audiences
      if (aud === undefined) throw new ConfigError(`${name}.audience`, undefined, 'is required (or set the top-level audience / AXIOMS_AUDIENCE)')
      issuers.push({
        id: accepted[0] as string,
        accepted: Object.freeze([...accepted]),
        jwksUri: entry.jwksUri === undefined ? undefined : httpUrl(entry.jwksUri, `${name}.jwksUri`, undefined),
        audiences: aud
      })
    })
    const seen = new Set<string>()
    for (const iss of issuers) {
      for (const a of iss.accepted) {
        if (seen.has(a)) throw new ConfigError('issuers', undefined, `lists the issuer "${a}" twice`)
        seen.add(a)
      }
    }
  } else {
    if (audiences === undefined) {
      throw new ConfigError('audience', 'AXIOMS_AUDIENCE', 'is required: the identifier of this API that its access tokens must name in "aud"')
    }
    let accepted: string[]
    if (issuerList !== undefined) {
      accepted = issuerList
    } else if (domain !== undefined) {
      accepted = [`https://${domain}`, `https://${domain}/`]
    } else {
      throw new ConfigError('issuer', 'AXIOMS_ISS_URL', 'or "domain" (env AXIOMS_DOMAIN) is required: tokens are only accepted from a configured issuer')
    }
    issuers.push({ id: accepted[0] as string, accepted: Object.freeze(accepted), jwksUri, audiences })
  }

  const algSrc = pick(input, 'algorithms', env, 'AXIOMS_ALGORITHMS', parseList)
  const algList = stringList(algSrc, 'algorithms', 'must be a non-empty list of algorithms') ?? [...ALGORITHMS]
  for (const alg of algList) {
    if (alg.toLowerCase() === 'none' || /^HS/i.test(alg)) {
      throw new ConfigError('algorithms', algSrc.env, `must not contain "${alg}": only asymmetric algorithms are accepted (${ALGORITHMS.join(', ')})`)
    }
    if (!(ALGORITHMS as readonly string[]).includes(alg)) {
      throw new ConfigError('algorithms', algSrc.env, `contains the unsupported algorithm "${alg}" (supported: ${ALGORITHMS.join(', ')})`)
    }
  }

  const profileSrc = pick(input, 'profile', env, 'AXIOMS_PROFILE', parseString)
  if (profileSrc.value !== undefined && profileSrc.value !== 'rfc9068') {
    throw new ConfigError('profile', profileSrc.env, 'must be "rfc9068" when set')
  }
  const rfc9068 = profileSrc.value === 'rfc9068'

  const typSrc = pick(input, 'tokenTypes', env, 'AXIOMS_TOKEN_TYPS', parseList)
  let tokenTypes = stringList(typSrc, 'tokenTypes', 'must be a non-empty list of typ values') ?? [...DEFAULT_TOKEN_TYPES]
  if (rfc9068) {
    tokenTypes = tokenTypes.filter(t => RFC9068_TOKEN_TYPES.includes(t))
    if (typSrc.value === undefined || tokenTypes.length === 0) tokenTypes = [...RFC9068_TOKEN_TYPES]
  }

  // A blank AXIOMS_PRESET means unset, as for every other variable.
  const presetSrc = pick(input, 'preset', env, 'AXIOMS_PRESET', parseString)
  const preset = presetOf(presetSrc.value, presetSrc.env)
  const base = preset === undefined ? undefined : presetClaims(preset)
  const scopes = claimNames(pick(input, 'scopeClaims', env, 'AXIOMS_SCOPE_CLAIMS', parseList), 'scopeClaims') ?? base?.scopes ?? DEFAULT_CLAIM_SOURCES.scopes
  const roles = claimNames(pick(input, 'rolesClaims', env, 'AXIOMS_ROLES_CLAIMS', parseList), 'rolesClaims') ?? base?.roles ?? DEFAULT_CLAIM_SOURCES.roles
  const permissions = claimNames(pick(input, 'permissionsClaims', env, 'AXIOMS_PERMISSIONS_CLAIMS', parseList), 'permissionsClaims') ?? base?.permissions ?? DEFAULT_CLAIM_SOURCES.permissions
  // The family's namespaced claims (SEED-EXAMPLES.md) follow the configured names.
  const namespaced = (kind: string): ClaimName[] => domain === undefined ? [] : [`https://${domain}/claims/${kind}`]
  const claims: ClaimSources = Object.freeze({
    scopes: Object.freeze([...scopes, ...namespaced('scopes')]),
    roles: Object.freeze([...roles, ...namespaced('roles')]),
    permissions: Object.freeze([...permissions, ...namespaced('permissions')])
  })

  const toleranceSrc = pick(input, 'clockTolerance', env, 'AXIOMS_CLOCK_TOLERANCE', parseNumber)
  const clockTolerance = numberIn(toleranceSrc, 'clockTolerance', 0, 0)
  if (clockTolerance > 600) throw new ConfigError('clockTolerance', toleranceSrc.env, 'must be at most 600 seconds')

  const safeSrc = pick(input, 'safeMethods', env, 'AXIOMS_SAFE_METHODS', parseList)
  const safeMethods = safeMethodSet(safeSrc.value, 'safeMethods', safeSrc.env) ?? new Set(['OPTIONS'])

  const refreshInterval = numberIn(pick(input, 'jwksRefreshInterval', env, 'AXIOMS_JWKS_REFRESH_INTERVAL', parseNumber), 'jwksRefreshInterval', 600, 1)
  const ttlSrc = pick(input, 'jwksCacheTtl', env, 'AXIOMS_JWKS_CACHE_TTL', parseNumber)
  const cacheTtl = numberIn(ttlSrc, 'jwksCacheTtl', Math.max(3600, 2 * refreshInterval), 1)
  if (cacheTtl < 2 * refreshInterval) {
    throw new ConfigError('jwksCacheTtl', ttlSrc.env, `must be at least twice jwksRefreshInterval (${2 * refreshInterval} s), got ${cacheTtl} s`)
  }
  const jwks: JwksSettings = Object.freeze({
    refreshInterval: refreshInterval * 1000,
    cacheTtl: cacheTtl * 1000,
    prefetch: booleanOf(pick(input, 'jwksPrefetch', env, 'AXIOMS_JWKS_PREFETCH', parseBoolean), 'jwksPrefetch', true),
    cooldown: numberIn(pick(input, 'jwksCooldown', env, 'AXIOMS_JWKS_COOLDOWN', parseNumber), 'jwksCooldown', 30, 0) * 1000,
    timeout: numberIn(pick(input, 'jwksTimeout', env, 'AXIOMS_JWKS_TIMEOUT', parseNumber), 'jwksTimeout', 5000, 1),
    maxBytes: numberIn(pick(input, 'jwksMaxBytes', env, 'AXIOMS_JWKS_MAX_BYTES', parseNumber), 'jwksMaxBytes', 1024 * 1024, 1024, true)
  })

  const realmSrc = pick(input, 'realm', env, 'AXIOMS_REALM', parseString)
  if (realmSrc.value !== undefined && (typeof realmSrc.value !== 'string' || !/^[\x20-\x7e]+$/.test(realmSrc.value))) {
    throw new ConfigError('realm', realmSrc.env, 'must be a non-empty string of printable ASCII')
  }
  const realm = realmSrc.value ?? (issuers[0] as IssuerSettings).id

  const errorResponse = input.errorResponse ?? 'reply'
  if (errorResponse !== 'reply' && errorResponse !== 'throw') {
    throw new ConfigError('errorResponse', undefined, 'must be "reply" or "throw"')
  }
  const tokenMiddleware = booleanOf({ value: input.tokenMiddleware, env: undefined }, 'tokenMiddleware', false)
  const tokenCache = numberIn(pick(input, 'tokenCache', env, 'AXIOMS_TOKEN_CACHE', parseNumber), 'tokenCache', 0, 0, true)
  const batchSrc = pick(input, 'verifyBatch', env, 'AXIOMS_VERIFY_BATCH', parseNumber)
  const verifyBatch = numberIn(batchSrc, 'verifyBatch', DEFAULT_VERIFY_BATCH, 0, true)
  // A bigger batch delays the first response of a burst by that many signature checks.
  if (verifyBatch > 1024) throw new ConfigError('verifyBatch', batchSrc.env, 'must be at most 1024')

  return Object.freeze({
    issuers: Object.freeze(issuers.map(i => Object.freeze(i))),
    algorithms: new Set(algList),
    tokenTypes: new Set(tokenTypes),
    rfc9068,
    claims,
    audienceClaims: Object.freeze([...(base?.audienceClaims ?? ['aud'])]),
    clockTolerance,
    safeMethods,
    jwks,
    realm,
    errorResponse,
    tokenMiddleware,
    tokenCache,
    verifyBatch,
    protectedResourceMetadata: resourceMetadata(input.protectedResourceMetadata),
    openapi: openapiOf(input.openapi)
  })
}

export function safeMethodSet (value: unknown, name: string, env?: string): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.some(m => typeof m !== 'string' || !/^[A-Za-z-]+$/.test(m))) {
    throw new ConfigError(name, env, 'must be a list of HTTP method names, e.g. ["OPTIONS"]')
  }
  return new Set(value.map(m => (m as string).toUpperCase()))
}

function resourceMetadata (value: AxiomsOptions['protectedResourceMetadata']): Settings['protectedResourceMetadata'] {
  if (value === undefined || value === false) return undefined
  if (value === true) return Object.freeze({})
  if (typeof value !== 'object' || value === null) {
    throw new ConfigError('protectedResourceMetadata', undefined, 'must be true, false or { resource?, scopesSupported?, authorizationServers? }')
  }
  const out: ProtectedResourceMetadataOptions = {}
  if (value.resource !== undefined) out.resource = httpUrl(value.resource, 'protectedResourceMetadata.resource', undefined)
  const scopes = stringList({ value: value.scopesSupported, env: undefined }, 'protectedResourceMetadata.scopesSupported')
  if (scopes !== undefined) out.scopesSupported = Object.freeze([...scopes]) as string[]
  const servers = stringList({ value: value.authorizationServers, env: undefined }, 'protectedResourceMetadata.authorizationServers')
  if (servers !== undefined) out.authorizationServers = Object.freeze(servers.map(s => httpUrl(s, 'protectedResourceMetadata.authorizationServers', undefined))) as string[]
  return Object.freeze(out)
}

function openapiOf (value: AxiomsOptions['openapi']): Settings['openapi'] {
  if (value === false) return undefined
  if (value === undefined || value === true) return Object.freeze({ securitySchemeName: 'axioms' })
  if (typeof value !== 'object' || value === null) throw new ConfigError('openapi', undefined, 'must be true, false or { securitySchemeName }')
  const name = value.securitySchemeName ?? 'axioms'
  if (typeof name !== 'string' || name === '') throw new ConfigError('openapi.securitySchemeName', undefined, 'must be a non-empty string')
  return Object.freeze({ securitySchemeName: name })
}

/** A route's `config.axioms` declaration, or a hook's own options. */
export interface RouteDeclaration {
  scopes?: Requirement
  roles?: Requirement
  permissions?: Requirement
  /** Let requests without a token through anonymously; a present but invalid token is still refused. */
  optional?: boolean
  /** Methods of this route that skip every axioms check. */
  safeMethods?: string[]
}
