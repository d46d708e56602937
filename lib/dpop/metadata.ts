// What RFC 9728 protected-resource metadata and the OpenAPI document say about sender-
// constrained tokens, as pure functions of the settings: the plugin merges them in.
import type { MtlsSettings } from '../mtls.js'
import type { DpopSettings } from './options.js'

export interface SenderConstraintMetadata {
  /** RFC 9728 §2: DPoP proof algorithms accepted. */
  dpop_signing_alg_values_supported?: string[]
  /** RFC 9728 §2: whether every request must use DPoP-bound tokens. */
  dpop_bound_access_tokens_required?: boolean
  /** RFC 9728 §2: certificate-bound tokens (RFC 8705) are supported. */
  tls_client_certificate_bound_access_tokens?: boolean
}

/** The RFC 9728 members to add to the document; nothing for DPoP when its mode is `disabled`. */
export function senderConstraintMetadata (dpop: DpopSettings, mtls?: MtlsSettings): SenderConstraintMetadata {
  const out: SenderConstraintMetadata = {}
  if (dpop.mode !== 'disabled') {
    out.dpop_signing_alg_values_supported = [...dpop.algorithms]
    out.dpop_bound_access_tokens_required = dpop.mode === 'required'
  }
  // Only when configured on purpose: the plugin cannot tell whether the socket asks for certificates.
  if (mtls !== undefined && mtls.configured && mtls.source !== 'none') out.tls_client_certificate_bound_access_tokens = true
  return out
}

export interface HttpSecurityScheme {
  type: 'http'
  scheme: string
  bearerFormat: string
  description: string
}

/**
 * The OpenAPI security scheme of DPoP (RFC 9449 registers `DPoP` as an HTTP authentication
 * scheme), or undefined when DPoP is disabled.
 */
export function dpopSecurityScheme (dpop: DpopSettings): HttpSecurityScheme | undefined {
  if (dpop.mode === 'disabled') return undefined
  return {
    type: 'http',
    scheme: 'DPoP',
    bearerFormat: 'JWT',
    description: `DPoP-bound access token (RFC 9449): \`Authorization: DPoP <token>\` and a \`DPoP\` proof header signed with ${dpop.algorithms.join(', ')}.`
  }
}

/** Name of the DPoP scheme next to the Bearer one (`axioms` -> `axiomsDpop`). */
export function dpopSchemeName (bearerSchemeName: string): string {
  return `${bearerSchemeName}Dpop`
}

export type SecurityRequirement = Record<string, string[]>

/**
 * An operation's `security` with DPoP: each Bearer alternative gets its DPoP twin (mode
 * `allowed`), or is replaced by it (`required`, or a route that requires DPoP); `disabled`
 * leaves the list as it is. An empty list (an optional route) stays as it is.
 */
export function withDpopSecurity (security: readonly SecurityRequirement[], bearerName: string, mode: DpopSettings['mode'], routeRequires = false): SecurityRequirement[] {
  const effective = routeRequires ? 'required' : mode
  const dpopName = dpopSchemeName(bearerName)
  // Fresh objects and arrays: the caller's requirements are never shared with the document.
  const copy = (req: SecurityRequirement, rename: boolean): SecurityRequirement => {
    const out: SecurityRequirement = {}
    for (const [name, scopes] of Object.entries(req)) out[rename && name === bearerName ? dpopName : name] = [...scopes]
    return out
  }
  const out: SecurityRequirement[] = []
  for (const req of security) {
    const bearer = Object.hasOwn(req, bearerName)
    if (effective === 'disabled' || !bearer || effective === 'allowed') out.push(copy(req, false))
    if (effective !== 'disabled' && bearer) out.push(copy(req, true))
  }
  return out
}
