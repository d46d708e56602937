// Options and their AXIOMS_* twins: env-only configuration through real routes, explicit options
// winning, options never mutated, and every startup refusal naming its option.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import axioms, { type AxiomsOptions } from '../index.js'
import { ConfigError, resolveSettings } from '../lib/options/index.js'
import { createTestIssuer } from '../testing.js'

const BASE: AxiomsOptions = { audience: 'api', issuer: 'https://issuer.example', env: {} }

function settings (extra: Record<string, unknown> = {}, env: Record<string, string> = {}): ReturnType<typeof resolveSettings> {
  return resolveSettings({ ...BASE, ...extra, env } as AxiomsOptions)
}

async function refused (t: Test, options: unknown, pattern: RegExp, what: string): Promise<void> {
  const app = Fastify()
  t.teardown(() => app.close())
  const err = await app.register(axioms, options as AxiomsOptions).then(() => undefined, (e: unknown) => e)
  t.type(err, ConfigError, `${what}: ConfigError`)
  t.match((err as Error).message, pattern, `${what}: message names the option`)
}

t.test('startup refusals through register()', async t => {
  await refused(t, { ...BASE, audiance: 'api' }, /"audiance" is not an option of axioms-fastify/, 'misspelt option')
  await refused(t, { ...BASE, jwksCoolDown: 5 }, /"jwksCoolDown" is not an option.*jwksCooldown/, 'wrong case')
  await refused(t, { issuer: 'https://i.example', env: {} }, /"audience" \(env AXIOMS_AUDIENCE\) is required/, 'no audience')
  await refused(t, { audience: 'api', env: {} }, /"issuer" \(env AXIOMS_ISS_URL\) or "domain"/, 'no issuer')
  await refused(t, { ...BASE, algorithms: ['HS256'] }, /"algorithms".*must not contain "HS256"/, 'HS256')
  await refused(t, { ...BASE, algorithms: ['RS256', 'none'] }, /"algorithms".*must not contain "none"/, 'none')
  await refused(t, { ...BASE, algorithms: ['NONE'] }, /"algorithms".*must not contain "NONE"/, 'NONE')
  await refused(t, { ...BASE, algorithms: ['hs512'] }, /"algorithms"/, 'hs512')
  await refused(t, { ...BASE, algorithms: ['RS1'] }, /"algorithms" contains the unsupported algorithm "RS1"/, 'unknown alg')
  await refused(t, { ...BASE, algorithms: [] }, /"algorithms" must be a non-empty list/, 'empty algorithms')
  await refused(t, { ...BASE, jwksUri: 'file:///etc/passwd' }, /"jwksUri".*http or https/, 'file jwksUri')
  await refused(t, { ...BASE, jwksUri: 'not a url' }, /"jwksUri".*absolute http\(s\) URL/, 'relative jwksUri')
  await refused(t, { ...BASE, jwksUri: 42 }, /"jwksUri" must be a URL string/, 'numeric jwksUri')
  await refused(t, { ...BASE, issuer: 'ftp://issuer.example' }, /"issuer".*http or https/, 'ftp issuer')
  await refused(t, { ...BASE, jwksRefreshInterval: 600, jwksCacheTtl: 1000 }, /"jwksCacheTtl" must be at least twice jwksRefreshInterval/, 'ttl < 2x interval')
  await refused(t, { ...BASE, jwksRefreshInterval: 0.5 }, /"jwksRefreshInterval" must be between 1s and 1d, got 0.5 seconds/, 'interval < 1 s')
})

