// The `dpop` option and its AXIOMS_DPOP_* twins -> frozen DpopSettings. Like lib/options.ts,
// every check throws a ConfigError at register() time naming the option and its variable.
import { randomBytes } from 'node:crypto'
import { type Duration, durationOf } from '../options/duration.js'
import { booleanOf, ConfigError, type Env, integerIn, parseBoolean, parseList, parseNumber, parseString, pick, type Source } from '../options/read.js'
import { ALGORITHMS, type Algorithm } from '../options/tokens.js'
import type { DpopMode } from './errors.js'
import type { DpopReplayStore } from './replay.js'

export type { DpopMode }

export interface DpopNonceOptions {
  /**
   * Keys of the nonce HMAC, at least 32 bytes each. The first issues nonces, all are accepted
   * (rotation). Give every instance the same secrets so that a nonce from one works on another.
   * Without it, each process draws a random secret: fine for one instance only.
   */
  secret?: string | Buffer | Array<string | Buffer>
  /** How long one nonce is issued for; it stays accepted for one more such period. Default 5 min. */
  lifetime?: Duration
}

export interface DpopOptions {
  /** `allowed` (default): DPoP and plain Bearer; `required`: DPoP only; `disabled`: Bearer only. */
  mode?: DpopMode
  /** Oldest proof accepted: `iat` at most this long ago. Default 300 s. */
  iatOffset?: Duration
  /** Clock skew allowed for a proof issued in the future. Default 30 s. */
  iatLeeway?: Duration
  /** Proof algorithms accepted (asymmetric only). Default: the ten the plugin supports. */
  algorithms?: Algorithm[]
  /** Server-provided nonces (RFC 9449 §9): `true` for the defaults, or their settings. */
  nonce?: boolean | DpopNonceOptions
  /** Where proof identifiers are remembered; default a bounded in-memory store (one instance). */
  replayStore?: DpopReplayStore
  /** Entries of the default in-memory store. Default 250,000. */
  replayCacheSize?: number
  /** Longest wait for the replay store before the request is answered 503. Default 500 ms. */
  replayTimeout?: Duration
}

export interface DpopNonceSettings {
  readonly secrets: readonly Buffer[]
  /** Seconds. */
  readonly lifetime: number
  /** True when no secret was given: a per-process random one (single instance only). */
  readonly ephemeral: boolean
}

export interface DpopSettings {
  readonly mode: DpopMode
  /** Seconds. */
  readonly iatOffset: number
  /** Seconds. */
  readonly iatLeeway: number
  readonly algorithms: readonly Algorithm[]
  readonly nonce: DpopNonceSettings | undefined
  readonly replayStore: DpopReplayStore | undefined
  readonly replayCacheSize: number
  /** Milliseconds. */
  readonly replayTimeout: number
}

// Durations follow the plugin's one rule (lib/options/duration.ts): numbers are seconds.
function seconds (src: Source<unknown>, name: string, fallback: number, min: number, max: number): number {
  return durationOf(src, name, { fallback: fallback * 1000, min: min * 1000, max: max * 1000 }) / 1000
}

function listOf (src: Source<unknown>, name: string): unknown[] | undefined {
  if (src.value !== undefined && !Array.isArray(src.value)) throw new ConfigError(name, src.env, 'must be a list')
  return src.value as unknown[] | undefined
}

function unknownMembers (obj: Record<string, unknown>, allowed: readonly string[], name: string, shape: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new ConfigError(`${name}.${key}`, undefined, `is not an option of ${name} (${shape})`)
  }
}

const MODES: readonly DpopMode[] = ['allowed', 'required', 'disabled']
const DPOP_KEYS = ['mode', 'iatOffset', 'iatLeeway', 'algorithms', 'nonce', 'replayStore', 'replayCacheSize', 'replayTimeout']
const NONCE_KEYS = ['secret', 'lifetime']
/** Shortest HMAC key accepted for nonces (HMAC-SHA-256's block-level strength). */
export const MIN_NONCE_SECRET_BYTES = 32
export const DEFAULT_REPLAY_CACHE_SIZE = 250_000

function nonceSettings (value: unknown, env: Env, randomSecret: () => Buffer): DpopNonceSettings | undefined {
  const src = pick({ nonce: value }, 'nonce', env, 'AXIOMS_DPOP_NONCE', parseBoolean, 'dpop.nonce')
  let obj: Record<string, unknown>
  if (src.value !== undefined && typeof src.value === 'object' && src.value !== null && !Array.isArray(src.value)) {
    obj = src.value as Record<string, unknown>
    unknownMembers(obj, NONCE_KEYS, 'dpop.nonce', 'secret, lifetime')
  } else {
    obj = {}
    const on = booleanOf({ value: src.value, env: src.env }, 'dpop.nonce', false)
    if (!on) {
      // A secret or lifetime while nonces stay off is a configuration mistake, not a default.
      for (const [key, envName] of [['secret', 'AXIOMS_DPOP_NONCE_SECRET'], ['lifetime', 'AXIOMS_DPOP_NONCE_LIFETIME']] as const) {
        if (pick({}, key, env, envName, parseString).value !== undefined) {
          throw new ConfigError('dpop.nonce', src.env ?? 'AXIOMS_DPOP_NONCE', `is off, but ${envName} is set: set AXIOMS_DPOP_NONCE=true or drop ${envName}`)
        }
      }
      return undefined
    }
  }
  const lifetime = seconds(pick(obj, 'lifetime', env, 'AXIOMS_DPOP_NONCE_LIFETIME', parseString, 'dpop.nonce.lifetime'), 'dpop.nonce.lifetime', 300, 10, 3600)
  const secretSrc = pick(obj, 'secret', env, 'AXIOMS_DPOP_NONCE_SECRET', parseList, 'dpop.nonce.secret')
  if (secretSrc.value === undefined) return Object.freeze({ secrets: Object.freeze([randomSecret()]), lifetime, ephemeral: true })
  const raw = Array.isArray(secretSrc.value) ? secretSrc.value : [secretSrc.value]
  if (raw.length === 0) throw new ConfigError('dpop.nonce.secret', secretSrc.env, 'must name at least one secret')
  const secrets = raw.map(s => {
    if (typeof s !== 'string' && !Buffer.isBuffer(s)) throw new ConfigError('dpop.nonce.secret', secretSrc.env, 'must be a string, a Buffer or a list of them')
    // A copy: the caller's Buffer stays theirs (and unchanged).
    const b = Buffer.from(s)
    if (b.length < MIN_NONCE_SECRET_BYTES) throw new ConfigError('dpop.nonce.secret', secretSrc.env, `must be at least ${MIN_NONCE_SECRET_BYTES} bytes long`)
    return b
  })
  return Object.freeze({ secrets: Object.freeze(secrets), lifetime, ephemeral: false })
}

