// Token introspection (RFC 7662) against a real oidc-provider that issues opaque access tokens:
// the plugin, configured with issuer, audience and its own client, finds the endpoint through
// discovery, authenticates with client_secret_basic, client_secret_post or private_key_jwt, and
// applies the routes' requirements to the answer. Revocation, caching and single-flight too.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { generateKeyPairSync } from 'node:crypto'
import axioms, { type IntrospectionOptions } from '../../index.js'
import { API, SERVICE, serviceClient, startProvider, tokenRequest } from '../oidc/provider.js'

const introspections: string[] = []
const apiKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const { issuer } = await startProvider({
  onRequest: req => { if (req.method === 'POST' && req.url === '/token/introspection') introspections.push(String(req.headers.authorization ?? 'post')) },
  clients: [
    serviceClient('read:data write:data'),
    { client_id: 'api-basic', client_secret: 'api-basic-secret-long-enough', grant_types: [], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' },
    { client_id: 'api-post', client_secret: 'api-post-secret-long-enough', grant_types: [], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_post' },
    {
      client_id: 'api-jwt',
      grant_types: [],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: { keys: [{ ...apiKey.publicKey.export({ format: 'jwk' }), kid: 'api-key', use: 'sig' }] }
    }
  ],
  scopes: ['read:data', 'write:data'],
  features: { introspection: { enabled: true, allowedPolicy: async () => true }, revocation: { enabled: true } },
  resource: { scope: 'read:data write:data', accessTokenFormat: 'opaque' },
  extra: { ttl: { ClientCredentials: 600 } }
})

const form = (body: Record<string, string>): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) })

async function opaqueToken (scope: string): Promise<string> {
  const res = await fetch(`${issuer}/token`, form(Object.fromEntries(tokenRequest(scope))))
  const body = await res.json() as { access_token?: string }
  if (typeof body.access_token !== 'string') throw new Error(`token endpoint: ${res.status}`)
  return body.access_token
}

async function revoke (token: string): Promise<void> {
  const res = await fetch(`${issuer}/token/revocation`, form({ token, ...SERVICE }))
  if (res.status !== 200) throw new Error(`revocation: ${res.status}`)
}

async function app (t: Test, introspection: IntrospectionOptions): Promise<{ app: FastifyInstance, calls: () => number }> {
  const a = Fastify()
  t.teardown(() => a.close())
  await a.register(axioms, { issuer, audience: API, env: {}, introspection })
  let calls = 0
  a.get('/read', { config: { axioms: { scopes: ['read:data'] } } }, async request => { calls++; return { client: a.axioms.claims(request).client_id } })
  a.get('/write', { config: { axioms: { scopes: ['write:data'] } } }, async () => { calls++; return { ok: true } })
  await a.ready()
  return { app: a, calls: () => calls }
}

const get = async (a: FastifyInstance, url: string, token?: string) =>
  await a.inject({ url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })

const clients: Array<[string, IntrospectionOptions]> = [
  ['client_secret_basic', { clientId: 'api-basic', clientSecret: 'api-basic-secret-long-enough' }],
  ['client_secret_post', { clientId: 'api-post', clientSecret: 'api-post-secret-long-enough', clientAuth: 'client_secret_post' }],
  ['private_key_jwt', { clientId: 'api-jwt', privateKey: apiKey.privateKey, keyId: 'api-key' }]
]

