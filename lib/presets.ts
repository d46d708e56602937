// Where each identity provider puts scopes, roles and permissions in its access tokens. Pure data:
// explicit `scopeClaims` / `rolesClaims` / `permissionsClaims` options always win over a preset.
// Entra's multi-tenant form also names the issuer template and the shared key set.
import type { ClaimName, ClaimSources } from './claims.js'
import type { ValueRule } from './tenants.js'

export type PresetName = 'auth0' | 'okta' | 'entra' | 'cognito' | 'keycloak'

export interface PresetOptions {
  name: PresetName
  /** Keycloak: the client whose `resource_access.<clientId>.roles` count as roles too. */
  clientId?: string
  /**
   * Entra multi-tenant (`common` / `organizations` apps): the tenant ids (GUIDs) whose tokens are
   * accepted, or a function of `{ tenantid }`. Sets the issuer template and the shared key set.
   */
  tenants?: string | readonly string[] | EntraTenantPredicate
}

/** Entra's tenant function: the tenant id from `iss` (a lower-case GUID), before the token is verified. */
export type EntraTenantPredicate = (values: Readonly<{ tenantid: string }>) => boolean

/** The members each preset takes besides `name`. */
export const PRESET_MEMBERS: Readonly<Record<PresetName, readonly string[]>> = Object.freeze({
  auth0: [],
  okta: [],
  entra: ['tenants'],
  cognito: [],
  keycloak: ['clientId']
})

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * Entra ID v2.0 tokens of multi-tenant apps: one `iss` per tenant, keys shared by every tenant.
 * (v1.0 tokens, `https://sts.windows.net/{tenantid}/`, need their own issuers entry.)
 */
export const ENTRA_MULTI_TENANT = Object.freeze({
  issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0',
  jwksUri: 'https://login.microsoftonline.com/common/discovery/v2.0/keys',
  // Entra writes the tenant id in `iss` as a lower-case GUID.
  tenantId: Object.freeze({ test: (v: string) => GUID.test(v), describe: 'an Entra tenant id: a GUID in lower case, as Entra writes it in iss' }) as ValueRule
})

export interface Preset extends ClaimSources {
  /** Claims compared with `audience`, in order (Cognito access tokens carry `client_id`, no `aud`). */
  audienceClaims: readonly string[]
}

export const PRESET_NAMES: readonly PresetName[] = Object.freeze(['auth0', 'okta', 'entra', 'cognito', 'keycloak'])

export function presetClaims (preset: PresetOptions): Preset {
  switch (preset.name) {
    case 'auth0':
      // RBAC puts API permissions in `permissions`; roles only arrive through a namespaced Action claim.
      return { scopes: ['scope'], roles: ['roles'], permissions: ['permissions'], audienceClaims: ['aud'] }
    case 'okta':
      // Custom authorization servers: `scp` is an array; groups claims are usually named `groups`.
      return { scopes: ['scp', 'scope'], roles: ['groups', 'roles'], permissions: ['permissions'], audienceClaims: ['aud'] }
    case 'entra':
      // Delegated tokens: `scp` (space-separated); app-only tokens: application permissions in `roles`.
      return { scopes: ['scp'], roles: ['roles'], permissions: ['roles'], audienceClaims: ['aud'] }
    case 'cognito':
      // Access tokens: `scope` string, `cognito:groups` array, audience in `client_id`.
      return { scopes: ['scope'], roles: ['cognito:groups'], permissions: ['scope'], audienceClaims: ['client_id'] }
    case 'keycloak': {
      // Realm roles are the roles. The first claim present wins (no union), so client roles are not
      // a roles fallback: with one client role, every realm role would silently stop counting.
      // Client roles (`resource_access.<clientId>.roles`) are the permissions.
      const roles: ClaimName[] = [['realm_access', 'roles']]
      const permissions: ClaimName[] = preset.clientId !== undefined
        ? [['resource_access', preset.clientId, 'roles']]
        : [['realm_access', 'roles']]
      return { scopes: ['scope'], roles, permissions, audienceClaims: ['aud'] }
    }
  }
}