t.test('every validation names its option (resolveSettings)', async t => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ audience: '' }, /"audience" must be a non-empty string/],
    [{ audience: [] }, /"audience"/],
    [{ audience: ['api', 7] }, /"audience"/],
    [{ audience: { a: 1 } }, /"audience"/],
    [{ domain: 7, issuer: undefined }, /"domain" must be a host name/],
    [{ domain: 'https://', issuer: undefined }, /"domain"/],
    [{ domain: 'a b.com', issuer: undefined }, /"domain"/],
    [{ issuer: ['https://a.example', ' '] }, /"issuer"/],
    [{ issuer: 'no-scheme' }, /"issuer" must be an absolute http\(s\) URL/],
    [{ issuers: [] }, /"issuers" must be a non-empty list/],
    [{ issuers: 'x' }, /"issuers" must be a non-empty list/],
    [{ issuers: [{ issuer: 'https://a.example' }] }, /"issuers" cannot be combined with issuer, domain, jwksUri or tenants/],
    [{ issuer: undefined, issuers: [null] }, /"issuers\[0\]" must be an object/],
    [{ issuer: undefined, issuers: [{}] }, /"issuers\[0\]\.issuer" is required/],
    [{ issuer: undefined, issuers: [{ issuer: 'gopher://a' }] }, /"issuers\[0\]\.issuer" must use http or https/],
    [{ issuer: undefined, audience: undefined, issuers: [{ issuer: 'https://a.example' }] }, /"issuers\[0\]\.audience" is required/],
    [{ issuer: undefined, issuers: [{ issuer: 'https://a.example', audience: [] }] }, /"issuers\[0\]\.audience"/],
    [{ issuer: undefined, issuers: [{ issuer: 'https://a.example', jwksUri: 'file:///x' }] }, /"issuers\[0\]\.jwksUri"/],
    [{ issuer: undefined, issuers: [{ issuer: 'https://a.example' }, { issuer: ['https://b.example', 'https://a.example'] }] }, /"issuers" lists the issuer "https:\/\/a\.example" twice/],
    [{ profile: 'rfc7519' }, /"profile" must be "rfc9068"/],
    [{ tokenTypes: [] }, /"tokenTypes"/],
    [{ preset: 'google' }, /"preset" must be one of auth0, okta, entra, cognito, keycloak/],
    [{ preset: 7 }, /"preset"/],
    [{ preset: null }, /"preset"/],
    [{ preset: { name: 'keycloak', clientId: '' } }, /"preset" clientId must be a non-empty string/],
    [{ scopeClaims: [] }, /"scopeClaims" must be a non-empty list of claim names/],
    [{ scopeClaims: 'scope' }, /"scopeClaims"/],
    [{ rolesClaims: [''] }, /"rolesClaims"/],
    [{ rolesClaims: [[]] }, /"rolesClaims"/],
    [{ permissionsClaims: [['a', 1]] }, /"permissionsClaims"/],
    [{ clockTolerance: -1 }, /"clockTolerance" must be a duration between 0ms and 10m: a number of seconds or a string such as '5s'/],
    [{ clockTolerance: '5 minutes' }, /"clockTolerance" must be a duration/],
    [{ clockTolerance: Infinity }, /"clockTolerance"/],
    [{ clockTolerance: 601 }, /"clockTolerance" must be between 0ms and 10m, got 601 seconds; for milliseconds write '601ms'/],
    [{ safeMethods: 'OPTIONS' }, /"safeMethods" must be a list of HTTP method names/],
    [{ safeMethods: ['GET /'] }, /"safeMethods"/],
    [{ safeMethods: [1] }, /"safeMethods"/],
    [{ jwksCooldown: -1 }, /"jwksCooldown"/],
    [{ jwksTimeout: 0 }, /"jwksTimeout" must be between 10ms and 1m, got 0 seconds$/],
    [{ jwksMaxBytes: 100 }, /"jwksMaxBytes" must be an integer >= 1024/],
    [{ jwksMaxBytes: 2048.5 }, /"jwksMaxBytes" must be an integer/],
    [{ jwksPrefetch: 'yes' }, /"jwksPrefetch" must be true or false/],
    [{ realm: '' }, /"realm" must be a non-empty string of printable ASCII/],
    [{ realm: 'line\nbreak' }, /"realm"/],
    [{ realm: 'caf\u00e9' }, /"realm"/],
    [{ realm: 7 }, /"realm"/],
    [{ errorResponse: 'json' }, /"errorResponse" must be "reply" or "throw"/],
    [{ tokenMiddleware: 'true' }, /"tokenMiddleware" must be true or false/],
    [{ tokenCache: 1.5 }, /"tokenCache" must be an integer >= 0/],
    [{ tokenCache: -1 }, /"tokenCache"/],
    [{ tokenCache: Infinity }, /"tokenCache" must be an integer >= 0/],
    [{ verifyBatch: -1 }, /"verifyBatch" must be an integer >= 0/],
    [{ verifyBatch: 2.5 }, /"verifyBatch" must be an integer/],
    [{ verifyBatch: '8' }, /"verifyBatch"/],
    [{ verifyBatch: 1025 }, /"verifyBatch" must be at most 1024/],
    [{ protectedResourceMetadata: 'yes' }, /"protectedResourceMetadata" must be true, false or/],
    [{ protectedResourceMetadata: null }, /"protectedResourceMetadata"/],
    [{ protectedResourceMetadata: { resource: 'urn:x' } }, /"protectedResourceMetadata\.resource"/],
    [{ protectedResourceMetadata: { scopesSupported: [] } }, /"protectedResourceMetadata\.scopesSupported"/],
    [{ protectedResourceMetadata: { authorizationServers: ['ldap://x'] } }, /"protectedResourceMetadata\.authorizationServers"/],
    [{ openapi: 'yes' }, /"openapi" must be true, false or/],
    [{ openapi: null }, /"openapi"/],
    [{ openapi: { securitySchemeName: '' } }, /"openapi\.securitySchemeName" must be a non-empty string/]
  ]
  for (const [extra, pattern] of cases) {
    t.throws(() => settings(extra), pattern, JSON.stringify(extra))
  }
  t.throws(() => resolveSettings(7 as never), /"options" must be an object/)
})

