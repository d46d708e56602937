// One rule for every duration option: a plain number is seconds (the unit of the family's AXIOMS_*
// variables), a string carries its unit ('500ms', '5s', '10m', '1h', '1d'). Each option has a
// plausible range, so a value written in the wrong unit (600000 meant as ms) fails at startup.
import { ConfigError, type Source } from './read.js'

type Unit = 'ms' | 's' | 'm' | 'h' | 'd'
/** Seconds, or a string with its unit: `'500ms'`, `'5s'`, `'10m'`, `'1h'`, `'1d'`. */
export type Duration = number | `${number}${Unit}`

const UNIT_MS: Record<Unit, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const FORM = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/

/** Milliseconds of a duration value, or undefined when it is not one. */
export function parseDuration (value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined
  if (typeof value !== 'string') return undefined
  const m = FORM.exec(value.trim())
  if (m === null) return undefined
  return Number(m[1]) * UNIT_MS[(m[2] ?? 's') as Unit]
}

/** `90000` -> `'90s'`, `300` -> `'300ms'`, `7200000` -> `'2h'`: the largest unit that divides it. */
export function formatDuration (ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`
  }
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`
}

export interface DurationRange {
  /** Milliseconds when the option is not set. */
  fallback: number
  min: number
  max: number
}

/** The option's value in milliseconds, within its range; throws a ConfigError naming the unit. */
export function durationOf (src: Source<unknown>, name: string, range: DurationRange): number {
  const v = src.value
  if (v === undefined) return range.fallback
  const ms = parseDuration(v)
  const bounds = `between ${formatDuration(range.min)} and ${formatDuration(range.max)}`
  if (ms === undefined) {
    throw new ConfigError(name, src.env, `must be a duration ${bounds}: a number of seconds or a string such as '5s', '500ms', '10m', got ${JSON.stringify(v)}`)
  }
  if (ms >= range.min && ms <= range.max) return ms
  // A plain number that would be in range as milliseconds was almost certainly meant as such.
  const plain = typeof v === 'number' || /^\d+(\.\d+)?$/.test(String(v).trim())
  const got = plain ? `${String(v).trim()} seconds` : formatDuration(ms)
  const hint = plain && ms / 1000 >= range.min && ms / 1000 <= range.max ? `; for milliseconds write '${String(v).trim()}ms'` : ''
  throw new ConfigError(name, src.env, `must be ${bounds}, got ${got}${hint}`)
}
