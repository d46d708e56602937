// Property-based fuzzing (issue 3 part 2, SECURITY.md I1, I7). Valid tokens are mutated (bytes,
// segments, header members, claim types and values) and checked against the invariants: never a
// 5xx, the handler runs exactly when the answer is 200, every refusal is a documented
// status/error/description row of lib/errors.ts, and a token changed without re-signing never
// passes. 10,000+ cases; the seed is printed (replay: AXIOMS_FUZZ_SEED=<seed> npx tap test/attacks/fuzz.test.ts).
import fc from 'fast-check'
import t from 'tap'
import { AxiomsError, ROWS } from '../../lib/errors.js'
import { signJws } from '../../testing.js'
import { b64u, claimsV, createApi, createWorld, headerFor, segments, token } from './harness.js'

const world = await createWorld()
t.teardown(() => world.close())

const SEED = Number(process.env.AXIOMS_FUZZ_SEED ?? 20260520)
const DOCUMENTED = new Set(Object.values(ROWS).map(r => `${r.status} ${r.error} ${r.description}`))
const REASONS = new Set(Object.keys(ROWS))
const es = world.k.es

// A pool of valid tokens over every published algorithm (signing RSA is slow: done once).
const pool = [
  token(world), token(world, { scope: 'items:write' }), token(world, {}, {}, es), token(world, {}, {}, world.k.ed),
  token(world, {}, {}, world.k.ps), token(world, { roles: ['admin'] }, {}, es), token(world, {}, { typ: undefined }, world.k.ed)
]

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const ODD = ['.', '=', '+', '/', ' ', '~', '%', '\t', 'é', '\u0000', '\u200b', '"', '\\', '{', '}']
const char = fc.oneof(fc.constantFrom(...B64URL.split('')), fc.constantFrom(...ODD))

/** Byte-level edits of a valid token: replace, insert, delete, truncate. */
const byteMutation = fc.record({
  base: fc.nat({ max: pool.length - 1 }),
  edits: fc.array(fc.record({ op: fc.constantFrom('replace', 'insert', 'delete', 'truncate'), at: fc.nat(), c: char }), { minLength: 1, maxLength: 4 })
}).map(({ base, edits }) => {
  const original = pool[base] as string
  let s = original
  for (const { op, at, c } of edits) {
    const i = s.length === 0 ? 0 : at % s.length
    if (op === 'replace') s = s.slice(0, i) + c + s.slice(i + 1)
    else if (op === 'insert') s = s.slice(0, i) + c + s.slice(i)
    else if (op === 'delete') s = s.slice(0, i) + s.slice(i + 1)
    else s = s.slice(0, i)
  }
  return { token: s, original, resigned: false }
})

/** Segment-level edits: swap, drop, duplicate, replace with random bytes, graft from another token. */
const segmentMutation = fc.record({
  base: fc.nat({ max: pool.length - 1 }),
  other: fc.nat({ max: pool.length - 1 }),
  op: fc.constantFrom('swap', 'drop', 'dup', 'random', 'graft', 'extra'),
  which: fc.nat({ max: 2 }),
  bytes: fc.uint8Array({ maxLength: 300 })
}).map(({ base, other, op, which, bytes }) => {
  const original = pool[base] as string
  const segs: string[] = segments(original)
  const donor = segments(pool[other] as string)
  if (op === 'swap') [segs[which], segs[(which + 1) % 3]] = [segs[(which + 1) % 3] as string, segs[which] as string]
  else if (op === 'drop') segs.splice(which, 1)
  else if (op === 'dup') segs.splice(which, 0, segs[which] as string)
  else if (op === 'random') segs[which] = b64u(bytes)
  else if (op === 'graft') segs[which] = donor[which] as string
  else segs.push(b64u(bytes))
  return { token: segs.join('.'), original, resigned: false }
})

const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom('RS256', 'ES256', 'none', 'HS256', 'k-rs', 'k-es', 'at+jwt', 'JWT', '__proto__', 'constructor', '', null, 0, -1, 1e308, [], {}),
  fc.string({ maxLength: 40 })
)
const HEADER_FIELDS = ['alg', 'kid', 'typ', 'crit', 'zip', 'cty', 'b64', 'jku', 'x5u', 'jwk', 'x5c', '__proto__', 'enc', 'x']
const CLAIM_FIELDS = ['iss', 'aud', 'exp', 'nbf', 'iat', 'sub', 'scope', 'scp', 'roles', 'cnf', 'jti', 'client_id', '__proto__', 'constructor', 'x']

/** Header members set to arbitrary JSON; half re-signed with k-es (so later checks run), half not. */
const headerMutation = fc.record({
  changes: fc.array(fc.tuple(fc.constantFrom(...HEADER_FIELDS), fc.option(jsonish, { nil: undefined })), { minLength: 1, maxLength: 3 }),
  resign: fc.boolean()
}).map(({ changes, resign }) => {
  const header: Record<string, unknown> = { ...headerFor(es) }
  for (const [k, v] of changes) {
    if (v === undefined) delete header[k]
    else Object.defineProperty(header, k, { value: v, enumerable: true, writable: true, configurable: true })
  }
  const claims = claimsV()
  const original = signJws(headerFor(es), claims, es)
  if (resign) return { token: signJws(header, claims, es), original, resigned: true }
  const [, p, s] = segments(original)
  return { token: `${b64u(JSON.stringify(header))}.${p}.${s}`, original, resigned: false }
})

