// Composition under the real @fastify/auth: a failed axioms strategy lets `or` try the next one and
// leaves nothing behind (no challenge, no claims); when its failure is the one @fastify/auth
// reports, the answer is the plugin's own (status, body, challenge); in both errorResponse modes.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import fastifyAuth from '@fastify/auth'
import axioms, { type AxiomsOptions, AxiomsError } from '../index.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'
import { offered } from './fixture.js'

type Mode = 'reply' | 'throw'
interface Rig { app: FastifyInstance, idp: TestIssuer, seen: unknown[], calls: () => number }

// The API key strategy of @fastify/auth's README, async.
async function apiKey (request: FastifyRequest): Promise<void> {
  if (request.headers['x-api-key'] !== 'good-key') throw Object.assign(new Error('bad api key'), { statusCode: 401 })
}

async function rig (t: Test, mode: Mode, build: (app: FastifyInstance) => void, options: AxiomsOptions = {}): Promise<Rig> {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyAuth)
  await app.register(axioms, { issuer: idp.issuer, audience: 'your-api-audience', env: {}, errorResponse: mode, ...options })
  const seen: unknown[] = []
  let n = 0
  app.decorate('record', (request: FastifyRequest) => { n++; seen.push(request.authJwt === null || request.authJwt === false ? request.authJwt : request.authJwt.sub) })
  build(app)
  return { app, idp, seen, calls: () => n }
}

const handler = async function (this: FastifyInstance, request: FastifyRequest): Promise<{ ok: true }> {
  (this as unknown as { record: (r: FastifyRequest) => void }).record(request)
  return { ok: true }
}

