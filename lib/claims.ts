// Claim lookup and requirement matching (the README: Requirements, Claims). Pure: no Fastify import. Matching is on
// Sets of exact strings: no substring, prefix, wildcard, case folding or Unicode normalisation.

/** A claim name (exact key) or a path of keys into nested objects. */
export type ClaimName = string | readonly string[]

/** `string[]` or `{ any }`: at least one present. `{ all }`: every one present. */
export type Requirement = readonly string[] | { readonly any: readonly string[] } | { readonly all: readonly string[] }

export interface CompiledRequirement {
  mode: 'any' | 'all'
  values: ReadonlySet<string>
  /** In declaration order, for the `scope="..."` challenge and OpenAPI. */
  list: readonly string[]
}

export type ClaimKind = 'scopes' | 'roles' | 'permissions'

export const CLAIM_KINDS: readonly ClaimKind[] = Object.freeze(['scopes', 'roles', 'permissions'])

const hasOwn = Object.prototype.hasOwnProperty

function lookup (claims: unknown, name: ClaimName): unknown {
  if (typeof name === 'string') {
    return typeof claims === 'object' && claims !== null && hasOwn.call(claims, name)
      ? (claims as Record<string, unknown>)[name]
      : undefined
  }
  let node: unknown = claims
  for (const key of name) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !hasOwn.call(node, key)) return undefined
    node = (node as Record<string, unknown>)[key]
  }
  return node
}

const EMPTY: ReadonlySet<string> = new Set()

/**
 * The values of the first claim (in `names` order) that is present and not null. A string is
 * split on spaces, an array gives its string elements, anything else gives nothing.
 */
export function claimValues (claims: unknown, names: readonly ClaimName[]): ReadonlySet<string> {
  for (const name of names) {
    const value = lookup(claims, name)
    if (value === undefined || value === null) continue
    if (typeof value === 'string') {
      const out = new Set<string>()
      for (const part of value.split(' ')) if (part !== '') out.add(part)
      return out
    }
    if (Array.isArray(value)) {
      const out = new Set<string>()
      for (const item of value) if (typeof item === 'string') out.add(item)
      return out
    }
    return EMPTY
  }
  return EMPTY
}

// RFC 6749 §3.3 scope-token: the only characters a scope may carry into the `scope="..."` challenge.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

/**
 * Throws a TypeError that names the problem; callers turn it into a startup error. Scopes must be
 * RFC 6749 scope-tokens (printable ASCII, no `"` or `\`), as they are echoed in challenges.
 */
export function compileRequirement (req: unknown, what: string, scopes = false): CompiledRequirement {
  let mode: 'any' | 'all'
  let list: unknown
  if (Array.isArray(req)) {
    mode = 'any'
    list = req
  } else if (typeof req === 'object' && req !== null) {
    const keys = Object.keys(req)
    if (keys.length !== 1 || (keys[0] !== 'any' && keys[0] !== 'all')) {
      throw new TypeError(`${what} must be a string[], { any: string[] } or { all: string[] }`)
    }
    mode = keys[0]
    list = (req as Record<string, unknown>)[mode]
  } else {
    throw new TypeError(`${what} must be a string[], { any: string[] } or { all: string[] }`)
  }
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError(`${what} must list at least one value (an empty requirement would allow everyone)`)
  }
  for (const item of list) {
    if (typeof item !== 'string' || item === '' || item.includes(' ')) {
      throw new TypeError(`${what} values must be non-empty strings without spaces`)
    }
    if (scopes && !SCOPE_TOKEN.test(item)) {
      throw new TypeError(`${what} values must be RFC 6749 scope tokens (printable ASCII without " or \\), got ${JSON.stringify(item)}`)
    }
  }
  const values = new Set<string>(list as string[])
  return Object.freeze({ mode, values, list: Object.freeze([...values]) })
}

export function satisfies (have: ReadonlySet<string>, req: CompiledRequirement): boolean {
  if (req.mode === 'all') {
    for (const v of req.values) if (!have.has(v)) return false
    return true
  }
  for (const v of req.values) if (have.has(v)) return true
  return false
}

/** Where each kind of claim is read from; the namespaced claim of `domain` comes last. */
export interface ClaimSources {
  scopes: readonly ClaimName[]
  roles: readonly ClaimName[]
  permissions: readonly ClaimName[]
}

export const DEFAULT_CLAIM_SOURCES: ClaimSources = Object.freeze({
  scopes: Object.freeze(['scope', 'scp']),
  roles: Object.freeze(['roles']),
  permissions: Object.freeze(['permissions'])
})

/** The scopes a token grants, read from `scope`, then `scp` (or the names given). */
export function getTokenScopes (claims: unknown, names: readonly ClaimName[] = DEFAULT_CLAIM_SOURCES.scopes): string[] {
  return [...claimValues(claims, names)]
}

/** The roles a token grants, read from `roles` (or the names given). */
export function getTokenRoles (claims: unknown, names: readonly ClaimName[] = DEFAULT_CLAIM_SOURCES.roles): string[] {
  return [...claimValues(claims, names)]
}

/** The permissions a token grants, read from `permissions` (or the names given). */
export function getTokenPermissions (claims: unknown, names: readonly ClaimName[] = DEFAULT_CLAIM_SOURCES.permissions): string[] {
  return [...claimValues(claims, names)]
}

/** Most nested objects and arrays accepted in claims: real claims are a few levels deep. */
export const MAX_CLAIM_DEPTH = 32

/**
 * A deep, frozen, null-prototype copy of JSON claims: `__proto__` stays an ordinary key. Returns
 * undefined when the value nests deeper than MAX_CLAIM_DEPTH (a signed but absurd token), so no
 * recursion can exhaust the stack.
 */
export function freezeClaims<T> (value: T, depth = 0): T | undefined {
  if (typeof value !== 'object' || value === null) return value
  if (depth >= MAX_CLAIM_DEPTH) return undefined
  if (Array.isArray(value)) {
    const out: unknown[] = []
    for (const item of value) {
      const copy = freezeClaims(item, depth + 1)
      if (copy === undefined) return undefined
      out.push(copy)
    }
    return Object.freeze(out) as T
  }
  const out = Object.create(null) as Record<string, unknown>
  for (const key of Object.keys(value)) {
    const copy = freezeClaims((value as Record<string, unknown>)[key], depth + 1)
    if (copy === undefined) return undefined
    // On a null-prototype object there is no `__proto__` setter: this creates an own property.
    out[key] = copy
  }
  return Object.freeze(out) as T
}