for (const [method, introspection] of clients) {
  t.test(`opaque tokens introspected (${method}), endpoint discovered`, async t => {
    const { app: a, calls } = await app(t, introspection)
    const reader = await opaqueToken('read:data')
    t.notMatch(reader, /\./, 'an opaque token, not a JWT')
    const ok = await get(a, '/read', reader)
    t.equal(ok.statusCode, 200)
    t.same(ok.json(), { client: 'svc' })
    const forbidden = await get(a, '/write', reader)
    t.equal(forbidden.statusCode, 403)
    t.equal(forbidden.headers['www-authenticate'], `Bearer realm="${issuer}", error="insufficient_scope", error_description="Insufficient role, scope or permission", scope="write:data"`)
    const made = await get(a, '/read', 'not-a-token-the-provider-issued')
    t.equal(made.statusCode, 401)
    t.same(made.json(), { error: 'invalid_token', error_description: 'Invalid access token' })
    t.equal(made.headers['www-authenticate'], `Bearer realm="${issuer}", error="invalid_token", error_description="Invalid access token"`)
    t.equal(calls(), 1)
    const stats = a.axioms.stats()
    t.match(stats.introspection, { endpoint: `${issuer}/token/introspection`, active: 1, inactive: 1, failures: 0, lastError: null })
    t.equal(stats.refusedBy.inactive_token, 1)
  })
}

t.test('revocation: seen on the next introspection; cacheTtl bounds how long an answer is reused', async t => {
  const fresh = await app(t, { clientId: 'api-basic', clientSecret: 'api-basic-secret-long-enough', cacheTtl: 0 })
  const cached = await app(t, { clientId: 'api-basic', clientSecret: 'api-basic-secret-long-enough', cacheTtl: '1h' })
  const token = await opaqueToken('read:data')
  t.equal((await get(fresh.app, '/read', token)).statusCode, 200)
  t.equal((await get(cached.app, '/read', token)).statusCode, 200)
  await revoke(token)
  t.equal((await get(fresh.app, '/read', token)).statusCode, 401, 'cacheTtl 0: the revocation counts at once')
  t.equal((await get(cached.app, '/read', token)).statusCode, 200, 'within cacheTtl the earlier answer is reused (documented)')
  t.equal(cached.app.axioms.stats().introspection?.cacheHits, 1)
})

t.test('one introspection per token at a time, and app.axioms.verify for opaque tokens', async t => {
  const { app: a } = await app(t, { clientId: 'api-basic', clientSecret: 'api-basic-secret-long-enough' })
  const token = await opaqueToken('read:data write:data')
  introspections.length = 0
  const answers = await Promise.all(Array.from({ length: 20 }, async () => await get(a, '/read', token)))
  t.same(answers.map(r => r.statusCode), Array(20).fill(200))
  t.equal(introspections.length, 1, '20 concurrent requests, one introspection')
  t.match(introspections[0], /^Basic /)
  const claims = await a.axioms.verify(await opaqueToken('read:data'))
  t.equal(claims.client_id, 'svc')
  t.equal(claims.aud, API)
})

t.test('the endpoint refusing the API\'s own credentials is the server\'s problem: 503, never 401', async t => {
  const lines: Array<Record<string, unknown>> = []
  const a = Fastify({ logger: { level: 'warn', stream: { write: (l: string) => { lines.push(JSON.parse(l)) } } } })
  t.teardown(() => a.close())
  await a.register(axioms, { issuer, audience: API, env: {}, introspection: { clientId: 'api-basic', clientSecret: 'wrong' } })
  a.get('/read', { config: { axioms: { scopes: ['read:data'] } } }, async () => 'never')
  const res = await get(a, '/read', await opaqueToken('read:data'))
  t.equal(res.statusCode, 503)
  t.same(res.json(), { error: 'temporarily_unavailable', error_description: 'Unable to verify the access token right now' })
  t.match(res.headers['retry-after'], /^\d+$/)
  const warn = lines.find(l => l.stage === 'introspection')
  t.equal(warn?.cause, 'status_401')
  t.match(warn?.msg, new RegExp(`^axioms: token introspection for ${issuer} failed: POST ${issuer}/token/introspection answered HTTP 401`))
  t.match(warn?.msg, /: the endpoint refused this API's client \(check introspection\.clientId and its secret or key\)$/, 'the fix is named')
  t.notMatch(JSON.stringify(lines), /wrong|api-basic-secret/, 'the secret is never logged')
})
