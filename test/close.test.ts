// app.close() ends JWKS fetches under way instead of waiting for jwksTimeout.
import t from 'tap'
import Fastify from 'fastify'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import axioms from '../index.js'
import { fetchJson, FetchError } from '../lib/fetch.js'
import { createTestIssuer } from '../testing.js'

t.test('fetchJson: a cancel signal ends the request as a network failure', async t => {
  const hang = createServer(() => {})
  await new Promise<void>(resolve => hang.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { hang.closeAllConnections(); hang.close(() => resolve()) }))
  const url = `http://127.0.0.1:${(hang.address() as AddressInfo).port}/`

  const early = new AbortController()
  early.abort()
  const first = await fetchJson(url, 30_000, 1024, early.signal).catch((e: unknown) => e)
  t.type(first, FetchError)
  t.equal((first as FetchError).code, 'network', 'already cancelled: not even sent')

  const later = new AbortController()
  const pending = fetchJson(url, 30_000, 1024, later.signal).catch((e: unknown) => e)
  setTimeout(() => later.abort(), 100)
  const second = await pending
  t.equal((second as FetchError).code, 'network', 'cancelled while waiting for the answer')
})

t.test('app.close() does not wait for a hanging JWKS fetch', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  idp.setMode('hang')
  const app = Fastify()
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, jwksPrefetch: false, jwksTimeout: '30s', env: {} })
  app.get('/x', { config: { axioms: {} } }, async () => 'ok')
  await app.ready()
  const inflight = app.inject({ url: '/x', headers: { authorization: `Bearer ${idp.sign()}` } })
  // Bounded wait for the fetch to reach the issuer.
  for (let i = 0; i < 200 && idp.requests.discovery === 0; i++) await new Promise(resolve => setTimeout(resolve, 10))
  t.equal(idp.requests.discovery, 1, 'the fetch is under way')
  let timer: NodeJS.Timeout | undefined
  const winner = await Promise.race([
    app.close().then(() => 'closed'),
    new Promise(resolve => { timer = setTimeout(() => resolve('still waiting'), 10_000) })
  ])
  clearTimeout(timer)
  t.equal(winner, 'closed', 'close() returned long before the 30 s jwksTimeout')
  const res = await inflight
  t.equal(res.statusCode, 503, 'the request caught in the close gets a 503, not a hang')
})
