// A polluted Object.prototype (a vulnerable dependency elsewhere in the process) must not change a
// verification decision: every member the checks read is the token's own (header and claims are
// decoded into null-prototype objects), so a member the token lacks is never read from the prototype.
import t from 'tap'
import Fastify from 'fastify'
import axioms from '../index.js'
import { createTestIssuer } from '../testing.js'

const now = (): number => Math.floor(Date.now() / 1000)

/** Runs fn with these members planted on Object.prototype; restores it whatever happens. */
async function polluted<T> (members: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
  for (const [k, value] of Object.entries(members)) {
    // eslint-disable-next-line no-extend-native
    Object.defineProperty(Object.prototype, k, { value, configurable: true, writable: true })
  }
  try {
    return await fn()
  } finally {
    for (const k of Object.keys(members)) Reflect.deleteProperty(Object.prototype, k)
  }
}

t.test('inherited exp, iss, typ, sub, client_id, jti and header members grant nothing and refuse nothing', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, idp.pluginOptions({ profile: 'rfc9068' }))
  let calls = 0
  app.get('/p', { config: { axioms: {} } }, async () => { calls++; return 'ok' })
  await app.ready()
  const full = { sub: 'u', client_id: 'c' }
  const noExp = idp.sign({ ...full, exp: undefined })
  const noSub = idp.sign({ client_id: 'c' })
  const noTyp = idp.sign(full, { typ: null })
  const good = idp.sign(full)
  const noIss = idp.sign({ ...full, iss: undefined })
  const call = async (token: string): Promise<[number, string]> => {
    const res = await app.inject({ url: '/p', headers: { authorization: `Bearer ${token}` } })
    return [res.statusCode, res.statusCode === 200 ? 'ok' : res.json().error_description]
  }
  const results = await polluted({
    exp: now() + 3600,
    iss: idp.issuer,
    typ: 'at+jwt',
    sub: 'admin',
    client_id: 'x',
    jti: 'j',
    crit: ['x'],
    zip: 'DEF',
    b64: false,
    cnf: { jkt: 'x' },
    nbf: now() + 3600
  }, async () => [await call(noExp), await call(noSub), await call(noTyp), await call(good), await call(noIss)])
  t.same(results, [
    [401, 'Token missing expiration claim'],
    [401, 'Invalid access token'],
    [401, 'Invalid token type'],
    [200, 'ok'],
    [401, 'Invalid token issuer']
  ])
  t.equal(calls, 1)
})
