// verifier 'fastify-jwt': every error code of the installed @fastify/jwt, fast-jwt and get-jwks is
// mapped (read from the packages themselves, so an upgrade that adds a code fails here), the table
// is pinned, and codeless failures of fetch are told apart by their real error objects.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import t from 'tap'
import { TokenError } from 'fast-jwt'
import { classify, UPSTREAM_CODES } from '../../lib/fastify-jwt.js'
import { createTestIssuer } from '../../testing.js'

const require = createRequire(import.meta.url)

/** The codes @fastify/jwt creates (createError('FST_JWT_...')): they are not exported. */
function fastifyJwtCodes (): string[] {
  const source = readFileSync(require.resolve('@fastify/jwt'), 'utf8')
  return [...source.matchAll(/createError\('([A-Z_]+)'/g)].map(m => m[1] as string)
}

const getJwksCodes = Object.values((require('get-jwks/src/error.js') as { errorCode: Record<string, string> }).errorCode)
const fastJwtCodes = Object.values(TokenError.codes as Record<string, string>)

t.test('every code of the installed packages is mapped', async t => {
  const fst = fastifyJwtCodes()
  t.ok(fst.length >= 8, `@fastify/jwt codes found: ${fst.join(', ')}`)
  t.ok(fastJwtCodes.length >= 18, 'fast-jwt codes found')
  t.ok(getJwksCodes.length >= 6, 'get-jwks codes found')
  for (const code of [...fst, ...fastJwtCodes, ...getJwksCodes]) {
    t.ok(Object.hasOwn(UPSTREAM_CODES, code), `${code} is mapped`)
  }
  // Nothing stale either: every mapped code still exists upstream.
  const known = new Set([...fst, ...fastJwtCodes, ...getJwksCodes])
  for (const code of Object.keys(UPSTREAM_CODES)) t.ok(known.has(code), `${code} exists upstream`)
})

t.test('the mapping, pinned: token faults answer as the built-in engine would, key trouble is 503', async t => {
  const expected: Record<string, [string, string]> = {
    FST_JWT_BAD_REQUEST: ['duplicate_header', 'debug'],
    FST_JWT_NO_AUTHORIZATION_IN_HEADER: ['upstream_error', 'error'],
    FST_JWT_NO_AUTHORIZATION_IN_COOKIE: ['upstream_error', 'error'],
    FST_JWT_BAD_COOKIE_REQUEST: ['upstream_error', 'error'],
    FST_JWT_AUTHORIZATION_TOKEN_EXPIRED: ['expired', 'debug'],
    FST_JWT_AUTHORIZATION_TOKEN_INVALID: ['bad_signature', 'debug'],
    FST_JWT_AUTHORIZATION_TOKEN_UNTRUSTED: ['untrusted', 'debug'],
    FAST_JWT_INVALID_TYPE: ['bad_typ', 'debug'],
    FAST_JWT_INVALID_OPTION: ['upstream_error', 'error'],
    FAST_JWT_INVALID_ALGORITHM: ['bad_algorithm', 'debug'],
    FAST_JWT_INVALID_CLAIM_TYPE: ['bad_claim', 'debug'],
    FAST_JWT_INVALID_CLAIM_VALUE: ['bad_claim', 'debug'],
    FAST_JWT_INVALID_KEY: ['key_mismatch', 'debug'],
    FAST_JWT_INVALID_SIGNATURE: ['bad_signature', 'debug'],
    FAST_JWT_INVALID_PAYLOAD: ['malformed', 'debug'],
    FAST_JWT_MALFORMED: ['malformed', 'debug'],
    FAST_JWT_INACTIVE: ['bad_claim', 'debug'],
    FAST_JWT_EXPIRED: ['expired', 'debug'],
    FAST_JWT_MISSING_KEY: ['upstream_error', 'error'],
    FAST_JWT_KEY_FETCHING_ERROR: ['keys_unavailable', 'warn'],
    FAST_JWT_SIGN_ERROR: ['upstream_error', 'error'],
    FAST_JWT_VERIFY_ERROR: ['bad_signature', 'debug'],
    FAST_JWT_MISSING_REQUIRED_CLAIM: ['bad_claim', 'debug'],
    FAST_JWT_MISSING_SIGNATURE: ['malformed', 'debug'],
    FAST_JWT_INVALID_CRIT_HEADER: ['bad_header', 'debug'],
    JWK_NOT_FOUND: ['unknown_kid', 'debug'],
    DOMAIN_NOT_ALLOWED: ['bad_issuer', 'error'],
    JWKS_REQUEST_FAILED: ['keys_unavailable', 'warn'],
    OPENID_CONFIGURATION_REQUEST_FAILED: ['keys_unavailable', 'warn'],
    NO_JWKS_URI: ['keys_unavailable', 'warn'],
    NO_JWKS: ['keys_unavailable', 'warn']
  }
  t.same(Object.fromEntries(Object.entries(UPSTREAM_CODES).map(([code, m]) => [code, [m.reason, m.level]])), expected)
  t.ok(Object.isFrozen(UPSTREAM_CODES))
  t.ok(Object.values(UPSTREAM_CODES).every(m => m.reason !== 'keys_unavailable' || m.level === 'warn'), 'key trouble logs at warn')
})

t.test('errors by code: a real TokenError of fast-jwt and a coded error', async t => {
  t.same(classify(new TokenError(TokenError.codes.inactive, 'not yet')), { mapping: UPSTREAM_CODES.FAST_JWT_INACTIVE, code: 'FAST_JWT_INACTIVE' })
  const unknown = Object.assign(new Error('x'), { code: 'FAST_JWT_SOMETHING_NEW' })
  t.same(classify(unknown), { mapping: undefined, code: 'FAST_JWT_SOMETHING_NEW' }, 'an unknown code is a gap, not a guess')
})

t.test('codeless failures of fetch (get-jwks\' transport): told apart by their real error objects', async t => {
  const idp = await createTestIssuer()
  const closed = idp.jwksUri
  await idp.close()
  const refused = await fetch(closed).catch((err: unknown) => err)
  const got = classify(refused)
  t.equal(got.mapping?.reason, 'keys_unavailable', 'a refused connection')
  t.match(got.code, /^E[A-Z]+$/, `its cause's code (${got.code})`)

  let parsed: unknown
  try { JSON.parse('<html><body>Bad gateway</body></html>') } catch (err) { parsed = err }
  t.same(classify(parsed), { mapping: UPSTREAM_CODES.JWKS_REQUEST_FAILED, code: 'invalid_json' }, 'a non-JSON body (get-jwks parses before the status)')

  const aborted = await fetch(closed, { signal: AbortSignal.abort() }).catch((err: unknown) => err)
  t.same(classify(aborted), { mapping: UPSTREAM_CODES.JWKS_REQUEST_FAILED, code: 'AbortError' }, 'an aborted fetch')

  const hanging = await createTestIssuer()
  t.teardown(() => hanging.close())
  hanging.setMode('hang')
  const timedOut = await fetch(hanging.jwksUri, { signal: AbortSignal.timeout(50) }).catch((err: unknown) => err)
  t.same(classify(timedOut), { mapping: UPSTREAM_CODES.JWKS_REQUEST_FAILED, code: 'TimeoutError' }, 'fetchOptions.signal timing out')
})

t.test('anything else is unmapped: 401 and an error log, never a 5xx (checked end to end elsewhere)', async t => {
  t.same(classify(new TypeError('Unsupported key type "OKP"')), { mapping: undefined, code: 'TypeError' }, 'jwk-to-pem\'s refusal')
  t.same(classify(Object.assign(new TypeError('bad'), { cause: { code: 'ERR_INVALID_ARG_TYPE' } })), { mapping: undefined, code: 'TypeError' }, 'a Node programming error is not a network failure')
  t.same(classify(Object.assign(new TypeError('bad'), { cause: {} })), { mapping: undefined, code: 'TypeError' })
  t.same(classify('a string'), { mapping: undefined, code: 'unknown' })
  t.same(classify(null), { mapping: undefined, code: 'unknown' })
})
