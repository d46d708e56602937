// The plugin behind an egress proxy, against the test issuer and a real proxy on 127.0.0.1: the
// standard variables (from the env option), NO_PROXY, the option over the variables, proxy: false;
// a proxy that hangs, refuses, wants credentials or answers 502 gives the 503 of an IdP outage,
// with a warning that names the proxy (never its credentials); caps and deadlines hold through it.
import t from 'tap'
import Fastify from 'fastify'
import diagnostics from 'node:diagnostics_channel'
import { Writable } from 'node:stream'
import axioms, { JWKS_CHANNEL } from '../../index.js'
import { createTestIssuer } from '../../testing.js'
import { is503, issuer, rig, until } from '../jwks-helpers.js'
import { closedPort, startProxy } from './server.js'

const OK = [200, { ok: true }]

t.test('a plain HTTP issuer through the proxy: discovery and JWKS as absolute-form GETs', async t => {
  const idp = await issuer(t)
  const proxy = await startProxy(t)
  const s = await rig(t, { env: { HTTP_PROXY: proxy.url } }, idp)
  const res = await s.call(idp.sign({}))
  t.same([res.statusCode, res.json()], OK)
  t.same(proxy.passed.map(p => [p.method, p.target]), [['GET', idp.discoveryUri], ['GET', idp.jwksUri]])
  t.same(idp.requests, { jwks: 1, discovery: 1 }, 'and reached the issuer')
  t.equal(s.calls(), 1)
})

t.test('NO_PROXY: the issuer is reached directly, the proxy sees nothing', async t => {
  const idp = await issuer(t)
  const proxy = await startProxy(t)
  for (const noProxy of ['127.0.0.1', 'localhost, 127.0.0.1', '*', '127.0.0.0/8', `127.0.0.1:${new URL(idp.url).port}`]) {
    const s = await rig(t, { env: { HTTP_PROXY: proxy.url, NO_PROXY: noProxy } }, idp)
    t.equal((await s.call(idp.sign({}))).statusCode, 200, noProxy)
  }
  t.equal(proxy.passed.length, 0)
})

t.test('the option wins over the variables; proxy: false (or AXIOMS_PROXY=false) ignores them', async t => {
  const idp = await issuer(t)
  const proxy = await startProxy(t)
  const dead = `http://127.0.0.1:${await closedPort()}`
  const explicit = await rig(t, { env: { HTTP_PROXY: dead, HTTPS_PROXY: dead }, proxy: proxy.url }, idp)
  t.equal((await explicit.call(idp.sign({}))).statusCode, 200, 'proxy: URL over HTTP_PROXY')
  t.equal(proxy.passed.length, 2)
  for (const options of [{ proxy: false, env: { HTTP_PROXY: dead } }, { env: { HTTP_PROXY: dead, AXIOMS_PROXY: 'false' } }]) {
    const direct = await rig(t, options, idp)
    t.equal((await direct.call(idp.sign({}))).statusCode, 200, JSON.stringify(options))
  }
  t.equal(proxy.passed.length, 2, 'the direct ones did not pass through it')
})

t.test('a proxy that never answers: 503 after jwksTimeout, and the warning names the proxy', async t => {
  const idp = await issuer(t)
  const proxy = await startProxy(t)
  proxy.setMode('hang')
  const s = await rig(t, { jwksUri: idp.jwksUri, jwksTimeout: '300ms', jwksPrefetch: false, proxy: proxy.url }, idp)
  const started = Date.now()
  is503(t, await s.call(idp.sign({})))
  t.ok(Date.now() - started < 2000, 'within the deadline')
  t.equal(s.app.axioms.stats().issuers[0]?.lastError, 'timeout')
  const warn = s.logs.find(l => l.cause === 'timeout')
  t.same({ level: warn?.level, stage: warn?.stage, url: warn?.url, proxy: warn?.proxy }, { level: 40, stage: 'jwks', url: idp.jwksUri, proxy: proxy.url })
  t.equal(warn?.msg, `axioms: JWKS fetch for ${idp.issuer} failed: GET ${idp.jwksUri} through proxy ${proxy.url} timed out after 300ms (jwksTimeout)`)
  t.equal(idp.requests.jwks, 0)
  t.equal(s.calls(), 0)
})

t.test('prefetch through a hanging proxy does not hold ready() past the timeout', async t => {
  const idp = await issuer(t)
  const proxy = await startProxy(t)
  proxy.setMode('hang')
  const s = await rig(t, { jwksUri: idp.jwksUri, jwksTimeout: '300ms', env: { HTTP_PROXY: proxy.url } }, idp)
  const started = Date.now()
  await s.app.ready()
  t.ok(Date.now() - started < 2000)
  t.equal(s.app.axioms.stats().issuers[0]?.lastError, 'timeout')
})

t.test('a proxy that refuses the connection: the 503 of an outage, its credentials never shown', async t => {
  const idp = await issuer(t)
  const port = await closedPort()
  const s = await rig(t, { jwksUri: idp.jwksUri, jwksPrefetch: false, env: { HTTP_PROXY: `http://svc:hunter2@127.0.0.1:${port}` } }, idp)
  is503(t, await s.call(idp.sign({})))
  t.equal(s.app.axioms.stats().issuers[0]?.lastError, 'proxy_network')
  const warn = s.logs.find(l => l.cause === 'proxy_network')
  t.equal(warn?.proxy, `http://***@127.0.0.1:${port}`)
  t.equal(warn?.msg, `axioms: JWKS fetch for ${idp.issuer} failed: GET ${idp.jwksUri} through proxy http://***@127.0.0.1:${port} could not reach the proxy (connection refused, reset or closed, or its name does not resolve)`)
  t.notMatch(JSON.stringify(s.logs), /hunter2|svc:/)
})

