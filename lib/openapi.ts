// @fastify/swagger integration. Each protected route carries its compiled rules as an `x-axioms`
// extension in its schema (swagger copies `x-*` keys into the operation); when the document is
// generated, the operations carrying it get their `security` requirement and the security
// scheme is added once. Route schemas never name the scheme themselves: @fastify/swagger would
// crash on a scheme missing from the user's `components.securitySchemes`.
import type { FastifyInstance, RouteOptions } from 'fastify'
import { CLAIM_KINDS, type CompiledRequirement } from './claims.js'
import type { CompiledRule } from './rule.js'
import type { Settings } from './options/index.js'
import { dpopSchemeName, dpopSecurityScheme, withDpopSecurity } from './dpop/metadata.js'
import type { DpopSettings } from './dpop/options.js'

export type OpenApiRequirement = { any: string[] } | { all: string[] }

/** What the `x-axioms` extension of an operation says: the rules of its hooks and config, ANDed. */
export interface OpenApiAnnotation {
  optional: boolean
  /** The route accepts DPoP-bound tokens only. */
  dpop?: true
  scopes?: OpenApiRequirement[]
  roles?: OpenApiRequirement[]
  permissions?: OpenApiRequirement[]
}

const EXTENSION = 'x-axioms'
const kWrapped = Symbol('axioms.swaggerWrapped')

function plain (req: CompiledRequirement): OpenApiRequirement {
  return req.mode === 'all' ? { all: [...req.list] } : { any: [...req.list] }
}

/** Merges the route's rules (ANDed) into one annotation; undefined when every method skips axioms. */
export function describeRules (rules: readonly CompiledRule[], methods: readonly string[], safeMethods: ReadonlySet<string>): OpenApiAnnotation | undefined {
  const active = rules.filter(r => !methods.every(m => (r.safeMethods ?? safeMethods).has(m)))
  if (active.length === 0) return undefined
  const out: OpenApiAnnotation = { optional: active.every(r => r.optional) }
  if (active.some(r => r.dpop)) out.dpop = true
  for (const kind of CLAIM_KINDS) {
    const reqs = active.flatMap(r => r[kind] === undefined ? [] : [plain(r[kind])])
    if (reqs.length > 0) out[kind] = reqs
  }
  return out
}

/** onRoute: puts the annotation on a copy of the route's schema (schemas may be shared by routes). */
export function annotateRoute (route: RouteOptions, annotation: OpenApiAnnotation): void {
  route.schema = { ...route.schema, [EXTENSION]: annotation } as NonNullable<RouteOptions['schema']>
}

// Scope requirements ANDed, each `any` an OR: as OpenAPI alternatives (each object lists scopes
// that are all required), i.e. the disjunctive normal form. Alternatives stay few in practice;
// past 64 the list keeps its first 64, which still names only scopes a route truly needs.
const MAX_ALTERNATIVES = 64

function alternatives (scopes: readonly OpenApiRequirement[] | undefined): string[][] {
  let out: string[][] = [[]]
  for (const req of scopes ?? []) {
    if ('all' in req) {
      out = out.map(alt => [...alt, ...req.all])
    } else {
      out = out.flatMap(alt => req.any.map(s => [...alt, s])).slice(0, MAX_ALTERNATIVES)
    }
  }
  const seen = new Set<string>()
  const unique: string[][] = []
  for (const alt of out) {
    const set = [...new Set(alt)]
    const key = [...set].sort().join(' ')
    if (!seen.has(key)) {
      seen.add(key)
      unique.push(set)
    }
  }
  return unique
}

function describeText (a: OpenApiAnnotation): string | undefined {
  const parts: string[] = []
  for (const kind of ['roles', 'permissions'] as const) {
    for (const req of a[kind] ?? []) {
      const list = 'all' in req ? req.all : req.any
      const how = list.length === 1 ? '' : 'all' in req ? 'all of ' : 'one of '
      parts.push(`${kind} ${how}${list.map(v => '`' + v + '`').join(', ')}`)
    }
  }
  return parts.length === 0 ? undefined : `Requires ${parts.join('; ')} (axioms).`
}

/** The security requirement of an operation. */
export function securityOf (a: OpenApiAnnotation, scheme: string): Array<Record<string, string[]>> {
  const required = alternatives(a.scopes).map(scopes => ({ [scheme]: scopes }))
  return a.optional ? [{}, ...required] : required
}

type Doc = Record<string, unknown>
type Operation = Record<string, unknown>

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace', 'query']

/** Completes a generated document in place: schemes (unless the user defined them), security, text. */
export function completeDocument (doc: Doc, scheme: string, dpop?: DpopSettings): Doc {
  const paths = doc.paths as Record<string, Record<string, Operation>> | undefined
  let used = false
  for (const item of Object.values(paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method]
      const a = op?.[EXTENSION] as OpenApiAnnotation | undefined
      if (op === undefined || a === undefined) continue
      used = true
      // An explicit `security` in the route schema wins; running twice changes nothing.
      if (op.security === undefined) op.security = withDpopSecurity(securityOf(a, scheme), scheme, dpop?.mode ?? 'disabled', a.dpop === true)
      const text = describeText(a)
      const description = typeof op.description === 'string' ? op.description : ''
      if (text !== undefined && !description.includes(text)) op.description = description === '' ? text : `${description}\n\n${text}`
    }
  }
  if (!used) return doc
  const dpopScheme = dpop === undefined ? undefined : dpopSecurityScheme(dpop)
  if (typeof doc.swagger === 'string') {
    // Swagger 2.0 has no bearer type: the token goes in the Authorization header as `Bearer <token>`.
    const defs = (doc.securityDefinitions ?? {}) as Record<string, unknown>
    defs[scheme] ??= { type: 'apiKey', name: 'Authorization', in: 'header', description: 'Bearer <access token>' }
    // The operations name the DPoP twin too: it must be defined, in the same header.
    if (dpopScheme !== undefined) defs[dpopSchemeName(scheme)] ??= { type: 'apiKey', name: 'Authorization', in: 'header', description: 'DPoP <access token>, with a DPoP proof in the DPoP header (RFC 9449)' }
    doc.securityDefinitions = defs
  } else {
    const components = (doc.components ?? {}) as Record<string, unknown>
    const schemes = (components.securitySchemes ?? {}) as Record<string, unknown>
    schemes[scheme] ??= { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'OAuth 2.0 / OIDC access token (JWT), verified by axioms-fastify' }
    if (dpopScheme !== undefined) schemes[dpopSchemeName(scheme)] ??= dpopScheme
    components.securitySchemes = schemes
    doc.components = components
  }
  return doc
}

type SwaggerFn = ((opts?: { yaml?: boolean }) => unknown) & { [kWrapped]?: true }

/**
 * onReady: wraps the `swagger()` decorator of @fastify/swagger (registered before or after us),
 * so the document it returns is completed. YAML is answered as JSON text, which is valid YAML.
 */
export function wrapSwagger (fastify: FastifyInstance, settings: Settings): void {
  const openapi = settings.openapi
  const target = fastify as unknown as { swagger?: SwaggerFn }
  const original = target.swagger
  if (openapi === undefined || typeof original !== 'function' || original[kWrapped] === true) return
  const wrapped: SwaggerFn = function swagger (opts) {
    const doc = completeDocument(original({}) as Doc, openapi.securitySchemeName, settings.dpop)
    return opts?.yaml === true ? JSON.stringify(doc, null, 2) : doc
  }
  wrapped[kWrapped] = true
  target.swagger = wrapped
}
