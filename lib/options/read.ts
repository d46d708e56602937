// Reading one option: the explicit value, else its AXIOMS_* variable, and the checks every option
// shares. Every failure is a ConfigError naming the option and its variable, thrown at register().

const kBrand = Symbol.for('axioms-fastify.ConfigError')

/** A configuration mistake, found at startup. `code` is `AXIOMS_INVALID_OPTION` in both builds. */
export class ConfigError extends Error {
  readonly code = 'AXIOMS_INVALID_OPTION'
  constructor (option: string, env: string | undefined, problem: string) {
    super(`axioms-fastify: option "${option}"${env === undefined ? '' : ` (env ${env})`} ${problem}`)
    this.name = 'ConfigError'
  }

  /** True for a ConfigError of either build (ESM or CommonJS), as for AxiomsError. */
  static override [Symbol.hasInstance] (value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kBrand] === true
  }
}

Object.defineProperty(ConfigError.prototype, kBrand, { value: true })

export type Env = Record<string, string | undefined>

/** A value and where it came from: `env` names the variable when it was read from there. */
export interface Source<T> { value: T, env: string | undefined }

/**
 * The explicit option if given (even a falsy one), else its variable parsed by `parse`. `name` is
 * how errors call it (`dpop.mode` for the `mode` member of `dpop`).
 */
export function pick<T> (options: object, key: string, env: Env, envName: string, parse: (raw: string) => T, name = key): Source<T | undefined> {
  const value = (options as Record<string, unknown>)[key]
  if (value !== undefined) return { value: value as T, env: undefined }
  const raw = env[envName]
  if (raw === undefined || raw.trim() === '') return { value: undefined, env: envName }
  try {
    return { value: parse(raw.trim()), env: envName }
  } catch (err) {
    throw new ConfigError(name, envName, `could not be read: ${(err as Error).message}`)
  }
}

/** An option without an environment twin. */
export function given<T> (value: T): Source<T> {
  return { value, env: undefined }
}

// Env lists: a JSON array, or comma-separated values.
export function parseList (raw: string): unknown {
  if (raw.startsWith('[')) return JSON.parse(raw)
  return raw.split(',').map(s => s.trim()).filter(s => s !== '')
}

export function parseNumber (raw: string): number {
  const n = Number(raw)
  if (!Number.isFinite(n)) throw new Error(`"${raw}" is not a number`)
  return n
}

export function parseBoolean (raw: string): boolean {
  const v = raw.toLowerCase()
  if (v === 'true' || v === '1' || v === 'yes') return true
  if (v === 'false' || v === '0' || v === 'no') return false
  throw new Error(`"${raw}" is not a boolean (true or false)`)
}

export function parseString (raw: string): string {
  return raw
}

export function stringList (src: Source<unknown>, name: string, what = 'must be a non-empty string or a list of them'): string[] | undefined {
  const v = src.value
  if (v === undefined) return undefined
  const list = typeof v === 'string' ? [v] : v
  if (!Array.isArray(list) || list.length === 0 || list.some(s => typeof s !== 'string' || s.trim() === '')) {
    throw new ConfigError(name, src.env, what)
  }
  return list as string[]
}

export function httpUrl (value: string, name: string, env: string | undefined): string {
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

/** Counts and sizes; durations have their own rule (duration.ts). */
export function integerIn (src: Source<unknown>, name: string, fallback: number, min: number): number {
  const v = src.value
  if (v === undefined) return fallback
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new ConfigError(name, src.env, `must be an integer >= ${min}`)
  }
  return v
}

export function booleanOf (src: Source<unknown>, name: string, fallback: boolean): boolean {
  const v = src.value
  if (v === undefined) return fallback
  if (typeof v !== 'boolean') throw new ConfigError(name, src.env, 'must be true or false')
  return v
}

export function oneOf<T extends string> (src: Source<unknown>, name: string, allowed: readonly T[], fallback: T): T {
  const v = src.value
  if (v === undefined) return fallback
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(name, src.env, `must be ${allowed.map(a => `"${a}"`).join(' or ')}`)
  }
  return v as T
}

export function safeMethodSet (value: unknown, name: string, env?: string): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.some(m => typeof m !== 'string' || !/^[A-Za-z-]+$/.test(m))) {
    throw new ConfigError(name, env, 'must be a list of HTTP method names, e.g. ["OPTIONS"]')
  }
  return new Set(value.map(m => (m as string).toUpperCase()))
}
