// One rule for every duration option: numbers are seconds, strings carry their unit, and each
// option's plausible range refuses values written in the wrong unit, naming the unit.
import t from 'tap'
import { type AxiomsOptions, resolveSettings } from '../lib/options/index.js'
import { formatDuration, parseDuration } from '../lib/options/duration.js'

const BASE: AxiomsOptions = { audience: 'api', issuer: 'https://issuer.example', env: {} }
const settings = (extra: Record<string, unknown>, env: Record<string, string> = {}): ReturnType<typeof resolveSettings> =>
  resolveSettings({ ...BASE, ...extra, env } as AxiomsOptions)

t.test('parseDuration: numbers are seconds, strings carry a unit', async t => {
  const cases: Array<[unknown, number | undefined]> = [
    [0, 0], [1, 1000], [0.25, 250], [90, 90_000],
    ['5', 5000], ['1.5', 1500], ['500ms', 500], ['5s', 5000], ['10m', 600_000], ['1h', 3_600_000], ['2d', 172_800_000],
    [' 30s ', 30_000], ['30 s', 30_000],
    [-1, undefined], [Infinity, undefined], [NaN, undefined], ['', undefined], ['5 minutes', undefined],
    ['5S', undefined], ['-5s', undefined], ['1e3', undefined], ['5sec', undefined], [null, undefined], [true, undefined], [{}, undefined]
  ]
  for (const [value, ms] of cases) t.equal(parseDuration(value), ms, JSON.stringify(value))
  t.same([0, 300, 1500, 5000, 60_000, 90_000, 7_200_000, 86_400_000].map(formatDuration), ['0ms', '300ms', '1.5s', '5s', '1m', '90s', '2h', '1d'])
})

t.test('every duration option takes the same forms', async t => {
  const s = settings({ jwksRefreshInterval: '5m', jwksCacheTtl: '1h', jwksCooldown: '10s', jwksTimeout: '250ms', clockTolerance: '1m' })
  t.same(s.jwks, { refreshInterval: 300_000, cacheTtl: 3_600_000, prefetch: true, cooldown: 10_000, timeout: 250, maxBytes: 1024 * 1024 })
  t.equal(s.clockTolerance, 60, 'clockTolerance is kept in seconds')
  const n = settings({ jwksRefreshInterval: 300, jwksCacheTtl: 3600, jwksCooldown: 10, jwksTimeout: 0.25, clockTolerance: 60 })
  t.same(n.jwks, s.jwks, 'plain numbers are seconds')
  t.equal(n.clockTolerance, 60)
})

t.test('the family\'s AXIOMS_* values keep their documented meaning (seconds)', async t => {
  const s = settings({}, { AXIOMS_JWKS_REFRESH_INTERVAL: '3600', AXIOMS_JWKS_CACHE_TTL: '7200', AXIOMS_CLOCK_TOLERANCE: '30', AXIOMS_JWKS_COOLDOWN: '15', AXIOMS_JWKS_TIMEOUT: '10' })
  t.equal(s.jwks.refreshInterval, 3_600_000)
  t.equal(s.jwks.cacheTtl, 7_200_000)
  t.equal(s.jwks.cooldown, 15_000)
  t.equal(s.jwks.timeout, 10_000)
  t.equal(s.clockTolerance, 30)
  t.equal(settings({}, { AXIOMS_JWKS_TIMEOUT: '750ms', AXIOMS_JWKS_REFRESH_INTERVAL: '10m' }).jwks.timeout, 750, 'variables take units too')
})

t.test('values in the wrong unit fail at startup, naming the unit', async t => {
  // The example: 600000 meant as milliseconds would have been a refresh about once a week.
  t.throws(() => settings({ jwksRefreshInterval: 600000 }), /"jwksRefreshInterval" must be between 1s and 1d, got 600000 seconds; for milliseconds write '600000ms'$/)
  t.throws(() => settings({ jwksTimeout: 5000 }), /"jwksTimeout" must be between 10ms and 1m, got 5000 seconds; for milliseconds write '5000ms'$/)
  t.throws(() => settings({ jwksCooldown: 30000 }), /"jwksCooldown" must be between 0ms and 1h, got 30000 seconds; for milliseconds write '30000ms'$/)
  t.throws(() => settings({ jwksCacheTtl: 3_600_000 }), /"jwksCacheTtl" must be between 2s and 2d, got 3600000 seconds; for milliseconds write '3600000ms'$/)
  t.throws(() => settings({ jwksTimeout: '2m' }), /"jwksTimeout" must be between 10ms and 1m, got 2m$/, 'a string with a unit gets no hint')
  t.throws(() => settings({ jwksTimeout: 100000 }), /got 100000 seconds$/, 'no hint when the value is implausible in milliseconds too')
  t.throws(() => settings({ jwksRefreshInterval: '10 min' }), /"jwksRefreshInterval" must be a duration between 1s and 1d: a number of seconds or a string such as '5s', '500ms', '10m', got "10 min"/)
  t.throws(() => settings({ jwksRefreshInterval: '2m', jwksCacheTtl: '3m' }), /"jwksCacheTtl" must be at least twice jwksRefreshInterval \(4m\), got 3m/)
  t.throws(() => settings({}, { AXIOMS_JWKS_REFRESH_INTERVAL: '600000' }), /"jwksRefreshInterval" \(env AXIOMS_JWKS_REFRESH_INTERVAL\) must be between 1s and 1d/)
})
