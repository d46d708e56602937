// The `introspection` option and its AXIOMS_INTROSPECTION_* twins (RFC 7662 token introspection,
// for authorization servers that issue opaque access tokens): frozen settings, or a ConfigError.
import { createPrivateKey, type KeyObject } from 'node:crypto'
import { type Duration, durationOf } from '../options/duration.js'
import { ConfigError, type Env, httpUrl, integerIn, parseNumber, parseString, pick, type Source } from '../options/read.js'
import type { IssuerSettings } from '../options/issuers.js'

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt'
export const CLIENT_AUTH_METHODS: readonly ClientAuthMethod[] = Object.freeze(['client_secret_basic', 'client_secret_post', 'private_key_jwt'])

export interface IntrospectionOptions {
  /** The introspection endpoint; discovered from the issuer's metadata (`introspection_endpoint`) when absent. */
  endpoint?: string
  /** This API's client at the authorization server. */
  clientId?: string
  /** Its secret, for client_secret_basic (default) and client_secret_post. */
  clientSecret?: string
  /** How the API authenticates to the endpoint. Default client_secret_basic, or private_key_jwt with a privateKey. */
  clientAuth?: ClientAuthMethod
  /** private_key_jwt: the key that signs the client assertion (PEM, a private JWK, or a KeyObject). */
  privateKey?: string | Record<string, unknown> | KeyObject
  /** private_key_jwt: the `kid` of the assertion's header. */
  keyId?: string
  /** `opaque` (default): introspect tokens that are not JWTs; `all`: every token. */
  tokens?: 'opaque' | 'all'
  /** Longest an answer is reused (never past the token's `exp`). Default 30 s; 0 asks every time. */
  cacheTtl?: Duration
  /** Most answers remembered. Default 10,000. */
  cacheSize?: number
}

export interface IntrospectionSettings {
  readonly endpoint: string | undefined
  readonly clientId: string
  readonly clientAuth: ClientAuthMethod
  readonly clientSecret: string | undefined
  readonly privateKey: KeyObject | undefined
  /** The assertion's algorithm, from the key's type. */
  readonly algorithm: 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA' | undefined
  readonly keyId: string | undefined
  readonly tokens: 'opaque' | 'all'
  /** Milliseconds. */
  readonly cacheTtl: number
  readonly cacheSize: number
  /** The issuer the endpoint speaks for: its `iss`, audiences and metadata. */
  readonly issuer: IssuerSettings
}

const KEYS = ['endpoint', 'clientId', 'clientSecret', 'clientAuth', 'privateKey', 'keyId', 'tokens', 'cacheTtl', 'cacheSize']

function text (src: Source<unknown>, name: string): string | undefined {
  if (src.value === undefined) return undefined
  if (typeof src.value !== 'string' || src.value === '') throw new ConfigError(name, src.env, 'must be a non-empty string')
  return src.value
}

function signingKey (value: unknown, env: string | undefined): KeyObject {
  try {
    if (typeof value === 'object' && value !== null && (value as KeyObject).type === 'private') return value as KeyObject
    if (typeof value === 'string') return createPrivateKey(value)
    if (typeof value === 'object' && value !== null) return createPrivateKey({ key: value as never, format: 'jwk' })
  } catch {}
  throw new ConfigError('introspection.privateKey', env, 'must be a private key: PEM text, a private JWK or a KeyObject')
}

/** The JWS algorithm a client assertion is signed with, from the key (RSA: RS256; EC: by curve; Ed25519). */
function algorithmOf (key: KeyObject, env: string | undefined): NonNullable<IntrospectionSettings['algorithm']> {
  const type = key.asymmetricKeyType
  // RFC 7518 §3.3: 2048 bits at least for RSA signatures.
  if ((type === 'rsa' || type === 'rsa-pss') && (key.asymmetricKeyDetails as { modulusLength: number }).modulusLength < 2048) {
    throw new ConfigError('introspection.privateKey', env, 'must be an RSA key of at least 2048 bits')
  }
  if (type === 'rsa') return 'RS256'
  if (type === 'rsa-pss') return 'PS256'
  if (type === 'ed25519') return 'EdDSA'
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve
    if (curve === 'prime256v1') return 'ES256'
    if (curve === 'secp384r1') return 'ES384'
    if (curve === 'secp521r1') return 'ES512'
  }
  throw new ConfigError('introspection.privateKey', env, 'must be an RSA, P-256/P-384/P-521 or Ed25519 key')
}

/**
 * Reads `introspection` (absent = off unless AXIOMS_INTROSPECTION_CLIENT_ID is set) for the
 * plugin's issuers; introspection speaks for one issuer, so several (or a template) fail here.
 */
