// A small app written against the public types: options, config.axioms, hook factories,
// request.authJwt, the error type and the test kit. The same file is compiled as ESM and as
// CommonJS under each module setting (see check.mjs).
import Fastify, { type FastifyInstance } from 'fastify'
import axioms, { AxiomsError, isAxiomsError, getTokenScopes, type AxiomsHook, type AxiomsOptions } from 'axioms-fastify'
import type { TestIssuer } from 'axioms-fastify/testing'

// What a user writes once to type their own claims.
declare module 'axioms-fastify' {
  interface AccessTokenClaims {
    tenant?: string
  }
}

export interface Article { id: string, user: string }

export async function buildApp (options: AxiomsOptions): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(axioms, options)
  app.get('/orders', { config: { axioms: { scopes: ['orders:read'] } } }, async request => {
    const claims = request.authJwt
    const tenant: string | undefined = claims ? claims.tenant : undefined
    const exp: number | undefined = claims ? claims.exp : undefined
    return { customer: claims ? claims.sub ?? null : null, tenant: tenant ?? null, expires: typeof exp === 'number' }
  })
  const adminOnly: AxiomsHook[] = [app.hasValidAccessToken(), app.hasRequiredRoles({ all: ['admin'] })]
  app.delete('/orders/:id', { onRequest: adminOnly }, async () => ({ deleted: true }))
  app.get<{ Params: { id: string } }>('/articles/:id', {
    onRequest: [
      app.hasValidAccessToken(),
      app.checkObjectOwnership<Article, { id: string }>({ getObject: request => ({ id: request.params.id, user: 'owner-1' }) })
    ]
  }, async request => ({ article: request.ownedObject as Article }))
  app.get('/feed', { preHandler: app.hasValidAccessToken({ optional: true }) }, async request => ({ anonymous: request.authJwt === null }))
  return app
}

export function describeError (err: unknown): string {
  if (err instanceof AxiomsError) return `${err.code} ${err.statusCode} ${err.error}`
  if (isAxiomsError(err)) return 'never'
  return 'other'
}

export const scopesOf = (claims: Record<string, unknown>): string[] => getTokenScopes(claims)

export const audienceOf = (idp: TestIssuer): string => idp.issuer

// Never called: each line must fail to compile (an unused @ts-expect-error is itself an error), so
// types that silently became `any` would fail this fixture.
export function typeErrors (app: FastifyInstance): void {
  // @ts-expect-error audience is a string or a list of strings
  app.register(axioms, { audience: 1 }).catch(() => {})
  // @ts-expect-error HS256 can never be enabled
  app.register(axioms, { audience: 'api', algorithms: ['HS256'] }).catch(() => {})
  // @ts-expect-error a requirement is a list or { any } / { all }
  app.get('/bad', { config: { axioms: { scopes: 'read' } } }, async () => ({}))
  app.get('/claims', async request => {
    // @ts-expect-error exp is a number
    const exp: string | undefined = request.authJwt ? request.authJwt.exp : undefined
    return { exp }
  })
  // @ts-expect-error no such hook factory
  app.hasValidToken()
}
