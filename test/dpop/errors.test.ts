// The DPoP/mTLS reasons table and its answers (lib/dpop/errors.ts): every row's status, code and
// fixed description, and the exact challenges per mode.
import t from 'tap'
import { bareChallenge, DPOP_ROWS, DpopError, type DpopReason, dpopResponseHeaders, errorChallenge, toDpopResponseError } from '../../lib/dpop/errors.js'

const ctx = { realm: 'https://idp.test', algs: ['ES256', 'EdDSA'], mode: 'allowed' as const }
const BEARER = 'Bearer realm="https://idp.test"'
const DPOP = 'DPoP algs="ES256 EdDSA"'

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
  }
  t.ok(Object.isFrozen(DPOP_ROWS))
})

t.test('the proof faults are invalid_dpop_proof; binding faults invalid_token', async t => {
  const proofFaults: DpopReason[] = ['dpop_missing', 'dpop_multiple', 'dpop_malformed', 'dpop_bad_typ', 'dpop_bad_alg', 'dpop_bad_header', 'dpop_bad_jwk', 'dpop_bad_signature', 'dpop_htm', 'dpop_htu', 'dpop_iat', 'dpop_jti', 'dpop_ath', 'dpop_replay']
  for (const r of proofFaults) t.same([DPOP_ROWS[r].status, DPOP_ROWS[r].error, DPOP_ROWS[r].challenge], [401, 'invalid_dpop_proof', 'dpop'], r)
  for (const r of ['dpop_jkt', 'dpop_unbound', 'dpop_bad_cnf'] as const) t.same([DPOP_ROWS[r].error, DPOP_ROWS[r].challenge], ['invalid_token', 'dpop'], r)
  for (const r of ['dpop_bound_as_bearer', 'mtls_bad_cnf', 'mtls_no_certificate', 'mtls_bad_certificate', 'mtls_mismatch'] as const) t.same([DPOP_ROWS[r].error, DPOP_ROWS[r].challenge], ['invalid_token', 'bearer'], r)
  t.same(DPOP_ROWS.dpop_nonce_required, { status: 401, error: 'use_dpop_nonce', description: 'Resource server requires nonce in DPoP proof', challenge: 'dpop' })
  t.same(DPOP_ROWS.dpop_store_unavailable, { status: 503, error: 'temporarily_unavailable', description: 'Unable to check the DPoP proof right now', challenge: 'none' })
  t.same(DPOP_ROWS.dpop_request_url, { status: 400, error: 'invalid_request', description: 'Invalid request URL', challenge: 'none' })
})

t.test('challenges for a request without credentials, per mode', async t => {
  t.equal(bareChallenge(ctx), `${BEARER}, ${DPOP}`)
  t.equal(bareChallenge({ ...ctx, mode: 'required' }), DPOP)
  t.equal(bareChallenge({ ...ctx, mode: 'disabled' }), BEARER)
  t.equal(bareChallenge({ ...ctx, resourceMetadata: 'https://api.test/.well-known/oauth-protected-resource' }),
    `${BEARER}, resource_metadata="https://api.test/.well-known/oauth-protected-resource", ${DPOP}, resource_metadata="https://api.test/.well-known/oauth-protected-resource"`)
  t.equal(bareChallenge({ ...ctx, realm: 'say "hi"\\' }), 'Bearer realm="say \\"hi\\"\\\\", ' + DPOP, 'realm quoted')
})

