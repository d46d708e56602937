// SECURITY.md §8 E: claims and time. Non-JSON-representable values (1e400) are written as raw text.
import t from 'tap'
import { A_ISS, API, B_ISS, accepted, claimsV, createApi, createWorld, headerFor, now, refused, signText, token } from './harness.js'

const world = await createWorld()
t.teardown(() => world.close())
const rs = world.k.rs

/** V's claims as JSON text with one member replaced by raw JSON text. */
function rawClaim (name: string, rawValue: string): string {
  const c = claimsV({ [name]: undefined })
  return JSON.stringify(c).slice(0, -1) + `,"${name}":${rawValue}}`
}
const hdr = JSON.stringify(headerFor(rs))

t.test('E1 exp in the past or exactly now: Token has expired', async t => {
  const api = await createApi(t, world)
  refused(t, await api.get(token(world, { exp: now() - 1 })), 'EXP', api.realm, {}, 'now - 1')
  refused(t, await api.get(token(world, { exp: now() })), 'EXP', api.realm, {}, 'now')
  refused(t, await api.get(token(world, { exp: 0 })), 'EXP', api.realm, {}, '0')
  refused(t, await api.get(token(world, { exp: -1e12 })), 'EXP', api.realm, {}, 'negative')
})

t.test('E2 clockTolerance 60: exp now-59 passes, now-61 is expired', async t => {
  const api = await createApi(t, world, { options: { clockTolerance: 60 } })
  // now() rounds down, which leaves now - 59 as little as a millisecond of tolerance: round up.
  accepted(t, await api.get(token(world, { exp: Math.ceil(Date.now() / 1000) - 59 })), 'now - 59')
  refused(t, await api.get(token(world, { exp: now() - 61 })), 'EXP', api.realm, {}, 'now - 61')
})

t.test('E3 no exp: Token missing expiration claim', async t => {
  const api = await createApi(t, world)
  refused(t, await api.get(token(world, { exp: undefined })), 'NOEXP', api.realm)
  refused(t, await api.get(signText(hdr, rawClaim('exp', 'null'), rs)), 'NOEXP', api.realm, {}, 'exp null')
})

t.test('E4 exp not a finite number: Invalid access token (N2)', async t => {
  const api = await createApi(t, world)
  for (const raw of ['"9999999999"', 'true', '{}', '[9999999999]', '1e400', '-1e400', '"Infinity"', '"NaN"']) {
    refused(t, await api.get(signText(hdr, rawClaim('exp', raw), rs)), 'IAC', api.realm, {}, `exp ${raw}`)
  }
  // nbf and iat go through the same check.
  refused(t, await api.get(signText(hdr, rawClaim('nbf', '-1e400'), rs)), 'IAC', api.realm, {}, 'nbf -1e400')
  refused(t, await api.get(signText(hdr, rawClaim('iat', '-1e400'), rs)), 'IAC', api.realm, {}, 'iat -1e400')
})

t.test('E5 exp ten years ahead: 200 (no maximum lifetime in SPEC)', async t => {
  const api = await createApi(t, world)
  accepted(t, await api.get(token(world, { exp: now() + 10 * 365 * 86400 })))
})

t.test('E6 clockTolerance 60: nbf now+30 passes, now+120 refused', async t => {
  const api = await createApi(t, world, { options: { clockTolerance: 60 } })
  accepted(t, await api.get(token(world, { nbf: now() + 30 })), 'now + 30')
  refused(t, await api.get(token(world, { nbf: now() + 120 })), 'IAC', api.realm, {}, 'now + 120')
  const strict = await createApi(t, world)
  refused(t, await strict.get(token(world, { nbf: now() + 30 })), 'IAC', strict.realm, {}, 'no tolerance: now + 30')
  refused(t, await strict.get(token(world, { nbf: '0' })), 'IAC', strict.realm, {}, 'nbf string')
})

t.test('E7 iat in the future or not a number: Invalid access token', async t => {
  const api = await createApi(t, world)
  refused(t, await api.get(token(world, { iat: now() + 3600 })), 'IAC', api.realm, {}, 'now + 3600')
  refused(t, await api.get(token(world, { iat: 'x' })), 'IAC', api.realm, {}, '"x"')
  refused(t, await api.get(token(world, { iat: null })), 'IAC', api.realm, {}, 'null')
})

t.test('E8 missing iat, sub, client_id or jti: D 200, S Invalid access token', async t => {
  const d = await createApi(t, world)
  const s = await createApi(t, world, { profile: 'S' })
  for (const name of ['iat', 'sub', 'client_id', 'jti']) {
    const tok = token(world, { [name]: undefined })
    accepted(t, await d.get(tok), `D without ${name}`)
    refused(t, await s.get(tok), 'IAC', s.realm, {}, `S without ${name}`)
  }
  refused(t, await s.get(token(world, { aud: undefined })), 'AUD', s.realm, {}, 'S without aud')
})

