// An unknown kid arriving while a background refresh is under way joins that fetch; if the fetch
// predates the key (it does not bring the kid), the miss gets a fetch of its own, cooldown permitting.
import t from 'tap'
import Fastify from 'fastify'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import axioms from '../index.js'
import { generateTestKey, signJws } from '../testing.js'

t.test('a miss that joined a background refresh without its kid fetches once more', async t => {
  const oldKey = generateTestKey('RS256', 'old')
  const newKey = generateTestKey('RS256', 'new')
  let n = 0
  const server = createServer((_req, res) => {
    n++
    const keys = n >= 3 ? [oldKey.jwk, newKey.jwk] : [oldKey.jwk]
    const send = (): void => { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys })) }
    // The background refresh (request 2) answers late, with the set as it was when it was asked.
    if (n === 2) setTimeout(send, 400)
    else send()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  const issuer = 'https://issuer.test'
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, {
    audience: 'api',
    issuer,
    jwksUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`,
    jwksRefreshInterval: 1,
    jwksCacheTtl: 60,
    jwksCooldown: 30,
    env: {}
  })
  let calls = 0
  app.get('/x', { config: { axioms: {} } }, async () => { calls++; return 'ok' })
  await app.ready()
  t.equal(n, 1, 'prefetch')
  const requests = (): number => n
  for (let i = 0; i < 300 && requests() < 2; i++) await new Promise(resolve => setTimeout(resolve, 10))
  t.equal(n, 2, 'the background refresh is under way')
  const now = Math.floor(Date.now() / 1000)
  const token = signJws({ alg: 'RS256', kid: 'new' }, { iss: issuer, aud: 'api', iat: now, exp: now + 60 }, newKey)
  const res = await app.inject({ url: '/x', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 200, 'the new key is found by a fetch of the miss\'s own')
  t.equal(n, 3, 'one background fetch, one miss fetch')
  t.equal(app.axioms.stats().issuers[0]?.cooldownHits, 0)
  t.equal(calls, 1)
  // Another unknown kid now meets the cooldown: no fetch.
  const other = signJws({ alg: 'RS256', kid: 'nope' }, { iss: issuer, aud: 'api', iat: now, exp: now + 60 }, newKey)
  t.equal((await app.inject({ url: '/x', headers: { authorization: `Bearer ${other}` } })).statusCode, 401)
  t.equal(n, 3)
})