async function call (app: FastifyInstance, headers: Record<string, string>, url = '/r') {
  return await app.inject({ url, headers })
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
const KEY = { 'x-api-key': 'good-key' }
const BAD_KEY = { 'x-api-key': 'wrong' }

for (const mode of ['reply', 'throw'] as const) {
  t.test(`${mode}: or [hasRequiredScopes, apiKey]`, async t => {
    const s = await rig(t, mode, app => {
      app.get('/r', { onRequest: app.auth([app.hasRequiredScopes(['read']), apiKey]) }, handler)
    })
    const read = s.idp.sign({ sub: 'reader', scope: 'read' })
    const other = s.idp.sign({ sub: 'other', scope: 'write' })

    const keyOnly = await call(s.app, KEY)
    t.equal(keyOnly.statusCode, 200, 'a valid API key and no token: the next strategy passes')
    t.notOk(keyOnly.headers['www-authenticate'], 'the failed axioms strategy left no challenge')

    const tokenOnly = await call(s.app, bearer(read))
    t.equal(tokenOnly.statusCode, 200)

    const both = await call(s.app, { ...bearer(other), ...KEY })
    t.equal(both.statusCode, 200, 'a token without the scope plus a valid key: the key passes')
    t.notOk(both.headers['www-authenticate'])
    t.same(s.seen, [null, 'reader', null], 'a refused token never leaves its claims on the request')

    const neither = await call(s.app, { ...bearer(other), ...BAD_KEY })
    t.equal(neither.statusCode, 401, 'both fail: @fastify/auth reports the last failure, the API key\'s')
    t.notOk(neither.headers['www-authenticate'], 'nothing of the axioms refusal is left on that answer')
    t.equal(neither.json().message, 'bad api key')
    t.equal(s.calls(), 3, 'the handler never ran on a refusal')
  })

  t.test(`${mode}: or [apiKey, axioms]: the axioms failure is the one reported`, async t => {
    const s = await rig(t, mode, app => {
      app.get('/r', { onRequest: app.auth([apiKey, app.hasRequiredScopes(['read'])]) }, handler)
      app.get('/v', { preHandler: app.auth([apiKey, app.hasValidAccessToken()]) }, handler)
    })
    const lacking = await call(s.app, { ...bearer(s.idp.sign({ scope: 'write' })), ...BAD_KEY })
    t.equal(lacking.statusCode, 403, 'the plugin\'s own status')
    t.equal(lacking.headers['www-authenticate'], `Bearer realm="${s.idp.issuer}", error="insufficient_scope", error_description="Insufficient role, scope or permission", scope="read"`)
    const none = await call(s.app, {})
    t.equal(none.statusCode, 401)
    t.equal(none.headers['www-authenticate'], offered(s.idp.issuer))
    const bad = await call(s.app, { ...bearer(s.idp.sign({}).slice(0, -4) + 'AAAA'), ...BAD_KEY }, '/v')
    t.equal(bad.statusCode, 401)
    t.match(bad.headers['www-authenticate'], /error="invalid_token", error_description="Invalid token signature"/)
    if (mode === 'reply') {
      t.same(lacking.json(), { error: 'insufficient_scope', error_description: 'Insufficient role, scope or permission' }, 'the family body')
      t.same(none.json(), { error: 'invalid_token', error_description: 'Missing Authorization Header' })
      t.same(bad.json(), { error: 'invalid_token', error_description: 'Invalid token signature' })
    } else {
      // Without an error handler of the app's, Fastify's default renders the thrown AxiomsError.
      t.match(lacking.json(), { statusCode: 403, code: 'AXIOMS_INSUFFICIENT', message: 'Insufficient role, scope or permission' })
    }
    t.equal(s.calls(), 0)
  })

  t.test(`${mode}: and [hasValidAccessToken, apiKey], run: 'all'`, async t => {
    const s = await rig(t, mode, app => {
      app.get('/r', { onRequest: app.auth([app.hasValidAccessToken(), apiKey], { relation: 'and' }) }, handler)
      app.get('/all', { onRequest: app.auth([app.hasRequiredRoles(['admin']), app.hasRequiredScopes(['read'])], { run: 'all' }) }, handler)
    })
    const token = s.idp.sign({ sub: 'u1' })
    t.equal((await call(s.app, { ...bearer(token), ...KEY })).statusCode, 200)
    const noKey = await call(s.app, bearer(token))
    t.equal(noKey.statusCode, 401, 'axioms passed, the key failed')
    t.notOk(noKey.headers['www-authenticate'], 'a passed axioms strategy leaves no challenge')
    const noToken = await call(s.app, KEY)
    t.equal(noToken.statusCode, 401)
    t.equal(noToken.headers['www-authenticate'], offered(s.idp.issuer), 'and stops at the first failure: the plugin\'s')
    // run: 'all' with or: every strategy runs; the role fails, the scope passes, claims are set again.
    const scoped = await call(s.app, bearer(s.idp.sign({ sub: 'u2', scope: 'read' })), '/all')
    t.equal(scoped.statusCode, 200)
    t.notOk(scoped.headers['www-authenticate'])
    t.same(s.seen, ['u1', 'u2'], 'a later passing axioms strategy puts the claims back')
  })
}

t.test('throw: the app\'s error handler renders the reported AxiomsError', async t => {
  const s = await rig(t, 'throw', app => {
    app.setErrorHandler((err, _request, reply: FastifyReply) => {
      if (err instanceof AxiomsError) return reply.code(err.statusCode).headers(err.headers).send({ mine: err.code })
      return reply.code(418).send({ other: true })
    })
    app.get('/r', { onRequest: app.auth([apiKey, app.hasRequiredScopes(['read'])]) }, handler)
  })
  const res = await call(s.app, bearer(s.idp.sign({ scope: 'nope' })))
  t.equal(res.statusCode, 403)
  t.same(res.json(), { mine: 'AXIOMS_INSUFFICIENT' })
  t.match(res.headers['www-authenticate'], /scope="read"/)
})

t.test('reply: context hooks, the route\'s own error handler, handler errors and 404s', async t => {
  const s = await rig(t, 'reply', app => {
    app.register(async admin => {
      admin.addHook('onRequest', admin.hasRequiredRoles(['admin']))
      admin.get('/users', handler)
      admin.get('/boom', { errorHandler: (_err, _req, reply) => reply.code(599).send({ route: true }) }, async () => { throw new Error('boom') })
      admin.setNotFoundHandler(async (_req, reply) => reply.code(404).send({ nothing: true }))
    }, { prefix: '/admin' })
    app.register(async composed => {
      composed.addHook('onRequest', composed.auth([apiKey, composed.hasRequiredScopes(['ops'])]))
      composed.get('/jobs', handler)
    }, { prefix: '/ops' })
    app.get('/verify', async request => app.axioms.verify(String(request.headers['x-token'])))
  })
  const viewer = s.idp.sign({ sub: 'v', roles: ['viewer'] })
  const users = await call(s.app, bearer(viewer), '/admin/users')
  t.equal(users.statusCode, 403, 'a context hook (addHook) refusal')
  t.same(users.json(), { error: 'insufficient_scope', error_description: 'Insufficient role, scope or permission' })
  t.match(users.headers['www-authenticate'], /error="insufficient_scope"/)
  const admin = s.idp.sign({ sub: 'a', roles: ['admin'] })
  t.equal((await call(s.app, bearer(admin), '/admin/users')).statusCode, 200)
  const boom = await call(s.app, bearer(admin), '/admin/boom')
  t.equal(boom.statusCode, 599, 'other errors still reach the route\'s own error handler')
  t.same(boom.json(), { route: true })
  const missing = await call(s.app, {}, '/admin/nothing-here')
  t.equal(missing.statusCode, 401, 'the 404 handler\'s context hook answers itself')
  t.same(missing.json(), { error: 'invalid_token', error_description: 'Missing Authorization Header' })
  t.equal((await call(s.app, KEY, '/ops/jobs')).statusCode, 200, '@fastify/auth in a context hook')
  const ops = await call(s.app, bearer(viewer), '/ops/jobs')
  t.equal(ops.statusCode, 403)
  t.match(ops.headers['www-authenticate'], /scope="ops"/)
  const verify = await s.app.inject({ url: '/verify', headers: { 'x-token': 'not-a-token' } })
  t.equal(verify.statusCode, 401, 'an AxiomsError thrown by the handler gets the plugin\'s answer')
  t.same(verify.json(), { error: 'invalid_token', error_description: 'Malformed token' })
  t.match(verify.headers['www-authenticate'], /error="invalid_token"/)
  t.equal(s.calls(), 2, 'the handler ran for the admin and for the API key only')
})

t.test('the route\'s own hook arrays are not changed for other routes sharing them', async t => {
  const s = await rig(t, 'reply', app => {
    const own = async (request: FastifyRequest): Promise<void> => { request.headers['x-seen'] = 'yes' }
    const hooks = [own, app.hasRequiredScopes(['read'])]
    app.get('/a', { onRequest: hooks }, handler)
    app.get('/b', { onRequest: hooks }, handler)
    t.equal(hooks.length, 2)
    t.equal(hooks[0], own)
    t.equal(hooks[1]?.name, 'hasRequiredScopes')
  })
  t.equal((await call(s.app, {}, '/a')).statusCode, 401)
  t.equal((await call(s.app, {}, '/b')).statusCode, 401)
  t.equal((await call(s.app, bearer(s.idp.sign({ scope: 'read' })), '/b')).statusCode, 200, 'the app\'s own hook still runs beside it')
})
