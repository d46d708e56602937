import t, { type Test } from 'tap'
import Fastify, { type FastifyError, type FastifyReply } from 'fastify'
import axioms, { AxiomsError, type AxiomsOptions } from '../index.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'
import { appWithTwoIssuers } from './fixture.js'

async function setup (t: Test, extra: Partial<AxiomsOptions>, fastifyOpts: Record<string, unknown> = {}): Promise<{ app: ReturnType<typeof Fastify>, idp: TestIssuer, calls: { n: number } }> {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify(fastifyOpts)
  t.teardown(() => app.close())
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, dpop: false, ...extra }) // Bearer only here; DPoP: test/dpop/documents.test.ts
  const calls = { n: 0 }
  const ok = async (): Promise<{ ok: true }> => { calls.n++; return { ok: true } }
  app.get('/read', { config: { axioms: { scopes: ['read:data', 'openid'] } } }, ok)
  app.get('/write', { onRequest: app.hasRequiredScopes({ all: ['write:data'] }) }, ok)
  app.get('/admin', { config: { axioms: { roles: ['admin'] } } }, ok)
  app.get('/mine', { onRequest: app.hasValidAccessToken() }, ok)
  return { app, idp, calls }
}

t.test('protectedResourceMetadata: true serves the document from the request origin', async t => {
  const { app, idp, calls } = await setup(t, { protectedResourceMetadata: true })
  const res = await app.inject({ url: '/.well-known/oauth-protected-resource', headers: { host: 'api.example.com' } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'public, max-age=3600')
  t.same(res.json(), {
    resource: 'http://api.example.com',
    authorization_servers: [idp.issuer],
    bearer_methods_supported: ['header'],
    scopes_supported: ['openid', 'read:data', 'write:data']
  }, 'scopes: every scope some route requires, sorted')

  const missing = await app.inject({ url: '/read', headers: { host: 'api.example.com:8443' } })
  t.equal(missing.statusCode, 401)
  t.equal(missing.headers['www-authenticate'], `Bearer realm="${idp.issuer}", resource_metadata="http://api.example.com:8443/.well-known/oauth-protected-resource"`)
  const expired = await app.inject({ url: '/read', headers: { host: 'api.example.com', authorization: `Bearer ${idp.sign({ scope: 'openid' }, { expiresIn: -60 })}` } })
  t.equal(expired.statusCode, 401)
  t.same(expired.json(), { error: 'invalid_token', error_description: 'Token has expired' })
  t.equal(expired.headers['www-authenticate'], `Bearer realm="${idp.issuer}", error="invalid_token", error_description="Token has expired", resource_metadata="http://api.example.com/.well-known/oauth-protected-resource"`)
  const forbidden = await app.inject({ url: '/write', headers: { host: 'api.example.com', authorization: `Bearer ${idp.sign({ scope: 'openid' })}` } })
  t.equal(forbidden.statusCode, 403)
  t.equal(forbidden.headers['www-authenticate'], `Bearer realm="${idp.issuer}", error="insufficient_scope", error_description="Insufficient role, scope or permission", scope="write:data", resource_metadata="http://api.example.com/.well-known/oauth-protected-resource"`)
  const ok = await app.inject({ url: '/read', headers: { host: 'api.example.com', authorization: `Bearer ${idp.sign({ scope: 'openid' })}` } })
  t.equal(ok.statusCode, 200)
  t.equal(calls.n, 1)
})

t.test('behind a proxy (trustProxy): protocol and host from X-Forwarded-*', async t => {
  const { app, idp } = await setup(t, { protectedResourceMetadata: true }, { trustProxy: true })
  const headers = { host: 'internal:3000', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' }
  const doc = await app.inject({ url: '/.well-known/oauth-protected-resource', headers })
  t.equal(doc.json().resource, 'https://api.example.com')
  const res = await app.inject({ url: '/mine', headers })
  t.equal(res.headers['www-authenticate'], `Bearer realm="${idp.issuer}", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"`)
})

t.test('an unusable Host header: 400 for the document, no resource_metadata in challenges', async t => {
  const { app, idp } = await setup(t, { protectedResourceMetadata: true })
  const doc = await app.inject({ url: '/.well-known/oauth-protected-resource', headers: { host: 'evil.example"/x' } })
  t.equal(doc.statusCode, 400)
  t.same(doc.json(), { error: 'invalid_request', error_description: 'Invalid Host header' })
  const res = await app.inject({ url: '/read', headers: { host: 'a b' } })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], `Bearer realm="${idp.issuer}"`)
  const v6 = await app.inject({ url: '/read', headers: { host: '[::1]:8080' } })
  t.equal(v6.headers['www-authenticate'], `Bearer realm="${idp.issuer}", resource_metadata="http://[::1]:8080/.well-known/oauth-protected-resource"`)
})

