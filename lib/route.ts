// Route declarations (`config.axioms`) compiled once in onRoute, their enforcement hook appended to
// the route's onRequest, and one guard, on the root instance, that fails closed for every route
// that declares config.axioms but was never compiled (declared before registration, or in a
// context the plugin does not reach).
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions, onRequestHookHandler } from 'fastify'
import type { Auth } from './authenticate.js'
import { enforce, kDirect, kNeedsDeclaration, kRule } from './hooks.js'
import { annotateRoute, describeRules } from './openapi.js'
import { ConfigError } from './options/index.js'
import { answerRefusals, kAnswers, misconfigured } from './respond.js'
import { type CompiledRule, compileDeclaration } from './rule.js'

export interface RouteRegistry {
  /** Compile cache: declaration object (by identity) -> compiled rule. */
  readonly rules: WeakMap<object, CompiledRule>
  /** Every scope some route requires (RFC 9728 `scopes_supported`). */
  readonly scopes: Set<string>
}

export function createRegistry (): RouteRegistry {
  return { rules: new WeakMap(), scopes: new Set() }
}

// Set on the route's own config when its declaration is compiled: the guard asks the route, not
// the declaration object, which an app may share with a route the plugin never saw.
const kCompiled = Symbol('axioms.compiled')

type RouteConfig = { axioms?: unknown, [kCompiled]?: CompiledRule, [kAnswers]?: true } | undefined

export function ruleOf (request: FastifyRequest): CompiledRule | undefined {
  return (request.routeOptions.config as RouteConfig)?.[kCompiled]
}

function declares (config: unknown): boolean {
  const decl = (config as RouteConfig)?.axioms
  return decl !== undefined && decl !== null && decl !== false
}

function hooksOf (value: unknown): unknown[] {
  if (value === undefined || value === null) return []
  return Array.isArray(value) ? value : [value]
}

const PHASES = ['onRequest', 'preValidation', 'preHandler'] as const

/**
 * onRoute: validate and compile the declaration, append its hook, and let the route's own axioms
 * hooks answer refusals themselves (their direct twins); with errorResponse 'reply', the route's
 * error handler answers the refusals of hooks run by someone else (@fastify/auth). Throws at startup.
 */
export function compileRoute (auth: Auth, registry: RouteRegistry, route: RouteOptions): void {
  const decl = (route.config as RouteConfig)?.axioms
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
  for (const phase of PHASES) {
    const hooks = hooksOf(route[phase])
    if (hooks.some(h => (h as { [kDirect]?: unknown })[kDirect] !== undefined)) {
      // A new array: the app's own (perhaps shared by several routes) is left as it was.
      route[phase] = hooks.map(h => (h as { [kDirect]?: unknown })[kDirect] ?? h) as onRequestHookHandler[]
    }
  }
  const answers = auth.settings.errorResponse === 'reply'
  if (answers) route.errorHandler = answerRefusals(auth, route.errorHandler as Parameters<typeof answerRefusals>[1])
  // Copies: the app's config object is left as it was (Fastify keeps symbol keys).
  const marks = answers ? { [kAnswers]: true } : {}
  if (!declares(route.config)) {
    if (needs.size > 0) {
      throw new ConfigError(`${String(route.method)} ${route.url}`, undefined, `uses a hasRequired* hook without a requirement, so it needs config.axioms.${[...needs].join('/')}`)
    }
    describe(auth, registry, route, tagged)
    if (answers) route.config = { ...route.config, ...marks } as unknown as NonNullable<RouteOptions['config']>
    return
  }
  let rule = registry.rules.get(decl as object)
  if (rule === undefined) {
    rule = compileDeclaration(decl, where, auth.settings.dpop.mode === 'disabled')
    registry.rules.set(decl as object, rule)
  }
  for (const kind of needs) {
    if (rule[kind as 'scopes'] === undefined) {
      throw new ConfigError(where, undefined, `has no "${kind}", but a hasRequired* hook without a requirement reads it`)
    }
  }
  describe(auth, registry, route, [rule, ...tagged])
  route.config = { ...route.config, ...marks, [kCompiled]: rule } as unknown as NonNullable<RouteOptions['config']>
  const compiled = rule
  const hook = function axiomsRoute (request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    return enforce(auth, compiled, request, reply, true)
  }
  route.onRequest = [...hooksOf(route.onRequest), hook] as onRequestHookHandler[]
}

/** Records the route's rules (RFC 9728 scopes) and annotates its schema for OpenAPI. */
function describe (auth: Auth, registry: RouteRegistry, route: RouteOptions, rules: CompiledRule[]): void {
  if (rules.length === 0) return
  for (const rule of rules) for (const scope of rule.scopes?.list ?? []) registry.scopes.add(scope)
  if (auth.settings.openapi === undefined) return
  const methods = (Array.isArray(route.method) ? route.method : [route.method]).map(m => m.toUpperCase())
  const annotation = describeRules(rules, methods, auth.settings.safeMethods)
  if (annotation !== undefined) annotateRoute(route, annotation)
}

const kGuarded = Symbol.for('axioms-fastify.guarded')

/**
 * Installs, once per app, the guard on the root instance, which every context shares:
 * - onRoute: a route declaring config.axioms in a context where no axioms-fastify instance is in
 *   scope (the plugin was registered inside another encapsulated plugin) fails startup;
 * - onRequest: a declared route that was never compiled (added before registration, or in a
 *   context created earlier) answers a 500 instead of being served unprotected.
 */
export function installGuard (fastify: FastifyInstance, problemDetails: boolean): void {
  let root: FastifyInstance = fastify
  for (let p = Object.getPrototypeOf(root); p !== null && typeof p.addHook === 'function'; p = Object.getPrototypeOf(p)) root = p
  const flags = root as unknown as Record<symbol, boolean>
  if (flags[kGuarded] === true) return
  flags[kGuarded] = true
  root.addHook('onRoute', function (route) {
    if (!declares(route.config) || this.hasDecorator('axioms')) return
    throw new ConfigError(`${String(route.method)} ${route.url}`, undefined,
      'declares config.axioms, but axioms-fastify is not registered in its context (it was registered in another encapsulated plugin): register axioms-fastify at the root, or in this route\'s plugin')
  })
  // A callback hook: no promise per request. After an early reply, done is not called.
  root.addHook('onRequest', function (request, reply, done) {
    const config = request.routeOptions.config as RouteConfig
    if (config?.[kCompiled] !== undefined || !declares(config)) return done()
    misconfigured(problemDetails, request, reply, 'route declares config.axioms but was not compiled: register axioms-fastify before declaring routes, in a context that reaches them')
  })
}
