// dpop.mode through Fastify: `allowed` (the default) takes DPoP and plain Bearer, `required` DPoP
// only, `disabled` keeps the plugin as it was before DPoP; a route (config.axioms.dpop) or a hook
// ({ dpop: true }) requires DPoP for itself; the AXIOMS_DPOP_MODE twin; what fails startup.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import axioms, { type AxiomsOptions, ConfigError } from '../../index.js'
import { createTestIssuer } from '../../testing.js'
import { bearerChallenge, DPOP_BARE, dpopChallenge, passed, proofFault, refused, rig, type Rig } from './http.js'

const now = (): number => Math.floor(Date.now() / 1000)
const bothOffered = (realm: string): string => `Bearer realm="${realm}", ${DPOP_BARE}`

const MISSING = { error: 'invalid_token', description: 'Missing Authorization Header' }
const OTHER_SCHEME = { error: 'invalid_token', description: 'Invalid Authorization Bearer' }
const NOT_DPOP = { error: 'invalid_token', description: 'Invalid Authorization DPoP' }

async function basic (s: Rig): Promise<ReturnType<Rig['call']>> {
  return await s.call({ url: '/items', headers: { authorization: 'Basic dXNlcjpwYXNz' } })
}

for (const [label, options] of [
  ['absent (the default)', {}],
  ['dpop: true', { dpop: true }],
  ['{ mode: \'allowed\' }', { dpop: { mode: 'allowed' } }],
  ['AXIOMS_DPOP_MODE=allowed', { env: { AXIOMS_DPOP_MODE: 'allowed' } }]
] as Array<[string, AxiomsOptions]>) {
  t.test(`allowed, ${label}: DPoP with a proof, plain Bearer; a bound token as Bearer refused`, async t => {
    const s = await rig(t, { options })
    const bound = s.bound()
    passed(t, await s.dpop(bound), 'DPoP-bound token over DPoP')
    t.same((s.seen[0] as { cnf: unknown }).cnf, { jkt: s.key.jkt }, 'the handler sees the verified claims')
    passed(t, await s.bearer(s.plain()), 'plain token over Bearer')
    refused(t, await s.bearer(bound), { status: 401, error: 'invalid_token', description: 'DPoP-bound access token requires the DPoP scheme', challenge: bearerChallenge(s.realm, 'invalid_token', 'DPoP-bound access token requires the DPoP scheme') }, 'bound token as Bearer')
    refused(t, await s.dpop(s.plain()), { status: 401, error: 'invalid_token', description: 'Access token is not DPoP-bound', challenge: dpopChallenge('invalid_token', 'Access token is not DPoP-bound') }, 'plain token over DPoP')
    refused(t, await s.dpop(bound, '/items', { proof: null }), proofFault('Missing DPoP proof'), 'DPoP without a proof')
    refused(t, await s.call({ url: '/items' }), { status: 401, ...MISSING, challenge: bothOffered(s.realm) }, 'no credentials: both challenges')
    refused(t, await basic(s), { status: 401, ...OTHER_SCHEME, challenge: bothOffered(s.realm) }, 'another scheme: both challenges')
    // A 403 is answered on the scheme the request used.
    refused(t, await s.dpop(bound, '/items', { htm: 'POST' }), { status: 403, error: 'insufficient_scope', description: 'Insufficient role, scope or permission', challenge: dpopChallenge('insufficient_scope', 'Insufficient role, scope or permission', ', scope="items:write"') }, '403 over DPoP')
    refused(t, await s.bearer(s.plain(), '/items', 'POST'), { status: 403, error: 'insufficient_scope', description: 'Insufficient role, scope or permission', challenge: bearerChallenge(s.realm, 'insufficient_scope', 'Insufficient role, scope or permission', ', scope="items:write"') }, '403 over Bearer')
    t.equal(s.calls, 2)
  })
}

