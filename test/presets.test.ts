// Each preset against tokens shaped like its provider's access tokens (claim sets as the providers
// document them; only keys, times and identifiers are made up).
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import axioms, { type AxiomsOptions, type RouteDeclaration } from '../index.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'

interface Api { app: FastifyInstance, idp: TestIssuer, calls: { n: number } }

async function api (t: Test, issuer: string, options: Partial<AxiomsOptions>, routes: Record<string, RouteDeclaration>): Promise<Api> {
  const idp = await createTestIssuer({ issuer })
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { env: {}, jwksUri: idp.jwksUri, ...(options.domain === undefined ? { issuer } : {}), ...options } as AxiomsOptions)
  const calls = { n: 0 }
  for (const [url, axiomsDecl] of Object.entries(routes)) {
    app.get(url, { config: { axioms: axiomsDecl } }, async () => { calls.n++; return { ok: true } })
  }
  return { app, idp, calls }
}

async function status (a: Api, url: string, token: string): Promise<number> {
  return (await a.app.inject({ url, headers: { authorization: `Bearer ${token}` } })).statusCode
}

const now = (): number => Math.floor(Date.now() / 1000)

t.test('auth0: scope string, permissions array (RBAC), roles from a namespaced claim', async t => {
  const domain = 'dev-abc123.us.auth0.com'
  const a = await api(t, `https://${domain}/`, { preset: 'auth0', domain, audience: 'https://api.example.com' }, {
    '/messages': { scopes: ['read:messages'] },
    '/write': { permissions: { all: ['read:messages', 'write:messages'] } },
    '/delete': { permissions: ['delete:messages'] },
    '/editor': { roles: ['editor'] }
  })
  const token = a.idp.sign({
    iss: `https://${domain}/`,
    sub: 'auth0|64f1c0ffee0123456789abcd',
    aud: ['https://api.example.com', `https://${domain}/userinfo`],
    azp: 'kR3cL13nT1d0fTh3Sp4App',
    scope: 'openid profile email read:messages',
    permissions: ['read:messages', 'write:messages'],
    [`https://${domain}/claims/roles`]: ['editor']
  }, { typ: 'JWT' })
  t.equal(await status(a, '/messages', token), 200)
  t.equal(await status(a, '/write', token), 200)
  t.equal(await status(a, '/editor', token), 200, 'roles: the family\'s namespaced claim, set by an Action')
  t.equal(await status(a, '/delete', token), 403)
  const m2m = a.idp.sign({ iss: `https://${domain}/`, sub: 'kR3cL13nT1d0fTh3M2M@clients', aud: 'https://api.example.com', azp: 'kR3cL13nT1d0fTh3M2M', scope: 'read:messages', gty: 'client-credentials', permissions: ['read:messages'] }, { typ: 'JWT' })
  t.equal(await status(a, '/messages', m2m), 200, 'client-credentials token')
  t.equal(await status(a, '/write', m2m), 403)
  t.equal(a.calls.n, 4)
})

