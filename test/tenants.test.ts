// Issuer templates (issue 12): one `iss` per tenant under one key set. Tokens of every tenant are
// signed by one local test issuer; the template's `iss` values are set per token.
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import axioms, { type AxiomsOptions, type TenantValues } from '../index.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'

const TEMPLATE = 'https://login.example.test/{tenant}/v2.0'
const issOf = (tenant: string): string => `https://login.example.test/${tenant}/v2.0`
const AUD = 'your-api-audience'
const ISS_REFUSED = { error: 'invalid_token', error_description: 'Invalid token issuer' }

async function idp (t: Test): Promise<TestIssuer> {
  // The discovery document names the template, as Entra's common one does; it is never fetched.
  const i = await createTestIssuer({ issuer: TEMPLATE })
  t.teardown(() => i.close())
  return i
}

interface Api {
  app: FastifyInstance
  readonly calls: number
  /** Error log lines (level 50), parsed. */
  errors: Array<Record<string, unknown>>
  get: (token: string) => Promise<{ status: number, body: unknown, challenge: unknown, handled: number }>
}

async function api (t: Test, options: AxiomsOptions): Promise<Api> {
  const errors: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const entry = JSON.parse(line) as Record<string, unknown>
        if (entry.level === 50) errors.push(entry)
      }
      cb()
    }
  })
  const app = Fastify({ logger: { level: 'error', stream } })
  t.teardown(() => app.close())
  await app.register(axioms, { audience: AUD, env: {}, jwksPrefetch: false, ...options })
  let calls = 0
  app.get('/data', { config: { axioms: { scopes: ['read:data'] } } }, async request => {
    calls++
    return { iss: (request.authJwt as { iss: string }).iss }
  })
  await app.ready()
  return {
    app,
    get calls () { return calls },
    errors,
    get: async token => {
      const before = calls
      const res = await app.inject({ url: '/data', headers: { authorization: `Bearer ${token}` } })
      return { status: res.statusCode, body: res.json(), challenge: res.headers['www-authenticate'], handled: calls - before }
    }
  }
}

const fetches = (i: TestIssuer): number => i.requests.jwks + i.requests.discovery

function refusedIssuer (t: Test, out: Awaited<ReturnType<Api['get']>>, realm: string, label: string): void {
  t.equal(out.status, 401, `${label}: 401`)
  t.same(out.body, ISS_REFUSED, `${label}: Invalid token issuer`)
  t.equal(out.challenge, `Bearer realm="${realm}", error="invalid_token", error_description="Invalid token issuer"`, `${label}: challenge`)
  t.equal(out.handled, 0, `${label}: handler did not run`)
}

t.test('an allow-list: tenants A and B share the one key set, tenant C is refused before any fetch', async t => {
  const i = await idp(t)
  const a = await api(t, { issuer: TEMPLATE, jwksUri: i.jwksUri, tenants: ['tenant-a', 'tenant-b'] })
  // Cold: nothing fetched yet, and tenant C's token must not cause the first fetch.
  refusedIssuer(t, await a.get(i.sign({ iss: issOf('tenant-c'), scope: 'read:data' })), TEMPLATE, 'tenant C (cold)')
  t.equal(fetches(i), 0, 'tenant C caused no fetch')
  const ra = await a.get(i.sign({ iss: issOf('tenant-a'), scope: 'read:data' }))
  t.equal(ra.status, 200)
  t.same(ra.body, { iss: issOf('tenant-a') })
  const rb = await a.get(i.sign({ iss: issOf('tenant-b'), scope: 'read:data' }))
  t.equal(rb.status, 200)
  t.same(rb.body, { iss: issOf('tenant-b') })
  t.equal(i.requests.jwks, 1, 'one fetch for both tenants: the key set is the template\'s')
  t.equal(i.requests.discovery, 0, 'a template is never discovered')
  refusedIssuer(t, await a.get(i.sign({ iss: issOf('tenant-c'), scope: 'read:data' })), TEMPLATE, 'tenant C (warm)')
  t.equal(i.requests.jwks, 1)
  t.equal(a.calls, 2)
  const stats = a.app.axioms.stats()
  t.same(stats.issuers.map(s => [s.issuer, s.jwksUri, s.keys, s.fetches]), [[TEMPLATE, i.jwksUri, 1, 1]], 'stats: one entry per template')
  t.equal(stats.refusedBy.bad_issuer, 2)
})