t.test('response headers: the erring challenge first, the other scheme bare after it', async t => {
  t.same(dpopResponseHeaders(new DpopError('dpop_bad_signature'), ctx), {
    'www-authenticate': `DPoP error="invalid_dpop_proof", error_description="Invalid DPoP proof signature", algs="ES256 EdDSA", ${BEARER}`
  })
  t.same(dpopResponseHeaders(new DpopError('dpop_htu'), { ...ctx, mode: 'required' }), {
    'www-authenticate': 'DPoP error="invalid_dpop_proof", error_description="DPoP proof URL mismatch", algs="ES256 EdDSA"'
  })
  t.same(dpopResponseHeaders(new DpopError('dpop_jkt'), ctx), {
    'www-authenticate': `DPoP error="invalid_token", error_description="Access token is not bound to the DPoP proof key", algs="ES256 EdDSA", ${BEARER}`
  })
  t.same(dpopResponseHeaders(new DpopError('dpop_bound_as_bearer'), ctx), {
    'www-authenticate': `${BEARER}, error="invalid_token", error_description="DPoP-bound access token requires the DPoP scheme", ${DPOP}`
  })
  t.same(dpopResponseHeaders(new DpopError('mtls_mismatch'), { ...ctx, mode: 'disabled' }), {
    'www-authenticate': `${BEARER}, error="invalid_token", error_description="Access token is not bound to the client certificate"`
  })
  t.same(dpopResponseHeaders(new DpopError('dpop_scheme_required'), { ...ctx, mode: 'required' }), { 'www-authenticate': DPOP })
  const nonce = new DpopError('dpop_nonce_required')
  nonce.nonce = 'n0nce'
  t.same(dpopResponseHeaders(nonce, ctx), {
    'www-authenticate': `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs="ES256 EdDSA", ${BEARER}`,
    'dpop-nonce': 'n0nce'
  })
  t.same(dpopResponseHeaders(new DpopError('dpop_store_unavailable'), ctx), { 'retry-after': '5' })
  t.same(dpopResponseHeaders(new DpopError('dpop_request_url'), ctx), {})
  t.same(dpopResponseHeaders(new DpopError('dpop_replay'), { ...ctx, resourceMetadata: 'https://api.test/m' }), {
    'www-authenticate': `DPoP error="invalid_dpop_proof", error_description="DPoP proof replayed", algs="ES256 EdDSA", resource_metadata="https://api.test/m", ${BEARER}, resource_metadata="https://api.test/m"`
  })
})

t.test('toDpopResponseError keeps reason, jti, nonce, Retry-After and detail', async t => {
  const e = new DpopError('dpop_store_full')
  e.jti = 'j1'
  e.retryAfter = 9
  e.nonce = 'n'
  e.detail = 'full'
  const out = toDpopResponseError(e, ctx)
  t.not(out, e)
  t.same([out.reason, out.jti, out.retryAfter, out.nonce, out.detail, out.statusCode], ['dpop_store_full', 'j1', 9, 'n', 'full', 503])
  t.same(out.headers, { 'dpop-nonce': 'n', 'retry-after': '9' })
  t.same(out.toJSON(), { error: 'temporarily_unavailable', error_description: 'Unable to check the DPoP proof right now' })
  t.equal(out.code, 'AXIOMS_DPOP_STORE_FULL')
})

t.test('errorChallenge: access-token errors on the scheme the request used', async t => {
  const expired = { error: 'invalid_token', description: 'Token has expired' }
  t.equal(errorChallenge('dpop', expired, ctx), `DPoP error="invalid_token", error_description="Token has expired", algs="ES256 EdDSA", ${BEARER}`)
  t.equal(errorChallenge('bearer', expired, ctx), `${BEARER}, error="invalid_token", error_description="Token has expired", ${DPOP}`)
  t.equal(errorChallenge('dpop', expired, { ...ctx, mode: 'required' }), 'DPoP error="invalid_token", error_description="Token has expired", algs="ES256 EdDSA"')
  t.equal(errorChallenge('bearer', expired, { ...ctx, mode: 'disabled' }), `${BEARER}, error="invalid_token", error_description="Token has expired"`)
  const scope = { error: 'insufficient_scope', description: 'Insufficient role, scope or permission', scope: ['items:write', 'admin'] }
  t.equal(errorChallenge('dpop', scope, { ...ctx, mode: 'required' }), 'DPoP error="insufficient_scope", error_description="Insufficient role, scope or permission", scope="items:write admin", algs="ES256 EdDSA"')
  t.equal(errorChallenge('bearer', { ...scope, scope: [] }, { ...ctx, mode: 'disabled' }), `${BEARER}, error="insufficient_scope", error_description="Insufficient role, scope or permission"`)
})
