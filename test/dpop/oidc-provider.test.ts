// Interoperability: a real oidc-provider 9 with DPoP enabled (its own jose-based proof checks)
// accepts a token-request proof made by the test kit and issues a DPoP-bound JWT access token;
// the proof verifier accepts that token with a resource proof from the same key, and refuses it
// without one or with another key. (Through the plugin's hooks: phase 2.)
import t from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto'
import { createDpopProof, generateDpopKey } from '../../testing.js'
import { DpopVerifier, type DpopRequest } from '../../lib/dpop/proof.js'
import { refusal, settings } from './helpers.js'

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
  clients: [{ client_id: 'svc', client_secret: 'svc-secret-of-some-length', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], scope: 'read:data' }],
  scopes: ['read:data'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => API,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: 'read:data', audience: API, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } })
    }
  }
})
handler = provider.callback()

/** The token's claims, after checking its RS256 signature with the provider's key. */
function verifiedClaims (token: string): Record<string, unknown> {
  const [h, p, s] = token.split('.') as [string, string, string]
  const key = createPublicKey({ key: { kty: 'RSA', n: signingKey.n as string, e: signingKey.e as string }, format: 'jwk' })
  if (!verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'))) throw new Error('bad token signature')
  return JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>
}

t.test('a DPoP-bound token from oidc-provider: accepted with the key\'s proof, refused otherwise', async t => {
  const key = generateDpopKey('ES256')
  const tokenUrl = `${issuer}/token`
  const res = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: createDpopProof(key, { htm: 'POST', htu: tokenUrl }) },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'svc', client_secret: 'svc-secret-of-some-length', resource: API, scope: 'read:data' })
  })
  const body = await res.json() as { access_token?: string, token_type?: string }
  t.equal(res.status, 200, JSON.stringify(body))
  t.equal(body.token_type, 'DPoP')
  const token = body.access_token as string
  const claims = verifiedClaims(token)
  t.same(claims.cnf, { jkt: key.jkt }, 'bound to the kit key by oidc-provider\'s own thumbprint')

  const v = new DpopVerifier(settings())
  const req = (dpop: string | undefined): DpopRequest => ({ dpop, dpopCount: dpop === undefined ? 0 : 1, method: 'GET', scheme: 'https', host: 'api.example.test', url: '/data', accessToken: token, claims })
  const verdict = await v.check(req(createDpopProof(key, { htu: `${API}/data`, accessToken: token })))
  t.equal(verdict.jkt, key.jkt)
  t.equal((await refusal(() => v.check(req(undefined))))?.reason, 'dpop_missing')
  const thief = generateDpopKey('ES256')
  t.equal((await refusal(() => v.check(req(createDpopProof(thief, { htu: `${API}/data`, accessToken: token })))))?.reason, 'dpop_jkt')
  // The token request's proof, replayed at the API: wrong method, URL and no ath.
  t.equal((await refusal(() => v.check(req(createDpopProof(key, { htm: 'POST', htu: tokenUrl })))))?.reason, 'dpop_htm')
  t.equal((await refusal(() => v.check(req(createDpopProof(key, { htu: tokenUrl, accessToken: token })))))?.reason, 'dpop_htu')
  t.equal((await refusal(() => v.check(req(createDpopProof(key, { htu: `${API}/data` })))))?.reason, 'dpop_ath')
})
