// Who checks signatures: the plugin's own engine, or the app's @fastify/jwt (keys from get-jwks).
// In 'fastify-jwt' mode the plugin keeps no key sets, so the options about them do not apply.
import { ConfigError, type Env, oneOf, parseString, pick, type Source } from './read.js'

export const VERIFIERS = Object.freeze(['builtin', 'fastify-jwt'] as const)
export type VerifierName = typeof VERIFIERS[number]

export interface VerifierInput {
  /**
   * `'builtin'` (default): the plugin fetches keys and checks signatures itself. `'fastify-jwt'`:
   * the app's own @fastify/jwt (`request.jwtVerify()`, keys from get-jwks) checks the signature,
   * and the plugin applies its header, issuer and claim rules before and after it.
   */
  verifier?: VerifierName
}

export interface VerifierSettings {
  readonly verifier: VerifierName
  /** Where `verifier` came from: its env variable's name when read from there. */
  readonly verifierEnv: string | undefined
  /** Options given that the chosen verifier does not use (logged at startup). */
  readonly ignoredOptions: readonly string[]
}

// Key-set options, with their variables: get-jwks keeps the keys in 'fastify-jwt' mode, and makes
// its requests with its own fetch, so `proxy` does not reach them either (get-jwks #336).
// jwksTimeout is not here: there it bounds request.jwtVerify() (get-jwks ignores its own timeout).
const KEY_SET_OPTIONS: ReadonlyArray<readonly [string, string]> = [
  ['jwksUri', 'AXIOMS_JWKS_URL'],
  ['jwksRefreshInterval', 'AXIOMS_JWKS_REFRESH_INTERVAL'],
  ['jwksCacheTtl', 'AXIOMS_JWKS_CACHE_TTL'],
  ['jwksPrefetch', 'AXIOMS_JWKS_PREFETCH'],
  ['jwksCooldown', 'AXIOMS_JWKS_COOLDOWN'],
  ['jwksMaxBytes', 'AXIOMS_JWKS_MAX_BYTES'],
  ['verifyBatch', 'AXIOMS_VERIFY_BATCH'],
  ['proxy', 'AXIOMS_PROXY']
]

function given (input: Record<string, unknown>, env: Env, key: string, envName: string): boolean {
  return input[key] !== undefined || (env[envName] ?? '').trim() !== ''
}

export function resolveVerifier (input: VerifierInput & Record<string, unknown>, env: Env, tokenCache: Source<unknown>): VerifierSettings {
  const src = pick(input, 'verifier', env, 'AXIOMS_VERIFIER', parseString)
  const verifier = oneOf(src, 'verifier', VERIFIERS, 'builtin')
  const ignoredOptions: string[] = []
  if (verifier === 'fastify-jwt') {
    // A cache of verified claims would outlive what the app's @fastify/jwt decides per request
    // (its `trusted` revocation check, its own cache): refuse rather than ignore.
    if (typeof tokenCache.value === 'number' && tokenCache.value > 0) {
      throw new ConfigError('tokenCache', tokenCache.env, 'does not apply with verifier "fastify-jwt" (verified claims would outlive the checks of your @fastify/jwt, such as trusted()): remove it, or use verifier "builtin"')
    }
    for (const [key, envName] of KEY_SET_OPTIONS) if (given(input, env, key, envName)) ignoredOptions.push(key)
    if (Array.isArray(input.issuers) && input.issuers.some(i => typeof i === 'object' && i !== null && (i as { jwksUri?: unknown }).jwksUri !== undefined)) {
      ignoredOptions.push('issuers[].jwksUri')
    }
  }
  return { verifier, verifierEnv: src.env === undefined || src.value === undefined ? undefined : src.env, ignoredOptions: Object.freeze(ignoredOptions) }
}