t.test('environment parse errors name the variable', async t => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ AXIOMS_CLOCK_TOLERANCE: 'soon' }, /"clockTolerance" \(env AXIOMS_CLOCK_TOLERANCE\) must be a duration between 0ms and 10m/],
    [{ AXIOMS_CLOCK_TOLERANCE: '601' }, /"clockTolerance" \(env AXIOMS_CLOCK_TOLERANCE\) must be between 0ms and 10m, got 601 seconds/],
    [{ AXIOMS_JWKS_TIMEOUT: '5000' }, /"jwksTimeout" \(env AXIOMS_JWKS_TIMEOUT\) must be between 10ms and 1m, got 5000 seconds; for milliseconds write '5000ms'/],
    [{ AXIOMS_JWKS_PREFETCH: 'maybe' }, /"jwksPrefetch" \(env AXIOMS_JWKS_PREFETCH\) could not be read: "maybe" is not a boolean/],
    [{ AXIOMS_SCOPE_CLAIMS: '["scope"' }, /"scopeClaims" \(env AXIOMS_SCOPE_CLAIMS\) could not be read/],
    [{ AXIOMS_ROLES_CLAIMS: '[1]' }, /"rolesClaims" \(env AXIOMS_ROLES_CLAIMS\) must be a non-empty list/],
    [{ AXIOMS_ALGORITHMS: 'RS256,HS256' }, /"algorithms" \(env AXIOMS_ALGORITHMS\) must not contain "HS256"/],
    [{ AXIOMS_JWKS_URL: 'ftp://x' }, /"jwksUri" \(env AXIOMS_JWKS_URL\)/],
    [{ AXIOMS_PROFILE: 'strict' }, /"profile" \(env AXIOMS_PROFILE\)/],
    [{ AXIOMS_PRESET: 'nope' }, /"preset" \(env AXIOMS_PRESET\)/],
    [{ AXIOMS_SAFE_METHODS: '[OPTIONS]' }, /"safeMethods" \(env AXIOMS_SAFE_METHODS\) could not be read/],
    [{ AXIOMS_SAFE_METHODS: 'GET /x' }, /"safeMethods" \(env AXIOMS_SAFE_METHODS\) must be a list/],
    [{ AXIOMS_SAFE_METHODS: '[1]' }, /"safeMethods" \(env AXIOMS_SAFE_METHODS\) must be a list/],
    [{ AXIOMS_JWKS_REFRESH_INTERVAL: '600', AXIOMS_JWKS_CACHE_TTL: '900' }, /"jwksCacheTtl" \(env AXIOMS_JWKS_CACHE_TTL\) must be at least twice/],
    [{ AXIOMS_TOKEN_CACHE: '1.5' }, /"tokenCache" \(env AXIOMS_TOKEN_CACHE\)/],
    [{ AXIOMS_TOKEN_CACHE: 'many' }, /"tokenCache" \(env AXIOMS_TOKEN_CACHE\) could not be read: "many" is not a number/],
    [{ AXIOMS_VERIFY_BATCH: '2000' }, /"verifyBatch" \(env AXIOMS_VERIFY_BATCH\) must be at most 1024/],
    [{ AXIOMS_REALM: 'caf\u00e9' }, /"realm" \(env AXIOMS_REALM\)/]
  ]
  for (const [env, pattern] of cases) {
    t.throws(() => resolveSettings({ audience: 'api', issuer: 'https://issuer.example', env }), pattern, JSON.stringify(env))
  }
  t.throws(() => resolveSettings({ env: { AXIOMS_ISS_URL: 'https://issuer.example' } }), /"audience" \(env AXIOMS_AUDIENCE\) is required/)
  t.throws(() => resolveSettings({ env: { AXIOMS_AUDIENCE: 'api', AXIOMS_DOMAIN: '  ' } }), /"issuer"/, 'blank variable is unset')
})

