// Every example of SEED-EXAMPLES.md, through real routes, in both usage styles: hook arrays (the
// seed's stacked decorators) and route config declarations. Payloads are the seed's, with fresh times.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance, type RouteShorthandOptions } from 'fastify'
import axioms, { type AxiomsOptions } from '../index.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'
import { offered } from './fixture.js'

type Style = 'hooks' | 'config' | 'hooks+config'
type Kind = 'scopes' | 'roles' | 'permissions'
const STYLES: Style[] = ['hooks', 'config', 'hooks+config']
const FORBIDDEN = { error: 'insufficient_scope', error_description: 'Insufficient role, scope or permission' }
const METHODS = ['POST', 'PATCH', 'GET', 'DELETE'] as const
const MESSAGES: Record<string, string> = { POST: 'Sample created.', PATCH: 'Sample updated.', GET: 'Sample read.', DELETE: 'Sample deleted.' }
const PERMISSION_OF: Record<string, string> = { POST: 'sample:create', PATCH: 'sample:update', GET: 'sample:read', DELETE: 'sample:delete' }

// The route options of one requirement in one style.
function protect (app: FastifyInstance, style: Style, kind: Kind, values: string[]): RouteShorthandOptions {
  const factory = kind === 'scopes' ? app.hasRequiredScopes : kind === 'roles' ? app.hasRequiredRoles : app.hasRequiredPermissions
  if (style === 'hooks') return { preHandler: [app.hasValidAccessToken(), factory(values)] }
  // The hook without a requirement reads the route's declaration.
  if (style === 'hooks+config') return { preHandler: [app.hasValidAccessToken(), factory()], config: { axioms: { [kind]: values } } }
  return { config: { axioms: { [kind]: values } } }
}

interface Seed { app: FastifyInstance, idp: TestIssuer, calls: { n: number }, realm: string }

async function seedApp (t: Test, style: Style, namespaced = false): Promise<Seed> {
  const idp = await createTestIssuer(namespaced ? { issuer: 'https://your-domain.com' } : {})
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  const options: AxiomsOptions = namespaced
    ? { audience: 'your-api-audience', domain: 'your-domain.com', jwksUri: idp.jwksUri, env: {} }
    : { audience: 'your-api-audience', issuer: idp.issuer, env: {} }
  await app.register(axioms, options)
  const calls = { n: 0 }
  app.get('/private', protect(app, style, 'scopes', ['openid', 'profile']), async () => {
    calls.n++
    return { message: 'All good. You are authenticated!' }
  })
  app.route({
    method: [...METHODS],
    url: '/role',
    ...protect(app, style, 'roles', ['sample:role']),
    handler: async request => {
      calls.n++
      return { message: MESSAGES[request.method] }
    }
  })
  for (const method of METHODS) {
    app.route({
      method,
      url: '/permission',
      ...protect(app, style, 'permissions', [PERMISSION_OF[method] as string]),
      handler: async () => {
        calls.n++
        return { message: MESSAGES[method] }
      }
    })
  }
  return { app, idp, calls, realm: namespaced ? 'https://your-domain.com' : idp.issuer }
}

