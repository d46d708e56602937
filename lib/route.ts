// Route declarations (`config.axioms`) compiled once in onRoute, their enforcement hook appended to
// the route's onRequest, and a guard that fails closed for routes declared before registration.
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions, onRequestHookHandler } from 'fastify'
import { type Auth, type CompiledRule, compileDeclaration, enforce, kNeedsDeclaration, kRule, misconfigured } from './hooks.js'
import { annotateRoute, describeRules } from './openapi.js'
import { ConfigError } from './options.js'

export interface RouteRegistry {
  /** Declaration object (by identity) -> compiled rule. */
  readonly rules: WeakMap<object, CompiledRule>
  /** Every compiled route, for OpenAPI and RFC 9728 metadata. */
  readonly routes: Array<{ method: string | string[], url: string, rule: CompiledRule }>
}

export function createRegistry (): RouteRegistry {
  return { rules: new WeakMap(), routes: [] }
}

export function ruleOf (registry: RouteRegistry, request: FastifyRequest): CompiledRule | undefined {
  const decl = (request.routeOptions.config as { axioms?: unknown }).axioms
  return typeof decl === 'object' && decl !== null ? registry.rules.get(decl) : undefined
}

function hooksOf (value: unknown): unknown[] {
  if (value === undefined || value === null) return []
  return Array.isArray(value) ? value : [value]
}

/** onRoute: validate and compile the declaration, then append its hook. Throws at startup. */
export function compileRoute (auth: Auth, registry: RouteRegistry, route: RouteOptions): void {
  const decl = (route.config as { axioms?: unknown } | undefined)?.axioms
  const where = `config.axioms of ${String(route.method)} ${route.url}`
  const needs = new Set<string>()
  // Rules of factory-made hooks with explicit lists: they describe the route too.
  const tagged: CompiledRule[] = []
  for (const phase of ['onRequest', 'preParsing', 'preValidation', 'preHandler'] as const) {
    for (const hook of hooksOf(route[phase])) {
      const kind = (hook as { [kNeedsDeclaration]?: string })[kNeedsDeclaration]
      if (kind !== undefined) needs.add(kind)
      const own = (hook as { [kRule]?: CompiledRule })[kRule]
      if (own !== undefined) tagged.push(own)
    }
  }
  if (decl === undefined || decl === null || decl === false) {
    if (needs.size > 0) {
      throw new ConfigError(`${String(route.method)} ${route.url}`, undefined, `uses a hasRequired* hook without a requirement, so it needs config.axioms.${[...needs].join('/')}`)
    }
    describe(auth, registry, route, tagged)
    return
  }
  let rule = registry.rules.get(decl as object)
  if (rule === undefined) {
    rule = compileDeclaration(decl, where)
    registry.rules.set(decl as object, rule)
  }
  for (const kind of needs) {
    if (rule[kind as 'scopes'] === undefined) {
      throw new ConfigError(where, undefined, `has no "${kind}", but a hasRequired* hook without a requirement reads it`)
    }
  }
  describe(auth, registry, route, [rule, ...tagged])
  const compiled = rule
  const hook = function axiomsRoute (request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    return enforce(auth, compiled, request, reply)
  }
  route.onRequest = [...hooksOf(route.onRequest), hook] as onRequestHookHandler[]
}

/** Records the route's rules (RFC 9728 scopes) and annotates its schema for OpenAPI. */
function describe (auth: Auth, registry: RouteRegistry, route: RouteOptions, rules: CompiledRule[]): void {
  if (rules.length === 0) return
  for (const rule of rules) registry.routes.push({ method: route.method, url: route.url, rule })
  if (auth.settings.openapi === undefined) return
  const methods = (Array.isArray(route.method) ? route.method : [route.method]).map(m => m.toUpperCase())
  const annotation = describeRules(rules, methods, auth.settings.safeMethods)
  if (annotation !== undefined) annotateRoute(route, annotation)
}

/**
 * Global onRequest guard. A route that declares config.axioms but was added before the plugin
 * was registered never went through onRoute: refuse it rather than serve it unprotected.
 */
export function guard (registry: RouteRegistry, request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
  const decl = (request.routeOptions.config as { axioms?: unknown } | undefined)?.axioms
  if (decl === undefined || decl === null || decl === false) return
  if (typeof decl === 'object' && registry.rules.has(decl)) return
  return misconfigured(request, reply, 'route declares config.axioms but was added before axioms-fastify was registered; register the plugin first')
}

const kWatching = Symbol.for('axioms-fastify.watching')

/**
 * Registered inside an encapsulated context, the plugin's hooks never see routes of parent or
 * sibling contexts. A root onRoute hook (reaching every context created from now on) refuses, at
 * startup, a route that declares config.axioms where no axioms-fastify instance is in scope.
 */
export function watchOtherContexts (fastify: FastifyInstance): void {
  let root: FastifyInstance = fastify
  for (let p = Object.getPrototypeOf(root); p !== null && typeof p.addHook === 'function'; p = Object.getPrototypeOf(p)) root = p
  if (root === fastify || (root as unknown as Record<symbol, boolean>)[kWatching]) return
  (root as unknown as Record<symbol, boolean>)[kWatching] = true
  root.addHook('onRoute', function (route) {
    if (!declares(route.config) || this.hasDecorator('axioms')) return
    throw new ConfigError(`${String(route.method)} ${route.url}`, undefined,
      'declares config.axioms, but axioms-fastify is not registered in its context (it was registered in another encapsulated plugin): register axioms-fastify at the root, or in this route\'s plugin')
  })
  // Routes added before this point, in contexts without the plugin: refused per request.
  root.addHook('onRequest', function (request, reply, done) {
    if (!declares(request.routeOptions.config) || request.server.hasDecorator('axioms')) return done()
    misconfigured(request, reply, 'route declares config.axioms but axioms-fastify is not registered in its context')
  })
}

function declares (config: unknown): boolean {
  const decl = (config as { axioms?: unknown } | undefined)?.axioms
  return decl !== undefined && decl !== null && decl !== false
}
