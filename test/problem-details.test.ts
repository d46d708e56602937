// problemDetails: true answers every refusal as RFC 9457 application/problem+json, with the same
// status codes and WWW-Authenticate challenges as the family's { error, error_description } body.
import t from 'tap'
import Fastify from 'fastify'
import fastifyAuth from '@fastify/auth'
import axioms, { AxiomsError } from '../index.js'
import { createTestIssuer } from '../testing.js'

t.test('every refusal as problem details', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyAuth)
  await app.register(axioms, { issuer: idp.issuer, audience: 'your-api-audience', env: {}, problemDetails: true, jwksCooldown: 0 })
  let calls = 0
  const done = async (): Promise<string> => { calls++; return 'ok' }
  app.get('/read', { config: { axioms: { scopes: ['read'] } } }, done)
  app.get('/doc/:id', { onRequest: app.checkObjectOwnership({ getObject: r => (r.params as { id: string }).id === '1' ? { user: 'owner' } : null }) }, done)
  app.get('/composed', { onRequest: app.auth([async () => { throw new Error('no') }, app.hasRequiredRoles(['admin'])]) }, done)
  const cases: Array<[string, Record<string, string>, number, string, string, RegExp | undefined]> = [
    ['/read', {}, 401, 'invalid_token', 'Missing Authorization Header', /^Bearer realm="[^"]+", DPoP algs="[^"]+"$/],
    ['/read', { authorization: 'Bearer a b' }, 400, 'invalid_request', 'Invalid Authorization Header', /error="invalid_request"/],
    ['/read', { authorization: 'Bearer x.y.z' }, 401, 'invalid_token', 'Malformed token', /error="invalid_token"/],
    ['/read', { authorization: `Bearer ${idp.sign({ scope: 'write' })}` }, 403, 'insufficient_scope', 'Insufficient role, scope or permission', /scope="read"/],
    ['/doc/2', { authorization: `Bearer ${idp.sign({ sub: 'owner' })}` }, 404, 'not_found', 'Object not found', undefined],
    ['/doc/1', { authorization: `Bearer ${idp.sign({ sub: 'intruder' })}` }, 403, 'insufficient_scope', 'You do not have permission to access this resource', /error="insufficient_scope"/],
    ['/composed', { authorization: `Bearer ${idp.sign({ roles: ['user'] })}` }, 403, 'insufficient_scope', 'Insufficient role, scope or permission', /error="insufficient_scope"/]
  ]
  const titles: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' }
  for (const [url, headers, status, error, detail, challenge] of cases) {
    const res = await app.inject({ url, headers })
    const what = `${url} ${JSON.stringify(headers).slice(0, 40)}`
    t.equal(res.statusCode, status, what)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', what)
    t.same(res.json(), { type: 'about:blank', title: titles[status], status, detail, error }, what)
    if (challenge === undefined) t.notOk(res.headers['www-authenticate'], what)
    else t.match(res.headers['www-authenticate'], challenge, what)
  }
  t.equal(calls, 0)

  // 503 keeps its Retry-After.
  idp.setMode('down')
  idp.rotate()
  const cold = Fastify()
  t.teardown(() => cold.close())
  await cold.register(axioms, { issuer: idp.issuer, audience: 'your-api-audience', env: {}, problemDetails: true, jwksPrefetch: false })
  cold.get('/x', { config: { axioms: {} } }, done)
  const down = await cold.inject({ url: '/x', headers: { authorization: `Bearer ${idp.sign()}` } })
  t.equal(down.statusCode, 503)
  t.same(down.json(), { type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'Unable to verify the access token right now', error: 'temporarily_unavailable' })
  t.ok(Number(down.headers['retry-after']) >= 1)
})

t.test('a route that cannot be protected answers a problem too', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.get('/early', { config: { axioms: { scopes: ['a'] } } }, async () => 'never')
  await app.register(axioms, { issuer: 'https://i.example', audience: 'a', env: {}, problemDetails: true, jwksPrefetch: false })
  const res = await app.inject({ url: '/early' })
  t.equal(res.statusCode, 500)
  t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.same(res.json(), { type: 'about:blank', title: 'Internal Server Error', status: 500, detail: 'Route protection is misconfigured', error: 'server_error' })
})

t.test('AxiomsError.toProblem for errorResponse: "throw" handlers', async t => {
  t.same(new AxiomsError('expired').toProblem(), { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'Token has expired', error: 'invalid_token' })
})