for (const [label, options] of [
  ['{ mode: \'required\' }', { dpop: { mode: 'required' } }],
  ['AXIOMS_DPOP_MODE=required', { env: { AXIOMS_DPOP_MODE: 'required' } }],
  ['AXIOMS_DPOP_MODE=required next to dpop: { nonce: false }', { dpop: { nonce: false }, env: { AXIOMS_DPOP_MODE: 'required' } }]
] as Array<[string, AxiomsOptions]>) {
  t.test(`required, ${label}: DPoP only, and only DPoP is offered`, async t => {
    const s = await rig(t, { options })
    passed(t, await s.dpop(s.bound()), 'DPoP')
    const onlyDpop = { status: 401, ...NOT_DPOP, challenge: DPOP_BARE }
    refused(t, await s.bearer(s.plain()), onlyDpop, 'plain token over Bearer')
    refused(t, await s.bearer(s.bound()), onlyDpop, 'bound token over Bearer')
    // The scheme is refused before the token is looked at: an expired or garbage one changes nothing.
    refused(t, await s.bearer(s.plain({ exp: now() - 60 })), onlyDpop, 'expired token over Bearer')
    refused(t, await s.bearer('garbage'), onlyDpop, 'garbage over Bearer')
    refused(t, await s.call({ url: '/items' }), { status: 401, ...MISSING, challenge: DPOP_BARE }, 'no credentials: the DPoP challenge alone')
    refused(t, await basic(s), { status: 401, ...OTHER_SCHEME, challenge: DPOP_BARE }, 'another scheme: the DPoP challenge alone')
    refused(t, await s.dpop(s.plain()), { status: 401, error: 'invalid_token', description: 'Access token is not DPoP-bound', challenge: dpopChallenge('invalid_token', 'Access token is not DPoP-bound') }, 'plain token over DPoP')
    refused(t, await s.dpop(s.bound(), '/items', { proof: 'x.y.z' }), proofFault('Malformed DPoP proof'), 'a malformed proof')
    t.equal(s.calls, 1)
  })
}

for (const [label, options] of [
  ['dpop: false', { dpop: false }],
  ['{ mode: \'disabled\' }', { dpop: { mode: 'disabled' } }],
  ['AXIOMS_DPOP_MODE=disabled', { env: { AXIOMS_DPOP_MODE: 'disabled' } }]
] as Array<[string, AxiomsOptions]>) {
  t.test(`disabled, ${label}: Bearer only, as before DPoP`, async t => {
    const s = await rig(t, { options, dpopRoute: false })
    passed(t, await s.bearer(s.plain()), 'plain token over Bearer')
    const bare = `Bearer realm="${s.realm}"`
    refused(t, await s.dpop(s.bound()), { status: 401, ...OTHER_SCHEME, challenge: bare }, 'DPoP is an unsupported scheme')
    // No scheme here can check the binding: refused as any cnf token was before DPoP.
    refused(t, await s.bearer(s.bound()), { status: 401, error: 'invalid_token', description: 'Invalid access token', challenge: bearerChallenge(s.realm, 'invalid_token', 'Invalid access token') }, 'bound token over Bearer')
    refused(t, await s.call({ url: '/any' }), { status: 401, ...MISSING, challenge: bare }, 'no credentials: Bearer alone')
    t.equal(s.calls, 1)
  })
}

async function disabledRig (t: Test, build: (app: ReturnType<typeof Fastify>) => void, options: AxiomsOptions = { dpop: false }): Promise<unknown> {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, idp.pluginOptions({ jwksPrefetch: false, ...options }))
  try {
    build(app)
    await app.ready()
  } catch (err) {
    return err
  }
  return undefined
}

