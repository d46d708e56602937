// Where each identity provider puts scopes, roles and permissions in its access tokens. Pure data:
// explicit `scopeClaims` / `rolesClaims` / `permissionsClaims` options always win over a preset.
import type { ClaimName, ClaimSources } from './claims.js'

export type PresetName = 'auth0' | 'okta' | 'entra' | 'cognito' | 'keycloak'

export interface PresetOptions {
  name: PresetName
  /** Keycloak: the client whose `resource_access.<clientId>.roles` count as roles too. */
  clientId?: string
}

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