t.test('configured resource, scopes and authorization servers (RFC 9728 §3.1 path)', async t => {
  const { app, idp } = await setup(t, {
    protectedResourceMetadata: {
      resource: 'https://api.example.com/v1/',
      scopesSupported: ['openid', 'read:data'],
      authorizationServers: ['https://login.example.com']
    }
  })
  const bare = await app.inject({ url: '/.well-known/oauth-protected-resource' })
  t.equal(bare.statusCode, 404, 'served under the resource\'s path only')
  const res = await app.inject({ url: '/.well-known/oauth-protected-resource/v1', headers: { host: 'whatever.internal' } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), {
    resource: 'https://api.example.com/v1/',
    authorization_servers: ['https://login.example.com'],
    bearer_methods_supported: ['header'],
    scopes_supported: ['openid', 'read:data']
  })
  const challenge = await app.inject({ url: '/admin', headers: { host: 'whatever.internal' } })
  t.equal(challenge.headers['www-authenticate'], `Bearer realm="${idp.issuer}", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/v1"`)
})

t.test('several issuers are the authorization servers; no route scopes: no scopes_supported', async t => {
  const { app, a, b } = await appWithTwoIssuers(t, { audience: 'api', dpop: false, protectedResourceMetadata: { resource: 'https://api.example.com' } })
  app.get('/x', { config: { axioms: { roles: ['r'] } } }, async () => ({}))
  const res = await app.inject({ url: '/.well-known/oauth-protected-resource' })
  t.same(res.json(), { resource: 'https://api.example.com', authorization_servers: [a.issuer, b.issuer], bearer_methods_supported: ['header'] })
})

t.test('errorResponse: throw carries resource_metadata in AxiomsError.headers', async t => {
  const { app } = await setup(t, { protectedResourceMetadata: { resource: 'https://api.example.com' }, errorResponse: 'throw' })
  let seen: AxiomsError | undefined
  app.setErrorHandler((err: FastifyError, _req: unknown, reply: FastifyReply) => {
    seen = err as unknown as AxiomsError
    return reply.code(err.statusCode ?? 500).send({ custom: true })
  })
  const res = await app.inject({ url: '/read' })
  t.equal(res.statusCode, 401)
  t.ok(seen instanceof AxiomsError)
  t.match(seen?.headers['www-authenticate'], /resource_metadata="https:\/\/api\.example\.com\/\.well-known\/oauth-protected-resource"$/)
})

t.test('off by default: no document, no resource_metadata', async t => {
  const { app, idp } = await setup(t, {})
  const doc = await app.inject({ url: '/.well-known/oauth-protected-resource' })
  t.equal(doc.statusCode, 404)
  const res = await app.inject({ url: '/read' })
  t.equal(res.headers['www-authenticate'], `Bearer realm="${idp.issuer}"`)
})

t.test('bad protectedResourceMetadata options fail register()', async t => {
  for (const bad of [
    'yes',
    { resource: 'ftp://x' },
    { scopesSupported: [] },
    { authorizationServers: ['not a url'] }
  ]) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(axioms, { audience: 'a', issuer: 'https://idp.example', env: {}, protectedResourceMetadata: bad as unknown as boolean }) }, /protectedResourceMetadata/)
  }
})
