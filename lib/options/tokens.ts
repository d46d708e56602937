// What a token must look like: algorithms, `typ`, the RFC 9068 profile, clock tolerance.
import { ConfigError, type Env, parseList, parseString, pick, stringList } from './read.js'
import { type Duration, durationOf } from './duration.js'

export const ALGORITHMS = Object.freeze([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'
] as const)
export type Algorithm = typeof ALGORITHMS[number]

const DEFAULT_TOKEN_TYPES = Object.freeze(['JWT', 'jwt', 'at+jwt', 'application/jwt', 'application/at+jwt'])
const RFC9068_TOKEN_TYPES = Object.freeze(['at+jwt', 'application/at+jwt'])

export interface TokenInput {
  algorithms?: Algorithm[]
  tokenTypes?: string[]
  profile?: 'rfc9068'
  clockTolerance?: Duration
}

export interface TokenSettings {
  readonly algorithms: ReadonlySet<string>
  readonly tokenTypes: ReadonlySet<string>
  /** profile 'rfc9068': `typ` required, and `iss exp aud sub client_id iat jti` too. */
  readonly rfc9068: boolean
  /** Seconds of leeway for `exp`, `nbf` and `iat`. */
  readonly clockTolerance: number
}

/** Asymmetric algorithms only: `none` and `HS*` can never be enabled. */
export function algorithmList (value: unknown, name: string, env: string | undefined): Algorithm[] | undefined {
  const list = stringList({ value, env }, name, 'must be a non-empty list of algorithms')
  for (const alg of list ?? []) {
    if (alg.toLowerCase() === 'none' || /^HS/i.test(alg)) {
      throw new ConfigError(name, env, `must not contain "${alg}": only asymmetric algorithms are accepted (${ALGORITHMS.join(', ')})`)
    }
    if (!(ALGORITHMS as readonly string[]).includes(alg)) {
      throw new ConfigError(name, env, `contains the unsupported algorithm "${alg}" (supported: ${ALGORITHMS.join(', ')})`)
    }
  }
  return list as Algorithm[] | undefined
}

export function resolveTokens (input: TokenInput, env: Env): TokenSettings {
  const algSrc = pick(input, 'algorithms', env, 'AXIOMS_ALGORITHMS', parseList)
  const algorithms = algorithmList(algSrc.value, 'algorithms', algSrc.env) ?? [...ALGORITHMS]

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

  const clockTolerance = durationOf(pick(input, 'clockTolerance', env, 'AXIOMS_CLOCK_TOLERANCE', parseString), 'clockTolerance',
    { fallback: 0, min: 0, max: 600_000 }) / 1000

  return { algorithms: new Set(algorithms), tokenTypes: new Set(tokenTypes), rfc9068, clockTolerance }
}
