// The dpop and mtls options and their AXIOMS_* twins (lib/dpop/options.ts, lib/mtls.ts):
// defaults, explicit values winning over the environment, durations, and startup errors that
// name the option and its variable.
import t, { type Test } from 'tap'
import { ConfigError } from '../../lib/options/index.js'
import { resolveDpopSettings } from '../../lib/dpop/options.js'
import { resolveMtlsSettings } from '../../lib/mtls.js'
import { MemoryReplayStore } from '../../lib/dpop/replay.js'

const secret = (): Buffer => Buffer.alloc(32, 9)

function configError (t: Test, fn: () => unknown, pattern: RegExp, label?: string): void {
  try {
    fn()
    t.fail(`no ConfigError: ${label ?? String(pattern)}`)
  } catch (err) {
    t.ok(err instanceof ConfigError, label ?? String(pattern))
    t.match((err as Error).message, pattern, label ?? String(pattern))
  }
}

t.test('defaults: mode allowed, 300 s / 30 s, every algorithm, no nonce, the memory store', async t => {
  for (const value of [undefined, true, {}]) {
    const s = resolveDpopSettings(value, {}, secret)
    t.same({ ...s }, {
      mode: 'allowed',
      iatOffset: 300,
      iatLeeway: 30,
      algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
      nonce: undefined,
      replayStore: undefined,
      replayCacheSize: 250_000,
      replayTimeout: 500
    }, JSON.stringify(value))
    t.ok(Object.isFrozen(s))
    t.ok(Object.isFrozen(s.algorithms))
  }
  t.equal(resolveDpopSettings(false, {}, secret).mode, 'disabled')
})

t.test('explicit values', async t => {
  const store = new MemoryReplayStore()
  const s = resolveDpopSettings({
    mode: 'required',
    iatOffset: '2m',
    iatLeeway: 5,
    algorithms: ['ES256', 'EdDSA', 'ES256'],
    nonce: { secret: 'x'.repeat(32), lifetime: '90s' },
    replayStore: store,
    replayTimeout: '250ms'
  }, {}, secret)
  t.equal(s.mode, 'required')
  t.equal(s.iatOffset, 120)
  t.equal(s.iatLeeway, 5)
  t.same(s.algorithms, ['ES256', 'EdDSA'], 'duplicates dropped')
  t.same(s.nonce?.secrets, [Buffer.from('x'.repeat(32))])
  t.equal(s.nonce?.lifetime, 90)
  t.equal(s.nonce?.ephemeral, false)
  t.equal(s.replayStore, store, 'the store is used as given, not copied')
  t.equal(s.replayTimeout, 250)
  const r = resolveDpopSettings({ nonce: true }, {}, secret)
  t.same(r.nonce, { secrets: [Buffer.alloc(32, 9)], lifetime: 300, ephemeral: true }, 'nonce: true draws a secret')
})

t.test('options are not mutated; a caller Buffer secret is copied', async t => {
  const buf = Buffer.alloc(40, 3)
  const input = { mode: 'allowed', algorithms: ['ES256'], nonce: { secret: [buf] } }
  const snapshot = JSON.stringify(input)
  const s = resolveDpopSettings(input, {}, secret)
  t.equal(JSON.stringify(input), snapshot)
  t.not(s.nonce?.secrets[0], buf)
  buf.fill(0)
  t.same(s.nonce?.secrets[0], Buffer.alloc(40, 3))
})

t.test('AXIOMS_DPOP_* variables, and explicit options winning over them', async t => {
  const env = {
    AXIOMS_DPOP_MODE: 'required',
    AXIOMS_DPOP_IAT_OFFSET: '60',
    AXIOMS_DPOP_IAT_LEEWAY: '10s',
    AXIOMS_DPOP_ALGORITHMS: 'ES256, PS256',
    AXIOMS_DPOP_NONCE: 'true',
    AXIOMS_DPOP_NONCE_SECRET: `${'a'.repeat(32)},${'b'.repeat(32)}`,
    AXIOMS_DPOP_NONCE_LIFETIME: '2m',
    AXIOMS_DPOP_REPLAY_CACHE_SIZE: '1000',
    AXIOMS_DPOP_REPLAY_TIMEOUT: '1'
  }
  const s = resolveDpopSettings(undefined, env, secret)
  t.equal(s.mode, 'required')
  t.equal(s.iatOffset, 60)
  t.equal(s.iatLeeway, 10)
  t.same(s.algorithms, ['ES256', 'PS256'])
  t.same(s.nonce?.secrets.map(b => b.toString()), ['a'.repeat(32), 'b'.repeat(32)])
  t.equal(s.nonce?.lifetime, 120)
  t.equal(s.replayCacheSize, 1000)
  t.equal(s.replayTimeout, 1000)
  const o = resolveDpopSettings({ mode: 'allowed', iatOffset: 100, nonce: false }, { ...env, AXIOMS_DPOP_NONCE_SECRET: '', AXIOMS_DPOP_NONCE_LIFETIME: ' ' }, secret)
  t.equal(o.mode, 'allowed')
  t.equal(o.iatOffset, 100)
  t.equal(o.iatLeeway, 10, 'members not given still come from the environment')
  t.equal(o.nonce, undefined)
  t.same(resolveDpopSettings(undefined, { AXIOMS_DPOP_ALGORITHMS: '["EdDSA"]', AXIOMS_DPOP_NONCE: 'yes', AXIOMS_DPOP_NONCE_SECRET: JSON.stringify(['c'.repeat(32)]) }, secret).algorithms, ['EdDSA'])
  for (const off of ['false', '0', 'no', 'FALSE']) t.equal(resolveDpopSettings(undefined, { AXIOMS_DPOP_NONCE: off }, secret).nonce, undefined, off)
  for (const on of ['1', 'TRUE']) t.equal(resolveDpopSettings(undefined, { AXIOMS_DPOP_NONCE: on }, secret).nonce?.ephemeral, true, on)
  t.equal(resolveDpopSettings(undefined, { AXIOMS_DPOP_MODE: '  ' }, secret).mode, 'allowed', 'blank means unset')
})

