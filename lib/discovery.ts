// The issuer's metadata document (OIDC discovery, or RFC 8414 authorization server metadata),
// accepted only if its `issuer` is this issuer: where the JWKS and the introspection endpoint are.
import { fetchJson, FetchError, type JsonResponse } from './fetch.js'
import type { IssuerSettings, JwksSettings } from './options/index.js'

/** Which request of a load was under way: the warning names it. */
export interface Attempt { stage: 'discovery' | 'jwks' | 'introspection', url: string }

export const OIDC_DISCOVERY = '/.well-known/openid-configuration'
export const OAUTH_METADATA = '/.well-known/oauth-authorization-server'

/**
 * The document at the issuer's well-known `path`, or undefined when there is none (404). OIDC
 * appends the path to the issuer; RFC 8414 §3 puts it between the host and the issuer's path.
 */
export async function discover (issuer: IssuerSettings, opts: JwksSettings, signal: AbortSignal, at: Attempt, path = OIDC_DISCOVERY): Promise<{ body: Record<string, unknown>, response: JsonResponse } | undefined> {
  const base = issuer.id.replace(/\/+$/, '')
  const u = new URL(base)
  at.stage = 'discovery'
  at.url = path === OIDC_DISCOVERY ? `${base}${path}` : `${u.origin}${path}${u.pathname === '/' ? '' : u.pathname}`
  let response: JsonResponse
  try {
    response = await fetchJson(at.url, opts.timeout, opts.maxBytes, signal, { proxy: opts.proxy })
  } catch (err) {
    if (err instanceof FetchError && err.status === 404) return undefined
    throw err
  }
  const body = response.body as Record<string, unknown> | null
  if (typeof body !== 'object' || body === null || typeof body.issuer !== 'string' || !issuer.accepted.includes(body.issuer)) {
    throw new FetchError('discovery_issuer_mismatch', response)
  }
  return { body, response }
}
