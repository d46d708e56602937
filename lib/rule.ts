// Route declarations (`config.axioms`, or a hook's own options) compiled once into rules: Sets of
// exact strings and the methods that skip them. Pure: no Fastify import.
import { CLAIM_KINDS, type CompiledRequirement, compileRequirement, type Requirement } from './claims.js'
import { ConfigError, safeMethodSet } from './options/index.js'

/** A route's `config.axioms` declaration, or a hook's own options. */
export interface RouteDeclaration {
  scopes?: Requirement
  roles?: Requirement
  permissions?: Requirement
  /** Let requests without a token through anonymously; a present but invalid token is still refused. */
  optional?: boolean
  /** Methods of this route that skip every axioms check. */
  safeMethods?: string[]
  /** This route accepts DPoP-bound tokens over `Authorization: DPoP` only (RFC 9449). */
  dpop?: boolean
}

/** The compiled form of a `config.axioms` declaration or of a hook's requirement. */
export interface CompiledRule {
  scopes?: CompiledRequirement
  roles?: CompiledRequirement
  permissions?: CompiledRequirement
  optional: boolean
  safeMethods: ReadonlySet<string> | undefined
  /** DPoP required on this route, whatever the plugin's dpop.mode. */
  dpop: boolean
}

const KEYS = ['scopes', 'roles', 'permissions', 'optional', 'safeMethods', 'dpop']

/** `dpopOff`: the plugin's dpop.mode is 'disabled', so no route can require DPoP. */
export function compileDeclaration (decl: unknown, where: string, dpopOff = false): CompiledRule {
  if (typeof decl !== 'object' || decl === null || Array.isArray(decl)) {
    throw new ConfigError(where, undefined, 'must be an object { scopes?, roles?, permissions?, optional?, safeMethods?, dpop? }')
  }
  const d = decl as Record<string, unknown>
  for (const key of Object.keys(d)) {
    if (!KEYS.includes(key)) {
      throw new ConfigError(where, undefined, `has an unknown key "${key}" (allowed: ${KEYS.join(', ')})`)
    }
  }
  if (d.dpop !== undefined && typeof d.dpop !== 'boolean') throw new ConfigError(`${where}.dpop`, undefined, 'must be true or false')
  if (d.dpop === true && dpopOff) throw new ConfigError(`${where}.dpop`, undefined, 'requires DPoP, but the plugin\'s dpop.mode (env AXIOMS_DPOP_MODE) is "disabled"')
  const rule: CompiledRule = { optional: false, safeMethods: safeMethodSet(d.safeMethods, `${where}.safeMethods`), dpop: d.dpop === true }
  for (const kind of CLAIM_KINDS) {
    if (d[kind] === undefined) continue
    try {
      rule[kind] = compileRequirement(d[kind], `${where}.${kind}`, kind === 'scopes')
    } catch (err) {
      throw new ConfigError(`${where}.${kind}`, undefined, (err as Error).message.replace(`${where}.${kind} `, ''))
    }
  }
  if (d.optional !== undefined) {
    if (typeof d.optional !== 'boolean') throw new ConfigError(`${where}.optional`, undefined, 'must be true or false')
    if (d.optional && CLAIM_KINDS.some(k => rule[k] !== undefined)) {
      throw new ConfigError(`${where}.optional`, undefined, 'cannot be combined with scopes, roles or permissions: a requirement needs a token')
    }
    rule.optional = d.optional
  }
  return Object.freeze(rule)
}
