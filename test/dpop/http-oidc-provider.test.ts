// Interoperability through the plugin: a real oidc-provider 9 on 127.0.0.1 with DPoP enabled issues
// a DPoP-bound JWT access token (client_credentials, the token request carrying a proof by the
// test kit); the plugin, configured with issuer and audience only (keys through discovery), accepts
// it with a proof from the client's key and refuses it without one, with another key's proof and
// as Bearer; a token issued without DPoP works as Bearer in allowed mode only.
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import axioms, { type AxiomsOptions } from '../../index.js'
import { createDpopProof, type DpopKey, generateDpopKey } from '../../testing.js'
import { httpGet, listen } from '../attacks/harness.js'
import { bearerChallenge, DPOP_BARE, dpopChallenge, type Out, passed, proofFault, refused } from './http.js'
import { API, serviceClient, startProvider, tokenRequest } from '../oidc/provider.js'

const { issuer } = await startProvider({
  clients: [serviceClient('read:data')],
  scopes: ['read:data'],
  features: { dPoP: { enabled: true } },
  resource: { scope: 'read:data', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }
})

/** client_credentials at oidc-provider; with `key`, the token request carries its DPoP proof. */
async function accessToken (key?: DpopKey): Promise<{ token: string, type: string }> {
  const tokenUrl = `${issuer}/token`
  const res = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(key === undefined ? {} : { dpop: createDpopProof(key, { htm: 'POST', htu: tokenUrl }) }) },
    body: tokenRequest('read:data')
  })
  const body = await res.json() as { access_token?: string, token_type?: string }
  if (res.status !== 200 || typeof body.access_token !== 'string') throw new Error(`token endpoint: ${res.status} ${JSON.stringify(body)}`)
  return { token: body.access_token, type: body.token_type as string }
}

interface App { app: FastifyInstance, readonly calls: number, seen: unknown[], call: (headers: Record<string, string>) => Promise<Out> }

async function plugin (options: AxiomsOptions = {}): Promise<App> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { issuer, audience: API, env: {}, ...options })
  let calls = 0
  const seen: unknown[] = []
  app.get('/data', { config: { axioms: { scopes: ['read:data'] } } }, async request => { calls++; seen.push(request.authJwt); return { ok: true } })
  await app.ready()
  return {
    app,
    get calls () { return calls },
    seen,
    call: async headers => {
      const before = calls
      const res = await app.inject({ url: '/data', headers })
      return { status: res.statusCode, headers: res.headers, body: res.json(), handled: calls - before }
    }
  }
}

const HTU = 'http://localhost/data'

t.test('a DPoP-bound token from oidc-provider: accepted with the client key\'s proof, refused otherwise', async t => {
  const key = generateDpopKey('ES256')
  const { token, type } = await accessToken(key)
  t.equal(type, 'DPoP', 'oidc-provider issued a DPoP token')
  const api = await plugin()
  const proof = (by: DpopKey = key, over: Parameters<typeof createDpopProof>[1] = { htu: HTU, accessToken: token }): string => createDpopProof(by, over)

  passed(t, await api.call({ authorization: `DPoP ${token}`, dpop: proof() }), 'the client\'s proof')
  const claims = api.seen[0] as Record<string, unknown>
  t.same(claims.cnf, { jkt: key.jkt }, 'bound by oidc-provider\'s own thumbprint of the kit key')
  t.equal(claims.client_id, 'svc')
  refused(t, await api.call({ authorization: `DPoP ${token}` }), proofFault('Missing DPoP proof'), 'no proof')
  refused(t, await api.call({ authorization: `DPoP ${token}`, dpop: proof(generateDpopKey('ES256')) }), { status: 401, error: 'invalid_token', description: 'Access token is not bound to the DPoP proof key', challenge: dpopChallenge('invalid_token', 'Access token is not bound to the DPoP proof key') }, 'another key\'s proof')
  refused(t, await api.call({ authorization: `Bearer ${token}` }), { status: 401, error: 'invalid_token', description: 'DPoP-bound access token requires the DPoP scheme', challenge: bearerChallenge(issuer, 'invalid_token', 'DPoP-bound access token requires the DPoP scheme') }, 'as Bearer')
  refused(t, await api.call({ authorization: `DPoP ${token}`, dpop: proof(key, { htm: 'POST', htu: `${issuer}/token` }) }), proofFault('DPoP proof method mismatch'), 'the token request\'s proof replayed at the API')
  refused(t, await api.call({ authorization: `DPoP ${token}`, dpop: proof(key, { htu: HTU }) }), proofFault('DPoP proof access token hash mismatch'), 'a proof without ath')
  t.equal(api.calls, 1)

  // Over a real socket, the proof names the URL the client called.
  const port = await listen(api.app)
  const res = await httpGet(port, '/data', { authorization: `DPoP ${token}`, dpop: proof(key, { htu: `http://127.0.0.1:${port}/data?x=1`, accessToken: token }) })
  t.equal(res.status, 200, 'over a socket')
})

t.test('tokens issued without DPoP: Bearer in allowed mode, refused in required mode', async t => {
  const { token, type } = await accessToken()
  t.equal(type, 'Bearer')
  const allowed = await plugin()
  passed(t, await allowed.call({ authorization: `Bearer ${token}` }), 'allowed')
  const required = await plugin({ dpop: { mode: 'required' } })
  refused(t, await required.call({ authorization: `Bearer ${token}` }), { status: 401, error: 'invalid_token', description: 'Invalid Authorization DPoP', challenge: DPOP_BARE }, 'required')
  const key = generateDpopKey('ES256')
  const bound = await accessToken(key)
  passed(t, await required.call({ authorization: `DPoP ${bound.token}`, dpop: createDpopProof(key, { htu: HTU, accessToken: bound.token }) }), 'required, with a DPoP-bound token')
})

t.test('server nonces at the API with oidc-provider\'s tokens: the use_dpop_nonce round trip', async t => {
  const key = generateDpopKey('EdDSA')
  const { token } = await accessToken(key)
  const api = await plugin({ dpop: { nonce: { secret: 'n'.repeat(40) } } })
  const first = await api.call({ authorization: `DPoP ${token}`, dpop: createDpopProof(key, { htu: HTU, accessToken: token }) })
  const nonce = first.headers['dpop-nonce'] as string
  refused(t, first, { status: 401, error: 'use_dpop_nonce', description: 'Resource server requires nonce in DPoP proof', challenge: dpopChallenge('use_dpop_nonce', 'Resource server requires nonce in DPoP proof'), nonce }, 'no nonce yet')
  passed(t, await api.call({ authorization: `DPoP ${token}`, dpop: createDpopProof(key, { htu: HTU, accessToken: token, nonce }) }), 'the retry with the nonce')
})