t.test('startup errors name the option and its variable', async t => {
  configError(t, () => resolveDpopSettings('yes', {}, secret), /option "dpop" must be true, false or/)
  configError(t, () => resolveDpopSettings([], {}, secret), /option "dpop"/)
  configError(t, () => resolveDpopSettings({ mod: 'required' }, {}, secret), /option "dpop\.mod" is not an option of dpop/)
  configError(t, () => resolveDpopSettings({ mode: 'on' }, {}, secret), /"dpop\.mode" must be one of allowed, required, disabled/)
  configError(t, () => resolveDpopSettings({}, { AXIOMS_DPOP_MODE: 'strict' }, secret), /"dpop\.mode" \(env AXIOMS_DPOP_MODE\)/)
  configError(t, () => resolveDpopSettings({ iatOffset: -1 }, {}, secret), /"dpop\.iatOffset" must be a duration/)
  configError(t, () => resolveDpopSettings({ iatOffset: '5 minutes' }, {}, secret), /"dpop\.iatOffset" must be a duration/)
  configError(t, () => resolveDpopSettings({ iatOffset: '2h' }, {}, secret), /"dpop\.iatOffset" must be between 0ms and 1h, got 2h/)
  configError(t, () => resolveDpopSettings({ iatOffset: 300000 }, {}, secret), /got 300000 seconds; for milliseconds write '300000ms'/, 'the one duration rule: numbers are seconds')
  configError(t, () => resolveDpopSettings({}, { AXIOMS_DPOP_IAT_LEEWAY: '11m' }, secret), /"dpop\.iatLeeway" \(env AXIOMS_DPOP_IAT_LEEWAY\) must be between 0ms and 10m/)
  configError(t, () => resolveDpopSettings({}, { AXIOMS_DPOP_IAT_OFFSET: 'soon' }, secret), /AXIOMS_DPOP_IAT_OFFSET\) must be a duration/)
  configError(t, () => resolveDpopSettings({ algorithms: [] }, {}, secret), /"dpop\.algorithms" must be a non-empty list/)
  configError(t, () => resolveDpopSettings({ algorithms: 'ES256' }, {}, secret), /"dpop\.algorithms" must be a list/)
  for (const alg of ['none', 'HS256', 'es256', 'ES256K', 1]) {
    configError(t, () => resolveDpopSettings({ algorithms: ['ES256', alg] }, {}, secret), /only asymmetric algorithms/, String(alg))
  }
  configError(t, () => resolveDpopSettings({}, { AXIOMS_DPOP_ALGORITHMS: '[' }, secret), /AXIOMS_DPOP_ALGORITHMS\) could not be read/)
  configError(t, () => resolveDpopSettings({}, { AXIOMS_DPOP_ALGORITHMS: '["ES256"' }, secret), /could not be read/)
  configError(t, () => resolveDpopSettings({}, { AXIOMS_DPOP_NONCE: 'true', AXIOMS_DPOP_NONCE_SECRET: '[{"a":1}]' }, secret), /dpop\.nonce\.secret/)
  configError(t, () => resolveDpopSettings({}, { AXIOMS_DPOP_ALGORITHMS: ',' }, secret), /must be a non-empty list/)
  configError(t, () => resolveDpopSettings({ nonce: 'true' }, {}, secret), /"dpop\.nonce" must be true or false/)
  configError(t, () => resolveDpopSettings({}, { AXIOMS_DPOP_NONCE: 'maybe' }, secret), /"dpop\.nonce" \(env AXIOMS_DPOP_NONCE\) could not be read: "maybe" is not a boolean/)
  configError(t, () => resolveDpopSettings({ nonce: { secrets: [] } }, {}, secret), /"dpop\.nonce\.secrets" is not an option/)
  configError(t, () => resolveDpopSettings({ nonce: { secret: 'short' } }, {}, secret), /"dpop\.nonce\.secret" must be at least 32 bytes/)
  configError(t, () => resolveDpopSettings({ nonce: { secret: [] } }, {}, secret), /at least one secret/)
  configError(t, () => resolveDpopSettings({ nonce: { secret: [1] } }, {}, secret), /must be a string, a Buffer or a list/)
  configError(t, () => resolveDpopSettings({ nonce: { lifetime: '1s' } }, {}, secret), /"dpop\.nonce\.lifetime" must be between 10s and 1h, got 1s/)
  configError(t, () => resolveDpopSettings({}, { AXIOMS_DPOP_NONCE_SECRET: 'x'.repeat(32) }, secret), /"dpop\.nonce" \(env AXIOMS_DPOP_NONCE\) is off, but AXIOMS_DPOP_NONCE_SECRET is set/)
  configError(t, () => resolveDpopSettings({ nonce: false }, { AXIOMS_DPOP_NONCE_LIFETIME: '1m' }, secret), /is off, but AXIOMS_DPOP_NONCE_LIFETIME is set/)
  configError(t, () => resolveDpopSettings({ replayStore: {} }, {}, secret), /"dpop\.replayStore" must be an object with a claim/)
  configError(t, () => resolveDpopSettings({ replayStore: new MemoryReplayStore(), replayCacheSize: 10 }, {}, secret), /cannot be combined with replayStore/)
  configError(t, () => resolveDpopSettings({ replayCacheSize: 0 }, {}, secret), /"dpop\.replayCacheSize" must be an integer >= 1/)
  configError(t, () => resolveDpopSettings({ replayCacheSize: 100_000_001 }, {}, secret), /"dpop\.replayCacheSize" must be at most 100000000/)
  t.equal(resolveDpopSettings({ replayCacheSize: 100_000_000 }, {}, secret).replayCacheSize, 100_000_000, 'the bound itself')
  configError(t, () => resolveDpopSettings({}, { AXIOMS_DPOP_REPLAY_CACHE_SIZE: '1.5' }, secret), /AXIOMS_DPOP_REPLAY_CACHE_SIZE\) must be an integer/)
  configError(t, () => resolveDpopSettings({ replayTimeout: '1m' }, {}, secret), /"dpop\.replayTimeout" must be between 1ms and 30s, got 1m/)
})

