// The family's documented example API (SEED-EXAMPLES.md) in Fastify form, plus an ownership
// example. With no AXIOMS_* configuration it runs against an embedded test issuer and lists ready
// requests with fresh tokens; with AXIOMS_AUDIENCE and an issuer set it trusts that issuer instead.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import axioms from '../index.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'

export interface SampleCase {
  title: string
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  url: string
  token?: string
  status: number
}

export interface Sample {
  app: FastifyInstance
  /** The embedded issuer, when no real one is configured. */
  issuer: TestIssuer | undefined
  /** Requests that show each outcome of the documentation (embedded issuer only). */
  cases: SampleCase[]
}

interface Article {
  id: string
  title: string
  user: string
}

/** True when the environment names a real identity provider. */
export function usesRealIssuer (env: Record<string, string | undefined>): boolean {
  return env.AXIOMS_AUDIENCE !== undefined && (env.AXIOMS_ISS_URL !== undefined || env.AXIOMS_DOMAIN !== undefined)
}

export async function buildSample (env: Record<string, string | undefined> = process.env, logger: FastifyServerOptions['logger'] = false): Promise<Sample> {
  const app = Fastify({ logger })
  let issuer: TestIssuer | undefined
  if (usesRealIssuer(env)) {
    await app.register(axioms, { env })
  } else {
    // Tokens say iss https://your-domain.com, as in the documentation; keys come from the local issuer.
    issuer = await createTestIssuer({ issuer: 'https://your-domain.com', audience: 'your-api-audience', expiresIn: 3600 })
    const idp = issuer
    app.addHook('onClose', async () => idp.close())
    await app.register(axioms, { audience: 'your-api-audience', domain: 'your-domain.com', jwksUri: idp.jwksUri, env: {} })
  }

  await app.register(swagger, {
    openapi: { info: { title: 'axioms-fastify sample API', version: '1.0.0' } }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  app.get('/', async () => ({ message: 'Public. Try /private, /role, /permission, /articles/1; the OpenAPI document is at /docs.' }))

  // Scope-based authorization: openid OR profile.
  app.get('/private', {
    preHandler: [app.hasValidAccessToken(), app.hasRequiredScopes(['openid', 'profile'])]
  }, async () => ({ message: 'All good. You are authenticated!' }))

  // Role-based authorization, one route per method.
  const roleHooks = [app.hasValidAccessToken(), app.hasRequiredRoles(['sample:role'])]
  app.post('/role', { preHandler: roleHooks }, async () => ({ message: 'Sample created.' }))
  app.patch('/role', { preHandler: roleHooks }, async () => ({ message: 'Sample updated.' }))
  app.get('/role', { preHandler: roleHooks }, async () => ({ message: 'Sample read.' }))
  app.delete('/role', { preHandler: roleHooks }, async () => ({ message: 'Sample deleted.' }))

  // Permission-based authorization, declared in route config: one permission per method.
  app.post('/permission', { config: { axioms: { permissions: ['sample:create'] } } }, async () => ({ message: 'Sample created.' }))
  app.patch('/permission', { config: { axioms: { permissions: ['sample:update'] } } }, async () => ({ message: 'Sample updated.' }))
  app.get('/permission', { config: { axioms: { permissions: ['sample:read'] } } }, async () => ({ message: 'Sample read.' }))
  app.delete('/permission', { config: { axioms: { permissions: ['sample:delete'] } } }, async () => ({ message: 'Sample deleted.' }))

  // Object ownership: only the article's author (claim `sub` = field `user`) may read it.
  const articles = new Map<string, Article>([
    ['1', { id: '1', title: 'Written by user123', user: 'user123' }],
    ['2', { id: '2', title: 'Written by someone else', user: 'user456' }]
  ])
  app.get('/articles/:id', {
    onRequest: [app.checkObjectOwnership<Article, { id: string }>({ getObject: request => articles.get(request.params.id) })]
  }, async request => request.ownedObject)

  await app.ready()
  return { app, issuer, cases: issuer === undefined ? [] : sampleCases(issuer) }
}

function sampleCases (idp: TestIssuer): SampleCase[] {
  const ns = 'https://your-domain.com/claims'
  const t = (claims: Record<string, unknown>): string => idp.sign({ sub: 'user123', ...claims })
  const scopeOk = t({ scope: 'openid profile email' })
  const scopeNo = t({ scope: 'email' })
  const roleOk = t({ roles: ['sample:role', 'viewer'] })
  const roleNs = t({ [`${ns}/roles`]: ['sample:role', 'admin'] })
  const roleNo = t({ roles: ['viewer', 'editor'] })
  const permRead = t({ permissions: ['sample:read', 'sample:update'] })
  const permNs = t({ [`${ns}/permissions`]: ['sample:create', 'sample:delete'] })
  const permNo = t({ permissions: ['other:read'] })
  const expired = idp.sign({ sub: 'user123', scope: 'openid', iat: 1735686000, exp: 1735689600 })
  return [
    { title: 'scope openid profile email: succeeds', method: 'GET', url: '/private', token: scopeOk, status: 200 },
    { title: 'scope email only: 403 insufficient_scope', method: 'GET', url: '/private', token: scopeNo, status: 403 },
    { title: 'no token: 401 Missing Authorization Header', method: 'GET', url: '/private', status: 401 },
    { title: 'expired token: 401 Token has expired', method: 'GET', url: '/private', token: expired, status: 401 },
    { title: 'roles [sample:role, viewer]: read', method: 'GET', url: '/role', token: roleOk, status: 200 },
    { title: 'roles [sample:role, viewer]: create', method: 'POST', url: '/role', token: roleOk, status: 200 },
    { title: 'roles [sample:role, viewer]: update', method: 'PATCH', url: '/role', token: roleOk, status: 200 },
    { title: 'roles [sample:role, viewer]: delete', method: 'DELETE', url: '/role', token: roleOk, status: 200 },
    { title: 'namespaced roles claim: succeeds (domain your-domain.com)', method: 'GET', url: '/role', token: roleNs, status: 200 },
    { title: 'roles [viewer, editor]: 403', method: 'GET', url: '/role', token: roleNo, status: 403 },
    { title: 'permissions [sample:read, sample:update]: GET succeeds', method: 'GET', url: '/permission', token: permRead, status: 200 },
    { title: 'permissions [sample:read, sample:update]: PATCH succeeds', method: 'PATCH', url: '/permission', token: permRead, status: 200 },
    { title: 'permissions [sample:read, sample:update]: POST 403', method: 'POST', url: '/permission', token: permRead, status: 403 },
    { title: 'namespaced permissions [sample:create, sample:delete]: POST succeeds', method: 'POST', url: '/permission', token: permNs, status: 200 },
    { title: 'namespaced permissions [sample:create, sample:delete]: DELETE succeeds', method: 'DELETE', url: '/permission', token: permNs, status: 200 },
    { title: 'namespaced permissions [sample:create, sample:delete]: GET 403', method: 'GET', url: '/permission', token: permNs, status: 403 },
    { title: 'permissions [other:read]: 403', method: 'GET', url: '/permission', token: permNo, status: 403 },
    { title: 'own article: succeeds', method: 'GET', url: '/articles/1', token: scopeOk, status: 200 },
    { title: "someone else's article: 403", method: 'GET', url: '/articles/2', token: scopeOk, status: 403 },
    { title: 'no such article: 404', method: 'GET', url: '/articles/999', token: scopeOk, status: 404 }
  ]
}

/** A copy-paste curl command for a case. */
export function curl (base: string, c: SampleCase): string {
  const auth = c.token === undefined ? '' : ` -H "Authorization: Bearer ${c.token}"`
  return `curl -i -X ${c.method} ${base}${c.url}${auth}`
}