// Hostile `iss` values against tenant-a / tenant-b: each must be refused before any key lookup.
const HOSTILE: Array<[string, string]> = [
  ['the template itself', TEMPLATE],
  ['dot-dot value', 'https://login.example.test/../v2.0'],
  ['dot value', 'https://login.example.test/./v2.0'],
  ['dot-dot around a listed value', 'https://login.example.test/tenant-a/../v2.0'],
  ['extra segment after', 'https://login.example.test/tenant-a/x/v2.0'],
  ['extra segment before', 'https://login.example.test/x/tenant-a/v2.0'],
  ['encoded slash', 'https://login.example.test/tenant-a%2F/v2.0'],
  ['encoded hyphen', 'https://login.example.test/tenant%2Da/v2.0'],
  ['encoded slash as the value', 'https://login.example.test/%2F/v2.0'],
  ['trailing slash', 'https://login.example.test/tenant-a/v2.0/'],
  ['double slash', 'https://login.example.test//tenant-a/v2.0'],
  ['empty value', 'https://login.example.test//v2.0'],
  ['upper-case value', 'https://login.example.test/TENANT-A/v2.0'],
  ['upper-case host', 'https://LOGIN.example.test/tenant-a/v2.0'],
  ['upper-case scheme', 'HTTPS://login.example.test/tenant-a/v2.0'],
  ['upper-case literal path', 'https://login.example.test/tenant-a/V2.0'],
  ['http', 'http://login.example.test/tenant-a/v2.0'],
  ['explicit port', 'https://login.example.test:443/tenant-a/v2.0'],
  ['another host, same path', 'https://evil.test/tenant-a/v2.0'],
  ['a longer host', 'https://login.example.test.evil.test/tenant-a/v2.0'],
  ['userinfo', 'https://login.example.test@evil.test/tenant-a/v2.0'],
  ['listed value with a prefix', 'https://login.example.test/xtenant-a/v2.0'],
  ['listed value with a suffix', 'https://login.example.test/tenant-ax/v2.0'],
  ['listed value with a dotted suffix', 'https://login.example.test/tenant-a.evil/v2.0'],
  ['suffix after the template', 'https://login.example.test/tenant-a/v2.0.evil'],
  ['query', 'https://login.example.test/tenant-a/v2.0?x=1'],
  ['fragment', 'https://login.example.test/tenant-a/v2.0#x'],
  ['whole iss in a query', 'https://evil.test/?https://login.example.test/tenant-a/v2.0'],
  ['two tenants glued', 'https://login.example.test/tenant-a/v2.0https://login.example.test/tenant-b/v2.0'],
  ['two values in one', 'https://login.example.test/tenant-a,tenant-b/v2.0'],
  ['leading space', ' https://login.example.test/tenant-a/v2.0'],
  ['space in the value', 'https://login.example.test/tenant-a /v2.0'],
  ['trailing newline', 'https://login.example.test/tenant-a/v2.0\n'],
  ['NUL in the value', 'https://login.example.test/tenant-a\u0000/v2.0'],
  ['unicode hyphen', 'https://login.example.test/tenant\u2010a/v2.0'],
  ['fullwidth letters', 'https://login.example.test/ｔｅｎａｎｔ-a/v2.0'],
  ['leading dot', 'https://login.example.test/.tenant-a/v2.0'],
  ['trailing dot', 'https://login.example.test/tenant-a./v2.0'],
  ['65-character value', `https://login.example.test/${'a'.repeat(65)}/v2.0`],
  ['cache-key planting', 'https://evil.test/?:https://login.example.test/tenant-a/v2.0'],
  ['empty', '']
]

t.test('hostile iss values are refused before any fetch: allow-list and tenant function alike', async t => {
  const i = await idp(t)
  const seen: TenantValues[] = []
  const configs: Array<[string, AxiomsOptions]> = [
    ['allow-list', { issuer: TEMPLATE, jwksUri: i.jwksUri, tenants: ['tenant-a', 'tenant-b'] }],
    ['function', { issuer: TEMPLATE, jwksUri: i.jwksUri, tenants: v => { seen.push(v); return v.tenant === 'tenant-a' || v.tenant === 'tenant-b' } }]
  ]
  for (const [name, options] of configs) {
    const before = fetches(i)
    const a = await api(t, options)
    for (const [label, iss] of HOSTILE) {
      refusedIssuer(t, await a.get(i.sign({ iss, scope: 'read:data' })), TEMPLATE, `${name}: ${label}`)
    }
    // Whatever reached the function was one well-formed value, never a path or an encoding.
    for (const v of seen) t.match(v.tenant, /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/, `${name}: the function saw only plain values (${v.tenant})`)
    t.equal(fetches(i), before, `${name}: no fetch for any of them`)
    t.equal(a.app.axioms.stats().issuers[0]?.fetches, 0)
    t.equal(a.calls, 0)
    // The listed tenants still work afterwards.
    t.equal((await a.get(i.sign({ iss: issOf('tenant-a'), scope: 'read:data' }))).status, 200, `${name}: tenant-a`)
  }
  t.same(seen.map(v => v.tenant).sort(), ['TENANT-A', 'tenant-a', 'tenant-a.evil', 'tenant-ax', 'xtenant-a'].sort(),
    'the function was asked only where the shape fits: values the rules allow, then its own verdict')
})

