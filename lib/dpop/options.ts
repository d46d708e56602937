// The `dpop` option and its AXIOMS_DPOP_* twins -> frozen DpopSettings. Like lib/options.ts,
// every check throws a ConfigError at register() time naming the option and its variable.
import { ALGORITHMS, type Algorithm, ConfigError } from '../options/index.js'
import type { DpopMode } from './errors.js'
import type { DpopReplayStore } from './replay.js'

export type { DpopMode }

/** A duration: a number of seconds, or a string `<n>ms`, `<n>s`, `<n>m`, `<n>h`, `<n>d`. */
export type Duration = number | string

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

type Env = Record<string, string | undefined>

const UNITS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/

/**
 * Seconds of a duration: a finite number >= 0 is seconds, a string `<n>(ms|s|m|h|d)`. Throws a
 * plain Error (the caller names the option). To be replaced by the shared parser.
 */
export function parseDuration (value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`${value} is not a number of seconds >= 0`)
    return value
  }
  if (typeof value === 'string') {
    const m = DURATION.exec(value)
    if (m !== null) return Number(m[1]) * (UNITS[m[2] as string] as number)
  }
  throw new Error(`${JSON.stringify(value)} is not a duration (seconds, or a string such as "30s", "5m", "500ms")`)
}

interface Source { value: unknown, env: string | undefined }

// Explicit option first, then the variable; blank variables count as unset.
function pick (obj: Record<string, unknown>, key: string, env: Env, envName: string): Source {
  if (obj[key] !== undefined) return { value: obj[key], env: undefined }
  const raw = env[envName]
  if (raw === undefined || raw.trim() === '') return { value: undefined, env: envName }
  return { value: raw.trim(), env: envName }
}

function durationIn (src: Source, name: string, fallback: number, min: number, max: number): number {
  if (src.value === undefined) return fallback
  let seconds: number
  try {
    // In the environment a bare number is seconds, like every other AXIOMS_* duration.
    const v = src.env !== undefined && /^\d+(?:\.\d+)?$/.test(src.value as string) ? Number(src.value) : src.value
    seconds = parseDuration(v)
  } catch (err) {
    throw new ConfigError(name, src.env, `must be a duration: ${(err as Error).message}`)
  }
  if (seconds < min || seconds > max) throw new ConfigError(name, src.env, `must be between ${min} and ${max} seconds, got ${seconds}`)
  return seconds
}

function booleanOf (src: Source, name: string): boolean | undefined {
  const v = src.value
  if (v === undefined || typeof v === 'boolean') return v
  if (src.env !== undefined) {
    const s = (v as string).toLowerCase()
    if (s === 'true' || s === '1' || s === 'yes') return true
    if (s === 'false' || s === '0' || s === 'no') return false
  }
  throw new ConfigError(name, src.env, 'must be true or false')
}

function listOf (src: Source, name: string): unknown[] | undefined {
  const v = src.value
  if (v === undefined) return undefined
  if (src.env === undefined) {
    if (!Array.isArray(v)) throw new ConfigError(name, undefined, 'must be a list')
    return v
  }
  const raw = v as string
  if (raw.startsWith('[')) {
    // Valid JSON that starts with "[" is an array.
    try {
      return JSON.parse(raw) as unknown[]
    } catch {
      throw new ConfigError(name, src.env, 'is not a valid JSON array')
    }
  }
  return raw.split(',').map(s => s.trim()).filter(s => s !== '')
}

