// fetchJson through a real proxy on 127.0.0.1, where the proxy itself misbehaves: it hangs (before
// or instead of answering CONNECT), refuses the connection, asks for credentials, answers 502.
// Each ends within the deadline with a fixed code that says it was the proxy, and leaves no socket.
import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { FetchError, fetchJson, type FetchOptions } from '../../lib/fetch.js'
import { resolveProxy, type ProxySettings } from '../../lib/options/proxy.js'
import { createTestIssuer } from '../../testing.js'
import { issue, selfSigned } from '../dpop/certs.js'
import { until } from '../jwks-helpers.js'
import { closedPort, startProxy } from './server.js'

let hits = 0
const origin = createServer((req, res) => {
  hits++
  if (req.url === '/echo') {
    let body = ''
    req.on('data', c => { body += String(c) })
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
      method: req.method, type: req.headers['content-type'], accept: req.headers.accept, body, proxyAuth: req.headers['proxy-authorization'] ?? null
    })))
    return
  }
  if (req.url === '/reset') { req.socket.destroy(); return }
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}')
})
await new Promise<void>(resolve => origin.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise(resolve => { origin.closeAllConnections(); origin.close(resolve) }))
const base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
// An https URL the proxy is asked to CONNECT to: refusals happen before any TLS.
const httpsTarget = `https://127.0.0.1:${(origin.address() as AddressInfo).port}/jwks`

const settings = (proxy: string, noProxy?: string): ProxySettings =>
  resolveProxy({ proxy: noProxy === undefined ? proxy : { url: proxy, noProxy } }, {}) as ProxySettings

async function failure (url: string, options: FetchOptions, timeout = 2000, cancel?: AbortSignal): Promise<FetchError> {
  try {
    await fetchJson(url, timeout, 1024, cancel, options)
  } catch (err) {
    if (err instanceof FetchError) return err
    throw err
  }
  throw new Error(`${url} did not fail`)
}

t.test('a proxy that accepts the connection and never answers: the deadline, then its socket is closed', async t => {
  const proxy = await startProxy(t)
  proxy.setMode('hang')
  for (const url of [base + '/ok', httpsTarget]) {
    const started = Date.now()
    const err = await failure(url, { proxy: settings(proxy.url) }, 300)
    const took = Date.now() - started
    t.equal(err.code, 'timeout', url)
    t.equal(err.proxy, proxy.url, 'the proxy is named')
    t.ok(took >= 290 && took < 1500, `cut at the deadline (${took} ms)`)
    t.ok(await until(() => proxy.open() === 0, 2000), 'the connection to the proxy is closed, the CONNECT one too')
  }
  t.same(proxy.passed.map(p => p.method), ['GET', 'CONNECT'], 'absolute form for http, CONNECT for https')
  t.equal(proxy.passed[0]?.target, base + '/ok')
  t.equal(proxy.passed[1]?.target, httpsTarget.replace(/^https:\/\/|\/jwks$/g, ''))
  t.equal(hits, 0, 'the origin saw nothing')
})

t.test('a proxy that refuses the connection (closed port): proxy_network, no retry storm', async t => {
  const port = await closedPort()
  for (const url of [base + '/ok', httpsTarget]) {
    const err = await failure(url, { proxy: settings(`http://u:secret@127.0.0.1:${port}`) })
    t.equal(err.code, 'proxy_network', url)
    t.equal(err.proxy, `http://***@127.0.0.1:${port}`, 'named without its credentials')
    t.equal(err.status, undefined)
  }
  t.equal(hits, 0)
})

t.test('407: without credentials, or with the wrong ones; with the right ones the request passes', async t => {
  const proxy = await startProxy(t, { auth: { user: 'alice', password: 'p@ss:w/rd' } })
  for (const url of [base + '/ok', httpsTarget]) {
    for (const p of [proxy.url, proxy.url.replace('//', '//alice:wrong@')]) {
      const before = proxy.passed.length
      const err = await failure(url, { proxy: settings(p) })
      t.equal(err.code, 'proxy_status_407', `${url} via ${p}`)
      t.equal(err.status, undefined, 'not an answer of the identity provider (no 404 discovery fallback)')
      t.equal(proxy.passed.length - before, 1, 'asked once: a refusal is not retried')
    }
  }
  t.ok(await until(() => proxy.open() === 0, 2000), 'no connection left open')
  const got = await fetchJson(base + '/echo', 2000, 1024, undefined, { proxy: settings(proxy.authUrl) })
  t.equal(got.proxy, proxy.url.replace('//', '//***@'))
  t.equal((got.body as { proxyAuth: unknown }).proxyAuth, null, 'the credentials went to the proxy, not to the origin')
  t.equal(proxy.passed.at(-1)?.auth, `Basic ${Buffer.from('alice:p@ss:w/rd').toString('base64')}`, 'percent-decoded, sent as Basic')
})