t.test('407 from the proxy, at discovery: 503, no fallback to jwks.json, the warning says what to check', async t => {
  const idp = await issuer(t)
  const proxy = await startProxy(t, { auth: { user: 'svc', password: 'hunter2' } })
  const s = await rig(t, { jwksPrefetch: false, env: { HTTP_PROXY: proxy.url.replace('//', '//svc:wrong@') } }, idp)
  is503(t, await s.call(idp.sign({})))
  t.equal(s.app.axioms.stats().issuers[0]?.lastError, 'proxy_status_407')
  t.same(proxy.passed.map(p => p.target), [idp.discoveryUri], 'one request: a refusal at discovery is not a 404')
  const warn = s.logs.find(l => l.cause === 'proxy_status_407')
  t.same({ stage: warn?.stage, status: warn?.status }, { stage: 'discovery', status: undefined })
  t.equal(warn?.msg, `axioms: OIDC discovery for ${idp.issuer} failed: GET ${idp.discoveryUri} through proxy ${proxy.url.replace('//', '//***@')} was refused by the proxy: HTTP 407 (it wants credentials, or refused the ones in the proxy URL)`)

  const right = await rig(t, { env: { HTTP_PROXY: proxy.authUrl } }, idp)
  t.equal((await right.call(idp.sign({}))).statusCode, 200, 'the right credentials pass')
})

t.test('the proxy refuses CONNECT to an https JWKS (502): 503, the warning names the proxy stage', async t => {
  const idp = await issuer(t)
  const proxy = await startProxy(t)
  proxy.setMode('status', 502)
  const jwksUri = 'https://idp.example.invalid/.well-known/jwks.json'
  const s = await rig(t, { jwksUri, jwksPrefetch: false, proxy: proxy.url }, idp)
  is503(t, await s.call(idp.sign({})))
  t.equal(s.logs.find(l => l.cause === 'proxy_status_502')?.msg,
    `axioms: JWKS fetch for ${idp.issuer} failed: GET ${jwksUri} through proxy ${proxy.url} was refused by the proxy: HTTP 502 to CONNECT`)
  t.same(proxy.passed.map(p => [p.method, p.target]), [['CONNECT', 'idp.example.invalid:443']], 'the name is the proxy\'s to resolve')
})

t.test('through the proxy, the caps hold: a 10 MB body, a trickled body, a redirect', async t => {
  const proxy = await startProxy(t)
  for (const [mode, cause, extra] of [['big', 'too_large', { jwksTimeout: '30s' }], ['trickle', 'timeout', { jwksTimeout: '300ms' }], ['redirect', 'status_302', {}]] as const) {
    const idp = await issuer(t, { algorithms: ['ES256'] })
    idp.setMode(mode)
    const s = await rig(t, { jwksUri: idp.jwksUri, jwksPrefetch: false, proxy: proxy.url, ...extra }, idp)
    is503(t, await s.call(idp.sign({})), mode)
    t.equal(s.app.axioms.stats().issuers[0]?.lastError, cause, mode)
    t.match(s.logs.find(l => l.cause === cause)?.msg, new RegExp(`GET ${idp.jwksUri} through proxy ${proxy.url} `), `${mode}: named`)
    t.equal(idp.requests.jwks, 1, `${mode}: one request (a redirect is not followed)`)
  }
})

t.test('diagnostics and every log line, at trace level: the proxy without its credentials', async t => {
  const idp = await issuer(t)
  const port = await closedPort()
  const seen: Array<Record<string, unknown>> = []
  const listener = (m: unknown): void => { seen.push(m as Record<string, unknown>) }
  diagnostics.subscribe(JWKS_CHANNEL, listener)
  t.teardown(() => diagnostics.unsubscribe(JWKS_CHANNEL, listener))
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'trace', stream: new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } }) } })
  t.teardown(() => app.close())
  await app.register(axioms, idp.pluginOptions({ proxy: `http://svc:hunter2@127.0.0.1:${port}` }))
  app.get('/p', { preHandler: app.hasValidAccessToken() }, async () => ({ ok: true }))
  await app.ready()
  t.equal((await app.inject({ url: '/p', headers: { authorization: `Bearer ${idp.sign({})}` } })).statusCode, 503)
  const failed = seen.find(m => m.issuer === idp.issuer && m.event === 'fetch_failed')
  t.same({ cause: failed?.cause, proxy: failed?.proxy }, { cause: 'proxy_network', proxy: `http://***@127.0.0.1:${port}` })
  t.ok(lines.some(l => l.includes('could not reach the proxy')))
  t.notMatch(lines.join('') + JSON.stringify(seen) + JSON.stringify(app.axioms.stats()), /hunter2/)
})

t.test('app.close() does not wait for a request stuck at the proxy', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const proxy = await startProxy(t)
  proxy.setMode('hang')
  const app = Fastify()
  await app.register(axioms, idp.pluginOptions({ proxy: proxy.url, jwksPrefetch: false, jwksTimeout: '30s' }))
  app.get('/x', { config: { axioms: {} } }, async () => 'ok')
  await app.ready()
  const inflight = app.inject({ url: '/x', headers: { authorization: `Bearer ${idp.sign()}` } })
  for (let i = 0; i < 200 && proxy.passed.length === 0; i++) await new Promise(resolve => setTimeout(resolve, 10))
  t.equal(proxy.passed.length, 1, 'the discovery request is waiting at the proxy')
  const started = Date.now()
  await app.close()
  t.ok(Date.now() - started < 2000, 'close() returned long before the 30 s jwksTimeout')
  t.equal((await inflight).statusCode, 503)
  t.ok(await until(() => proxy.open() === 0, 2000), 'and the connection to the proxy is closed')
})