t.test('okta: scp array, groups (custom authorization server)', async t => {
  const iss = 'https://dev-123456.okta.com/oauth2/default'
  const a = await api(t, iss, { preset: 'okta', audience: 'api://default' }, {
    '/orders': { scopes: ['orders:read'] },
    '/orders/write': { scopes: ['orders:write'] },
    '/admin': { roles: ['Admins'] }
  })
  const token = a.idp.sign({
    ver: 1,
    jti: 'AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE',
    iss,
    aud: 'api://default',
    cid: '0oa1b2c3d4e5f6g7h8i9',
    uid: '00u1b2c3d4e5f6g7h8i9',
    scp: ['openid', 'email', 'orders:read'],
    auth_time: now() - 60,
    sub: 'jane.doe@example.com',
    groups: ['Everyone', 'Admins']
  }, { typ: null })
  t.equal(await status(a, '/orders', token), 200)
  t.equal(await status(a, '/admin', token), 200, 'groups are the roles')
  const res = await a.app.inject({ url: '/orders/write', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 403)
  t.match(res.headers['www-authenticate'], /scope="orders:write"$/)
  const service = a.idp.sign({ ver: 1, iss, aud: 'api://default', cid: '0oaService', scp: ['orders:write'], sub: '0oaService' }, { typ: null })
  t.equal(await status(a, '/orders/write', service), 200, 'client-credentials token (sub is the client)')
  t.equal(await status(a, '/admin', service), 403, 'no groups claim: no roles')
  t.equal(a.calls.n, 3)
})

t.test('entra: scp string (delegated), roles (app roles and application permissions)', async t => {
  const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47'
  const iss = `https://login.microsoftonline.com/${tenant}/v2.0`
  const appId = '6e74172b-be56-4843-9ff4-e66a39bb12e3'
  const a = await api(t, iss, { preset: 'entra', audience: [appId, `api://${appId}`] }, {
    '/files': { scopes: ['Files.Read'] },
    '/tasks/admin': { roles: ['Task.Admin'] },
    '/tasks/all': { permissions: ['Tasks.Read.All'] }
  })
  const common = { iss, aud: appId, tid: tenant, ver: '2.0', nbf: now() - 5, rh: '0.AXEAv4j5cvGGr0GRqy180BHbRw.', uti: 'AbCdEfGhIjKlMnOpQrStUv', aio: 'E2ZgYJjZr8xs/6n3WBcd' }
  const delegated = a.idp.sign({
    ...common,
    azp: '9a1b2c3d-0000-4000-8000-000000000001',
    azpacr: '0',
    name: 'Jane Doe',
    oid: '690222be-ff1a-4d56-abd1-7e4f7d38e474',
    preferred_username: 'jane@contoso.com',
    scp: 'Files.Read User.Read',
    sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ',
    roles: ['Task.Admin']
  }, { typ: 'JWT' })
  t.equal(await status(a, '/files', delegated), 200)
  t.equal(await status(a, '/tasks/admin', delegated), 200, 'an app role assigned to the user')
  t.equal(await status(a, '/tasks/all', delegated), 403)
  const appOnly = a.idp.sign({
    ...common,
    aud: `api://${appId}`,
    azp: '9a1b2c3d-0000-4000-8000-000000000002',
    azpacr: '1',
    idtyp: 'app',
    oid: '2f8d5a1e-0000-4000-8000-000000000003',
    sub: '2f8d5a1e-0000-4000-8000-000000000003',
    roles: ['Tasks.Read.All']
  }, { typ: 'JWT' })
  t.equal(await status(a, '/tasks/all', appOnly), 200, 'application permission, in roles')
  t.equal(await status(a, '/files', appOnly), 403, 'an app-only token has no scp')
  t.equal(a.calls.n, 3)
})

t.test('cognito: scope string, cognito:groups, audience in client_id (no aud)', async t => {
  const iss = 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab12Cd34E'
  const clientId = '1example23456789abcdefghij'
  const a = await api(t, iss, { preset: 'cognito', audience: clientId }, {
    '/orders': { scopes: ['https://api.example.com/orders.read'] },
    '/admin': { roles: ['admin'] },
    '/perm': { permissions: ['https://api.example.com/orders.read'] }
  })
  const access = a.idp.sign({
    sub: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
    'cognito:groups': ['admin'],
    iss,
    aud: undefined,
    version: 2,
    client_id: clientId,
    origin_jti: 'aaaaaaaa-bbbb-cccc-dddd-ffffffffffff',
    event_id: 'aaaaaaaa-bbbb-cccc-dddd-000000000000',
    token_use: 'access',
    scope: 'aws.cognito.signin.user.admin phone openid profile email https://api.example.com/orders.read',
    auth_time: now() - 30,
    username: 'jane'
  }, { typ: null })
  t.equal(await status(a, '/orders', access), 200)
  t.equal(await status(a, '/admin', access), 200)
  t.equal(await status(a, '/perm', access), 200, 'resource-server scopes double as permissions')
  // An ID token carries aud = client id but no client_id: refused as an access token.
  const id = a.idp.sign({ sub: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', aud: clientId, 'cognito:groups': ['admin'], token_use: 'id', email: 'jane@example.com' }, { typ: null })
  const res = await a.app.inject({ url: '/admin', headers: { authorization: `Bearer ${id}` } })
  t.equal(res.statusCode, 401)
  t.same(res.json(), { error: 'invalid_token', error_description: 'Invalid token audience' })
  const other = a.idp.sign({ aud: undefined, client_id: 'another-app-client', token_use: 'access', scope: 'https://api.example.com/orders.read' }, { typ: null })
  t.equal(await status(a, '/orders', other), 401, 'another app client')
  t.equal(a.calls.n, 3)
})

t.test('keycloak: realm_access.roles as roles, resource_access.<clientId>.roles as permissions', async t => {
  const iss = 'https://sso.example.com/realms/acme'
  const a = await api(t, iss, { preset: { name: 'keycloak', clientId: 'orders.api' }, audience: 'orders.api' }, {
    '/manage': { roles: ['manager'] },
    '/write': { permissions: ['orders.write'] },
    '/account': { permissions: ['manage-account'] },
    '/client-role-as-role': { roles: ['orders.write'] },
    '/profile': { scopes: { all: ['openid', 'email'] } }
  })
  const token = a.idp.sign({
    iss,
    aud: ['orders.api', 'account'],
    sub: 'f1b2c3d4-0000-4000-8000-000000000000',
    typ: 'Bearer',
    azp: 'orders-web',
    sid: 'a1b2c3d4-0000-4000-8000-000000000001',
    acr: '1',
    'allowed-origins': ['https://orders.example.com'],
    realm_access: { roles: ['default-roles-acme', 'offline_access', 'uma_authorization', 'manager'] },
    resource_access: {
      'orders.api': { roles: ['orders.write'] },
      account: { roles: ['manage-account', 'manage-account-links', 'view-profile'] }
    },
    scope: 'openid email profile',
    email_verified: true,
    preferred_username: 'jane'
  }, { typ: 'JWT' })
  t.equal(await status(a, '/manage', token), 200)
  t.equal(await status(a, '/write', token), 200, 'client id with a dot: a path, not a dotted string')
  t.equal(await status(a, '/profile', token), 200)
  t.equal(await status(a, '/account', token), 403, 'another client\'s roles never count')
  t.equal(await status(a, '/client-role-as-role', token), 403, 'client roles are not realm roles')
  const noAudience = a.idp.sign({ iss, aud: 'account', azp: 'orders.api', realm_access: { roles: ['manager'] } }, { typ: 'JWT' })
  t.equal(await status(a, '/manage', noAudience), 401, 'Keycloak\'s default aud "account": add an audience mapper; azp is not an audience')
  t.equal(a.calls.n, 3)
})

t.test('keycloak without clientId: permissions read the realm roles', async t => {
  const iss = 'https://sso.example.com/realms/acme'
  const a = await api(t, iss, { preset: 'keycloak', audience: 'orders-api' }, { '/p': { permissions: ['manager'] } })
  t.equal(await status(a, '/p', a.idp.sign({ iss, aud: 'orders-api', realm_access: { roles: ['manager'] } })), 200)
  t.equal(await status(a, '/p', a.idp.sign({ iss, aud: 'orders-api', realm_access: { roles: ['viewer'] } })), 403)
})

t.test('AXIOMS_PRESET from the environment; explicit claims win', async t => {
  const iss = 'https://dev-123456.okta.com/oauth2/default'
  const idp = await createTestIssuer({ issuer: iss })
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { env: { AXIOMS_PRESET: 'okta', AXIOMS_AUDIENCE: 'api://default', AXIOMS_ISS_URL: iss, AXIOMS_JWKS_URL: idp.jwksUri }, rolesClaims: ['app_roles'] })
  app.get('/s', { config: { axioms: { scopes: ['a'] } } }, async () => ({}))
  app.get('/r', { config: { axioms: { roles: ['x'] } } }, async () => ({}))
  const tok = idp.sign({ aud: 'api://default', scp: ['a'], groups: ['x'], app_roles: ['y'] })
  t.equal((await app.inject({ url: '/s', headers: { authorization: `Bearer ${tok}` } })).statusCode, 200)
  t.equal((await app.inject({ url: '/r', headers: { authorization: `Bearer ${tok}` } })).statusCode, 403, 'rolesClaims replaced groups')
})

t.test('entra multi-tenant: preset.tenants accepts those tenants\' v2.0 tokens from the shared keys, and no other', async t => {
  const tenantA = '72f988bf-86f1-41af-91ab-2d7cd011db47'
  const tenantB = 'b1a2c3d4-0000-4000-8000-00000000000b'
  const tenantC = 'c1a2c3d4-0000-4000-8000-00000000000c'
  const template = 'https://login.microsoftonline.com/{tenantid}/v2.0'
  const issOf = (tid: string): string => `https://login.microsoftonline.com/${tid}/v2.0`
  const appId = '6e74172b-be56-4843-9ff4-e66a39bb12e3'
  // The test kit stands in for https://login.microsoftonline.com/common/discovery/v2.0/keys (jwksUri).
  const idp = await createTestIssuer({ issuer: template })
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { preset: { name: 'entra', tenants: [tenantA, tenantB] }, audience: appId, jwksUri: idp.jwksUri, jwksPrefetch: false, env: {} })
  let calls = 0
  app.get('/files', { config: { axioms: { scopes: ['Files.Read'] } } }, async request => { calls++; return { tid: app.axioms.claims(request).tid } })
  app.get('/tasks', { config: { axioms: { permissions: ['Tasks.Read.All'] } } }, async () => { calls++; return {} })
  const get = async (url: string, token: string): Promise<{ status: number, body: unknown, challenge: unknown }> => {
    const res = await app.inject({ url, headers: { authorization: `Bearer ${token}` } })
    return { status: res.statusCode, body: res.json(), challenge: res.headers['www-authenticate'] }
  }
  const delegated = (tid: string, iss = issOf(tid)): string => idp.sign({ iss, aud: appId, tid, ver: '2.0', scp: 'Files.Read User.Read', oid: '690222be-ff1a-4d56-abd1-7e4f7d38e474' }, { typ: 'JWT' })
  const refusedIss = { status: 401, body: { error: 'invalid_token', error_description: 'Invalid token issuer' }, challenge: `Bearer realm="${template}", error="invalid_token", error_description="Invalid token issuer"` }

  t.same(await get('/files', delegated(tenantC)), refusedIss, 'tenant C, cold: refused')
  t.equal(idp.requests.jwks, 0, 'tenant C caused no fetch')
  t.same(await get('/files', delegated(tenantA)), { status: 200, body: { tid: tenantA }, challenge: undefined })
  t.same(await get('/files', delegated(tenantB)), { status: 200, body: { tid: tenantB }, challenge: undefined })
  const appOnly = idp.sign({ iss: issOf(tenantB), aud: appId, tid: tenantB, idtyp: 'app', roles: ['Tasks.Read.All'] }, { typ: 'JWT' })
  t.equal((await get('/tasks', appOnly)).status, 200, 'the preset\'s claim mapping is kept: application permissions in roles')
  t.equal(idp.requests.jwks, 1, 'one key set for every tenant')
  const hostile: Array<[string, string]> = [
    ['tenant C', issOf(tenantC)],
    ['upper-case tenant id', issOf(tenantA.toUpperCase())],
    ['common', issOf('common')],
    ['organizations', issOf('organizations')],
    ['consumers (MSA)', issOf('9188040d-6c67-4c5b-b112-36a304b66dad')],
    ['v1.0 issuer', `https://sts.windows.net/${tenantA}/`],
    ['no version', `https://login.microsoftonline.com/${tenantA}`],
    ['v1.0 path', `https://login.microsoftonline.com/${tenantA}/`],
    ['trailing slash', `${issOf(tenantA)}/`],
    ['another cloud', `https://login.microsoftonline.us/${tenantA}/v2.0`],
    ['tenant id with braces', issOf(`{${tenantA}}`)],
    ['the template', template]
  ]
  for (const [label, iss] of hostile) {
    t.same(await get('/files', delegated(tenantA, iss)), refusedIss, label)
  }
  t.equal(idp.requests.jwks, 1)
  t.equal(calls, 3)
  t.same(app.axioms.stats().issuers.map(s => [s.issuer, s.jwksUri]), [[template, idp.jwksUri]])
})

t.test('entra multi-tenant: a tenant function, the env form, and Microsoft\'s common keys by default', async t => {
  const tenantA = '72f988bf-86f1-41af-91ab-2d7cd011db47'
  const tenantB = 'b1a2c3d4-0000-4000-8000-00000000000b'
  const issOf = (tid: string): string => `https://login.microsoftonline.com/${tid}/v2.0`
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const serve = async (options: AxiomsOptions): Promise<FastifyInstance> => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(axioms, { jwksPrefetch: false, ...options })
    app.get('/files', { config: { axioms: { scopes: ['Files.Read'] } } }, async () => ({}))
    return app
  }
  const status = async (app: FastifyInstance, tid: string): Promise<number> =>
    (await app.inject({ url: '/files', headers: { authorization: `Bearer ${idp.sign({ iss: issOf(tid), aud: 'api://orders', tid, scp: 'Files.Read' })}` } })).statusCode
  const seen: unknown[] = []
  const fn = await serve({ preset: { name: 'entra', tenants: v => { seen.push({ ...v }); return v.tenantid === tenantB } }, audience: 'api://orders', jwksUri: idp.jwksUri, env: {} })
  t.equal(await status(fn, tenantB), 200)
  t.equal(await status(fn, tenantA), 401)
  t.equal(await status(fn, 'contoso.onmicrosoft.com'), 401, 'not a GUID: the function is not even asked')
  t.same(seen, [{ tenantid: tenantB }, { tenantid: tenantA }])
  const env = await serve({ env: { AXIOMS_PRESET: 'entra', AXIOMS_TENANTS: `${tenantA},${tenantB}`, AXIOMS_AUDIENCE: 'api://orders', AXIOMS_JWKS_URL: idp.jwksUri } })
  t.equal(await status(env, tenantA), 200)
  t.equal(await status(env, tenantB), 200)
  t.equal(await status(env, 'c1a2c3d4-0000-4000-8000-00000000000c'), 401)
  // Without jwksUri: the shared v2.0 keys of the common endpoint (not fetched here: no prefetch, no token).
  const real = await serve({ preset: { name: 'entra', tenants: [tenantA] }, audience: 'api://orders', env: {} })
  t.same(real.axioms.stats().issuers.map(s => [s.issuer, s.jwksUri, s.fetches]),
    [['https://login.microsoftonline.com/{tenantid}/v2.0', 'https://login.microsoftonline.com/common/discovery/v2.0/keys', 0]])
})