t.test('a tenant function: true accepts, false refuses; it sees frozen, null-prototype placeholder values', async t => {
  const i = await idp(t)
  const seen: TenantValues[] = []
  const a = await api(t, {
    issuer: TEMPLATE,
    jwksUri: i.jwksUri,
    tenants: values => { seen.push(values); return values.tenant?.startsWith('tenant-') === true && values.tenant !== 'tenant-c' }
  })
  t.equal((await a.get(i.sign({ iss: issOf('tenant-a'), scope: 'read:data' }))).status, 200)
  t.equal((await a.get(i.sign({ iss: issOf('tenant-b'), scope: 'read:data' }))).status, 200)
  refusedIssuer(t, await a.get(i.sign({ iss: issOf('tenant-c'), scope: 'read:data' })), TEMPLATE, 'false')
  refusedIssuer(t, await a.get(i.sign({ iss: issOf('other'), scope: 'read:data' })), TEMPLATE, 'false (other)')
  t.equal(i.requests.jwks, 1, 'one fetch, for the first accepted tenant only')
  t.same(seen.map(v => ({ ...v })), [{ tenant: 'tenant-a' }, { tenant: 'tenant-b' }, { tenant: 'tenant-c' }, { tenant: 'other' }])
  t.ok(seen.every(v => Object.isFrozen(v) && Object.getPrototypeOf(v) === null))
  // Asked per token, not remembered: a tenant removed from the app's list stops at once.
  t.equal((await a.get(i.sign({ iss: issOf('tenant-a'), scope: 'read:data' }))).status, 200)
  t.equal(seen.length, 5)
  t.equal(a.calls, 3)
  t.same(a.errors, [])
})

t.test('a tenant function that throws or answers anything but a boolean: 401, an error log, never a 5xx', async t => {
  const i = await idp(t)
  let answer: () => unknown = () => true
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  const a = await api(t, { issuer: TEMPLATE, jwksUri: i.jwksUri, tenants: () => answer() as boolean })
  const cases: Array<[string, () => unknown, string]> = [
    ['throws', () => { throw new Error('tenant database down') }, 'threw'],
    ['a promise of true', () => Promise.resolve(true), 'must return true or false'],
    ['a rejected promise', () => Promise.reject(new Error('nope')), 'must return true or false'],
    ['a thenable whose then throws', () => ({ then () { throw new Error('odd') } }), 'must return true or false'],
    ['a truthy string', () => 'yes', 'must return true or false'],
    ['1', () => 1, 'must return true or false'],
    ['undefined', () => undefined, 'must return true or false'],
    ['null', () => null, 'must return true or false']
  ]
  for (const [label, fn, text] of cases) {
    answer = fn
    const before = a.errors.length
    refusedIssuer(t, await a.get(i.sign({ iss: issOf('tenant-a'), scope: 'read:data' })), TEMPLATE, label)
    t.equal(a.errors.length, before + 1, `${label}: one error line`)
    const line = a.errors.at(-1) as { issuer: string, msg: string }
    t.equal(line.issuer, TEMPLATE, `${label}: names the template`)
    t.ok(line.msg.includes(text), `${label}: ${line.msg}`)
  }
  t.match(a.errors[0], { err: { message: 'tenant database down' } }, 'the thrown error is logged for the operator')
  await new Promise(resolve => setTimeout(resolve, 20))
  t.same(unhandled, [], 'no unhandled rejection')
  t.equal(fetches(i), 0, 'nothing fetched for any of them')
  answer = () => true
  t.equal((await a.get(i.sign({ iss: issOf('tenant-a'), scope: 'read:data' }))).status, 200)
  t.equal(a.app.axioms.stats().internalErrors, 0, 'counted as refusals (bad_issuer), not as internal errors')
})