function bearer (token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` }
}

async function expect403 (t: Test, seed: Seed, method: string, url: string, token: string, scope?: string): Promise<void> {
  const before = seed.calls.n
  const res = await seed.app.inject({ method: method as 'GET', url, headers: bearer(token) })
  t.equal(res.statusCode, 403, `${method} ${url} is 403`)
  t.same(res.json(), FORBIDDEN)
  t.equal(res.headers['www-authenticate'],
    `Bearer realm="${seed.realm}", error="insufficient_scope", error_description="Insufficient role, scope or permission"` +
    (scope === undefined ? '' : `, scope="${scope}"`))
  t.equal(seed.calls.n, before, 'handler not run')
}

async function expect200 (t: Test, seed: Seed, method: string, url: string, token: string, message: string): Promise<void> {
  const before = seed.calls.n
  const res = await seed.app.inject({ method: method as 'GET', url, headers: bearer(token) })
  t.equal(res.statusCode, 200, `${method} ${url} is 200`)
  t.same(res.json(), { message })
  t.equal(seed.calls.n, before + 1, 'handler ran once')
}

for (const style of STYLES) {
  t.test(`scope-based authorization (${style})`, async t => {
    const seed = await seedApp(t, style)
    const ok = seed.idp.sign({ sub: 'user123', aud: 'your-api-audience', scope: 'openid profile email' })
    await expect200(t, seed, 'GET', '/private', ok, 'All good. You are authenticated!')
    // Either scope is enough (any-of).
    await expect200(t, seed, 'GET', '/private', seed.idp.sign({ sub: 'user123', scope: 'profile' }), 'All good. You are authenticated!')
    const fail = seed.idp.sign({ sub: 'user123', aud: 'your-api-audience', scope: 'email' })
    await expect403(t, seed, 'GET', '/private', fail, 'openid profile')
    const anon = await seed.app.inject({ url: '/private' })
    t.equal(anon.statusCode, 401)
    t.same(anon.json(), { error: 'invalid_token', error_description: 'Missing Authorization Header' })
    t.equal(anon.headers['www-authenticate'], offered(seed.realm))
  })

  t.test(`role-based authorization (${style})`, async t => {
    const seed = await seedApp(t, style)
    const ok = seed.idp.sign({ sub: 'user123', aud: 'your-api-audience', roles: ['sample:role', 'viewer'] })
    for (const method of METHODS) await expect200(t, seed, method, '/role', ok, MESSAGES[method] as string)
    const fail = seed.idp.sign({ sub: 'user123', aud: 'your-api-audience', roles: ['viewer', 'editor'] })
    for (const method of METHODS) await expect403(t, seed, method, '/role', fail)
    // The namespaced claim means nothing without `domain`.
    const namespaced = seed.idp.sign({ sub: 'user123', 'https://your-domain.com/claims/roles': ['sample:role', 'admin'] })
    await expect403(t, seed, 'GET', '/role', namespaced)
  })

  t.test(`role-based authorization with namespaced claims (${style})`, async t => {
    const seed = await seedApp(t, style, true)
    const ok = seed.idp.sign({ sub: 'user123', aud: 'your-api-audience', 'https://your-domain.com/claims/roles': ['sample:role', 'admin'] })
    for (const method of METHODS) await expect200(t, seed, method, '/role', ok, MESSAGES[method] as string)
    // The plain claim still works with a domain, and is tried first.
    await expect200(t, seed, 'GET', '/role', seed.idp.sign({ sub: 'user123', roles: ['sample:role'] }), 'Sample read.')
    const fail = seed.idp.sign({ sub: 'user123', 'https://your-domain.com/claims/roles': ['viewer', 'editor'] })
    for (const method of METHODS) await expect403(t, seed, method, '/role', fail)
    // A token `iss` with a trailing slash is accepted for a domain.
    await expect200(t, seed, 'GET', '/role', seed.idp.sign({ iss: 'https://your-domain.com/', roles: ['sample:role'] }), 'Sample read.')
    // The scope example works the same way under a domain, namespaced scopes included.
    await expect200(t, seed, 'GET', '/private', seed.idp.sign({ 'https://your-domain.com/claims/scopes': 'openid' }), 'All good. You are authenticated!')
  })

  t.test(`permission-based authorization per method (${style})`, async t => {
    const seed = await seedApp(t, style)
    const readUpdate = seed.idp.sign({ sub: 'user123', aud: 'your-api-audience', permissions: ['sample:read', 'sample:update'] })
    await expect200(t, seed, 'GET', '/permission', readUpdate, 'Sample read.')
    await expect200(t, seed, 'PATCH', '/permission', readUpdate, 'Sample updated.')
    await expect403(t, seed, 'POST', '/permission', readUpdate)
    await expect403(t, seed, 'DELETE', '/permission', readUpdate)
    const other = seed.idp.sign({ sub: 'user123', aud: 'your-api-audience', permissions: ['other:read'] })
    for (const method of METHODS) await expect403(t, seed, method, '/permission', other)
    const all = seed.idp.sign({ permissions: Object.values(PERMISSION_OF) })
    for (const method of METHODS) await expect200(t, seed, method, '/permission', all, MESSAGES[method] as string)
  })

  t.test(`permission-based authorization with namespaced claims (${style})`, async t => {
    const seed = await seedApp(t, style, true)
    const token = seed.idp.sign({ sub: 'user123', aud: 'your-api-audience', 'https://your-domain.com/claims/permissions': ['sample:create', 'sample:delete'] })
    await expect200(t, seed, 'POST', '/permission', token, 'Sample created.')
    await expect200(t, seed, 'DELETE', '/permission', token, 'Sample deleted.')
    await expect403(t, seed, 'GET', '/permission', token)
    await expect403(t, seed, 'PATCH', '/permission', token)
  })
}

t.test('the seed payloads as written (past exp) are refused as expired', async t => {
  const seed = await seedApp(t, 'hooks')
  const token = seed.idp.sign({ sub: 'user123', aud: 'your-api-audience', scope: 'openid profile email', exp: 1735689600, iat: 1735686000 })
  const res = await seed.app.inject({ url: '/private', headers: bearer(token) })
  t.equal(res.statusCode, 401)
  t.same(res.json(), { error: 'invalid_token', error_description: 'Token has expired' })
  t.equal(res.headers['www-authenticate'], `Bearer realm="${seed.realm}", error="invalid_token", error_description="Token has expired"`)
  t.equal(seed.calls.n, 0)
})
