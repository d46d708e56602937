// A real OpenID provider (oidc-provider 9) in-process on 127.0.0.1 issues JWT access tokens via
// client_credentials with a resource indicator. The plugin knows only issuer + audience: keys come
// through OIDC discovery. Also run with profile: 'rfc9068' (oidc-provider signs `typ: at+jwt`).
import t from 'tap'
import Fastify from 'fastify'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { generateKeyPairSync } from 'node:crypto'
import axioms from '../index.js'

// oidc-provider ships no type declarations: describe the little used here.
interface OidcProvider { callback: () => (req: IncomingMessage, res: ServerResponse) => void }
const moduleName = 'oidc-provider'
const { default: Provider } = await import(moduleName) as { default: new (issuer: string, config: Record<string, unknown>) => OidcProvider }

const API = 'https://api.example.test'

let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => { res.writeHead(503).end() }
const server = createServer((req, res) => handler(req, res))
await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
t.teardown(async () => {
  server.closeAllConnections()
  await new Promise(resolve => server.close(resolve))
})

const signingKey = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'op-rs256', use: 'sig', alg: 'RS256' }
const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  clients: [{
    client_id: 'svc',
    client_secret: 'svc-secret-of-some-length',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'read:data write:data admin:data'
  }],
  scopes: ['read:data', 'write:data', 'admin:data'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => API,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx: unknown, resource: string) => {
        if (resource !== API) throw new Error('unknown resource')
        return { scope: 'read:data write:data', audience: API, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }
      }
    }
  }
})
handler = provider.callback()

async function accessToken (scope: string): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'svc', client_secret: 'svc-secret-of-some-length', resource: API, scope })
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