t.test('several placeholders: { name: value } items; a tenant function sees all values', async t => {
  const i = await idp(t)
  const template = 'https://idp.example.test/{region}/tenants/{tenant}'
  const iss = (region: string, tenant: string): string => `https://idp.example.test/${region}/tenants/${tenant}`
  const a = await api(t, { issuer: template, jwksUri: i.jwksUri, tenants: [{ region: 'eu', tenant: 'acme' }, { tenant: 'acme', region: 'us' }] })
  t.equal((await a.get(i.sign({ iss: iss('eu', 'acme'), scope: 'read:data' }))).status, 200)
  t.equal((await a.get(i.sign({ iss: iss('us', 'acme'), scope: 'read:data' }))).status, 200)
  refusedIssuer(t, await a.get(i.sign({ iss: iss('eu', 'other'), scope: 'read:data' })), template, 'unlisted pair')
  refusedIssuer(t, await a.get(i.sign({ iss: iss('acme', 'eu'), scope: 'read:data' })), template, 'values swapped')
  refusedIssuer(t, await a.get(i.sign({ iss: `${iss('eu', 'acme')}/`, scope: 'read:data' })), template, 'trailing slash')
  const seen: TenantValues[] = []
  const b = await api(t, { issuer: template, jwksUri: i.jwksUri, tenants: v => { seen.push(v); return v.region === 'eu' } })
  t.equal((await b.get(i.sign({ iss: iss('eu', 'globex'), scope: 'read:data' }))).status, 200)
  refusedIssuer(t, await b.get(i.sign({ iss: iss('us', 'globex'), scope: 'read:data' })), template, 'function: false')
  t.same(seen.map(v => ({ ...v })), [{ region: 'eu', tenant: 'globex' }, { region: 'us', tenant: 'globex' }])
})

t.test('two templates in one issuer (v1 and v2 forms): one tenants list, one key set', async t => {
  const i = await idp(t)
  const v1 = 'https://sts.example.test/{tenant}/'
  const a = await api(t, { issuer: [TEMPLATE, v1], jwksUri: i.jwksUri, tenants: ['tenant-a'] })
  t.equal((await a.get(i.sign({ iss: issOf('tenant-a'), scope: 'read:data' }))).status, 200)
  t.equal((await a.get(i.sign({ iss: 'https://sts.example.test/tenant-a/', scope: 'read:data' }))).status, 200)
  refusedIssuer(t, await a.get(i.sign({ iss: 'https://sts.example.test/tenant-b/', scope: 'read:data' })), TEMPLATE, 'v1 form, unlisted tenant')
  t.equal(i.requests.jwks, 1)
  t.equal(a.app.axioms.stats().issuers.length, 1)
})

