// A TypeScript test run by ts-jest, which type-checks it: wrong types fail the run.
import { afterAll, beforeAll, expect, test } from '@jest/globals'
import Fastify, { type FastifyInstance } from 'fastify'
import axioms, { AxiomsError, isAxiomsError, type AxiomsOptions } from 'axioms-fastify'
import { createTestIssuer, type TestIssuer } from 'axioms-fastify/testing'

async function buildApp (auth: AxiomsOptions): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(axioms, auth)
  app.get('/orders', { config: { axioms: { scopes: ['orders:read'] } } }, async request => {
    const claims = request.authJwt
    return { customer: claims ? claims.sub : null }
  })
  app.get('/admin', { onRequest: [app.hasValidAccessToken(), app.hasRequiredRoles(['admin'])] }, async () => ({ admin: true }))
  return app
}

// Never called: these lines only have to fail to compile (unused @ts-expect-error is an error).
export function typeErrors (app: FastifyInstance): void {
  // @ts-expect-error audience is a string or a list of strings
  app.register(axioms, { audience: 1 }).catch(() => {})
  // @ts-expect-error a requirement is a list or { any } / { all }
  app.get('/bad', { config: { axioms: { scopes: 'read' } } }, async () => ({}))
  app.get('/claims', async request => {
    // @ts-expect-error exp is a number
    const exp: string | undefined = request.authJwt ? request.authJwt.exp : undefined
    return { exp }
  })
}

let idp: TestIssuer
let app: FastifyInstance
let base: string
beforeAll(async () => {
  idp = await createTestIssuer({ audience: 'orders-api' })
  app = await buildApp({ issuer: idp.issuer, audience: 'orders-api' })
  base = await app.listen({ port: 0, host: '127.0.0.1' })
})
afterAll(async () => {
  await app.close()
  await idp.close()
})

// Over a real socket: Fastify's inject() needs cookie@2, an ES module Jest cannot require on Node < 24.9.
async function call (url: string, token?: string): Promise<{ status: number, body: unknown, challenge: string | null }> {
  const res = await fetch(base + url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  return { status: res.status, body: await res.json(), challenge: res.headers.get('www-authenticate') }
}

test('a token with the scope reads orders', async () => {
  expect(await call('/orders', idp.sign({ sub: 'customer-42', scope: 'orders:read' }))).toEqual({ status: 200, body: { customer: 'customer-42' }, challenge: null })
})

test('refusals: 401 and 403 with the family body and a challenge', async () => {
  expect(await call('/orders')).toEqual({
    status: 401,
    body: { error: 'invalid_token', error_description: 'Missing Authorization Header' },
    // DPoP is accepted by default: the bare challenge offers both schemes.
    challenge: `Bearer realm="${idp.issuer}", DPoP algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"`
  })
  const viewer = await call('/admin', idp.sign({ roles: ['viewer'] }))
  expect(viewer.status).toBe(403)
  expect(viewer.body).toEqual({ error: 'insufficient_scope', error_description: 'Insufficient role, scope or permission' })
})

test('verify() rejects with an AxiomsError carrying a code', async () => {
  const err: unknown = await app.axioms.verify(idp.sign({}, { expiresIn: -60 })).catch((e: unknown) => e)
  expect(err).toBeInstanceOf(AxiomsError)
  if (!isAxiomsError(err)) throw new Error('not an AxiomsError')
  expect(err.code).toBe('AXIOMS_EXPIRED')
})
