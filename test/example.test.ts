import t from 'tap'
import { buildSample, curl, usesRealIssuer } from '../example/app.js'
import { createTestIssuer } from '../testing.js'

t.test('every printed case of the sample API gives its documented outcome', async t => {
  const { app, cases } = await buildSample({})
  t.teardown(() => app.close())
  t.equal(cases.length, 20)
  for (const c of cases) {
    const res = await app.inject({
      method: c.method,
      url: c.url,
      headers: c.token === undefined ? {} : { authorization: `Bearer ${c.token}` }
    })
    t.equal(res.statusCode, c.status, c.title)
    if (c.status === 403 && c.url !== '/articles/2') {
      t.same(res.json(), { error: 'insufficient_scope', error_description: 'Insufficient role, scope or permission' }, c.title)
    }
    const cmd = curl('http://127.0.0.1:3000', c)
    t.match(cmd, `-X ${c.method} http://127.0.0.1:3000${c.url}`)
    t.equal(cmd.includes('Authorization: Bearer '), c.token !== undefined)
  }
  const own = await app.inject({ url: '/articles/1', headers: { authorization: `Bearer ${cases[0]?.token}` } })
  t.same(own.json(), { id: '1', title: 'Written by user123', user: 'user123' })
  const home = await app.inject({ url: '/' })
  t.equal(home.statusCode, 200)
  const doc = await app.inject({ url: '/docs/json' })
  t.equal(doc.statusCode, 200)
})

t.test('AXIOMS_* variables point the sample at a real issuer instead', async t => {
  t.equal(usesRealIssuer({}), false)
  t.equal(usesRealIssuer({ AXIOMS_AUDIENCE: 'a' }), false)
  const idp = await createTestIssuer({ audience: 'https://api.example.test' })
  t.teardown(() => idp.close())
  const env = { AXIOMS_AUDIENCE: 'https://api.example.test', AXIOMS_ISS_URL: idp.issuer }
  t.equal(usesRealIssuer(env), true)
  const { app, issuer, cases } = await buildSample(env)
  t.teardown(() => app.close())
  t.equal(issuer, undefined)
  t.same(cases, [])
  const ok = await app.inject({ url: '/private', headers: { authorization: `Bearer ${idp.sign({ scope: 'openid' })}` } })
  t.equal(ok.statusCode, 200)
  t.equal(idp.requests.discovery >= 1, true, 'the issuer was found through discovery')
})