t.test('entra: v1.0 tokens (sts.windows.net) need their own template next to the v2.0 one; preset \'entra\' keeps the claims', async t => {
  const tenantA = '72f988bf-86f1-41af-91ab-2d7cd011db47'
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, {
    preset: 'entra',
    audience: 'api://orders',
    issuers: [
      { issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0', jwksUri: idp.jwksUri, tenants: [tenantA] },
      { issuer: 'https://sts.windows.net/{tenantid}/', jwksUri: idp.jwksUri, tenants: [tenantA] }
    ],
    jwksPrefetch: false,
    env: {}
  })
  app.get('/files', { config: { axioms: { scopes: ['Files.Read'] } } }, async () => ({}))
  const status = async (iss: string): Promise<number> =>
    (await app.inject({ url: '/files', headers: { authorization: `Bearer ${idp.sign({ iss, aud: 'api://orders', scp: 'Files.Read' })}` } })).statusCode
  t.equal(await status(`https://login.microsoftonline.com/${tenantA}/v2.0`), 200)
  t.equal(await status(`https://sts.windows.net/${tenantA}/`), 200)
  t.equal(await status('https://sts.windows.net/c1a2c3d4-0000-4000-8000-00000000000c/'), 401)
})

t.test('entra multi-tenant and preset members: startup refusals', async t => {
  const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47'
  const register = async (opts: Record<string, unknown>): Promise<void> => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(axioms, { audience: 'api://orders', env: {}, jwksPrefetch: false, ...opts } as AxiomsOptions)
  }
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ preset: { name: 'entra', tenants: ['contoso.onmicrosoft.com'] } }, /"preset\.tenants" lists "contoso\.onmicrosoft\.com" for \{tenantid\}, which is not an Entra tenant id/],
    [{ preset: { name: 'entra', tenants: [tenant.toUpperCase()] } }, /which is not an Entra tenant id: a GUID in lower case/],
    [{ preset: { name: 'entra', tenants: [] } }, /"preset\.tenants" must be a non-empty list/],
    [{ preset: { name: 'entra', tenants: async () => true } }, /"preset\.tenants" must be a synchronous function/],
    [{ preset: { name: 'entra', tenants: 7 } }, /"preset\.tenants" must be a non-empty list/],
    [{ preset: 'entra', env: { AXIOMS_TENANTS: 'not-a-guid' } }, /"tenants" \(env AXIOMS_TENANTS\) lists "not-a-guid" for \{tenantid\}, which is not an Entra tenant id/],
    [{ preset: { name: 'entra', tenants: [tenant] }, issuer: `https://login.microsoftonline.com/${tenant}/v2.0` }, /"preset" "entra" with tenants sets the issuer/],
    [{ preset: { name: 'entra', tenants: [tenant] }, domain: 'login.microsoftonline.com' }, /"preset" "entra" with tenants sets the issuer/],
    [{ preset: { name: 'entra', tenants: [tenant] }, tenants: [tenant] }, /"preset" "entra" with tenants sets the issuer/],
    [{ preset: { name: 'entra', tenants: [tenant] }, env: { AXIOMS_ISS_URL: 'https://login.microsoftonline.com/x/v2.0' } }, /"preset" "entra" with tenants sets the issuer/],
    [{ preset: { name: 'entra', tenants: [tenant] }, issuers: [{ issuer: 'https://a.example.test' }] }, /"preset" "entra" with tenants sets the one issuer: with issuers, write the template in an entry/],
    [{ preset: 'entra', issuer: `https://login.microsoftonline.com/${tenant}/v2.0`, tenants: [tenant] }, /"tenants" applies to an issuer template only/],
    [{ preset: 'entra' }, /"issuer" \(env AXIOMS_ISS_URL\) or "domain"/],
    [{ preset: { name: 'entra', clientId: 'x' }, issuer: 'https://a.example.test' }, /"preset" "entra" takes only name and tenants, not "clientId"/],
    [{ preset: { name: 'keycloak', tenants: [tenant] }, issuer: 'https://a.example.test' }, /"preset" "keycloak" takes only name and clientId, not "tenants"/],
    [{ preset: { name: 'auth0', tenants: [tenant] }, issuer: 'https://a.example.test' }, /"preset" "auth0" takes no member but name, not "tenants"/],
    [{ preset: { name: 'okta', clientID: 'x' }, issuer: 'https://a.example.test' }, /"preset" "okta" takes no member but name, not "clientID"/]
  ]
  for (const [opts, re] of cases) {
    await t.rejects(register(opts), { code: 'AXIOMS_INVALID_OPTION', message: re }, JSON.stringify(opts, (_k, v: unknown) => typeof v === 'function' ? 'fn' : v))
  }
  // Single-tenant Entra is unchanged: the literal issuer, discovered keys, no tenants.
  await register({ preset: 'entra', issuer: `https://login.microsoftonline.com/${tenant}/v2.0` })
  await register({ preset: { name: 'entra' }, issuer: `https://login.microsoftonline.com/${tenant}/v2.0` })
  t.pass('preset entra with a literal issuer needs no tenants')
})
