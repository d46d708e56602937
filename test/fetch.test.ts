// lib/fetch.ts against a local misbehaving HTTP server: one deadline for headers and body, a byte
// cap (declared or counted), no redirects, fixed error codes that never carry the response body.
// The contract holds on both paths: direct (Node's fetch) and through a real proxy (undici's).
import t from 'tap'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { FetchError, fetchJson } from '../lib/fetch.js'
import { resolveProxy, type ProxySettings } from '../lib/options/proxy.js'
import { startProxy } from './proxy/server.js'

const open = new Set<ServerResponse>()
const server = createServer((req, res) => {
  const path = req.url ?? '/'
  if (path === '/ok') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}')
  if (path === '/exact') return res.writeHead(200).end(JSON.stringify({ p: 'x'.repeat(1024 - 8) }))
  if (path === '/one-over') return res.writeHead(200).end(JSON.stringify({ p: 'x'.repeat(1024 - 7) }))
  if (path === '/declared') {
    // Says 2 MB up front and then stalls: refused on the header, without waiting for the body.
    open.add(res)
    res.writeHead(200, { 'content-length': String(2 * 1024 * 1024) })
    res.write('{')
    return
  }
  if (path === '/chunked') {
    res.writeHead(200)
    const chunk = 'x'.repeat(64 * 1024)
    let n = 0
    const pump = (): void => {
      while (n < 160 && !res.destroyed) {
        n++
        if (!res.write(chunk)) { res.once('drain', pump); return }
      }
      if (!res.destroyed) res.end()
    }
    res.on('error', () => {})
    return pump()
  }
  if (path === '/hang') { open.add(res); return }
  if (path === '/trickle') {
    open.add(res)
    res.writeHead(200)
    const drip = setInterval(() => { if (res.destroyed) clearInterval(drip); else res.write(' ') }, 50)
    res.on('close', () => clearInterval(drip))
    return
  }
  if (path === '/status') return res.writeHead(500, { 'content-type': 'text/html' }).end('<html>secret stack</html>')
  if (path === '/304') return res.writeHead(304).end()
  if (path === '/204') return res.writeHead(204).end()
  if (path === '/redirect') return res.writeHead(302, { location: '/ok' }).end()
  if (path === '/badjson') return res.writeHead(200).end('<html>not json</html>')
  if (path === '/badutf8') return res.writeHead(200).end(Buffer.from([0x22, 0xff, 0x22]))
  if (path === '/drop') {
    res.writeHead(200, { 'content-length': '100' })
    res.write('{"keys":')
    setTimeout(() => res.socket?.destroy(), 20)
    return
  }
  res.writeHead(404).end()
})
await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
t.teardown(async () => {
  for (const res of open) res.destroy()
  server.closeAllConnections()
  await new Promise(resolve => server.close(resolve))
})

const proxy = await startProxy(t)
const viaProxy = resolveProxy({ proxy: proxy.url }, {}) as ProxySettings

for (const [path, settings] of [['direct', undefined], ['through a proxy', viaProxy]] as const) {
  const shown = settings === undefined ? {} : { proxy: proxy.url }
  const failure = async (url: string, timeout = 2000, maxBytes = 1024): Promise<FetchError> => {
    try {
      await fetchJson(base + url, timeout, maxBytes, undefined, { proxy: settings })
    } catch (err) {
      if (err instanceof FetchError) return err
      throw err
    }
    throw new Error(`${url} did not fail`)
  }
  const passed = (): number => proxy.passed.length

  t.test(`${path}: a JSON document is returned with its status`, async t => {
    const before = passed()
    t.same(await fetchJson(base + '/ok', 2000, 1024, undefined, { proxy: settings }), { status: 200, body: { keys: [] }, contentType: 'application/json', bytes: 11, ...shown })
    t.same((await fetchJson(base + '/exact', 2000, 1024, undefined, { proxy: settings })).status, 200, 'exactly maxBytes is fine')
    t.equal(passed() - before, settings === undefined ? 0 : 2, 'the proxy saw the requests, or none')
  })

  t.test(`${path}: size cap: one byte over, a declared length, a 10 MB stream`, async t => {
    t.equal((await failure('/one-over')).code, 'too_large')
    const declared = await failure('/declared', 60_000)
    t.equal(declared.code, 'too_large')
    t.equal(declared.status, 200)
    t.equal(declared.bytes, 2 * 1024 * 1024, 'the declared size is kept for the warning')
    t.equal(declared.proxy, shown.proxy, 'and the proxy it came through')
    const counted = await failure('/one-over')
    t.equal(counted.bytes, 1025, 'or the bytes counted when the cap was passed')
    t.equal((await failure('/chunked', 60_000, 1024 * 1024)).code, 'too_large')
  })

  t.test(`${path}: a silent host and a trickled body are cut by the one deadline`, async t => {
    const started = Date.now()
    const hang = await failure('/hang', 300)
    t.equal(hang.code, 'timeout')
    t.equal(hang.status, undefined)
    const trickle = await failure('/trickle', 300, 1024 * 1024)
    t.equal(trickle.code, 'timeout')
    t.equal(trickle.status, 200)
    t.ok(Date.now() - started < 2000, 'each within its deadline')
  })

  t.test(`${path}: error statuses, redirects, body-less answers and bad JSON`, async t => {
    const status = await failure('/status')
    t.equal(status.code, 'status_500')
    t.equal(status.status, 500)
    t.notMatch(status.message, /secret|html/, 'the body is never echoed')
    t.equal((await failure('/nothing-here')).code, 'status_404')
    t.equal((await failure('/304')).code, 'status_304')
    t.equal((await failure('/204')).code, 'invalid_json')
    t.equal((await failure('/redirect')).code, 'status_302', 'redirects are refused')
    t.equal((await failure('/badjson')).code, 'invalid_json')
    t.equal((await failure('/badutf8')).code, 'invalid_json', 'UTF-8 is decoded strictly')
  })

  t.test(`${path}: a body dropped half-way`, async t => {
    const drop = await failure('/drop')
    t.equal(drop.code, 'network')
    t.equal(drop.status, 200)
    t.equal(drop.name, 'FetchError')
  })
}

t.test('a refused connection (direct; through a proxy: test/proxy/fetch.test.ts)', async t => {
  const closed = createServer()
  await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as AddressInfo).port
  await new Promise(resolve => closed.close(resolve))
  try {
    await fetchJson(`http://127.0.0.1:${port}/`, 2000, 1024)
    t.fail('should fail')
  } catch (err) {
    t.equal((err as FetchError).code, 'network')
  }
})

t.test('a connection reset before any answer is retried once, within the same deadline', async t => {
  let hits = 0
  let resets = 1
  const flaky = createServer((req, res) => {
    hits++
    // What a server closing an idle keep-alive connection looks like to the client that reused it.
    if (resets-- > 0) { req.socket.destroy(); return }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}')
  })
  await new Promise<void>(resolve => flaky.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise(resolve => flaky.close(resolve)))
  const url = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}/jwks`
  t.same((await fetchJson(url, 2000, 1024)).body, { keys: [] }, 'the second attempt answers')
  t.equal(hits, 2)
  hits = 0
  resets = 5
  const err = await fetchJson(url, 2000, 1024).then(() => undefined, (e: unknown) => e)
  t.equal((err as FetchError).code, 'network', 'a server that keeps resetting: network, after two attempts')
  t.equal(hits, 2)
})
