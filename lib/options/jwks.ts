// How key sets are fetched and kept. Every duration follows one rule (duration.ts): plain numbers
// are seconds, strings carry their unit; the ranges refuse values written in milliseconds.
import { ConfigError, type Env, booleanOf, integerIn, parseBoolean, parseNumber, parseString, pick } from './read.js'
import { type Duration, durationOf, formatDuration } from './duration.js'
import type { ProxySettings } from './proxy.js'

export interface JwksInput {
  /** Background refresh of each JWKS. Default 600 s (`'10m'`). */
  jwksRefreshInterval?: Duration
  /** Longest a key set is trusted without a successful fetch. Default 3600 s, at least twice the interval. */
  jwksCacheTtl?: Duration
  jwksPrefetch?: boolean
  /** Least time between refetches caused by an unknown `kid`. Default 30 s. */
  jwksCooldown?: Duration
  /** Deadline of each discovery or JWKS request, body included. Default 5 s. */
  jwksTimeout?: Duration
  /** Largest discovery or JWKS response accepted, in bytes. */
  jwksMaxBytes?: number
}

/** Durations in milliseconds. */
export interface JwksSettings {
  readonly refreshInterval: number
  readonly cacheTtl: number
  readonly prefetch: boolean
  readonly cooldown: number
  readonly timeout: number
  readonly maxBytes: number
  /** The egress proxy of discovery and JWKS requests (the `proxy` option); undefined: none. */
  readonly proxy: ProxySettings | undefined
}

const DAY = 86_400_000

export function resolveJwks (input: JwksInput, env: Env, proxy: ProxySettings | undefined): JwksSettings {
  const refreshInterval = durationOf(pick(input, 'jwksRefreshInterval', env, 'AXIOMS_JWKS_REFRESH_INTERVAL', parseString), 'jwksRefreshInterval',
    { fallback: 600_000, min: 1000, max: DAY })
  const ttlSrc = pick(input, 'jwksCacheTtl', env, 'AXIOMS_JWKS_CACHE_TTL', parseString)
  const cacheTtl = durationOf(ttlSrc, 'jwksCacheTtl', { fallback: Math.max(3_600_000, 2 * refreshInterval), min: 2000, max: 2 * DAY })
  if (cacheTtl < 2 * refreshInterval) {
    throw new ConfigError('jwksCacheTtl', ttlSrc.env, `must be at least twice jwksRefreshInterval (${formatDuration(2 * refreshInterval)}), got ${formatDuration(cacheTtl)}`)
  }
  return Object.freeze({
    refreshInterval,
    cacheTtl,
    prefetch: booleanOf(pick(input, 'jwksPrefetch', env, 'AXIOMS_JWKS_PREFETCH', parseBoolean), 'jwksPrefetch', true),
    cooldown: durationOf(pick(input, 'jwksCooldown', env, 'AXIOMS_JWKS_COOLDOWN', parseString), 'jwksCooldown', { fallback: 30_000, min: 0, max: 3_600_000 }),
    timeout: durationOf(pick(input, 'jwksTimeout', env, 'AXIOMS_JWKS_TIMEOUT', parseString), 'jwksTimeout', { fallback: 5000, min: 10, max: 60_000 }),
    maxBytes: integerIn(pick(input, 'jwksMaxBytes', env, 'AXIOMS_JWKS_MAX_BYTES', parseNumber), 'jwksMaxBytes', 1024 * 1024, 1024),
    proxy
  })
}