function integerIn (src: Source, name: string, fallback: number, min: number, max: number): number {
  let v = src.value
  if (v === undefined) return fallback
  if (src.env !== undefined) v = /^\d+$/.test(v as string) ? Number(v) : NaN
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(name, src.env, `must be an integer between ${min} and ${max}`)
  }
  return v
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
  const src = pick({ nonce: value }, 'nonce', env, 'AXIOMS_DPOP_NONCE')
  let obj: Record<string, unknown>
  if (src.value !== undefined && typeof src.value === 'object' && src.value !== null && !Array.isArray(src.value)) {
    obj = src.value as Record<string, unknown>
    unknownMembers(obj, NONCE_KEYS, 'dpop.nonce', 'secret, lifetime')
  } else {
    obj = {}
    const on = booleanOf(src, 'dpop.nonce')
    if (on !== true) {
      // A secret or lifetime while nonces stay off is a configuration mistake, not a default.
      for (const [key, envName] of [['secret', 'AXIOMS_DPOP_NONCE_SECRET'], ['lifetime', 'AXIOMS_DPOP_NONCE_LIFETIME']] as const) {
        if (pick({}, key, env, envName).value !== undefined) {
          throw new ConfigError('dpop.nonce', src.env ?? 'AXIOMS_DPOP_NONCE', `is off, but ${envName} is set: set AXIOMS_DPOP_NONCE=true or drop ${envName}`)
        }
      }
      return undefined
    }
  }
  const lifetime = durationIn(pick(obj, 'lifetime', env, 'AXIOMS_DPOP_NONCE_LIFETIME'), 'dpop.nonce.lifetime', 300, 10, 3600)
  const secretSrc = pick(obj, 'secret', env, 'AXIOMS_DPOP_NONCE_SECRET')
  if (secretSrc.value === undefined) return Object.freeze({ secrets: Object.freeze([randomSecret()]), lifetime, ephemeral: true })
  const raw = secretSrc.env === undefined
    ? (Array.isArray(secretSrc.value) ? secretSrc.value : [secretSrc.value])
    : listOf(secretSrc, 'dpop.nonce.secret') as unknown[]
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
export function resolveDpopSettings (value: unknown, env: Env, randomSecret: () => Buffer): DpopSettings {
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

  const modeSrc = pick(obj, 'mode', env, 'AXIOMS_DPOP_MODE')
  const mode = (modeSrc.value ?? 'allowed') as DpopMode
  if (!MODES.includes(mode)) throw new ConfigError('dpop.mode', modeSrc.env, `must be one of ${MODES.join(', ')}`)

  const iatOffset = durationIn(pick(obj, 'iatOffset', env, 'AXIOMS_DPOP_IAT_OFFSET'), 'dpop.iatOffset', 300, 0, 3600)
  const iatLeeway = durationIn(pick(obj, 'iatLeeway', env, 'AXIOMS_DPOP_IAT_LEEWAY'), 'dpop.iatLeeway', 30, 0, 600)

  const algSrc = pick(obj, 'algorithms', env, 'AXIOMS_DPOP_ALGORITHMS')
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
  const sizeSrc = pick(obj, 'replayCacheSize', env, 'AXIOMS_DPOP_REPLAY_CACHE_SIZE')
  const replayCacheSize = integerIn(sizeSrc, 'dpop.replayCacheSize', DEFAULT_REPLAY_CACHE_SIZE, 1, 100_000_000)
  if (store !== undefined && sizeSrc.value !== undefined) {
    throw new ConfigError('dpop.replayCacheSize', sizeSrc.env, 'sizes the built-in store: it cannot be combined with replayStore')
  }
  const replayTimeout = durationIn(pick(obj, 'replayTimeout', env, 'AXIOMS_DPOP_REPLAY_TIMEOUT'), 'dpop.replayTimeout', 0.5, 0.001, 30) * 1000

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

/**
 * A route's `config.axioms.dpop`: `true` requires DPoP on that route whatever the global mode
 * (except `disabled`, which fails startup); absent or `false` follows the global mode.
 */
export function routeRequiresDpop (value: unknown, settings: DpopSettings, where: string): boolean {
  if (value === undefined || value === false) return false
  if (value !== true) throw new ConfigError(`${where}.dpop`, undefined, 'must be true or false')
  if (settings.mode === 'disabled') throw new ConfigError(`${where}.dpop`, 'AXIOMS_DPOP_MODE', 'requires DPoP, but dpop.mode is "disabled"')
  return true
}
