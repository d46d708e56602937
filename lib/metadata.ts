// RFC 9728 OAuth 2.0 Protected Resource Metadata: the document that tells clients (MCP clients
// among them) which authorization servers and scopes this API works with, and the URL of it that
// every challenge names in `resource_metadata`.
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify'
import type { Settings } from './options/index.js'
import { senderConstraintMetadata, type SenderConstraintMetadata } from './dpop/metadata.js'

export const METADATA_PATH = '/.well-known/oauth-protected-resource'

export interface ResourceMetadataDocument extends SenderConstraintMetadata {
  resource: string
  authorization_servers: string[]
  scopes_supported?: string[]
  bearer_methods_supported: ['header']
}

export interface MetadataPlan {
  /** Route path of the document. */
  readonly path: string
  /** The resource identifier for this request, or undefined when the Host header is unusable. */
  readonly resourceFor: (request: FastifyRequest) => string | undefined
  /** Absolute URL of the document for this request (the challenge's `resource_metadata`). */
  readonly urlFor: (request: FastifyRequest) => string | undefined
}

// Host names, IPv4 and bracketed IPv6, with an optional port: nothing that could break the
// quoted challenge value or point a client elsewhere by way of odd characters.
const HOST = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/

function origin (request: FastifyRequest): string | undefined {
  const host = request.host
  return HOST.test(host) ? `${request.protocol}://${host}` : undefined
}

/**
 * Where the document lives. With `resource` configured, RFC 9728 §3.1: the well-known path goes
 * between the host and the resource's path (`https://api.example.com/v1` ->
 * `https://api.example.com/.well-known/oauth-protected-resource/v1`), fixed at startup. Without
 * it, the resource is the request's origin (protocol and Host, as Fastify sees them; set
 * `trustProxy` behind a proxy).
 */
export function planMetadata (settings: Settings): MetadataPlan | undefined {
  const opts = settings.protectedResourceMetadata
  if (opts === undefined) return undefined
  if (opts.resource !== undefined) {
    const u = new URL(opts.resource)
    const suffix = u.pathname.replace(/\/+$/, '')
    const resource = opts.resource
    const url = `${u.origin}${METADATA_PATH}${suffix}`
    return { path: `${METADATA_PATH}${suffix}`, resourceFor: () => resource, urlFor: () => url }
  }
  return {
    path: METADATA_PATH,
    resourceFor: origin,
    urlFor: request => {
      const o = origin(request)
      return o === undefined ? undefined : `${o}${METADATA_PATH}`
    }
  }
}

/** Serves the document. `routeScopes` lists the scopes routes require (read when asked). */
export function serveMetadata (fastify: FastifyInstance, settings: Settings, plan: MetadataPlan, routeScopes: () => string[]): void {
  const opts = settings.protectedResourceMetadata as NonNullable<Settings['protectedResourceMetadata']>
  const servers = opts.authorizationServers ?? settings.issuers.map(i => i.id)
  // Hidden from @fastify/swagger: it is infrastructure, not part of the API.
  fastify.get(plan.path, { schema: { hide: true } as FastifySchema }, async (request, reply) => {
    const resource = plan.resourceFor(request)
    if (resource === undefined) return reply.code(400).send({ error: 'invalid_request', error_description: 'Invalid Host header' })
    const doc: ResourceMetadataDocument = {
      resource,
      authorization_servers: [...servers],
      bearer_methods_supported: ['header']
    }
    const scopes = opts.scopesSupported ?? routeScopes()
    if (scopes.length > 0) doc.scopes_supported = [...scopes]
    Object.assign(doc, senderConstraintMetadata(settings.dpop, settings.mtls))
    return reply.header('cache-control', 'public, max-age=3600').send(doc)
  })
}