t.test('the proxy answers 502: to CONNECT it is the proxy\'s refusal, to an absolute-form GET an HTTP answer', async t => {
  const proxy = await startProxy(t)
  proxy.setMode('status', 502)
  const tunnel = await failure(httpsTarget, { proxy: settings(proxy.url) })
  t.same([tunnel.code, tunnel.status], ['proxy_status_502', undefined])
  const forwarded = await failure(base + '/ok', { proxy: settings(proxy.url) })
  t.same([forwarded.code, forwarded.status, forwarded.proxy], ['status_502', 502, proxy.url], 'its body is not read')
})

t.test('NO_PROXY: an excluded host is reached directly and the proxy sees nothing', async t => {
  const proxy = await startProxy(t)
  t.same((await fetchJson(base + '/ok', 2000, 1024, undefined, { proxy: settings(proxy.url, '127.0.0.1') })).body, { keys: [] })
  const port = (origin.address() as AddressInfo).port
  t.equal((await fetchJson(base + '/ok', 2000, 1024, undefined, { proxy: settings(proxy.url, `127.0.0.1:${port}`) })).proxy, undefined)
  t.equal(proxy.passed.length, 0)
  t.equal((await fetchJson(base + '/ok', 2000, 1024, undefined, { proxy: settings(proxy.url, `127.0.0.1:${port + 1}`) })).proxy, proxy.url, 'another port: proxied')
  t.equal(proxy.passed.length, 1)
})

t.test('TLS is checked end to end through the tunnel: an untrusted certificate fails (as the far end\'s fault)', async t => {
  const ca = await selfSigned('proxy-test-ca', true)
  const idp = await createTestIssuer({ tls: await issue(ca, 'idp', '127.0.0.1'), algorithms: ['ES256'] })
  t.teardown(() => idp.close())
  const proxy = await startProxy(t)
  const err = await failure(idp.jwksUri, { proxy: settings(proxy.url) })
  t.equal(err.code, 'network', 'the tunnel opened; the TLS handshake with the far end failed')
  t.equal(err.proxy, proxy.url)
  t.same(proxy.passed.map(p => [p.method, p.target]), [['CONNECT', idp.url.slice('https://'.length)]])
  t.equal(idp.requests.jwks, 0, 'no request reached the issuer')
})

t.test('cancel (the app closing) ends a proxied request as network', async t => {
  const proxy = await startProxy(t)
  proxy.setMode('hang')
  const cancel = new AbortController()
  setTimeout(() => cancel.abort(), 50)
  const err = await failure(base + '/ok', { proxy: settings(proxy.url) }, 5000, cancel.signal)
  t.equal(err.code, 'network')
  t.ok(await until(() => proxy.open() === 0, 2000))
})

t.test('POST with headers and a body, direct and through the proxy (what introspection will send)', async t => {
  const proxy = await startProxy(t)
  for (const p of [undefined, settings(proxy.url)]) {
    const got = await fetchJson(base + '/echo', 2000, 1024, undefined, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: 'token=abc', proxy: p
    })
    t.same(got.body, { method: 'POST', type: 'application/x-www-form-urlencoded', accept: 'application/json', body: 'token=abc', proxyAuth: null }, 'accept stays application/json')
  }
  t.equal(proxy.passed.at(-1)?.method, 'POST')
  const before = hits
  const reset = await failure(base + '/reset', { method: 'POST', body: 'token=abc' })
  t.equal(reset.code, 'network')
  t.equal(hits - before, 1, 'a POST is not sent again after a reset')
})

t.test('an unparsable URL fails as network on either path', async t => {
  t.equal((await failure('http://', { proxy: settings('http://127.0.0.1:1') })).code, 'network')
  t.equal((await failure('http://', {})).code, 'network')
})