t.test('a literal issuer next to templates: kids never cross, nothing is planted', async t => {
  const lit = await createTestIssuer()
  t.teardown(() => lit.close())
  const i = await idp(t)
  const litShared = lit.addKey('RS256', 'shared')
  const tplShared = i.addKey('RS256', 'shared')
  const fnTemplate = 'https://fn.example.test/{tenant}'
  const a = await api(t, {
    issuers: [
      { issuer: lit.issuer, jwksUri: lit.jwksUri },
      { issuer: TEMPLATE, jwksUri: i.jwksUri, tenants: ['tenant-a'] },
      { issuer: fnTemplate, jwksUri: i.jwksUri, tenants: v => v.tenant === 'tenant-f' }
    ]
  })
  const claims = (iss: string): Record<string, unknown> => ({ iss, aud: AUD, scope: 'read:data', exp: Math.floor(Date.now() / 1000) + 300 })
  const header = { alg: 'RS256', kid: 'shared', typ: 'at+jwt' }
  const sig = { error: 'invalid_token', error_description: 'Invalid token signature' }
  const challenge = (d: string): string => `Bearer realm="${lit.issuer}", error="invalid_token", error_description="${d}"`

  // The literal issuer's "shared" key, with a template tenant's iss: checked against the template's key.
  const planted = await a.get(lit.signRaw(header, claims(issOf('tenant-a')), litShared))
  t.same([planted.status, planted.body, planted.challenge, planted.handled], [401, sig, challenge('Invalid token signature'), 0])
  t.equal(fetches(lit), 0, 'the literal issuer is not asked for a template tenant\'s token')
  const plantedFn = await a.get(lit.signRaw(header, claims('https://fn.example.test/tenant-f'), litShared))
  t.same([plantedFn.status, plantedFn.body, plantedFn.handled], [401, sig, 0], 'the same through the tenant function')
  // And the other way round.
  const back = await a.get(i.signRaw(header, claims(lit.issuer), tplShared))
  t.same([back.status, back.body, back.challenge, back.handled], [401, sig, challenge('Invalid token signature'), 0])
  // A kid only the literal issuer publishes, with a tenant's iss: unknown in the template's set.
  const litOnly = lit.keys[0]
  const before = fetches(lit)
  const unknown = await a.get(lit.signRaw({ alg: 'RS256', kid: litOnly?.kid, typ: 'at+jwt' }, claims(issOf('tenant-a')), litOnly))
  t.same([unknown.status, unknown.body, unknown.handled], [401, { error: 'invalid_token', error_description: 'Invalid access token' }, 0])
  t.equal(fetches(lit), before, 'still not the literal issuer')
  // Colliding-looking iss and kid values plant nothing (CVE-2025-59936's shape).
  refusedIssuer(t, await a.get(lit.signRaw({ ...header, kid: `${lit.issuer}:shared` }, claims(`${issOf('tenant-a')}:${lit.issuer}`), litShared)), lit.issuer, 'glued iss')
  refusedIssuer(t, await a.get(lit.signRaw(header, claims(`https://evil.test/?:${lit.issuer}`), litShared)), lit.issuer, 'query iss')
  // Each issuer's own keys work for its own tokens.
  t.equal((await a.get(lit.signRaw(header, claims(lit.issuer), litShared))).status, 200)
  t.equal((await a.get(i.signRaw(header, claims(issOf('tenant-a')), tplShared))).status, 200)
  t.equal((await a.get(i.signRaw(header, claims('https://fn.example.test/tenant-f'), tplShared))).status, 200)
  t.equal(a.calls, 3)
  t.same(a.app.axioms.stats().issuers.map(s => s.issuer), [lit.issuer, TEMPLATE, fnTemplate], 'one key set per entry, named by its template')
})

t.test('audience: the entry\'s, else the top-level one, for every tenant alike', async t => {
  const i = await idp(t)
  const a = await api(t, { issuers: [{ issuer: TEMPLATE, jwksUri: i.jwksUri, tenants: ['tenant-a', 'tenant-b'], audience: 'api://tenants' }] })
  t.equal((await a.get(i.sign({ iss: issOf('tenant-a'), aud: 'api://tenants', scope: 'read:data' }))).status, 200)
  t.equal((await a.get(i.sign({ iss: issOf('tenant-b'), aud: 'api://tenants', scope: 'read:data' }))).status, 200)
  const other = await a.get(i.sign({ iss: issOf('tenant-a'), aud: AUD, scope: 'read:data' }))
  t.same([other.status, other.body, other.handled], [401, { error: 'invalid_token', error_description: 'Invalid token audience' }, 0])
})

t.test('AXIOMS_ISS_URL with a template and AXIOMS_TENANTS (comma list or JSON)', async t => {
  const i = await idp(t)
  const a = await api(t, { env: { AXIOMS_ISS_URL: TEMPLATE, AXIOMS_JWKS_URL: i.jwksUri, AXIOMS_TENANTS: 'tenant-a, tenant-b' } })
  t.equal((await a.get(i.sign({ iss: issOf('tenant-a'), scope: 'read:data' }))).status, 200)
  t.equal((await a.get(i.sign({ iss: issOf('tenant-b'), scope: 'read:data' }))).status, 200)
  refusedIssuer(t, await a.get(i.sign({ iss: issOf('tenant-c'), scope: 'read:data' })), TEMPLATE, 'env: tenant C')
  const template = 'https://idp.example.test/{region}/tenants/{tenant}'
  const b = await api(t, { env: { AXIOMS_ISS_URL: template, AXIOMS_JWKS_URL: i.jwksUri, AXIOMS_TENANTS: '[{"region":"eu","tenant":"acme"}]' } })
  t.equal((await b.get(i.sign({ iss: 'https://idp.example.test/eu/tenants/acme', scope: 'read:data' }))).status, 200)
  refusedIssuer(t, await b.get(i.sign({ iss: 'https://idp.example.test/us/tenants/acme', scope: 'read:data' })), template, 'env JSON: unlisted')
  // Explicit options win over the variables, as everywhere.
  const c = await api(t, { issuer: TEMPLATE, jwksUri: i.jwksUri, tenants: ['tenant-c'], env: { AXIOMS_TENANTS: 'tenant-a' } })
  t.equal((await c.get(i.sign({ iss: issOf('tenant-c'), scope: 'read:data' }))).status, 200)
  refusedIssuer(t, await c.get(i.sign({ iss: issOf('tenant-a'), scope: 'read:data' })), TEMPLATE, 'explicit tenants win')
})

