// A real OpenID provider (oidc-provider 9) in-process on 127.0.0.1 issues JWT access tokens via
// client_credentials with a resource indicator. The plugin knows only issuer + audience: keys come
// through OIDC discovery. Also run with profile: 'rfc9068' (oidc-provider signs `typ: at+jwt`).
import t from 'tap'
import Fastify from 'fastify'
import axioms from '../index.js'
import { API, serviceClient, startProvider, tokenRequest } from './oidc/provider.js'

const { issuer } = await startProvider({
  clients: [serviceClient('read:data write:data admin:data')],
  scopes: ['read:data', 'write:data', 'admin:data'],
  resource: { scope: 'read:data write:data', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }
})

async function accessToken (scope: string): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: tokenRequest(scope)
  })
  const body = await res.json() as { access_token?: string, error?: string }
  if (typeof body.access_token !== 'string') throw new Error(`token endpoint: ${res.status} ${JSON.stringify(body)}`)
  return body.access_token
}

function decode (part: string | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(part as string, 'base64url').toString()) as Record<string, unknown>
}

for (const profile of [undefined, 'rfc9068'] as const) {
  t.test(`oidc-provider JWT access tokens verified via discovery${profile === undefined ? '' : ` (profile ${profile})`}`, async t => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(axioms, { issuer, audience: API, env: {}, ...(profile === undefined ? {} : { profile }) })
    let calls = 0
    app.get('/read', { config: { axioms: { scopes: ['read:data'] } } }, async request => { calls++; return { client: request.authJwt === false ? undefined : request.authJwt?.client_id } })
    app.get('/write', { preHandler: [app.hasValidAccessToken(), app.hasRequiredScopes({ all: ['read:data', 'write:data'] })] }, async () => { calls++; return { ok: true } })
    app.get('/admin', { config: { axioms: { scopes: ['admin:data'] } } }, async () => { calls++; return { ok: true } })
    await app.ready()

    const token = await accessToken('read:data write:data')
    const [h, p] = token.split('.')
    const header = decode(h)
    const payload = decode(p)
    t.equal(header.typ, 'at+jwt')
    t.equal(header.kid, 'op-rs256')
    t.equal(payload.iss, issuer)
    t.equal(payload.aud, API)
    t.equal(payload.client_id, 'svc')

    const auth = { authorization: `Bearer ${token}` }
    const read = await app.inject({ url: '/read', headers: auth })
    t.equal(read.statusCode, 200)
    t.same(read.json(), { client: 'svc' })
    t.equal((await app.inject({ url: '/write', headers: auth })).statusCode, 200)
    const admin = await app.inject({ url: '/admin', headers: auth })
    t.equal(admin.statusCode, 403, 'a scope the resource server never granted')
    t.same(admin.json(), { error: 'insufficient_scope', error_description: 'Insufficient role, scope or permission' })
    t.match(admin.headers['www-authenticate'], /scope="admin:data"/)

    const readOnly = `Bearer ${await accessToken('read:data')}`
    t.equal((await app.inject({ url: '/read', headers: { authorization: readOnly } })).statusCode, 200)
    t.equal((await app.inject({ url: '/write', headers: { authorization: readOnly } })).statusCode, 403, 'write:data not granted')
    t.equal(calls, 3)
    const stats = app.axioms.stats().issuers[0]
    t.equal(stats?.jwksUri, `${issuer}/jwks`, 'the jwks_uri came from discovery')
    t.equal(stats?.fetches, 1)
  })
}

t.test('a token of the provider for another audience is refused', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { issuer, audience: 'https://other-api.test', env: {} })
  app.get('/read', { config: { axioms: { scopes: ['read:data'] } } }, async () => ({ ok: true }))
  const res = await app.inject({ url: '/read', headers: { authorization: `Bearer ${await accessToken('read:data')}` } })
  t.equal(res.statusCode, 401)
  t.equal(res.json().error_description, 'Invalid token audience')
})
