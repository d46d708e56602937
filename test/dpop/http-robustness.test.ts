// The DPoP path's own faults through Fastify: an exception inside the proof check that is not a
// proof fault (a polluted environment) answers like any refusal and is reported as a bug, not as
// the client's; a refused binding is logged with the token's jti when it has one, never the proof's.
// The trigger is real, as in test/internal-error.test.ts: a throwing getter planted on
// Object.prototype, which the proof-key import reads through a plain object. Nothing is patched.
import t from 'tap'
import { createTestIssuer, generateDpopKey } from '../../testing.js'
import { logSink } from '../attacks/harness.js'
import { bearerChallenge, dpopChallenge, passed, refused, rig } from './http.js'

const idp = await createTestIssuer()
t.teardown(() => idp.close())

const BOOM = 'polluted-prototype-getter-dpop-5c1e'

t.test('an exception inside the proof check: 401 "Invalid access token", logged at error, counted apart', async t => {
  const { stream, lines } = logSink()
  const s = await rig(t, { idp, fastify: { logger: { level: 'debug', stream } } })
  // A key never seen by this process, so that its import runs during the request.
  const fresh = generateDpopKey('ES256')
  const token = s.bound({}, fresh)
  const proof = s.proof(token, '/items', { key: fresh })
  // The fault under test is exactly this: a getter planted on Object.prototype.
  // eslint-disable-next-line no-extend-native
  Object.defineProperty(Object.prototype, 'alg', { get () { throw new Error(BOOM) }, configurable: true })
  let out
  try {
    out = await s.dpop(token, '/items', { proof })
  } finally {
    delete (Object.prototype as Record<string, unknown>).alg
  }
  refused(t, out, { status: 401, error: 'invalid_token', description: 'Invalid access token', challenge: dpopChallenge('invalid_token', 'Invalid access token') }, 'a bug, answered like a refusal')
  const logged = lines.map(l => JSON.parse(l) as Record<string, any>)
  const errors = logged.filter(l => l.level === 50)
  t.equal(errors.length, 1, 'one error line')
  t.equal(errors[0]?.msg, 'axioms: unexpected error while verifying a token')
  t.match(errors[0]?.err?.stack, new RegExp(BOOM), 'with the stack, for the operator')
  t.notMatch(JSON.stringify(out.body) + JSON.stringify(out.headers), new RegExp(BOOM), 'nothing of it sent')
  const stats = s.app.axioms.stats()
  t.equal(stats.internalErrors, 1)
  t.equal(stats.refusedBy.internal_error, undefined, 'not counted as the client\'s fault')
  // The environment restored, the same key works.
  passed(t, await s.dpop(token, '/items', { key: fresh }), 'afterwards')
})

t.test('a refused binding is logged with the token\'s jti, or none; never the proof\'s', async t => {
  const { stream, lines } = logSink()
  const s = await rig(t, { idp, fastify: { logger: { level: 'debug', stream } } })
  const refusals = (): Array<Record<string, unknown>> => lines.map(l => JSON.parse(l) as Record<string, unknown>).filter(l => l.msg === 'axioms: request refused')
  const asBearer = { status: 401, error: 'invalid_token', description: 'DPoP-bound access token requires the DPoP scheme', challenge: bearerChallenge(s.realm, 'invalid_token', 'DPoP-bound access token requires the DPoP scheme') }
  refused(t, await s.bearer(s.bound({ jti: 'token-jti-1' })), asBearer, 'with a jti')
  t.match(refusals().at(-1), { reason: 'dpop_bound_as_bearer', jti: 'token-jti-1' })
  refused(t, await s.bearer(s.bound({ jti: undefined })), asBearer, 'without a jti')
  t.notOk('jti' in (refusals().at(-1) as object), 'no jti to log')
  refused(t, await s.dpop(s.bound({ jti: 'token-jti-2' }), '/items', { jti: 'proof-jti', claims: { htm: 'POST' } }), { status: 401, error: 'invalid_dpop_proof', description: 'DPoP proof method mismatch', challenge: dpopChallenge('invalid_dpop_proof', 'DPoP proof method mismatch') }, 'a proof fault')
  t.match(refusals().at(-1), { reason: 'dpop_htm', jti: 'token-jti-2' }, 'the token\'s jti, not the client\'s proof jti')
  t.notMatch(lines.join('\n'), /proof-jti/, 'the proof\'s jti is nowhere in the logs')
})
