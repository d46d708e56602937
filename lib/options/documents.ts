// Documents the plugin contributes to: RFC 9728 protected resource metadata, and @fastify/swagger's
// OpenAPI document.
import { ConfigError, given, httpUrl, stringList } from './read.js'

export interface ProtectedResourceMetadataOptions {
  /** The resource identifier; defaults to the request's origin. */
  resource?: string
  /** Scopes listed in the document; defaults to every scope a route requires. */
  scopesSupported?: string[]
  /** Authorization servers; defaults to the configured issuers. */
  authorizationServers?: string[]
}

export interface OpenApiOptions {
  /** Name of the security scheme added to the document. Default `axioms`. */
  securitySchemeName?: string
}

export function resourceMetadata (value: boolean | ProtectedResourceMetadataOptions | undefined): Readonly<ProtectedResourceMetadataOptions> | undefined {
  if (value === undefined || value === false) return undefined
  if (value === true) return Object.freeze({})
  if (typeof value !== 'object' || value === null) {
    throw new ConfigError('protectedResourceMetadata', undefined, 'must be true, false or { resource?, scopesSupported?, authorizationServers? }')
  }
  const out: ProtectedResourceMetadataOptions = {}
  if (value.resource !== undefined) out.resource = httpUrl(value.resource, 'protectedResourceMetadata.resource', undefined)
  const scopes = stringList(given(value.scopesSupported), 'protectedResourceMetadata.scopesSupported')
  if (scopes !== undefined) out.scopesSupported = Object.freeze([...scopes]) as string[]
  const servers = stringList(given(value.authorizationServers), 'protectedResourceMetadata.authorizationServers')
  if (servers !== undefined) out.authorizationServers = Object.freeze(servers.map(s => httpUrl(s, 'protectedResourceMetadata.authorizationServers', undefined))) as string[]
  return Object.freeze(out)
}

export function openapiOf (value: boolean | OpenApiOptions | undefined): Readonly<Required<OpenApiOptions>> | undefined {
  if (value === false) return undefined
  if (value === undefined || value === true) return Object.freeze({ securitySchemeName: 'axioms' })
  if (typeof value !== 'object' || value === null) throw new ConfigError('openapi', undefined, 'must be true, false or { securitySchemeName }')
  const name = value.securitySchemeName ?? 'axioms'
  if (typeof name !== 'string' || name === '') throw new ConfigError('openapi.securitySchemeName', undefined, 'must be a non-empty string')
  return Object.freeze({ securitySchemeName: name })
}
