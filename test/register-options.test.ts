// register() options are shared with Fastify (prefix, logLevel, logSerializers) and, under
// @fastify/autoload or fastify-cli, with whatever the app passes down: those never fail
// registration; a key that looks like one of axioms-fastify's own still does.
import t from 'tap'
import Fastify from 'fastify'
import axioms, { type AxiomsOptions } from '../index.js'
import { ConfigError, resolveSettings } from '../lib/options/index.js'
import { foreignKeys, lookalike } from '../lib/options/names.js'
import { createTestIssuer } from '../testing.js'

t.test('Fastify\'s own plugin options and options passed down by autoload are accepted', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const lines: Array<Record<string, unknown>> = []
  const app = Fastify({ logger: { level: 'debug', stream: { write: (l: string) => { lines.push(JSON.parse(l)) } } } })
  t.teardown(() => app.close())
  const passedDown = { skipOverride: true, database: { url: 'postgres://x' }, pluginTimeout: 0 }
  await app.register(axioms, {
    issuer: idp.issuer,
    audience: 'your-api-audience',
    env: {},
    prefix: '/api',
    logLevel: 'warn',
    logSerializers: { req: (r: unknown) => r },
    ...passedDown
  } as AxiomsOptions)
  app.get('/orders', { config: { axioms: { scopes: ['orders:read'] } } }, async () => ({ ok: true }))
  const ok = await app.inject({ url: '/orders', headers: { authorization: `Bearer ${idp.sign({ scope: 'orders:read' })}` } })
  t.equal(ok.statusCode, 200, 'the plugin works with the foreign options present')
  t.equal((await app.inject({ url: '/orders' })).statusCode, 401)
  const note = lines.find(l => l.msg === 'axioms: options that are not axioms-fastify\'s were ignored')
  t.same(note?.ignored, ['skipOverride', 'database', 'pluginTimeout'], 'ignored keys are logged at debug, Fastify\'s own are not')
  t.equal(note?.level, 20)
})

t.test('keys that look like axioms options fail registration, naming the likely option', async t => {
  const cases: Array<[string, RegExp]> = [
    ['audiance', /"audiance" is not an option of axioms-fastify: did you mean "audience"\?/],
    ['jwksCoolDown', /did you mean "jwksCooldown"/],
    ['clockTolerence', /did you mean "clockTolerance"/],
    ['issuerUrl', /did you mean "issuer"/],
    ['AXIOMS_AUDIENCE', /did you mean "audience"/],
    ['token_cache', /did you mean "tokenCache"/],
    ['tokenCacheSize', /did you mean "tokenCache"/],
    ['errorresponse', /did you mean "errorResponse"/],
    ['jwksUrl', /did you mean "jwksUri"/],
    ['jwksRetries', /"jwksRetries" is not an option of axioms-fastify \(options: audience, /],
    ['dpopMaxAge', /"dpopMaxAge" is not an option of axioms-fastify/],
    ['axiomsDebug', /"axiomsDebug" is not an option of axioms-fastify/]
  ]
  for (const [key, pattern] of cases) {
    const app = Fastify()
    const err = await app.register(axioms, { issuer: 'https://i.example', audience: 'api', env: {}, [key]: 1 } as AxiomsOptions)
      .then(() => undefined, (e: unknown) => e)
    await app.close()
    t.type(err, ConfigError, key)
    t.match((err as Error).message, pattern, key)
    t.equal((err as ConfigError).code, 'AXIOMS_INVALID_OPTION')
  }
})

t.test('lookalike and foreignKeys', async t => {
  const names = new Set(['audience', 'issuer', 'env', 'realm'])
  t.equal(lookalike('audince', names), 'audience')
  t.equal(lookalike('ENV', names), 'env')
  t.equal(lookalike('envs', names), 'env', 'short names allow one edit')
  t.equal(lookalike('environment', names), undefined, 'a longer word sharing a short prefix is not a lookalike')
  t.equal(lookalike('database', names), undefined)
  t.equal(lookalike('rea', names), undefined)
  t.same(foreignKeys({ audience: 1, prefix: '/x', logLevel: 'info', logSerializers: {}, database: 1 }, names), ['database'])
  t.throws(() => foreignKeys({ realms: 1 }, names), /did you mean "realm"/)
})

t.test('env must be an object of variables (an app option passed down as env: "production" fails)', async t => {
  for (const env of ['production', null, 1]) {
    t.throws(() => resolveSettings({ issuer: 'https://i.example', audience: 'api', env } as unknown as AxiomsOptions), /"env" must be an object of environment variables/)
  }
})

t.test('ConfigError is recognised across builds by its brand', async t => {
  const foreign = Object.create(Object.defineProperty({}, Symbol.for('axioms-fastify.ConfigError'), { value: true })) as unknown
  t.ok(foreign instanceof ConfigError)
  t.notOk(new Error('x') instanceof ConfigError)
  t.notOk((null as unknown) instanceof ConfigError)
  t.ok(new ConfigError('a', undefined, 'b') instanceof ConfigError)
})
