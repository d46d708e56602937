// CPU ns/op of the plugin's verification against the bare signature check, in one process:
// `npx tsx bench/micro.ts` (BENCH_MICRO_MS per measurement, default 1500). For profiling the hot
// path without HTTP in the way; run.ts is the benchmark of record.
import { verify } from 'node:crypto'
import Fastify from 'fastify'
import axioms from '../index.js'
import { createTestIssuer } from '../testing.js'
import { ALGS, AUDIENCE, type BenchAlg, splitSigned, verifyKey } from './config.js'

const MS = Number(process.env.BENCH_MICRO_MS ?? 1500)
const N = 2000

async function time (fn: (i: number) => unknown, async: boolean): Promise<number> {
  const run = async (ms: number): Promise<[number, number]> => {
    let n = 0
    // CPU time, not wall time: the figures survive a busy machine better.
    const cpu = process.cpuUsage()
    const end = performance.now() + ms
    while (performance.now() < end) {
      for (let i = 0; i < 200; i++) {
        const r = fn(n + i)
        if (async) await r
      }
      n += 200
    }
    const used = process.cpuUsage(cpu)
    return [n, (used.user + used.system) / 1000]
  }
  await run(MS / 3)
  // The best of several rounds: other processes only ever add time.
  let best = Infinity
  for (let r = 0; r < 5; r++) {
    const [n, ms] = await run(MS / 5)
    best = Math.min(best, (ms * 1e6) / n)
  }
  return best
}

const idp = await createTestIssuer({ algorithms: [...ALGS], audience: AUDIENCE, expiresIn: 3600 })
const rows: Array<[string, string, number]> = []
const only = process.env.BENCH_MICRO_ALGS?.split(',')
for (const alg of (ALGS as readonly BenchAlg[]).filter(a => only === undefined || only.includes(a))) {
  const tokens = Array.from({ length: N }, (_, i) => idp.sign({ sub: `user-${i}`, scope: 'read write' }, { alg }))
  const app = Fastify({ logger: false })
  await app.register(axioms, { issuer: idp.issuer, audience: AUDIENCE, algorithms: [alg], env: {} })
  await app.ready()
  const { key, hash } = verifyKey(alg, (idp.keys.find(k => k.alg === alg) as { jwk: Record<string, unknown> }).jwk)
  const inputs = tokens.map(splitSigned)
  const raw = process.env.BENCH_MICRO_SKIP_RAW === '1' ? 0 : await time(i => { const x = inputs[i % N] as { data: Buffer, sig: Buffer }; return verify(hash, x.data, key, x.sig) }, false)
  const plugin = await time(i => app.axioms.verify(tokens[i % N] as string), true)
  rows.push([alg, 'crypto.verify', raw], [alg, 'app.axioms.verify', plugin], [alg, 'overhead', plugin - raw])
  await app.close()
  if (alg === 'RS256' && process.env.BENCH_MICRO_INJECT !== '0') {
    // The hook path through light-my-request: bare route, then a tokenCache hit (no signature).
    const bare = Fastify({ logger: false })
    bare.get('/private', async () => ({ ok: true }))
    const cached = Fastify({ logger: false })
    await cached.register(axioms, { issuer: idp.issuer, audience: AUDIENCE, algorithms: [alg], tokenCache: 1000, env: {} })
    cached.get('/private', { config: { axioms: {} } }, async () => ({ ok: true }))
    await Promise.all([bare.ready(), cached.ready()])
    const headers = { authorization: `Bearer ${tokens[0] as string}` }
    const b = await time(() => bare.inject({ url: '/private', headers }), true)
    const c = await time(() => cached.inject({ url: '/private', headers }), true)
    rows.push([alg, 'inject bare', b], [alg, 'inject cached', c], [alg, 'hook overhead', c - b])
    await Promise.all([bare.close(), cached.close()])
  }
}
await idp.close()
for (const [alg, what, ns] of rows) process.stdout.write(`${alg.padEnd(6)} ${what.padEnd(18)} ${Math.round(ns).toLocaleString('en-US').padStart(9)} ns/op\n`)