t.test('every AXIOMS_* variable is read, in comma and JSON list forms', async t => {
  const env = {
    AXIOMS_AUDIENCE: 'api-1, api-2',
    AXIOMS_DOMAIN: 'https://tenant.example.com/',
    AXIOMS_ISS_URL: '["https://a.example","https://b.example"]',
    AXIOMS_JWKS_URL: 'https://keys.example/jwks.json',
    AXIOMS_ALGORITHMS: 'RS256,ES256',
    AXIOMS_TOKEN_TYPS: '["at+jwt", "JWT"]',
    AXIOMS_SCOPE_CLAIMS: 'scope, scp',
    AXIOMS_ROLES_CLAIMS: '[["realm_access","roles"],["resource_access","my.client","roles"],"roles"]',
    AXIOMS_PERMISSIONS_CLAIMS: 'perms',
    AXIOMS_CLOCK_TOLERANCE: '30',
    AXIOMS_SAFE_METHODS: 'options,head',
    AXIOMS_JWKS_REFRESH_INTERVAL: '60',
    AXIOMS_JWKS_CACHE_TTL: '120',
    AXIOMS_JWKS_PREFETCH: 'no',
    AXIOMS_JWKS_COOLDOWN: '5',
    AXIOMS_JWKS_TIMEOUT: '1500ms',
    AXIOMS_JWKS_MAX_BYTES: '4096',
    AXIOMS_REALM: 'my-api',
    AXIOMS_TOKEN_CACHE: '100',
    AXIOMS_VERIFY_BATCH: '0'
  }
  const s = resolveSettings({ env })
  t.same([...(s.issuers[0]?.audiences ?? [])], ['api-1', 'api-2'])
  t.same(s.issuers[0]?.accepted, ['https://a.example', 'https://b.example'], 'AXIOMS_ISS_URL wins over the domain for iss')
  t.equal(s.issuers[0]?.jwksUri, 'https://keys.example/jwks.json')
  t.same([...s.algorithms], ['RS256', 'ES256'])
  t.same([...s.tokenTypes], ['at+jwt', 'JWT'])
  t.same(s.claims.scopes, ['scope', 'scp', 'https://tenant.example.com/claims/scopes'], 'domain is normalised')
  t.same(s.claims.roles, [['realm_access', 'roles'], ['resource_access', 'my.client', 'roles'], 'roles', 'https://tenant.example.com/claims/roles'])
  t.same(s.claims.permissions, ['perms', 'https://tenant.example.com/claims/permissions'])
  t.equal(s.clockTolerance, 30)
  t.same([...s.safeMethods], ['OPTIONS', 'HEAD'])
  t.same(s.jwks, { refreshInterval: 60000, cacheTtl: 120000, prefetch: false, cooldown: 5000, timeout: 1500, maxBytes: 4096 })
  t.equal(s.realm, 'my-api')
  t.equal(s.tokenCache, 100)
  t.equal(s.verifyBatch, 0)
  t.equal(s.rfc9068, false)

  const p = resolveSettings({ env: { AXIOMS_AUDIENCE: '["x"]', AXIOMS_DOMAIN: 'tenant.example.com', AXIOMS_PROFILE: 'rfc9068', AXIOMS_PRESET: 'keycloak', AXIOMS_JWKS_PREFETCH: 'TRUE' } })
  t.same(p.issuers[0]?.accepted, ['https://tenant.example.com', 'https://tenant.example.com/'])
  t.equal(p.realm, 'https://tenant.example.com', 'realm defaults to the issuer')
  t.equal(p.rfc9068, true)
  t.same([...p.tokenTypes], ['at+jwt', 'application/at+jwt'])
  t.same(p.claims.roles, [['realm_access', 'roles'], 'https://tenant.example.com/claims/roles'], 'AXIOMS_PRESET is read')
  t.equal(p.jwks.prefetch, true)
  for (const [raw, value] of [['1', true], ['yes', true], ['0', false], ['false', false]] as const) {
    t.equal(resolveSettings({ env: { AXIOMS_AUDIENCE: 'x', AXIOMS_ISS_URL: 'https://i.example', AXIOMS_JWKS_PREFETCH: raw } }).jwks.prefetch, value, raw)
  }
  const blank = resolveSettings({ env: { AXIOMS_AUDIENCE: 'x', AXIOMS_ISS_URL: 'https://i.example', AXIOMS_PRESET: '', AXIOMS_REALM: ' ' } })
  t.same(blank.claims.roles, ['roles'], 'a blank AXIOMS_PRESET is unset')
  t.equal(blank.realm, 'https://i.example')
})

