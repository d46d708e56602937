// Issue 11 item 5: an exception inside verification that is not a token fault (a bug, in our code,
// Node or the environment) still answers 401 "Invalid access token" and leaks nothing, but is
// logged at error with its stack, counted apart in stats() and published on the verify channel.
// The trigger is real: a throwing getter on Object.prototype.saltLength (what a polluting
// dependency leaves behind), which node:crypto reads from the verify options of an RS256 check
// (they have no salt length of their own). The plugin's own reads of a token's members never
// reach the prototype (test/prototype-pollution.test.ts). Nothing of the plugin is patched.
import diagnostics from 'node:diagnostics_channel'
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import axioms, { AxiomsError, type AxiomsOptions, VERIFY_CHANNEL, type VerifyMessage } from '../index.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'
import { logSink } from './attacks/harness.js'

const BOOM = 'polluted-prototype-getter-7f3a'

/** Runs fn with Object.prototype.saltLength throwing; restores the prototype whatever happens. */
async function withPollutedPrototype<T> (fn: () => Promise<T>): Promise<T> {
  // The fault under test is exactly this: a getter planted on Object.prototype.
  // eslint-disable-next-line no-extend-native
  Object.defineProperty(Object.prototype, 'saltLength', { get () { throw new Error(BOOM) }, configurable: true })
  try {
    return await fn()
  } finally {
    delete (Object.prototype as Record<string, unknown>).saltLength
  }
}

function listen (t: Test): VerifyMessage[] {
  const seen: VerifyMessage[] = []
  const fn = (msg: unknown): void => { seen.push(msg as VerifyMessage) }
  diagnostics.subscribe(VERIFY_CHANNEL, fn)
  t.teardown(() => { diagnostics.unsubscribe(VERIFY_CHANNEL, fn) })
  return seen
}

interface Setup { app: FastifyInstance, idp: TestIssuer, lines: string[], calls: () => number }

async function setup (t: Test, extra: AxiomsOptions = {}, routes?: (app: FastifyInstance, spy: () => void) => void): Promise<Setup> {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const { stream, lines } = logSink()
  const app = Fastify({ logger: { level: 'debug', stream } })
  t.teardown(() => app.close())
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, ...extra })
  let calls = 0
  const spy = (): void => { calls++ }
  app.get('/p', { config: { axioms: { scopes: ['read'] } } }, async () => { spy(); return { ok: true } })
  routes?.(app, spy)
  await app.ready()
  return { app, idp, lines, calls: () => calls }
}

const INVALID = { error: 'invalid_token', error_description: 'Invalid access token' }

function errorLines (lines: string[]): Array<Record<string, any>> {
  return lines.map(l => JSON.parse(l) as Record<string, any>).filter(l => l.level === 50)
}

for (const verifyBatch of [16, 0]) {
  t.test(`a route (verifyBatch ${verifyBatch}): 401 Invalid access token, handler not run, error log with the stack, counted apart`, async t => {
    const seen = listen(t)
    const s = await setup(t, { verifyBatch })
    const token = s.idp.sign({ scope: 'read', jti: 'jti-bug' })
    const kid = s.idp.keys[0]?.kid
    const res = await withPollutedPrototype(async () => s.app.inject({ url: '/p', headers: { authorization: `Bearer ${token}` } }))
    t.equal(res.statusCode, 401, 'never a 5xx')
    t.same(res.json(), INVALID)
    t.equal(res.headers['www-authenticate'], `Bearer realm="${s.idp.issuer}", error="invalid_token", error_description="Invalid access token"`)
    t.equal(s.calls(), 0, 'handler did not run')
    t.notMatch(res.body + JSON.stringify(res.headers), BOOM, 'nothing of the exception reaches the client')

    const errors = errorLines(s.lines)
    t.equal(errors.length, 1, 'one error line')
    const line = errors[0] as Record<string, any>
    t.equal(line.msg, 'axioms: unexpected error while verifying a token')
    t.match(line, { issuer: s.idp.issuer, kid, jti: 'jti-bug' })
    t.equal(line.err?.message, BOOM)
    t.match(line.err?.stack, /Error: polluted-prototype-getter-7f3a\n\s+at /, 'the stack, with frames')
    t.notMatch(s.lines.join('\n'), token.split('.')[2] as string, 'the token is not logged')

    const stats = s.app.axioms.stats()
    t.equal(stats.internalErrors, 1)
    t.equal(stats.refused, 0, 'not counted as the client\'s fault')
    t.same(stats.refusedBy, {})
    t.same(seen, [{ ok: false, reason: 'internal_error', issuer: s.idp.issuer, kid, jti: 'jti-bug' }])

    // Without the fault, the same token is good: the 401 was the bug's, not the token's.
    const again = await s.app.inject({ url: '/p', headers: { authorization: `Bearer ${token}` } })
    t.equal(again.statusCode, 200)
    t.equal(s.calls(), 1)
    t.equal(s.app.axioms.stats().internalErrors, 1)
  })
}

t.test('app.axioms.verify rejects with an AxiomsError internal_error, whose stack has no frames', async t => {
  const s = await setup(t)
  const token = s.idp.sign({ scope: 'read' })
  const err = await withPollutedPrototype(async () => s.app.axioms.verify(token).then(() => undefined, (e: unknown) => e))
  t.ok(err instanceof AxiomsError)
  t.match(err, { reason: 'internal_error', code: 'AXIOMS_INTERNAL_ERROR', statusCode: 401, error: 'invalid_token', error_description: 'Invalid access token' })
  t.equal((err as AxiomsError).stack, 'AxiomsError: Invalid access token')
  t.equal(s.app.axioms.stats().internalErrors, 1)
})

t.test('errorResponse throw: the app\'s error handler gets the 401 AxiomsError, never the bug', async t => {
  let handled: unknown
  const s = await setup(t, { errorResponse: 'throw' }, app => {
    app.setErrorHandler((err, _request, reply) => {
      handled = err
      return reply.code((err as AxiomsError).statusCode).send({ seen: (err as AxiomsError).reason })
    })
  })
  const token = s.idp.sign({ scope: 'read' })
  const res = await withPollutedPrototype(async () => s.app.inject({ url: '/p', headers: { authorization: `Bearer ${token}` } }))
  t.equal(res.statusCode, 401)
  t.same(res.json(), { seen: 'internal_error' })
  t.ok(handled instanceof AxiomsError)
  t.match((handled as AxiomsError).headers, { 'www-authenticate': /error_description="Invalid access token"/ })
  t.equal(s.calls(), 0)
})

t.test('tokenMiddleware: the request is marked invalid (authJwt false); a protected route still answers 401', async t => {
  let seenAuth: unknown = 'unset'
  const s = await setup(t, { tokenMiddleware: true }, (app, spy) => {
    app.get('/open', async request => { spy(); seenAuth = request.authJwt; return { ok: true } })
  })
  const token = s.idp.sign({ scope: 'read' })
  const open = await withPollutedPrototype(async () => s.app.inject({ url: '/open', headers: { authorization: `Bearer ${token}` } }))
  t.equal(open.statusCode, 200, 'tokenMiddleware never rejects')
  t.equal(seenAuth, false, 'like an invalid token')
  const res = await withPollutedPrototype(async () => s.app.inject({ url: '/p', headers: { authorization: `Bearer ${token}` } }))
  t.equal(res.statusCode, 401)
  t.same(res.json(), INVALID)
  t.equal(s.calls(), 1, 'only /open ran')
  t.equal(errorLines(s.lines).length, 2, 'one error line per request: the route reuses the middleware\'s verification')
  t.equal(s.app.axioms.stats().internalErrors, 2)
})
