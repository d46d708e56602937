// Each refusal is logged at debug with its reason, the token's jti and, for a 403, which
// requirement failed (kind, any/all, the values missing); never the token.
import t from 'tap'
import Fastify from 'fastify'
import axioms from '../index.js'
import { createTestIssuer } from '../testing.js'

t.test('a 403 says which requirement failed', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const lines: Array<Record<string, unknown>> = []
  const app = Fastify({ logger: { level: 'debug', stream: { write: (l: string) => { lines.push(JSON.parse(l)) } } } })
  t.teardown(() => app.close())
  await app.register(axioms, { issuer: idp.issuer, audience: 'your-api-audience', env: {} })
  app.get('/any', { config: { axioms: { scopes: ['a', 'b'] } } }, async () => 'ok')
  app.get('/all', { config: { axioms: { scopes: ['x'], roles: { all: ['editor', 'admin', 'owner'] } } } }, async () => 'ok')
  const token = idp.sign({ scope: 'x', roles: ['editor'], jti: 'jti-403' })
  const refused = (): Array<Record<string, unknown>> => lines.filter(l => l.msg === 'axioms: request refused')

  t.equal((await app.inject({ url: '/any', headers: { authorization: `Bearer ${token}` } })).statusCode, 403)
  t.same(refused().at(-1)?.requirement, { kind: 'scopes', mode: 'any', missing: ['a', 'b'] })
  t.equal(refused().at(-1)?.jti, 'jti-403')
  t.equal(refused().at(-1)?.level, 20)
  t.equal((await app.inject({ url: '/all', headers: { authorization: `Bearer ${token}` } })).statusCode, 403)
  t.same(refused().at(-1)?.requirement, { kind: 'roles', mode: 'all', missing: ['admin', 'owner'] })
  t.equal((await app.inject({ url: '/any', headers: { authorization: 'Bearer x.y.z' } })).statusCode, 401)
  t.same(Object.keys(refused().at(-1) ?? {}).filter(k => k === 'requirement'), [], 'a 401 has no requirement')
  t.equal(refused().at(-1)?.reason, 'malformed')
  t.notOk(JSON.stringify(lines).includes(token), 'the token is never logged')
  t.notOk(JSON.stringify(lines).includes(token.split('.')[2] as string))
})