/** Claims set to arbitrary JSON (wrong types, huge numbers, prototype names), re-signed with k-es. */
const claimMutation = fc.array(fc.tuple(fc.constantFrom(...CLAIM_FIELDS), fc.option(jsonish, { nil: undefined })), { minLength: 1, maxLength: 4 })
  .map(changes => {
    const claims: Record<string, unknown> = claimsV()
    for (const [k, v] of changes) {
      if (v === undefined) delete claims[k]
      else Object.defineProperty(claims, k, { value: v, enumerable: true, writable: true, configurable: true })
    }
    return { token: signJws(headerFor(es), claims, es), original: '', resigned: true }
  })

const anyMutation = fc.oneof(byteMutation, segmentMutation, headerMutation, claimMutation)

interface Timing { n: number, total: number, max: number }
const timing = (): Timing => ({ n: 0, total: 0, max: 0 })
function note (tm: Timing, ms: number): void { tm.n++; tm.total += ms; if (ms > tm.max) tm.max = ms }
const report = (tm: Timing): string => `${tm.n} cases, mean ${(tm.total / Math.max(1, tm.n) * 1000).toFixed(0)} µs, max ${tm.max.toFixed(2)} ms`

t.comment(`fuzz seed ${SEED} (replay with AXIOMS_FUZZ_SEED=${SEED})`)

t.test('app.axioms.verify on 7,000 mutated tokens: AxiomsError with a documented reason, or a re-signed success', async t => {
  // A generous fetch timeout: a slow shared machine must not turn into 503s here.
  const api = await createApi(t, world, { options: { jwksTimeout: '30s' } })
  const before = world.a.requests.jwks
  const tm = timing()
  const outcomes = new Map<string, number>()
  const property = fc.asyncProperty(fc.oneof(byteMutation, segmentMutation, headerMutation, claimMutation), async ({ token: tok, original, resigned }) => {
    const t0 = performance.now()
    let reason = 'ok'
    try {
      const claims = await api.app.axioms.verify(tok)
      if (!resigned && tok !== original) throw new Error('a token changed without re-signing was accepted')
      if (!Object.isFrozen(claims) || Object.getPrototypeOf(claims) !== null) throw new Error('claims not frozen / null-prototype')
    } catch (err) {
      if (!(err instanceof AxiomsError)) throw err
      if (!REASONS.has(err.reason)) throw new Error(`undocumented reason ${err.reason}`)
      if (err.statusCode >= 500) throw new Error(`5xx for a token problem: ${err.reason}`)
      reason = err.reason
    }
    note(tm, performance.now() - t0)
    outcomes.set(reason, (outcomes.get(reason) ?? 0) + 1)
  })
  await fc.assert(property, { seed: SEED, numRuns: 7000 })
  t.comment(`verify: ${report(tm)}`)
  t.comment(`outcomes ${JSON.stringify(Object.fromEntries([...outcomes].sort((x, y) => y[1] - x[1])))}`)
  t.equal(tm.n, 7000)
  t.ok(tm.max < 5000, 'sanity bound: no case near 5 s')
  t.ok(world.a.requests.jwks - before <= 2, 'unknown kids cost at most a refresh per cooldown')
  t.ok((outcomes.get('malformed') ?? 0) > 0 && (outcomes.get('bad_signature') ?? 0) > 0, 'the mutations reach several pipeline stages')
})

t.test('3,000 mutated requests through inject: documented answers only, handler iff 200', async t => {
  const api = await createApi(t, world, { options: { jwksTimeout: '30s' } })
  const tm = timing()
  const header = fc.oneof(
    { weight: 5, arbitrary: anyMutation.map(m => ({ ...m, authorization: `Bearer ${m.token}` })) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom('Bearer', 'bearer', 'Basic', 'DPoP', 'Bearer ', '', 'Bearer\t'), fc.string({ maxLength: 60 }).map(s => [...s].map(c => c === '\t' || (c >= ' ' && c <= '~') ? c : 'x').join('')), fc.nat({ max: pool.length - 1 }))
        .map(([scheme, junk, i]) => ({ token: '', original: '', resigned: false, authorization: `${scheme} ${junk.length % 2 === 0 ? junk : pool[i] as string + junk}`.trim() }))
    }
  )
  const property = fc.asyncProperty(header, fc.constantFrom(['GET', '/items'], ['POST', '/items'], ['GET', '/admin'], ['GET', '/docs/2'], ['GET', '/docs/1']),
    async ({ token: tok, original, resigned, authorization }, [method, url]) => {
      const t0 = performance.now()
      const out = await api.call({ method: method as 'GET', url, headers: authorization === '' ? {} : { authorization } })
      note(tm, performance.now() - t0)
      if (out.status >= 500) throw new Error(`5xx: ${out.text} ${JSON.stringify(api.app.axioms.stats())}`)
      if (out.status === 200) {
        if (out.handled !== 1) throw new Error('200 without the handler')
        if (tok !== '' && !resigned && tok !== original) throw new Error('unsigned change accepted')
        return
      }
      if (out.handled !== 0) throw new Error(`handler ran on ${out.status}`)
      const body = out.body as { error?: string, error_description?: string }
      const row = `${out.status} ${body.error} ${body.error_description}`
      if (!DOCUMENTED.has(row)) throw new Error(`undocumented answer ${row}`)
      if (out.status === 503) throw new Error('503 while the JWKS is up')
      if (out.status !== 404 && typeof out.headers['www-authenticate'] !== 'string') throw new Error('refusal without a challenge')
    })
  await fc.assert(property, { seed: SEED + 1, numRuns: 3000 })
  t.comment(`inject: ${report(tm)}`)
  t.equal(tm.n, 3000)
  t.ok(tm.max < 5000, 'sanity bound: no request near 5 s')
})