t.test('defaults', async t => {
  const s = settings()
  t.same([...s.algorithms], ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])
  t.same([...s.tokenTypes], ['JWT', 'jwt', 'at+jwt', 'application/jwt', 'application/at+jwt'])
  t.same(s.claims, { scopes: ['scope', 'scp'], roles: ['roles'], permissions: ['permissions'] })
  t.same([...s.safeMethods], ['OPTIONS'])
  t.same(s.jwks, { refreshInterval: 600000, cacheTtl: 3600000, prefetch: true, cooldown: 30000, timeout: 5000, maxBytes: 1048576 })
  t.equal(s.clockTolerance, 0)
  t.equal(s.realm, 'https://issuer.example')
  t.equal(s.errorResponse, 'reply')
  t.equal(s.tokenMiddleware, false)
  t.equal(s.tokenCache, 0)
  t.equal(s.verifyBatch, 16)
  t.equal(s.protectedResourceMetadata, undefined)
  t.same(s.openapi, { securitySchemeName: 'axioms' })
  t.same(s.audienceClaims, ['aud'])
  t.ok(Object.isFrozen(s) && Object.isFrozen(s.issuers) && Object.isFrozen(s.issuers[0]) && Object.isFrozen(s.jwks) && Object.isFrozen(s.claims))
  // A long refresh interval raises the default TTL to twice the interval.
  t.equal(settings({ jwksRefreshInterval: 3000 }).jwks.cacheTtl, 6000000)
  t.equal(settings({ jwksRefreshInterval: 1, jwksCacheTtl: 2 }).jwks.cacheTtl, 2000)
  // Without options at all, process.env is read (and, here, the audience is missing).
  const saved = { ...process.env }
  t.teardown(() => { for (const k of Object.keys(process.env)) if (k.startsWith('AXIOMS_') && !(k in saved)) Reflect.deleteProperty(process.env, k) })
  for (const k of Object.keys(process.env)) if (k.startsWith('AXIOMS_')) Reflect.deleteProperty(process.env, k)
  t.throws(() => resolveSettings(), /"audience"/)
  process.env.AXIOMS_AUDIENCE = 'from-process-env'
  process.env.AXIOMS_ISS_URL = 'https://process.example'
  t.same(resolveSettings().issuers[0]?.accepted, ['https://process.example'])
  Object.assign(process.env, saved)
})