t.test('E9 iss of another issuer, missing, or an array: Invalid token issuer, no fetch', async t => {
  const api = await createApi(t, world)
  for (const iss of [B_ISS, undefined, [A_ISS], [A_ISS, B_ISS], { iss: A_ISS }, null, '']) {
    refused(t, await api.get(token(world, { iss })), 'ISS', api.realm, {}, JSON.stringify(iss) ?? 'missing')
  }
  t.equal(world.b.requests.jwks, 0, 'B never asked')
})

t.test('E10 iss spelled differently: refused; with domain configured the trailing slash is accepted', async t => {
  const api = await createApi(t, world)
  for (const iss of ['https://IDP-A.test', 'http://idp-a.test', 'https://idp-a.test/', 'https://idp-a.test:443', 'https://idp-a.test ', 'https://idp-a.test#', 'https://idp-a.test/.']) {
    refused(t, await api.get(token(world, { iss })), 'ISS', api.realm, {}, iss)
  }
  const dom = await createApi(t, world, { options: { issuer: undefined, domain: 'idp-a.test' } })
  accepted(t, await dom.get(token(world, { iss: 'https://idp-a.test/' })), 'domain: https://idp-a.test/')
  accepted(t, await dom.get(token(world, { iss: 'https://idp-a.test' })), 'domain: https://idp-a.test')
  refused(t, await dom.get(token(world, { iss: 'https://idp-a.test//' })), 'ISS', dom.realm, {}, 'domain: two slashes')
  refused(t, await dom.get(token(world, { iss: 'http://idp-a.test/' })), 'ISS', dom.realm, {}, 'domain: http')
})

t.test('E11 aud not ours, empty, wrong type or missing: Invalid token audience', async t => {
  const api = await createApi(t, world)
  for (const aud of ['https://other.test', ['https://other.test'], [], '', 1, {}, [1], undefined, null, 'https://api2.test', [[API]], { 0: API }]) {
    refused(t, await api.get(token(world, { aud })), 'AUD', api.realm, {}, JSON.stringify(aud) ?? 'missing')
  }
})

t.test('E12 aud array containing ours: 200', async t => {
  const api = await createApi(t, world)
  accepted(t, await api.get(token(world, { aud: ['https://other.test', API] })))
  accepted(t, await api.get(token(world, { aud: [1, null, API] })), 'non-strings ignored')
})

t.test('E13 near-miss and huge audiences: Invalid token audience, bounded', async t => {
  const api = await createApi(t, world)
  for (const aud of ['https://api.test.evil', 'https://api.tes', 'https://api.test/', 'https://API.test', ' https://api.test', 'a'.repeat(5000), Array(250).fill('https://api.tes')]) {
    const t0 = performance.now()
    refused(t, await api.get(token(world, { aud })), 'AUD', api.realm, {}, JSON.stringify(aud).slice(0, 40))
    t.comment(`aud check round trip ${(performance.now() - t0).toFixed(2)} ms`)
  }
})

t.test('E14 profile S: sub 123 or "": Invalid access token (design choice)', async t => {
  const s = await createApi(t, world, { profile: 'S' })
  for (const sub of [123, '', null, ['user-1'], {}]) {
    refused(t, await s.get(token(world, { sub })), 'IAC', s.realm, {}, JSON.stringify(sub))
  }
  for (const client of [1, '']) refused(t, await s.get(token(world, { client_id: client })), 'IAC', s.realm, {}, `client_id ${JSON.stringify(client)}`)
  refused(t, await s.get(token(world, { jti: 5 })), 'IAC', s.realm, {}, 'jti number')
})

t.test('E15 an ID token: D stops it by audience, S by type', async t => {
  const d = await createApi(t, world)
  const s = await createApi(t, world, { profile: 'S' })
  const id = token(world, { aud: 'c1', nonce: 'n-0S6_WzA2Mj', at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q', azp: 'c1', scope: undefined }, { typ: 'JWT' })
  refused(t, await d.get(id), 'AUD', d.realm)
  refused(t, await s.get(id), 'TYP', s.realm)
})

t.test('E16 sender-constrained token (cnf) sent as Bearer: 401 invalid_token, its binding kept (RFC 9449 §7.2, RFC 8705 §3)', async t => {
  const d = await createApi(t, world)
  const cases: Array<[unknown, string]> = [
    [{ jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' }, 'DPoP-bound access token requires the DPoP scheme'],
    [{ 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dgA' }, 'Client certificate required'],
    [{ 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' }, 'Invalid access token'],
    [{}, 'Invalid access token'],
    [null, 'Invalid access token'],
    ['x', 'Invalid access token'],
    [{ jwk: { kty: 'EC' } }, 'Invalid access token'],
    [{ jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I', kid: 'x' }, 'Invalid access token']
  ]
  for (const [cnf, description] of cases) {
    const out = await d.get(token(world, { cnf }))
    t.equal(out.status, 401, JSON.stringify(cnf))
    t.same(out.body, { error: 'invalid_token', error_description: description }, JSON.stringify(cnf))
    t.equal(out.headers['www-authenticate'], `Bearer realm="${d.realm}", error="invalid_token", error_description="${description}"`, JSON.stringify(cnf))
    t.equal(out.handled, 0)
  }
})
