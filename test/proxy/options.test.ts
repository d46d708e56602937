// The proxy option and the standard variables: which proxy each URL takes, NO_PROXY in its common
// forms, precedence (explicit option, AXIOMS_*, then HTTPS_PROXY/HTTP_PROXY/NO_PROXY), the `env`
// option as the one source of variables, and startup refusals that never show a credential.
import t from 'tap'
import { ConfigError, resolveSettings, type AxiomsOptions } from '../../lib/options/index.js'
import { resolveProxy, type ProxySettings } from '../../lib/options/proxy.js'
import { proxyFor } from '../../lib/proxy.js'

const BASE: AxiomsOptions = { audience: 'api', issuer: 'https://issuer.example' }
const P = 'http://proxy.corp:3128'

/** The proxy (as shown) that `url` takes, or 'direct'. */
function via (settings: ProxySettings | undefined, url: string): string {
  return proxyFor(new URL(url), settings)?.shown ?? 'direct'
}

function refusal (fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('no ConfigError')
}

t.test('default: the standard variables, from the env option', async t => {
  t.equal(resolveSettings({ ...BASE, env: {} }).proxy, undefined, 'no variable: no proxy (and undici is never loaded)')
  const s = resolveSettings({ ...BASE, env: { HTTPS_PROXY: 'http://s.corp:8443', HTTP_PROXY: 'http://h.corp:8080' } })
  t.equal(s.jwks.proxy, s.proxy, 'key-set requests get the same settings')
  t.equal(via(s.proxy, 'https://idp.example/jwks'), 'http://s.corp:8443', 'https URLs: HTTPS_PROXY')
  t.equal(via(s.proxy, 'http://idp.example/jwks'), 'http://h.corp:8080', 'http URLs: HTTP_PROXY')
  const httpOnly = resolveProxy({}, { HTTP_PROXY: 'http://h.corp:8080' })
  t.equal(via(httpOnly, 'https://idp.example/'), 'http://h.corp:8080', 'https falls back to HTTP_PROXY, as undici and Node do')
  const httpsOnly = resolveProxy({}, { HTTPS_PROXY: 'http://s.corp:8443' })
  t.equal(via(httpsOnly, 'http://idp.example/'), 'direct', 'but http never falls back to HTTPS_PROXY')
  t.equal(via(resolveProxy({}, { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:1' }), 'https://a/'), 'http://lower:1', 'lower case first')
  t.equal(via(resolveProxy({}, { https_proxy: ' ', HTTPS_PROXY: 'http://upper:1' }), 'https://a/'), 'http://upper:1', 'a blank variable is unset')
  t.equal(via(resolveProxy({}, { HTTPS_PROXY: 'proxy.corp:3128' }), 'https://a/'), P, 'no scheme: an HTTP proxy (curl)')
  t.equal(via(resolveProxy({}, { HTTPS_PROXY: 'https://tls.corp:443/ignored?x#y' }), 'https://a/'), 'https://tls.corp', 'an https proxy; path dropped')
})

t.test('the env option is the only source: process.env only when env is not given', async t => {
  const saved = process.env.HTTPS_PROXY
  process.env.HTTPS_PROXY = P
  t.teardown(() => { if (saved === undefined) delete process.env.HTTPS_PROXY; else process.env.HTTPS_PROXY = saved })
  t.equal(resolveSettings({ ...BASE, env: {} }).proxy, undefined, 'env: {} reads no proxy variable')
  t.equal(via(resolveSettings({ ...BASE }).proxy, 'https://a/'), P, 'no env option: process.env')
})

t.test('proxy: false, a URL, an object; AXIOMS_PROXY and AXIOMS_NO_PROXY', async t => {
  const env = { HTTPS_PROXY: 'http://env.corp:1', HTTP_PROXY: 'http://env.corp:2', NO_PROXY: '.internal' }
  t.equal(resolveProxy({ proxy: false }, env), undefined, 'false: never, whatever the variables')
  t.equal(resolveProxy({}, { ...env, AXIOMS_PROXY: 'false' }), undefined, 'AXIOMS_PROXY=false')
  t.equal(resolveProxy({}, { ...env, AXIOMS_PROXY: '0' }), undefined, 'AXIOMS_PROXY=0')
  t.equal(via(resolveProxy({}, { ...env, AXIOMS_PROXY: 'true' }), 'https://a/'), 'http://env.corp:1', 'AXIOMS_PROXY=true: the variables')
  t.equal(via(resolveProxy({ proxy: true }, { ...env, AXIOMS_PROXY: 'false' }), 'https://a/'), 'http://env.corp:1', 'the option wins over AXIOMS_PROXY')

  const url = resolveProxy({ proxy: P }, env)
  t.equal(via(url, 'https://a/'), P, 'a URL wins over HTTPS_PROXY')
  t.equal(via(url, 'http://a/'), P, 'and serves http URLs too')
  t.equal(via(url, 'https://idp.internal/'), 'direct', 'NO_PROXY still applies to it')
  t.equal(via(resolveProxy({}, { ...env, AXIOMS_PROXY: 'http://axioms.corp:3' }), 'https://a/'), 'http://axioms.corp:3', 'AXIOMS_PROXY as a URL')

  const own = resolveProxy({ proxy: { url: P, noProxy: ['idp.example'] } }, env)
  t.equal(via(own, 'https://idp.internal/'), P, 'noProxy replaces NO_PROXY')
  t.equal(via(own, 'https://idp.example/'), 'direct')
  t.equal(via(resolveProxy({ proxy: { url: P, noProxy: '' } }, env), 'https://idp.internal/'), P, 'noProxy "": no exclusion at all')
  t.equal(via(resolveProxy({ proxy: { noProxy: 'a.example' } }, env), 'https://b.example/'), 'http://env.corp:1', 'an object without url: the variables')
  t.equal(via(resolveProxy({ proxy: { noProxy: 'a.example' } }, env), 'https://a.example/'), 'direct')
  const axiomsNo = resolveProxy({}, { ...env, AXIOMS_NO_PROXY: 'a.example' })
  t.equal(via(axiomsNo, 'https://idp.internal/'), 'http://env.corp:1', 'AXIOMS_NO_PROXY replaces NO_PROXY')
  t.equal(via(axiomsNo, 'https://a.example/'), 'direct')
  t.equal(via(resolveProxy({}, { HTTPS_PROXY: P, no_proxy: 'lower.example', NO_PROXY: 'upper.example' }), 'https://upper.example/'), P, 'no_proxy first')
})

t.test('NO_PROXY: the common forms', async t => {
  const rule = (noProxy: string): ProxySettings => resolveProxy({ proxy: { url: P, noProxy } }, {}) as ProxySettings
  const cases: Array<[string, string, boolean]> = [
    // [NO_PROXY, URL, reached directly]
    ['example.com', 'https://example.com/', true],
    ['example.com', 'https://login.example.com/', true],
    ['example.com', 'https://badexample.com/', false],
    ['.example.com', 'https://example.com/', true],
    ['.example.com', 'https://a.b.example.com/', true],
    ['*.example.com', 'https://a.example.com/', true],
    ['EXAMPLE.com', 'https://Login.Example.COM./', true],
    ['example.com.', 'https://example.com/', true],
    ['*', 'https://anything.example/', true],
    ['other.example, *', 'https://anything.example/', true],
    ['a.example b.example\tc.example', 'https://c.example/', true],
    ['example.com:8443', 'https://example.com:8443/', true],
    ['example.com:8443', 'https://example.com/', false],
    ['example.com:443', 'https://example.com/', true],
    ['example.com:80', 'http://example.com/', true],
    ['example.com:80', 'https://example.com/', false],
    ['127.0.0.1', 'http://127.0.0.1:8080/', true],
    ['127.0.0.1', 'http://127.0.0.2/', false],
    ['localhost', 'http://127.0.0.1/', false],
    ['10.0.0.0/8', 'http://10.20.30.40/', true],
    ['10.0.0.0/8', 'http://11.0.0.1/', false],
    ['10.0.0.0/8', 'http://ten.example/', false],
    ['fd00::/8', 'http://[fd12::1]/', true],
    ['fd00::/8', 'http://[fe80::1]/', false],
    ['[::1]', 'http://[::1]:8080/', true],
    ['::1', 'http://[::1]/', true],
    ['[::1]:8080', 'http://[::1]:8080/', true],
    ['[::1]:8080', 'http://[::1]:8081/', false],
    ['', 'https://example.com/', false],
    [' , ,', 'https://example.com/', false]
  ]
  for (const [noProxy, url, direct] of cases) {
    t.equal(via(rule(noProxy), url), direct ? 'direct' : P, `NO_PROXY=${JSON.stringify(noProxy)}, ${url}`)
  }
  t.equal(via(resolveProxy({ proxy: { url: P, noProxy: ['a.example', ' B.example '] } }, {}), 'https://b.example/'), 'direct', 'a list')
})

t.test('credentials: used, never shown', async t => {
  const s = resolveProxy({ proxy: 'http://alice:s%3Acret%40x@proxy.corp:3128' }, {}) as ProxySettings
  t.equal(s.https?.href, 'http://alice:s%3Acret%40x@proxy.corp:3128/', 'the connection gets them')
  t.equal(s.https?.shown, 'http://***@proxy.corp:3128', 'messages get ***@')
  t.equal(resolveProxy({ proxy: 'http://alice@proxy.corp:3128' }, {})?.https?.shown, 'http://***@proxy.corp:3128')

  const bad = refusal(() => resolveProxy({}, { HTTPS_PROXY: 'socks5://alice:hunter2@proxy.corp:1080' }))
  t.match(bad.message, /option "proxy" \(env https_proxy\)|option "proxy" \(env HTTPS_PROXY\)/, 'names the variable')
  t.match(bad.message, /socks5: one \(socks5:\/\/\*\*\*@proxy\.corp:1080\)/)
  t.notMatch(bad.message, /alice|hunter2/, 'without the credentials')
  const unparsable = refusal(() => resolveProxy({ proxy: 'http://alice:hunter2@[bad' }, {}))
  t.match(unparsable.message, /option "proxy" must be a proxy URL/)
  t.notMatch(unparsable.message, /alice|hunter2/, 'an unparsable URL is not echoed')
})

t.test('refusals at register(), each naming the option or its variable', async t => {
  const cases: Array<[AxiomsOptions, RegExp]> = [
    [{ proxy: 42 as never }, /option "proxy" must be true \(HTTPS_PROXY, HTTP_PROXY, NO_PROXY\), false, a proxy URL or \{ url, noProxy \}/],
    [{ proxy: null as never }, /option "proxy" must be true/],
    [{ proxy: ['http://a'] as never }, /option "proxy" must be true/],
    [{ proxy: '' }, /option "proxy" must be a proxy URL/],
    [{ proxy: 'ftp://proxy.corp' }, /option "proxy" must be an http:\/\/ or https:\/\/ proxy URL, got a ftp: one/],
    [{ proxy: { uri: P } as never }, /option "proxy" has an unknown key "uri"/],
    [{ proxy: { url: 7 } as never }, /option "proxy\.url" must be a proxy URL/],
    [{ proxy: { url: ' ' } }, /option "proxy\.url" must be a proxy URL/],
    [{ proxy: { url: P, noProxy: 7 } as never }, /option "proxy\.noProxy" must be a comma-separated string or a list/],
    [{ proxy: { url: P, noProxy: ['a', 7] } as never }, /option "proxy\.noProxy"/],
    [{ proxy: { url: P, noProxy: '10.0.0.0/33' } }, /option "proxy\.noProxy" has "10\.0\.0\.0\/33", which is not a CIDR range/],
    [{ proxy: { url: P, noProxy: 'example.com/8' } }, /option "proxy\.noProxy" has "example\.com\/8"/],
    [{ env: { AXIOMS_PROXY: 'gopher://x' } }, /option "proxy" \(env AXIOMS_PROXY\) must be an http:\/\/ or https:\/\/ proxy URL/],
    [{ env: { HTTP_PROXY: P, AXIOMS_NO_PROXY: 'fd00::/200' } }, /option "proxy\.noProxy" \(env AXIOMS_NO_PROXY\)/],
    [{ env: { HTTP_PROXY: P, NO_PROXY: '1.2.3.4/40' } }, /option "proxy\.noProxy" \(env NO_PROXY\)/],
    [{ proxyUrl: P } as never, /"proxyUrl" is not an option of axioms-fastify: did you mean "proxy"\?/]
  ]
  for (const [options, pattern] of cases) {
    const err = refusal(() => resolveSettings({ ...BASE, env: {}, ...options }))
    t.match(err.message, pattern, pattern.source)
  }
})

t.test('verifier fastify-jwt: get-jwks makes its own requests, so proxy is listed as not applying', async t => {
  t.same(resolveSettings({ ...BASE, env: {}, verifier: 'fastify-jwt', proxy: P }).ignoredOptions, ['proxy'])
  t.same(resolveSettings({ ...BASE, env: { AXIOMS_PROXY: P }, verifier: 'fastify-jwt' }).ignoredOptions, ['proxy'])
  t.same(resolveSettings({ ...BASE, env: { HTTPS_PROXY: P }, verifier: 'fastify-jwt' }).ignoredOptions, [], 'the standard variables are not the plugin\'s to report')
})

t.test('settings are frozen and the options object is left alone', async t => {
  const noProxy = ['a.example']
  const options = { ...BASE, env: {}, proxy: { url: P, noProxy } }
  const s = resolveSettings(options)
  t.ok(Object.isFrozen(s.proxy) && Object.isFrozen(s.proxy?.https) && Object.isFrozen(s.proxy?.noProxyHosts))
  t.same(options.proxy, { url: P, noProxy: ['a.example'] })
  t.equal(options.proxy.noProxy, noProxy)
})
