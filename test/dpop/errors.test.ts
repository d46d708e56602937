// The DPoP/mTLS rows of the one reasons table, and the challenges per mode and scheme
// (lib/challenge.ts): errors are answered on one scheme (the one the request used, or the one the
// reason names); a request without usable credentials gets every accepted scheme's challenge.
import t from 'tap'
import { AxiomsError } from '../../lib/errors.js'
import { DPOP_ROWS, type DpopReason } from '../../lib/dpop/errors.js'
import { type ChallengeContext, responseHeaders, toResponseError } from '../../lib/challenge.js'

const dpop = { algs: ['ES256', 'EdDSA'], mode: 'allowed' as const }
const ctx: ChallengeContext = { realm: 'https://idp.test', dpop }
const required: ChallengeContext = { ...ctx, dpop: { ...dpop, mode: 'required' } }
const bearerOnly: ChallengeContext = { realm: 'https://idp.test' }
const BEARER = 'Bearer realm="https://idp.test"'
const DPOP = 'DPoP algs="ES256 EdDSA"'
const header = (reason: DpopReason | 'missing_header' | 'expired' | 'insufficient', c: ChallengeContext, scope?: string[]): Record<string, string> =>
  responseHeaders(new AxiomsError(reason), c, scope)

t.test('every row: a known code, a status that fits it, an RFC 6750 description', async t => {
  const statuses: Record<string, number[]> = {
    invalid_dpop_proof: [401],
    use_dpop_nonce: [401],
    invalid_token: [401],
    invalid_request: [400],
    temporarily_unavailable: [503]
  }
  for (const [reason, row] of Object.entries(DPOP_ROWS)) {
    t.ok(statuses[row.error]?.includes(row.status), `${reason}: ${row.status} ${row.error}`)
    t.match(row.description, /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/, `${reason}: description charset`)
    t.match(reason, /^(dpop|mtls)_[a-z_]+$/)
    t.equal(new AxiomsError(reason as DpopReason).code, `AXIOMS_${reason.toUpperCase()}`)
  }
})

t.test('the proof faults are invalid_dpop_proof on the DPoP challenge; binding faults invalid_token', async t => {
  const proofFaults: DpopReason[] = ['dpop_missing', 'dpop_multiple', 'dpop_malformed', 'dpop_bad_typ', 'dpop_bad_alg', 'dpop_bad_header', 'dpop_bad_jwk', 'dpop_bad_signature', 'dpop_htm', 'dpop_htu', 'dpop_iat', 'dpop_jti', 'dpop_ath', 'dpop_replay']
  for (const r of proofFaults) t.same([DPOP_ROWS[r].status, DPOP_ROWS[r].error, DPOP_ROWS[r].scheme], [401, 'invalid_dpop_proof', 'dpop'], r)
  for (const r of ['dpop_jkt', 'dpop_unbound'] as const) t.same([DPOP_ROWS[r].error, DPOP_ROWS[r].scheme], ['invalid_token', 'dpop'], r)
  t.same([DPOP_ROWS.dpop_bound_as_bearer.error, DPOP_ROWS.dpop_bound_as_bearer.scheme], ['invalid_token', 'bearer'])
  for (const r of ['dpop_bad_cnf', 'mtls_bad_cnf', 'mtls_no_certificate', 'mtls_bad_certificate', 'mtls_mismatch'] as const) t.same([DPOP_ROWS[r].error, DPOP_ROWS[r].scheme], ['invalid_token', undefined], `${r}: on the scheme used`)
  t.same(DPOP_ROWS.dpop_nonce_required, { status: 401, error: 'use_dpop_nonce', description: 'Resource server requires nonce in DPoP proof', challenge: 'full', scheme: 'dpop' })
  t.same(DPOP_ROWS.dpop_store_unavailable, { status: 503, error: 'temporarily_unavailable', description: 'Unable to check the DPoP proof right now', challenge: 'none' })
  t.same(DPOP_ROWS.dpop_request_url, { status: 400, error: 'invalid_request', description: 'Invalid request URL', challenge: 'none' })
})

