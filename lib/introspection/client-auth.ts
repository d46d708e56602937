// How the API authenticates to the introspection endpoint (RFC 7662 §2.1 leaves it to the
// authorization server): client_secret_basic, client_secret_post (RFC 6749 §2.3.1) or
// private_key_jwt (RFC 7523 §2.2, OIDC Core §9), a short-lived assertion signed per request.
import { constants, randomUUID, sign } from 'node:crypto'
import type { IntrospectionSettings } from './options.js'

// RFC 6749 §2.3.1 / Appendix B: the id and secret are form-encoded before the Basic encoding.
const formEncode = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+')

const b64 = (data: string | Buffer): string => Buffer.from(data).toString('base64url')

function assertion (s: IntrospectionSettings, audience: string): string {
  const alg = s.algorithm as NonNullable<IntrospectionSettings['algorithm']>
  const now = Math.floor(Date.now() / 1000)
  const header = s.keyId === undefined ? { alg, typ: 'JWT' } : { alg, typ: 'JWT', kid: s.keyId }
  // RFC 7523 §3: iss and sub are the client, aud the endpoint; short-lived and unique.
  const payload = { iss: s.clientId, sub: s.clientId, aud: audience, jti: randomUUID(), iat: now, exp: now + 60 }
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`
  const hash = alg === 'EdDSA' ? null : `sha${alg === 'ES384' ? 384 : alg === 'ES512' ? 512 : 256}`
  const signature = sign(hash, Buffer.from(input), {
    key: s.privateKey as NonNullable<IntrospectionSettings['privateKey']>,
    ...(alg === 'PS256' ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : {}),
    ...(alg.startsWith('ES') ? { dsaEncoding: 'ieee-p1363' as const } : {})
  })
  return `${input}.${b64(signature)}`
}

/** The headers and form body of one introspection request for `token`. */
export function introspectionRequest (s: IntrospectionSettings, endpoint: string, token: string): { headers: Record<string, string>, body: string } {
  const form = new URLSearchParams({ token, token_type_hint: 'access_token' })
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
  if (s.clientAuth === 'client_secret_basic') {
    headers.authorization = 'Basic ' + Buffer.from(`${formEncode(s.clientId)}:${formEncode(s.clientSecret as string)}`).toString('base64')
  } else if (s.clientAuth === 'client_secret_post') {
    form.set('client_id', s.clientId)
    form.set('client_secret', s.clientSecret as string)
  } else {
    form.set('client_id', s.clientId)
    form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
    form.set('client_assertion', assertion(s, endpoint))
  }
  return { headers, body: form.toString() }
}