t.test('optional extras: profile, presets, issuers, metadata, openapi', async t => {
  t.same([...settings({ profile: 'rfc9068', tokenTypes: ['JWT', 'application/at+jwt'] }).tokenTypes], ['application/at+jwt'], 'rfc9068 keeps only at+jwt types')
  t.same([...settings({ profile: 'rfc9068', tokenTypes: ['JWT'] }).tokenTypes], ['at+jwt', 'application/at+jwt'], 'and falls back to both')
  t.same(settings({ preset: 'okta' }).claims.scopes, ['scp', 'scope'])
  t.same(settings({ preset: { name: 'keycloak', clientId: 'my.client' } }).claims.roles, [['realm_access', 'roles']])
  t.same(settings({ preset: { name: 'keycloak', clientId: 'my.client' } }).claims.permissions, [['resource_access', 'my.client', 'roles']])
  t.same(settings({ preset: 'cognito' }).audienceClaims, ['client_id'])
  t.same(settings({ preset: 'entra', rolesClaims: ['app_roles'] }).claims.roles, ['app_roles'], 'explicit claims win over a preset')
  const multi = resolveSettings({
    audience: 'top',
    env: {},
    issuers: [
      { issuer: 'https://a.example', jwksUri: 'https://a.example/keys' },
      { issuer: ['https://b.example', 'https://b.example/'], audience: ['b-api'] }
    ]
  })
  t.equal(multi.issuers.length, 2)
  t.same([...(multi.issuers[0]?.audiences ?? [])], ['top'])
  t.equal(multi.issuers[0]?.jwksUri, 'https://a.example/keys')
  t.same(multi.issuers[1]?.accepted, ['https://b.example', 'https://b.example/'])
  t.same([...(multi.issuers[1]?.audiences ?? [])], ['b-api'])
  t.equal(multi.issuers[1]?.jwksUri, undefined)
  t.equal(multi.realm, 'https://a.example')
  t.same(resolveSettings({ env: {}, issuers: [{ issuer: 'https://a.example', audience: 'a' }] }).issuers[0]?.accepted, ['https://a.example'], 'per-issuer audience alone is enough')

  t.equal(settings({ protectedResourceMetadata: false }).protectedResourceMetadata, undefined)
  t.same(settings({ protectedResourceMetadata: true }).protectedResourceMetadata, {})
  t.same(settings({ protectedResourceMetadata: { resource: 'https://api.example', scopesSupported: ['a'], authorizationServers: ['https://as.example'] } }).protectedResourceMetadata,
    { resource: 'https://api.example', scopesSupported: ['a'], authorizationServers: ['https://as.example'] })
  t.same(settings({ protectedResourceMetadata: {} }).protectedResourceMetadata, {})
  t.equal(settings({ openapi: false }).openapi, undefined)
  t.same(settings({ openapi: true }).openapi, { securitySchemeName: 'axioms' })
  t.same(settings({ openapi: {} }).openapi, { securitySchemeName: 'axioms' })
  t.same(settings({ openapi: { securitySchemeName: 'bearerAuth' } }).openapi, { securitySchemeName: 'bearerAuth' })
  t.equal(settings({ errorResponse: 'throw', tokenMiddleware: true }).errorResponse, 'throw')
  t.same([...settings({ safeMethods: [] }).safeMethods], [], 'an empty safe list is allowed')
  t.same([...settings({ audience: ['a', 'b'] }).issuers[0]?.audiences ?? []], ['a', 'b'])
})

t.test('explicit options win over the environment', async t => {
  const env = {
    AXIOMS_AUDIENCE: 'env-aud',
    AXIOMS_ISS_URL: 'https://env.example',
    AXIOMS_DOMAIN: 'env-domain.example',
    AXIOMS_JWKS_URL: 'https://env.example/jwks',
    AXIOMS_ALGORITHMS: 'ES256',
    AXIOMS_SCOPE_CLAIMS: 'env_scope',
    AXIOMS_CLOCK_TOLERANCE: '100',
    AXIOMS_REALM: 'env-realm',
    AXIOMS_TOKEN_CACHE: '10',
    AXIOMS_VERIFY_BATCH: '0',
    AXIOMS_SAFE_METHODS: 'GET',
    AXIOMS_PRESET: 'cognito',
    AXIOMS_JWKS_PREFETCH: 'false'
  }
  const s = resolveSettings({
    env,
    audience: 'opt-aud',
    issuer: 'https://opt.example',
    domain: 'opt-domain.example',
    jwksUri: 'https://opt.example/jwks',
    algorithms: ['RS256'],
    scopeClaims: ['scope'],
    clockTolerance: 0,
    realm: 'opt-realm',
    tokenCache: 0,
    verifyBatch: 4,
    safeMethods: ['OPTIONS'],
    preset: 'auth0',
    jwksPrefetch: true
  })
  t.same([...(s.issuers[0]?.audiences ?? [])], ['opt-aud'])
  t.same(s.issuers[0]?.accepted, ['https://opt.example'])
  t.equal(s.issuers[0]?.jwksUri, 'https://opt.example/jwks')
  t.same([...s.algorithms], ['RS256'])
  t.same(s.claims.scopes, ['scope', 'https://opt-domain.example/claims/scopes'])
  t.equal(s.clockTolerance, 0, 'a falsy explicit value still wins')
  t.equal(s.tokenCache, 0)
  t.equal(s.verifyBatch, 4)
  t.equal(s.realm, 'opt-realm')
  t.same([...s.safeMethods], ['OPTIONS'])
  t.same(s.audienceClaims, ['aud'], 'preset auth0 over AXIOMS_PRESET=cognito')
  t.equal(s.jwks.prefetch, true)
})