t.test('a route with config.axioms.dpop: true requires DPoP there, in allowed mode', async t => {
  const s = await rig(t, {
    routes: (app, spy) => {
      app.get('/pay', { config: { axioms: { scopes: ['pay'], dpop: true } } }, async request => { spy(request); return { ok: true } })
    }
  })
  passed(t, await s.dpop(s.bound(), '/dpop-only'), 'DPoP on the DPoP-only route')
  passed(t, await s.dpop(s.bound({ scope: 'pay' }), '/pay'), 'DPoP with the scope')
  const headToken = s.bound()
  passed(t, await s.call({ method: 'HEAD', url: '/dpop-only', headers: { authorization: `DPoP ${headToken}`, dpop: s.proof(headToken, '/dpop-only', { htm: 'HEAD' }) } }), 'HEAD inherits the rule')
  passed(t, await s.bearer(s.plain(), '/any'), 'Bearer still works on the other routes')

  const onlyDpop = { status: 401, ...NOT_DPOP, challenge: DPOP_BARE }
  refused(t, await s.bearer(s.plain(), '/dpop-only'), onlyDpop, 'a valid Bearer token')
  refused(t, await s.bearer(s.plain({ scope: 'pay' }), '/pay'), onlyDpop, 'a valid Bearer token with the scope')
  // Whatever the Bearer token's own fault, the route answers for its scheme, as mode 'required' does.
  refused(t, await s.bearer(s.bound(), '/dpop-only'), onlyDpop, 'a bound token as Bearer')
  refused(t, await s.bearer(s.plain({ exp: now() - 60 }), '/dpop-only'), onlyDpop, 'an expired Bearer token')
  refused(t, await s.bearer('garbage', '/dpop-only'), onlyDpop, 'garbage as Bearer')
  refused(t, await s.call({ url: '/dpop-only' }), { status: 401, ...MISSING, challenge: DPOP_BARE }, 'no credentials: the DPoP challenge alone')
  refused(t, await s.dpop(s.bound(), '/dpop-only', { proof: null }), proofFault('Missing DPoP proof'), 'DPoP without a proof')
  refused(t, await s.dpop(s.bound({ scope: 'other' }), '/pay'), { status: 403, error: 'insufficient_scope', description: 'Insufficient role, scope or permission', challenge: dpopChallenge('insufficient_scope', 'Insufficient role, scope or permission', ', scope="pay"') }, '403 over DPoP')
  t.equal(s.calls, 4)
})

t.test('a hook with { dpop: true } requires DPoP for its route, in allowed mode and in any phase', async t => {
  const s = await rig(t, {
    routes: (app, spy) => {
      const ok = async (request: { authJwt: unknown }): Promise<{ ok: true }> => { spy(request); return { ok: true } }
      app.get('/h/token', { onRequest: app.hasValidAccessToken({ dpop: true }) }, ok)
      app.get('/h/scopes', { preHandler: app.hasRequiredScopes(['items:read'], { dpop: true }) }, ok)
      app.get('/h/roles', { preValidation: [app.hasValidAccessToken(), app.hasRequiredRoles(['admin'], { dpop: true })] }, ok)
      // A hook without its own requirement reads the route's, and requires DPoP by its own option or the route's.
      app.get('/h/declared', { config: { axioms: { scopes: ['items:read'] } }, onRequest: app.hasRequiredScopes(undefined, { dpop: true }) }, ok)
      app.get('/h/route-dpop', { config: { axioms: { permissions: ['p'], dpop: true } }, preHandler: app.hasRequiredPermissions() }, ok)
      // The same factories without the option follow the global mode.
      app.get('/h/plain', { onRequest: app.hasValidAccessToken() }, ok)
    }
  })
  const onlyDpop = { status: 401, ...NOT_DPOP, challenge: DPOP_BARE }
  for (const url of ['/h/token', '/h/scopes', '/h/declared']) {
    passed(t, await s.dpop(s.bound(), url), `${url} over DPoP`)
    refused(t, await s.bearer(s.plain(), url), onlyDpop, `${url} over Bearer`)
    refused(t, await s.call({ url }), { status: 401, ...MISSING, challenge: DPOP_BARE }, `${url} without credentials`)
  }
  passed(t, await s.dpop(s.bound({ roles: ['admin'] }), '/h/roles'), '/h/roles over DPoP')
  refused(t, await s.bearer(s.plain({ roles: ['admin'] }), '/h/roles'), onlyDpop, '/h/roles over Bearer: the second hook refuses')
  passed(t, await s.dpop(s.bound({ permissions: ['p'] }), '/h/route-dpop'), '/h/route-dpop over DPoP')
  refused(t, await s.bearer(s.plain({ permissions: ['p'] }), '/h/route-dpop'), onlyDpop, '/h/route-dpop over Bearer')
  passed(t, await s.bearer(s.plain(), '/h/plain'), '/h/plain over Bearer')
  passed(t, await s.dpop(s.bound(), '/h/plain'), '/h/plain over DPoP')
  t.equal(s.calls, 7)
})

