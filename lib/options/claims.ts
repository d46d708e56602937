// Where scopes, roles and permissions are read: explicit claim names, else a preset's, else the
// family's defaults; with `domain`, the family's namespaced claims come last.
import { type ClaimName, type ClaimSources, DEFAULT_CLAIM_SOURCES } from '../claims.js'
import { type PresetName, type PresetOptions, PRESET_MEMBERS, PRESET_NAMES, presetClaims } from '../presets.js'
import { ConfigError, type Env, parseList, parseString, pick, type Source } from './read.js'

export interface ClaimInput {
  scopeClaims?: ClaimName[]
  rolesClaims?: ClaimName[]
  permissionsClaims?: ClaimName[]
  /** Claim names and paths of one identity provider; explicit *Claims options win. */
  preset?: PresetName | PresetOptions
}

export interface ClaimSettings {
  readonly claims: ClaimSources
  /** Claims compared with the audience, in order. */
  readonly audienceClaims: readonly string[]
}

function claimNames (src: Source<unknown>, name: string): ClaimName[] | undefined {
  const v = src.value
  if (v === undefined) return undefined
  const ok = Array.isArray(v) && v.length > 0 && v.every(n =>
    (typeof n === 'string' && n !== '') ||
    (Array.isArray(n) && n.length > 0 && n.every(k => typeof k === 'string' && k !== '')))
  if (!ok) throw new ConfigError(name, src.env, 'must be a non-empty list of claim names or key paths (string[])')
  return (v as ClaimName[]).map(n => typeof n === 'string' ? n : Object.freeze([...n]))
}

function presetOf (value: unknown, env: string | undefined): PresetOptions | undefined {
  if (value === undefined) return undefined
  const obj = typeof value === 'string' ? { name: value } : value
  if (typeof obj !== 'object' || obj === null || !PRESET_NAMES.includes((obj as PresetOptions).name)) {
    throw new ConfigError('preset', env, `must be one of ${PRESET_NAMES.join(', ')}`)
  }
  const name = (obj as PresetOptions).name
  // A member of another preset would be ignored without a word (clientId on entra, tenants on keycloak).
  const members = PRESET_MEMBERS[name]
  for (const key of Object.keys(obj)) {
    if (key !== 'name' && !members.includes(key)) {
      throw new ConfigError('preset', env, `"${name}" takes ${members.length === 0 ? 'no member but name' : `only name and ${members.join(', ')}`}, not "${key}"`)
    }
  }
  const clientId = (obj as PresetOptions).clientId
  if (clientId !== undefined && (typeof clientId !== 'string' || clientId === '')) {
    throw new ConfigError('preset', env, 'clientId must be a non-empty string')
  }
  return obj as PresetOptions
}

/** The preset option (or AXIOMS_PRESET), checked; read once for the issuers and the claims. */
export function readPreset (input: ClaimInput, env: Env): Source<PresetOptions | undefined> {
  // A blank AXIOMS_PRESET means unset, as for every other variable.
  const presetSrc = pick(input, 'preset', env, 'AXIOMS_PRESET', parseString)
  return { value: presetOf(presetSrc.value, presetSrc.env), env: presetSrc.env }
}

export function resolveClaims (input: ClaimInput, env: Env, domain: string | undefined, preset: PresetOptions | undefined): ClaimSettings {
  const base = preset === undefined ? undefined : presetClaims(preset)
  const scopes = claimNames(pick(input, 'scopeClaims', env, 'AXIOMS_SCOPE_CLAIMS', parseList), 'scopeClaims') ?? base?.scopes ?? DEFAULT_CLAIM_SOURCES.scopes
  const roles = claimNames(pick(input, 'rolesClaims', env, 'AXIOMS_ROLES_CLAIMS', parseList), 'rolesClaims') ?? base?.roles ?? DEFAULT_CLAIM_SOURCES.roles
  const permissions = claimNames(pick(input, 'permissionsClaims', env, 'AXIOMS_PERMISSIONS_CLAIMS', parseList), 'permissionsClaims') ?? base?.permissions ?? DEFAULT_CLAIM_SOURCES.permissions
  // The family's namespaced claims (its documented examples) follow the configured names.
  const namespaced = (kind: string): ClaimName[] => domain === undefined ? [] : [`https://${domain}/claims/${kind}`]
  return {
    claims: Object.freeze({
      scopes: Object.freeze([...scopes, ...namespaced('scopes')]),
      roles: Object.freeze([...roles, ...namespaced('roles')]),
      permissions: Object.freeze([...permissions, ...namespaced('permissions')])
    }),
    audienceClaims: Object.freeze([...(base?.audienceClaims ?? ['aud'])])
  }
}
