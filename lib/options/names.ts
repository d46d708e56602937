// Which keys of the register() options are axioms-fastify's. Fastify reads its own (`prefix`,
// `logLevel`, `logSerializers`) from the same object, and @fastify/autoload or fastify-cli pass the
// app's options down to every plugin: those are not ours and must not fail registration. A key
// that looks like one of ours (a typo, another casing, the family's env-style name) still fails,
// since it would otherwise fall back to a default without a word.
import { ConfigError } from './read.js'

/** Options Fastify itself reads from a plugin's register() options. */
export const FASTIFY_REGISTER_OPTIONS: ReadonlySet<string> = new Set(['prefix', 'logLevel', 'logSerializers'])

// Namespaces of ours: an unknown key in one of them is a mistake, however far from a real name.
const OUR_PREFIXES = ['axioms', 'jwks', 'dpop', 'mtls', 'introspection']

function normalise (name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '')
}

// Levenshtein distance, stopping early past `max`: names are short.
function distance (a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    let best = i
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1))
      row.push(v)
      best = Math.min(best, v)
    }
    if (best > max) return max + 1
    prev = row
  }
  return prev[b.length] as number
}

/** The option a foreign key is probably a misspelling of, if it looks like one. */
export function lookalike (key: string, names: Iterable<string>): string | undefined {
  const k = normalise(key.replace(/^AXIOMS_/i, ''))
  for (const name of names) {
    const n = normalise(name)
    const max = n.length < 6 ? 1 : 2
    if (distance(k, n, max) <= max) return name
    if (k.length >= 5 && (n.startsWith(k) || k.startsWith(n)) && Math.min(k.length, n.length) >= 5) return name
  }
  return undefined
}

/**
 * Checks the keys of the options object: throws for a key that looks like one of `names` but is
 * not; returns the keys that belong to someone else (Fastify, autoload, the app), which are ignored.
 */
export function foreignKeys (input: object, names: ReadonlySet<string>): string[] {
  const foreign: string[] = []
  for (const key of Object.keys(input)) {
    if (names.has(key)) continue
    if (FASTIFY_REGISTER_OPTIONS.has(key)) continue
    const near = lookalike(key, names)
    if (near !== undefined) throw new ConfigError(key, undefined, `is not an option of axioms-fastify: did you mean "${near}"?`)
    if (OUR_PREFIXES.some(p => normalise(key).startsWith(p))) {
      throw new ConfigError(key, undefined, `is not an option of axioms-fastify (options: ${[...names].join(', ')})`)
    }
    foreign.push(key)
  }
  return foreign
}
