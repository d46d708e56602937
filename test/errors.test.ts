// AxiomsError and errorResponse: 'throw' — the app's own error handler gets the error with its
// status and challenge headers, and the route handler never runs. Also the challenge builder.
import t, { type Test } from 'tap'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import axioms, { AxiomsError, isAxiomsError, type AxiomsOptions } from '../index.js'
import { fail, RETRY_AFTER_SECONDS, ROWS, type Reason } from '../lib/errors.js'
import { responseHeaders as headersFor, toResponseError } from '../lib/challenge.js'
import { DPOP_ROWS } from '../lib/dpop/errors.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'
import { offered } from './fixture.js'

interface Ctx { app: FastifyInstance, idp: TestIssuer, calls: { n: number }, seen: unknown[] }

async function setup (t: Test, options: AxiomsOptions = {}, handler = true): Promise<Ctx> {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  const seen: unknown[] = []
  if (handler) {
    app.setErrorHandler((err: FastifyError, _request, reply) => {
      seen.push(err)
      if (err instanceof AxiomsError) {
        return reply.code(err.statusCode).headers(err.headers).send({ custom: true, code: err.error, reason: err.reason })
      }
      return reply.code(500).send({ custom: true, message: 'boom' })
    })
  }
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, errorResponse: 'throw', ...options })
  const calls = { n: 0 }
  const done = async (): Promise<string> => { calls.n++; return 'ok' }
  app.get('/hook', { preHandler: [app.hasValidAccessToken(), app.hasRequiredScopes(['a'])] }, done)
  app.get('/cfg', { config: { axioms: { scopes: ['a', 'b'] } } }, done)
  app.get('/owned/:id', {
    preHandler: app.checkObjectOwnership({
      getObject: req => {
        const id = (req.params as { id: string }).id
        if (id === 'boom') throw new Error('database down')
        return id === 'missing' ? undefined : { user: 'alice' }
      }
    })
  }, done)
  return { app, idp, calls, seen }
}

t.test("errorResponse: 'throw' hands an AxiomsError to the app's error handler", async t => {
  const ctx = await setup(t)
  const realm = ctx.idp.issuer
  for (const url of ['/hook', '/cfg']) {
    const res = await ctx.app.inject({ url })
    t.equal(res.statusCode, 401)
    t.same(res.json(), { custom: true, code: 'invalid_token', reason: 'missing_header' })
    t.equal(res.headers['www-authenticate'], offered(realm))
    const err = ctx.seen.at(-1) as AxiomsError
    t.ok(err instanceof AxiomsError)
    t.ok(err instanceof Error)
    t.equal(err.name, 'AxiomsError')
    t.equal(err.statusCode, 401)
    t.equal(err.error, 'invalid_token')
    t.equal(err.error_description, 'Missing Authorization Header')
    t.equal(err.message, 'Missing Authorization Header')
    t.same(err.headers, { 'www-authenticate': offered(realm) })
    t.same(err.toJSON(), { error: 'invalid_token', error_description: 'Missing Authorization Header' })
  }
  const bad = await ctx.app.inject({ url: '/hook', headers: { authorization: 'Bearer abc' } })
  t.equal(bad.statusCode, 401)
  t.equal(bad.headers['www-authenticate'], `Bearer realm="${realm}", error="invalid_token", error_description="Malformed token"`)
  t.equal((ctx.seen.at(-1) as AxiomsError).reason, 'malformed')
  const forbidden = await ctx.app.inject({ url: '/cfg', headers: { authorization: `Bearer ${ctx.idp.sign({ scope: 'c' })}` } })
  t.equal(forbidden.statusCode, 403)
  t.equal(forbidden.headers['www-authenticate'], `Bearer realm="${realm}", error="insufficient_scope", error_description="Insufficient role, scope or permission", scope="a b"`)
  const owner = await ctx.app.inject({ url: '/owned/1', headers: { authorization: `Bearer ${ctx.idp.sign({ sub: 'bob' })}` } })
  t.equal(owner.statusCode, 403)
  t.equal((ctx.seen.at(-1) as AxiomsError).reason, 'not_owner')
  const missing = await ctx.app.inject({ url: '/owned/missing', headers: { authorization: `Bearer ${ctx.idp.sign({ sub: 'bob' })}` } })
  t.equal(missing.statusCode, 404)
  t.same((ctx.seen.at(-1) as AxiomsError).headers, {})
  t.notOk('www-authenticate' in missing.headers)
  t.equal(ctx.calls.n, 0, 'handler never ran')
  const ok = await ctx.app.inject({ url: '/cfg', headers: { authorization: `Bearer ${ctx.idp.sign({ scope: 'b' })}` } })
  t.equal(ok.statusCode, 200)
  t.equal(ctx.calls.n, 1)
})