t.test('one tenant as a string; realm, app.axioms.verify and tokenCache with a template', async t => {
  const i = await idp(t)
  const a = await api(t, { issuer: TEMPLATE, jwksUri: i.jwksUri, tenants: 'tenant-a', realm: 'orders', tokenCache: 10 })
  refusedIssuer(t, await a.get(i.sign({ iss: issOf('tenant-b'), scope: 'read:data' })), 'orders', 'realm option')
  const tok = i.sign({ iss: issOf('tenant-a'), scope: 'read:data' })
  t.equal((await a.get(tok)).status, 200)
  t.equal((await a.get(tok)).status, 200)
  t.equal(a.app.axioms.stats().cacheHits, 1)
  t.match(await a.app.axioms.verify(i.sign({ iss: issOf('tenant-a') })), { iss: issOf('tenant-a') })
  await t.rejects(a.app.axioms.verify(i.sign({ iss: issOf('tenant-b') })), { reason: 'bad_issuer' } as never)
})

t.test('RFC 9728: an allow-list\'s issuers are the authorization servers; a tenant function needs them named', async t => {
  const i = await idp(t)
  const lit = 'https://login.example.test/literal'
  const a = await api(t, {
    issuers: [{ issuer: lit, jwksUri: i.jwksUri }, { issuer: TEMPLATE, jwksUri: i.jwksUri, tenants: ['tenant-a', 'tenant-b'] }],
    protectedResourceMetadata: { resource: 'https://api.example.test' }
  })
  const doc = (await a.app.inject({ url: '/.well-known/oauth-protected-resource' })).json()
  t.same(doc.authorization_servers, [lit, issOf('tenant-a'), issOf('tenant-b')])
  const b = await api(t, {
    issuer: TEMPLATE,
    jwksUri: i.jwksUri,
    tenants: () => true,
    protectedResourceMetadata: { resource: 'https://api.example.test', authorizationServers: ['https://login.example.test/organizations/v2.0'] }
  })
  t.same((await b.app.inject({ url: '/.well-known/oauth-protected-resource' })).json().authorization_servers, ['https://login.example.test/organizations/v2.0'])
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => { await app.register(axioms, { audience: AUD, env: {}, issuer: TEMPLATE, jwksUri: i.jwksUri, tenants: () => true, protectedResourceMetadata: true }) },
    { code: 'AXIOMS_INVALID_OPTION', message: /"protectedResourceMetadata\.authorizationServers" is required with an issuer template whose tenants are a function/ })
})

