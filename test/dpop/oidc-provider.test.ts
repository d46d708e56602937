// Interoperability: a real oidc-provider 9 with DPoP enabled (its own jose-based proof checks)
// accepts a token-request proof made by the test kit and issues a DPoP-bound JWT access token;
// the proof verifier accepts that token with a resource proof from the same key, and refuses it
// without one or with another key. (Through the plugin's hooks: phase 2.)
import t from 'tap'
import { createPublicKey, verify } from 'node:crypto'
import { createDpopProof, generateDpopKey } from '../../testing.js'
import { DpopVerifier, type DpopRequest } from '../../lib/dpop/proof.js'
import { refusal, settings } from './helpers.js'
import { API, serviceClient, startProvider, tokenRequest } from '../oidc/provider.js'

const { issuer, signingKey } = await startProvider({
  clients: [serviceClient('read:data')],
  scopes: ['read:data'],
  features: { dPoP: { enabled: true } },
  resource: { scope: 'read:data', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }
})

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
    body: tokenRequest('read:data')
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