t.test("errorResponse: 'throw' 503 carries Retry-After", async t => {
  const ctx = await setup(t, { jwksPrefetch: false })
  ctx.idp.setMode('status')
  const res = await ctx.app.inject({ url: '/cfg', headers: { authorization: `Bearer ${ctx.idp.sign({ scope: 'a' })}` } })
  t.equal(res.statusCode, 503)
  const err = ctx.seen.at(-1) as AxiomsError
  t.equal(err.reason, 'keys_unavailable')
  t.same(err.headers, { 'retry-after': '5' })
  t.equal(res.headers['retry-after'], '5')
  t.equal(ctx.calls.n, 0)
})

t.test("errorResponse: 'throw' with Fastify's default error handler keeps status and challenge", async t => {
  const ctx = await setup(t, {}, false)
  const res = await ctx.app.inject({ url: '/hook', headers: { authorization: 'Bearer' } })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], `Bearer realm="${ctx.idp.issuer}", error="invalid_token", error_description="Invalid Authorization Bearer"`)
  t.match(res.json(), { statusCode: 401, message: 'Invalid Authorization Bearer' })
  t.equal(ctx.calls.n, 0)
})

t.test('errors that are not AxiomsError are not swallowed (500, handler not run)', async t => {
  for (const errorResponse of ['reply', 'throw'] as const) {
    const ctx = await setup(t, { errorResponse })
    const res = await ctx.app.inject({ url: '/owned/boom', headers: { authorization: `Bearer ${ctx.idp.sign({ sub: 'alice' })}` } })
    t.equal(res.statusCode, 500, errorResponse)
    t.same(res.json(), { custom: true, message: 'boom' })
    t.equal((ctx.seen.at(-1) as Error).message, 'database down')
    t.equal(ctx.calls.n, 0)
  }
})