function isReplayStore (v: unknown): v is DpopReplayStore {
  return typeof v === 'object' && v !== null && typeof (v as DpopReplayStore).claim === 'function'
}

/**
 * Reads the `dpop` option (`true`/`false`, an object, or absent) and the AXIOMS_DPOP_* variables
 * into frozen settings, or throws ConfigError. Absent means mode `allowed` with the defaults.
 * `randomSecret` draws the per-process nonce secret when none is configured.
 */
export function resolveDpopSettings (value: unknown, env: Env, randomSecret: () => Buffer = () => randomBytes(32)): DpopSettings {
  let obj: Record<string, unknown>
  if (value === undefined || value === true) {
    obj = {}
  } else if (value === false) {
    obj = { mode: 'disabled' }
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    obj = value as Record<string, unknown>
    unknownMembers(obj, DPOP_KEYS, 'dpop', DPOP_KEYS.join(', '))
  } else {
    throw new ConfigError('dpop', undefined, 'must be true, false or { mode, iatOffset, iatLeeway, algorithms, nonce, replayStore, replayCacheSize, replayTimeout }')
  }

  const modeSrc = pick(obj, 'mode', env, 'AXIOMS_DPOP_MODE', parseString, 'dpop.mode')
  const mode = (modeSrc.value ?? 'allowed') as DpopMode
  if (!MODES.includes(mode)) throw new ConfigError('dpop.mode', modeSrc.env, `must be one of ${MODES.join(', ')}`)

  const iatOffset = seconds(pick(obj, 'iatOffset', env, 'AXIOMS_DPOP_IAT_OFFSET', parseString, 'dpop.iatOffset'), 'dpop.iatOffset', 300, 0, 3600)
  const iatLeeway = seconds(pick(obj, 'iatLeeway', env, 'AXIOMS_DPOP_IAT_LEEWAY', parseString, 'dpop.iatLeeway'), 'dpop.iatLeeway', 30, 0, 600)

  const algSrc = pick(obj, 'algorithms', env, 'AXIOMS_DPOP_ALGORITHMS', parseList, 'dpop.algorithms')
  const algList = listOf(algSrc, 'dpop.algorithms') ?? [...ALGORITHMS]
  if (algList.length === 0) throw new ConfigError('dpop.algorithms', algSrc.env, 'must be a non-empty list of algorithms')
  for (const alg of algList) {
    // RFC 9449 §4.3: asymmetric only; none and HS* can never be named.
    if (typeof alg !== 'string' || !(ALGORITHMS as readonly string[]).includes(alg)) {
      throw new ConfigError('dpop.algorithms', algSrc.env, `contains ${JSON.stringify(alg)}: only asymmetric algorithms are accepted (${ALGORITHMS.join(', ')})`)
    }
  }

  const nonce = nonceSettings(obj.nonce, env, randomSecret)

  const store = obj.replayStore
  if (store !== undefined && !isReplayStore(store)) throw new ConfigError('dpop.replayStore', undefined, 'must be an object with a claim(key, expiresAt) method')
  const sizeSrc = pick(obj, 'replayCacheSize', env, 'AXIOMS_DPOP_REPLAY_CACHE_SIZE', parseNumber, 'dpop.replayCacheSize')
  const replayCacheSize = integerIn(sizeSrc, 'dpop.replayCacheSize', DEFAULT_REPLAY_CACHE_SIZE, 1)
  if (replayCacheSize > 100_000_000) throw new ConfigError('dpop.replayCacheSize', sizeSrc.env, 'must be at most 100000000')
  if (store !== undefined && sizeSrc.value !== undefined) {
    throw new ConfigError('dpop.replayCacheSize', sizeSrc.env, 'sizes the built-in store: it cannot be combined with replayStore')
  }
  const replayTimeout = seconds(pick(obj, 'replayTimeout', env, 'AXIOMS_DPOP_REPLAY_TIMEOUT', parseString, 'dpop.replayTimeout'), 'dpop.replayTimeout', 0.5, 0.001, 30) * 1000

  return Object.freeze({
    mode,
    iatOffset,
    iatLeeway,
    algorithms: Object.freeze([...new Set(algList as Algorithm[])]),
    nonce,
    replayStore: store,
    replayCacheSize,
    replayTimeout
  })
}