t.test('mtls: the socket by default, a function or a header for proxies', async t => {
  t.same({ ...resolveMtlsSettings(undefined, {}) }, { source: 'socket', certificate: undefined, header: undefined, configured: false })
  t.same({ ...resolveMtlsSettings({}, {}) }, { source: 'socket', certificate: undefined, header: undefined, configured: true })
  t.equal(resolveMtlsSettings(false, {}).source, 'none')
  const fn = (): undefined => undefined
  const f = resolveMtlsSettings({ certificate: fn }, { AXIOMS_MTLS_CERTIFICATE_HEADER: 'x-ignored' })
  t.equal(f.source, 'function')
  t.equal(f.certificate, fn)
  t.equal(f.header, undefined, 'an explicit function wins over the variable')
  const h = resolveMtlsSettings({ certificateHeader: 'X-SSL-Client-Cert' }, {})
  t.same({ ...h }, { source: 'header', certificate: undefined, header: 'x-ssl-client-cert', configured: true })
  const e = resolveMtlsSettings(undefined, { AXIOMS_MTLS_CERTIFICATE_HEADER: ' x-client-cert ' })
  t.same({ ...e }, { source: 'header', certificate: undefined, header: 'x-client-cert', configured: true })
  t.equal(resolveMtlsSettings(undefined, { AXIOMS_MTLS_CERTIFICATE_HEADER: '' }).configured, false)
  t.ok(Object.isFrozen(h))
  configError(t, () => resolveMtlsSettings(true, {}), /option "mtls" must be false or/)
  configError(t, () => resolveMtlsSettings('x', {}), /option "mtls"/)
  configError(t, () => resolveMtlsSettings({ cert: fn }, {}), /"mtls\.cert" is not an option of mtls/)
  configError(t, () => resolveMtlsSettings({ certificate: 'x-cert' }, {}), /"mtls\.certificate" must be a function/)
  configError(t, () => resolveMtlsSettings({ certificateHeader: 'bad header' }, {}), /"mtls\.certificateHeader" must be an HTTP header name/)
  configError(t, () => resolveMtlsSettings({ certificateHeader: 7 }, {}), /"mtls\.certificateHeader" must be/)
  configError(t, () => resolveMtlsSettings(undefined, { AXIOMS_MTLS_CERTIFICATE_HEADER: 'a:b' }), /\(env AXIOMS_MTLS_CERTIFICATE_HEADER\) must be an HTTP header name/)
  configError(t, () => resolveMtlsSettings({ certificate: fn, certificateHeader: 'x-c' }, {}), /cannot be combined with mtls\.certificate/)
})