t.test('startup refusals name the option', async t => {
  const J = 'https://login.example.test/common/keys'
  const register = async (opts: Record<string, unknown>): Promise<void> => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(axioms, { audience: AUD, env: {}, ...opts } as AxiomsOptions)
  }
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    // open templates
    [{ issuer: TEMPLATE, jwksUri: J }, /"tenants" \(env AXIOMS_TENANTS\) is required with an issuer template/],
    [{ issuers: [{ issuer: TEMPLATE, jwksUri: J }] }, /"issuers\[0\]\.tenants" is required with an issuer template/],
    [{ env: { AXIOMS_ISS_URL: TEMPLATE, AXIOMS_JWKS_URL: J } }, /"tenants" \(env AXIOMS_TENANTS\) is required/],
    // no key set
    [{ issuer: TEMPLATE, tenants: ['a'] }, /"jwksUri" \(env AXIOMS_JWKS_URL\) is required with an issuer template/],
    [{ issuers: [{ issuer: TEMPLATE, tenants: ['a'] }] }, /"issuers\[0\]\.jwksUri" is required with an issuer template/],
    // tenants without a template
    [{ issuer: 'https://login.example.test/tenant-a/v2.0', tenants: ['tenant-a'] }, /"tenants" applies to an issuer template only/],
    [{ domain: 'login.example.test', tenants: ['tenant-a'] }, /"tenants" applies to an issuer template only/],
    [{ issuer: 'https://login.example.test/x', env: { AXIOMS_TENANTS: 'a' } }, /"tenants" \(env AXIOMS_TENANTS\) applies to an issuer template only/],
    [{ issuers: [{ issuer: 'https://a.example.test', tenants: ['a'] }] }, /"issuers\[0\]\.tenants" applies to an issuer template only/],
    [{ issuers: [{ issuer: TEMPLATE, jwksUri: J, tenants: ['a'] }], tenants: ['b'] }, /"issuers" cannot be combined with issuer, domain, jwksUri or tenants/],
    [{ issuers: [{ issuer: TEMPLATE, jwksUri: J, tenants: ['a'] }], env: { AXIOMS_TENANTS: 'b' } }, /"issuers" cannot be combined/],
    // placeholder syntax
    [{ issuer: 'https://x.test/{tenant/v2', jwksUri: J, tenants: ['a'] }, /"issuer" "https:\/\/x\.test\/\{tenant\/v2" has a "\{" without its "\}"/],
    [{ issuer: 'https://x.test/tenant}/v2', jwksUri: J, tenants: ['a'] }, /has a "\}" without its "\{"/],
    [{ issuer: 'https://x.test/}{tenant}/v2', jwksUri: J, tenants: ['a'] }, /has a "\}" without its "\{"/],
    [{ issuer: 'https://x.test/{a}/v2}', jwksUri: J, tenants: ['a'] }, /has a "\}" without its "\{"/],
    [{ issuer: 'https://x.test/{}/v2', jwksUri: J, tenants: ['a'] }, /has the placeholder "\{\}"/],
    [{ issuer: 'https://x.test/{1a}/v2', jwksUri: J, tenants: ['a'] }, /has the placeholder "\{1a\}"/],
    [{ issuer: 'https://x.test/{a{b}}/v2', jwksUri: J, tenants: ['a'] }, /has the placeholder "\{a\{b\}"/],
    [{ issuer: `https://x.test/{${'a'.repeat(33)}}/v2`, jwksUri: J, tenants: ['a'] }, /has the placeholder/],
    [{ issuer: 'https://x.test/{a}/{a}', jwksUri: J, tenants: ['a'] }, /names the placeholder "\{a\}" twice/],
    [{ issuer: 'https://x.test/{a}{b}/v2', jwksUri: J, tenants: [{ a: 'x', b: 'y' }] }, /has "\{b\}" right after "\{a\}"/],
    [{ issuer: 'https://x.test/{a}-v2', jwksUri: J, tenants: ['a'] }, /has "-" right after "\{a\}"/],
    [{ issuer: 'https://x.test/{a}.v2', jwksUri: J, tenants: ['a'] }, /has "\." right after "\{a\}"/],
    [{ issuer: 'https://{tenant}.x.test/', jwksUri: J, tenants: ['a'] }, /placeholders go in the path/],
    [{ issuer: 'https://x.test{tenant}/', jwksUri: J, tenants: ['a'] }, /placeholders go in the path/],
    [{ issuer: 'ftp://x.test/{tenant}/', jwksUri: J, tenants: ['a'] }, /placeholders go in the path/],
    [{ issuer: 'https://x.test/{tenant}?v=2', jwksUri: J, tenants: ['a'] }, /must not contain whitespace, "\?", "#", "%"/],
    [{ issuer: 'https://x.test/{tenant}#v2', jwksUri: J, tenants: ['a'] }, /must not contain/],
    [{ issuer: 'https://x.test/{tenant}%2F', jwksUri: J, tenants: ['a'] }, /must not contain/],
    [{ issuer: 'https://x.test/ {tenant}', jwksUri: J, tenants: ['a'] }, /must not contain/],
    [{ issuer: 'https://x.test/é/{tenant}', jwksUri: J, tenants: ['a'] }, /must not contain/],
    [{ issuer: 'https://x.test:99999/{tenant}', jwksUri: J, tenants: ['a'] }, /"issuer" must be an absolute http\(s\) URL/],
    // lists of templates
    [{ issuer: [TEMPLATE, 'https://x.test/'], jwksUri: J, tenants: ['a'] }, /"issuer" lists templates and exact issuers together/],
    [{ issuer: [TEMPLATE, 'https://x.test/{other}/'], jwksUri: J, tenants: ['a'] }, /lists templates with different placeholders/],
    [{ issuer: [TEMPLATE, 'https://login.example.test/{other}/v2.0'], jwksUri: J, tenants: ['a'] }, /"issuer" lists one template twice/],
    // tenants
    [{ issuer: TEMPLATE, jwksUri: J, tenants: [] }, /"tenants" must be a non-empty list of tenants/],
    [{ issuer: TEMPLATE, jwksUri: J, tenants: 42 }, /"tenants" must be a non-empty list of tenants \(placeholder values\) or a function/],
    [{ issuer: TEMPLATE, jwksUri: J, tenants: {} }, /or a function/],
    [{ issuer: TEMPLATE, jwksUri: J, tenants: [1] }, /"tenants" must list strings/],
    [{ issuer: TEMPLATE, jwksUri: J, tenants: [['a']] }, /"tenants" must list strings/],
    [{ issuer: TEMPLATE, jwksUri: J, tenants: ['a/b'] }, /"tenants" lists "a\/b" for \{tenant\}, which is not 1 to 64 of/],
    [{ issuer: TEMPLATE, jwksUri: J, tenants: ['..'] }, /lists "\.\." for \{tenant\}/],
    [{ issuer: TEMPLATE, jwksUri: J, tenants: [''] }, /lists "" for \{tenant\}/],
    [{ issuer: TEMPLATE, jwksUri: J, tenants: ['a'.repeat(65)] }, /for \{tenant\}, which is not/],
    [{ issuer: TEMPLATE, jwksUri: J, tenants: ['a', 'a'] }, /"tenants" lists the tenant "a" twice/],
    [{ issuer: TEMPLATE, jwksUri: J, tenants: [{ tenant: 'a', extra: 'b' }] }, /each item names exactly the placeholders tenant/],
    [{ issuer: TEMPLATE, jwksUri: J, tenants: [{ other: 'a' }] }, /each item names exactly the placeholders tenant/],
    [{ issuer: TEMPLATE, jwksUri: J, tenants: [{ tenant: 1 }] }, /lists 1 for \{tenant\}/],
    [{ issuer: 'https://x.test/{a}/{b}', jwksUri: J, tenants: ['x'] }, /lists "x", but the template has several placeholders: list \{ a, b \} objects/],
    [{ issuer: TEMPLATE, jwksUri: J, tenants: async () => true }, /"tenants" must be a synchronous function/],
    [{ env: { AXIOMS_ISS_URL: TEMPLATE, AXIOMS_JWKS_URL: J, AXIOMS_TENANTS: 'a/b' } }, /"tenants" \(env AXIOMS_TENANTS\) lists "a\/b"/],
    // one iss, one issuer
    [{ issuers: [{ issuer: issOf('tenant-a') }, { issuer: TEMPLATE, jwksUri: J, tenants: ['tenant-a'] }] }, /"issuers" lists the issuer "https:\/\/login\.example\.test\/tenant-a\/v2\.0" twice/],
    [{ issuers: [{ issuer: issOf('tenant-a') }, { issuer: TEMPLATE, jwksUri: J, tenants: () => true }] }, /"issuers" lists "https:\/\/login\.example\.test\/tenant-a\/v2\.0", which the template .* matches too/],
    [{ issuers: [{ issuer: 'https://b.test/t/{t}', jwksUri: J, tenants: ['q'] }, { issuer: 'https://b.test/{a}/q', jwksUri: J, tenants: () => true }] }, /"https:\/\/b\.test\/t\/q", which the template "https:\/\/b\.test\/\{a\}\/q" matches too/],
    [{ issuers: [{ issuer: TEMPLATE, jwksUri: J, tenants: ['a'] }, { issuer: 'https://login.example.test/{tid}/v2.0', jwksUri: J, tenants: ['b'] }] }, /"issuers" lists two templates of the shape "https:\/\/login\.example\.test\/\{\}\/v2\.0"/]
  ]
  for (const [opts, re] of cases) {
    await t.rejects(register(opts), { code: 'AXIOMS_INVALID_OPTION', message: re }, JSON.stringify(opts, (_k, v: unknown) => typeof v === 'function' ? 'fn' : v))
  }
  // A literal the tenant function's template does not match is fine next to it.
  await register({ issuers: [{ issuer: 'https://login.example.test/literal' }, { issuer: TEMPLATE, jwksUri: J, tenants: () => true }], jwksPrefetch: false })
  t.pass('a literal outside the template\'s shape')
})

t.test('options are not mutated', async t => {
  const i = await idp(t)
  const tenants = ['tenant-a', { tenant: 'tenant-b' }]
  const issuers = [{ issuer: [TEMPLATE], jwksUri: i.jwksUri, tenants }]
  const snapshot = JSON.stringify(issuers)
  const a = await api(t, { issuers })
  t.equal(JSON.stringify(issuers), snapshot)
  t.notOk(Object.isFrozen(tenants))
  t.notOk(Object.isFrozen(tenants[1]))
  t.equal((await a.get(i.sign({ iss: issOf('tenant-b'), scope: 'read:data' }))).status, 200)
})