t.test('dpop: true on a route or hook fails startup when the mode is disabled; dpop must be a boolean', async t => {
  const cases: Array<[string, (app: ReturnType<typeof Fastify>) => void, RegExp, AxiomsOptions?]> = [
    ['config.axioms.dpop: true', app => { app.get('/x', { config: { axioms: { dpop: true } } }, async () => 'x') }, /"config\.axioms of GET \/x\.dpop" requires DPoP, but the plugin's dpop\.mode \(env AXIOMS_DPOP_MODE\) is "disabled"/],
    ['config.axioms.dpop: true, AXIOMS_DPOP_MODE=disabled', app => { app.get('/x', { config: { axioms: { dpop: true } } }, async () => 'x') }, /requires DPoP, but the plugin's dpop\.mode/, { env: { AXIOMS_DPOP_MODE: 'disabled' } }],
    ['hasValidAccessToken({ dpop: true })', app => { app.hasValidAccessToken({ dpop: true }) }, /"hasValidAccessToken options\.dpop" requires DPoP/],
    ['hasRequiredScopes([...], { dpop: true })', app => { app.hasRequiredScopes(['a'], { dpop: true }) }, /"hasRequiredScopes\(\)\.dpop" requires DPoP/],
    ['hasRequiredRoles(undefined, { dpop: true })', app => { app.hasRequiredRoles(undefined, { dpop: true }) }, /"hasRequiredRoles options\.dpop" requires DPoP/]
  ]
  for (const [label, build, pattern, options] of cases) {
    const err = await disabledRig(t, build, options)
    t.ok(err instanceof ConfigError, label)
    t.match((err as Error).message, pattern, label)
  }
  for (const [label, build] of [
    ['config.axioms.dpop: "yes"', (app: ReturnType<typeof Fastify>) => { app.get('/x', { config: { axioms: { dpop: 'yes' as never } } }, async () => 'x') }],
    ['hasValidAccessToken({ dpop: 1 })', (app: ReturnType<typeof Fastify>) => { app.hasValidAccessToken({ dpop: 1 as never }) }]
  ] as const) {
    const err = await disabledRig(t, build, {})
    t.ok(err instanceof ConfigError, label)
    t.match((err as Error).message, /\.dpop" must be true or false/, label)
  }
  t.equal(await disabledRig(t, app => { app.get('/x', { config: { axioms: { dpop: false } } }, async () => 'x') }), undefined, 'dpop: false is fine with the mode disabled')
})

t.test('verifier "fastify-jwt" turns DPoP off; asking for it fails register()', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  for (const [label, options, pattern] of [
    ['dpop: true', { dpop: true }, /option "dpop" cannot be on with verifier "fastify-jwt"/],
    ['dpop: { mode: \'required\' }', { dpop: { mode: 'required' } }, /option "dpop" cannot be on/],
    ['AXIOMS_DPOP_MODE=allowed', { env: { AXIOMS_DPOP_MODE: 'allowed' } }, /option "dpop" \(env AXIOMS_DPOP_MODE\) cannot be on/]
  ] as Array<[string, AxiomsOptions, RegExp]>) {
    const app = Fastify()
    t.teardown(() => app.close())
    const err = await app.register(axioms, idp.pluginOptions({ verifier: 'fastify-jwt', ...options })).ready().then(() => undefined, (e: unknown) => e)
    t.ok(err instanceof ConfigError, label)
    t.match((err as Error).message, pattern, label)
  }
})

t.test('an AxiomsError the app throws for a DPoP-only scheme, with DPoP disabled: Bearer is all that is offered', async t => {
  const { AxiomsError } = await import('../../index.js')
  const s = await rig(t, {
    options: { dpop: false },
    dpopRoute: false,
    routes: (app, spy) => {
      app.get('/thrown', { config: { axioms: {} } }, async request => { spy(request); throw new AxiomsError('dpop_scheme_required') })
    }
  })
  const out = await s.bearer(s.plain(), '/thrown')
  t.equal(out.status, 401)
  t.same(out.body, NOT_DPOP_BODY)
  t.equal(out.headers['www-authenticate'], `Bearer realm="${s.realm}"`, 'no DPoP challenge from a plugin that does not accept DPoP')
})

const NOT_DPOP_BODY = { error: NOT_DPOP.error, error_description: NOT_DPOP.description }