export function resolveIntrospection (value: unknown, env: Env, issuers: readonly IssuerSettings[]): IntrospectionSettings | undefined {
  if (value === false) return undefined
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw new ConfigError('introspection', undefined, `must be an object { ${KEYS.join(', ')} } or false`)
  }
  const obj = (value ?? {}) as Record<string, unknown>
  for (const key of Object.keys(obj)) {
    if (!KEYS.includes(key)) throw new ConfigError(`introspection.${key}`, undefined, `is not an option of introspection (${KEYS.join(', ')})`)
  }
  const clientId = text(pick(obj, 'clientId', env, 'AXIOMS_INTROSPECTION_CLIENT_ID', parseString, 'introspection.clientId'), 'introspection.clientId')
  if (value === undefined && clientId === undefined) return undefined
  if (clientId === undefined) throw new ConfigError('introspection.clientId', 'AXIOMS_INTROSPECTION_CLIENT_ID', 'is required: the client this API introspects tokens as')
  const issuer = issuers[0] as IssuerSettings
  if (issuers.length > 1 || issuer.templates.length > 0) {
    throw new ConfigError('introspection', undefined, 'speaks for one issuer: configure a single issuer (not issuers or an issuer template) to introspect its tokens')
  }

  const endpointSrc = pick(obj, 'endpoint', env, 'AXIOMS_INTROSPECTION_URL', parseString, 'introspection.endpoint')
  const endpoint = text(endpointSrc, 'introspection.endpoint')
  if (endpoint !== undefined) httpUrl(endpoint, 'introspection.endpoint', endpointSrc.env)

  const secretSrc = pick(obj, 'clientSecret', env, 'AXIOMS_INTROSPECTION_CLIENT_SECRET', parseString, 'introspection.clientSecret')
  const secret = text(secretSrc, 'introspection.clientSecret')
  const keySrc = pick(obj, 'privateKey', env, 'AXIOMS_INTROSPECTION_PRIVATE_KEY', parseString, 'introspection.privateKey')
  const privateKey = keySrc.value === undefined ? undefined : signingKey(keySrc.value, keySrc.env)
  const authSrc = pick(obj, 'clientAuth', env, 'AXIOMS_INTROSPECTION_CLIENT_AUTH', parseString, 'introspection.clientAuth')
  const clientAuth = (authSrc.value ?? (privateKey !== undefined ? 'private_key_jwt' : 'client_secret_basic')) as ClientAuthMethod
  if (!CLIENT_AUTH_METHODS.includes(clientAuth)) throw new ConfigError('introspection.clientAuth', authSrc.env, `must be one of ${CLIENT_AUTH_METHODS.join(', ')}`)
  if (clientAuth === 'private_key_jwt' ? privateKey === undefined : secret === undefined) {
    throw new ConfigError(clientAuth === 'private_key_jwt' ? 'introspection.privateKey' : 'introspection.clientSecret', undefined, `is required for clientAuth ${clientAuth}`)
  }
  // A credential the method does not send is a mistake about which one the server checks.
  if (clientAuth === 'private_key_jwt' && secret !== undefined) {
    throw new ConfigError('introspection.clientSecret', secretSrc.env, 'is not used with clientAuth private_key_jwt: give clientSecret or privateKey, not both')
  }
  if (clientAuth !== 'private_key_jwt' && privateKey !== undefined) {
    throw new ConfigError('introspection.privateKey', keySrc.env, `is not used with clientAuth ${clientAuth}: give clientSecret or privateKey, not both`)
  }
  const keyIdSrc = pick(obj, 'keyId', env, 'AXIOMS_INTROSPECTION_KEY_ID', parseString, 'introspection.keyId')
  const keyId = text(keyIdSrc, 'introspection.keyId')
  if (keyId !== undefined && clientAuth !== 'private_key_jwt') throw new ConfigError('introspection.keyId', keyIdSrc.env, 'is only used with clientAuth private_key_jwt')

  const tokensSrc = pick(obj, 'tokens', env, 'AXIOMS_INTROSPECTION_TOKENS', parseString, 'introspection.tokens')
  const tokens = tokensSrc.value ?? 'opaque'
  if (tokens !== 'opaque' && tokens !== 'all') throw new ConfigError('introspection.tokens', tokensSrc.env, 'must be "opaque" or "all"')

  const cacheTtl = durationOf(pick(obj, 'cacheTtl', env, 'AXIOMS_INTROSPECTION_CACHE_TTL', parseString, 'introspection.cacheTtl'), 'introspection.cacheTtl', { fallback: 30_000, min: 0, max: 3_600_000 })
  const cacheSize = integerIn(pick(obj, 'cacheSize', env, 'AXIOMS_INTROSPECTION_CACHE_SIZE', parseNumber, 'introspection.cacheSize'), 'introspection.cacheSize', 10_000, 1)

  return Object.freeze({
    endpoint,
    clientId,
    clientAuth,
    clientSecret: secret,
    privateKey,
    algorithm: clientAuth === 'private_key_jwt' ? algorithmOf(privateKey as KeyObject, keySrc.env) : undefined,
    keyId,
    tokens,
    cacheTtl,
    cacheSize,
    issuer
  })
}