t.test('env-only configuration through a real route', async t => {
  const idp = await createTestIssuer({ algorithms: ['ES256'] })
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, {
    env: {
      AXIOMS_AUDIENCE: '["other", "your-api-audience"]',
      AXIOMS_ISS_URL: idp.issuer,
      AXIOMS_JWKS_URL: idp.jwksUri,
      AXIOMS_ALGORITHMS: 'ES256',
      AXIOMS_SCOPE_CLAIMS: '[["realm_access","scopes"]]',
      AXIOMS_ROLES_CLAIMS: 'groups',
      AXIOMS_PERMISSIONS_CLAIMS: '["perms"]',
      AXIOMS_REALM: 'env-realm',
      AXIOMS_SAFE_METHODS: 'OPTIONS,PUT',
      AXIOMS_CLOCK_TOLERANCE: '60',
      AXIOMS_TOKEN_TYPS: 'custom+jwt',
      AXIOMS_TOKEN_CACHE: '16'
    }
  })
  let calls = 0
  const handler = async (): Promise<string> => { calls++; return 'ok' }
  const decl = { scopes: ['read'], roles: ['admin'], permissions: ['write'] }
  app.route({ method: ['GET', 'PUT'], url: '/x', config: { axioms: decl }, handler })
  const claims = { realm_access: { scopes: ['read'] }, groups: ['admin'], perms: ['write'] }
  const good = idp.sign(claims, { typ: 'custom+jwt' })
  const ok = await app.inject({ url: '/x', headers: { authorization: `Bearer ${good}` } })
  t.equal(ok.statusCode, 200)
  const again = await app.inject({ url: '/x', headers: { authorization: `Bearer ${good}` } })
  t.equal(again.statusCode, 200, 'served from the token cache')
  t.equal(app.axioms.stats().tokenCacheSize, 1)
  const typ = await app.inject({ url: '/x', headers: { authorization: `Bearer ${idp.sign(claims)}` } })
  t.same(typ.json(), { error: 'invalid_token', error_description: 'Invalid token type' }, 'AXIOMS_TOKEN_TYPS replaces the default list')
  // 30 s expired, within the 60 s tolerance.
  const late = await app.inject({ url: '/x', headers: { authorization: `Bearer ${idp.sign(claims, { typ: 'custom+jwt', expiresIn: -30 })}` } })
  t.equal(late.statusCode, 200, 'AXIOMS_CLOCK_TOLERANCE')
  const missing = await app.inject({ url: '/x', headers: { authorization: `Bearer ${idp.sign({ groups: ['admin'], perms: ['write'], scope: 'read' }, { typ: 'custom+jwt' })}` } })
  t.equal(missing.statusCode, 403, 'scope only from the configured path')
  t.equal(missing.headers['www-authenticate'], 'Bearer realm="env-realm", error="insufficient_scope", error_description="Insufficient role, scope or permission", scope="read"')
  const put = await app.inject({ method: 'PUT', url: '/x' })
  t.equal(put.statusCode, 200, 'AXIOMS_SAFE_METHODS')
  t.equal(calls, 4)
})

t.test('the options object is not mutated, and settings are not shared with it', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const options: AxiomsOptions = {
    audience: ['your-api-audience'],
    issuer: [idp.issuer],
    jwksUri: idp.jwksUri,
    algorithms: ['RS256'],
    scopeClaims: ['scope', ['nested', 'scopes']],
    safeMethods: ['options'],
    domain: 'https://your-domain.com/',
    env: {}
  }
  const snapshot = structuredClone(options)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, options)
  app.get('/x', { config: { axioms: { scopes: ['a'] } } }, async () => 'ok')
  await app.ready()
  t.same(options, snapshot)
  t.notOk(Object.isFrozen(options) || Object.isFrozen(options.audience) || Object.isFrozen(options.scopeClaims))
  // Changing the caller's object afterwards changes nothing.
  ;(options.audience as string[]).push('attacker')
  ;(options.scopeClaims as string[]).length = 0
  const res = await app.inject({ url: '/x', headers: { authorization: `Bearer ${idp.sign({ aud: 'attacker', scope: 'a' })}` } })
  t.equal(res.statusCode, 401)
  const ok = await app.inject({ url: '/x', headers: { authorization: `Bearer ${idp.sign({ scope: 'a' })}` } })
  t.equal(ok.statusCode, 200)
})