t.test('challenge builder and error rows', async t => {
  const ctx = { realm: 'r' }
  const responseHeaders = (reason: Reason, c: Parameters<typeof headersFor>[1], scope?: readonly string[], retryAfter?: number): Record<string, string> => {
    const e = new AxiomsError(reason)
    e.retryAfter = retryAfter
    return headersFor(e, c, scope)
  }
  t.same(responseHeaders('missing_header', ctx), { 'www-authenticate': 'Bearer realm="r"' })
  t.same(responseHeaders('bad_signature', ctx), { 'www-authenticate': 'Bearer realm="r", error="invalid_token", error_description="Invalid token signature"' })
  t.same(responseHeaders('insufficient', ctx, []), { 'www-authenticate': 'Bearer realm="r", error="insufficient_scope", error_description="Insufficient role, scope or permission"' }, 'an empty scope list adds nothing')
  t.same(responseHeaders('insufficient', ctx, ['a', 'b']), { 'www-authenticate': 'Bearer realm="r", error="insufficient_scope", error_description="Insufficient role, scope or permission", scope="a b"' })
  t.same(responseHeaders('not_found', ctx), {})
  t.same(responseHeaders('keys_unavailable', ctx), { 'retry-after': String(RETRY_AFTER_SECONDS) })
  t.same(responseHeaders('keys_unavailable', ctx, undefined, 7), { 'retry-after': '7' })
  const meta = { realm: 'r', resourceMetadata: 'https://api.example/.well-known/oauth-protected-resource' }
  t.same(responseHeaders('missing_header', meta), { 'www-authenticate': 'Bearer realm="r", resource_metadata="https://api.example/.well-known/oauth-protected-resource"' })
  t.same(responseHeaders('expired', meta), { 'www-authenticate': 'Bearer realm="r", error="invalid_token", error_description="Token has expired", resource_metadata="https://api.example/.well-known/oauth-protected-resource"' })
  t.same(responseHeaders('duplicate_header', { realm: 'a"b\\c' }), { 'www-authenticate': 'Bearer realm="a\\"b\\\\c", error="invalid_request", error_description="Invalid Authorization Header"' })

  const err = toResponseError(new AxiomsError('bad_audience'), ctx)
  t.equal(err.statusCode, 401)
  t.equal(err.headers['www-authenticate'], 'Bearer realm="r", error="invalid_token", error_description="Invalid token audience"')
  t.same(new AxiomsError('bad_issuer').headers, {})
  t.throws(() => fail('missing_kid'), { name: 'AxiomsError', reason: 'missing_kid', statusCode: 401 })

  // Every row: fixed description, status and code (the DPoP and mTLS rows: test/dpop/errors.test.ts).
  const expected: Record<Exclude<Reason, keyof typeof DPOP_ROWS>, [number, string, string]> = {
    missing_header: [401, 'invalid_token', 'Missing Authorization Header'],
    invalid_scheme: [401, 'invalid_token', 'Invalid Authorization Bearer'],
    empty_token: [401, 'invalid_token', 'Invalid Authorization Bearer'],
    duplicate_header: [400, 'invalid_request', 'Invalid Authorization Header'],
    token_too_large: [401, 'invalid_token', 'Malformed token'],
    malformed: [401, 'invalid_token', 'Malformed token'],
    bad_algorithm: [401, 'invalid_token', 'Invalid or unsupported algorithm'],
    missing_kid: [401, 'invalid_token', 'Missing key ID in token header'],
    bad_typ: [401, 'invalid_token', 'Invalid token type'],
    bad_header: [401, 'invalid_token', 'Invalid access token'],
    unknown_kid: [401, 'invalid_token', 'Invalid access token'],
    key_mismatch: [401, 'invalid_token', 'Invalid access token'],
    bad_signature: [401, 'invalid_token', 'Invalid token signature'],
    expired: [401, 'invalid_token', 'Token has expired'],
    missing_exp: [401, 'invalid_token', 'Token missing expiration claim'],
    bad_claim: [401, 'invalid_token', 'Invalid access token'],
    bad_audience: [401, 'invalid_token', 'Invalid token audience'],
    bad_issuer: [401, 'invalid_token', 'Invalid token issuer'],
    sender_constrained: [401, 'invalid_token', 'Invalid access token'],
    inactive_token: [401, 'invalid_token', 'Invalid access token'],
    untrusted: [401, 'invalid_token', 'Invalid access token'],
    upstream_error: [401, 'invalid_token', 'Invalid access token'],
    insufficient: [403, 'insufficient_scope', 'Insufficient role, scope or permission'],
    not_owner: [403, 'insufficient_scope', 'You do not have permission to access this resource'],
    not_found: [404, 'not_found', 'Object not found'],
    keys_unavailable: [503, 'temporarily_unavailable', 'Unable to verify the access token right now'],
    internal_error: [401, 'invalid_token', 'Invalid access token']
  }
  t.same(Object.keys(ROWS).sort(), [...Object.keys(expected), ...Object.keys(DPOP_ROWS)].sort())
  for (const [reason, [status, code, description]] of Object.entries(expected)) {
    const e = new AxiomsError(reason as Reason)
    t.same([e.statusCode, e.error, e.error_description], [status, code, description], reason)
  }
  t.ok(Object.isFrozen(ROWS))
})

t.test('AxiomsError has a stable code and is recognised across builds by its brand', async t => {
  const err = new AxiomsError('expired')
  t.equal(err.code, 'AXIOMS_EXPIRED')
  t.equal(new AxiomsError('insufficient').code, 'AXIOMS_INSUFFICIENT')
  t.ok(isAxiomsError(err))
  // What the other build's class produces: a different prototype chain, the same registered brand.
  const foreign = Object.create(Object.defineProperty({}, Symbol.for('axioms-fastify.AxiomsError'), { value: true })) as unknown
  t.ok(foreign instanceof AxiomsError, 'an object carrying the brand is an AxiomsError')
  t.ok(isAxiomsError(foreign))
  for (const other of [new Error('x'), { code: 'AXIOMS_EXPIRED' }, null, undefined, 'AXIOMS_EXPIRED', 1]) {
    t.notOk(other instanceof AxiomsError, `not an AxiomsError: ${String(other)}`)
    t.notOk(isAxiomsError(other))
  }
})