t.test('no credentials: every accepted scheme, per mode', async t => {
  t.same(header('missing_header', ctx), { 'www-authenticate': `${BEARER}, ${DPOP}` })
  t.same(header('missing_header', required), { 'www-authenticate': DPOP })
  t.same(header('missing_header', bearerOnly), { 'www-authenticate': BEARER }, 'DPoP disabled: as RFC 6750 alone')
  const meta = { ...ctx, resourceMetadata: 'https://api.test/.well-known/oauth-protected-resource' }
  t.same(header('missing_header', meta), { 'www-authenticate': `${BEARER}, resource_metadata="https://api.test/.well-known/oauth-protected-resource", ${DPOP}, resource_metadata="https://api.test/.well-known/oauth-protected-resource"` })
  t.same(header('missing_header', { ...ctx, realm: 'say "hi"\\' }), { 'www-authenticate': 'Bearer realm="say \\"hi\\"\\\\", ' + DPOP }, 'realm quoted')
  t.same(header('dpop_scheme_required', required), { 'www-authenticate': DPOP }, 'a Bearer request where DPoP is required')
})

t.test('errors: on the scheme the reason names, or the one the request used', async t => {
  t.same(header('dpop_bad_signature', ctx), { 'www-authenticate': 'DPoP error="invalid_dpop_proof", error_description="Invalid DPoP proof signature", algs="ES256 EdDSA"' })
  t.same(header('dpop_jkt', ctx), { 'www-authenticate': 'DPoP error="invalid_token", error_description="Access token is not bound to the DPoP proof key", algs="ES256 EdDSA"' })
  t.same(header('dpop_bound_as_bearer', ctx), { 'www-authenticate': `${BEARER}, error="invalid_token", error_description="DPoP-bound access token requires the DPoP scheme"` })
  t.same(header('mtls_mismatch', { ...ctx, scheme: 'dpop' }), { 'www-authenticate': 'DPoP error="invalid_token", error_description="Access token is not bound to the client certificate", algs="ES256 EdDSA"' })
  t.same(header('mtls_mismatch', bearerOnly), { 'www-authenticate': `${BEARER}, error="invalid_token", error_description="Access token is not bound to the client certificate"` })
  t.same(header('expired', { ...ctx, scheme: 'dpop' }), { 'www-authenticate': 'DPoP error="invalid_token", error_description="Token has expired", algs="ES256 EdDSA"' })
  t.same(header('expired', { ...ctx, scheme: 'bearer' }), { 'www-authenticate': `${BEARER}, error="invalid_token", error_description="Token has expired"` })
  t.same(header('insufficient', { ...required, scheme: 'dpop' }, ['items:write', 'admin']), { 'www-authenticate': 'DPoP error="insufficient_scope", error_description="Insufficient role, scope or permission", scope="items:write admin", algs="ES256 EdDSA"' })
  t.same(header('dpop_replay', { ...ctx, resourceMetadata: 'https://api.test/m' }), { 'www-authenticate': 'DPoP error="invalid_dpop_proof", error_description="DPoP proof replayed", algs="ES256 EdDSA", resource_metadata="https://api.test/m"' })
  t.same(header('dpop_store_unavailable', ctx), { 'retry-after': '30' }, 'Retry-After from the error, or the default')
  t.same(header('dpop_request_url', ctx), {})
})

t.test('the nonce flow and toResponseError keep reason, jti, nonce, Retry-After and detail', async t => {
  const nonce = new AxiomsError('dpop_nonce_required')
  nonce.nonce = 'n0nce'
  t.same(responseHeaders(nonce, ctx), {
    'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs="ES256 EdDSA"',
    'dpop-nonce': 'n0nce'
  })
  const e = new AxiomsError('dpop_store_full')
  e.jti = 'j1'
  e.retryAfter = 9
  e.nonce = 'n'
  e.detail = 'full'
  const out = toResponseError(e, ctx)
  t.not(out, e)
  t.same([out.reason, out.jti, out.retryAfter, out.nonce, out.detail, out.statusCode], ['dpop_store_full', 'j1', 9, 'n', 'full', 503])
  t.same(out.headers, { 'retry-after': '9', 'dpop-nonce': 'n' })
  t.same(out.toJSON(), { error: 'temporarily_unavailable', error_description: 'Unable to check the DPoP proof right now' })
  t.equal(out.code, 'AXIOMS_DPOP_STORE_FULL')
})
