// The signature's own cost: crypto.verify per second on one core, per algorithm, over the same
// distinct tokens as the uncached rows, with every input (key, bytes, signature) prepared up front.
import { verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { ALGS, type BenchAlg, config, FIXTURE, type Fixture, splitSigned, verifyKey } from './config.js'

/** Verifications per second (wall clock) and CPU microseconds per verification. */
function rate (alg: BenchAlg, fx: Fixture, seconds: number): { wall: number, cpuUs: number } {
  const { key, hash } = verifyKey(alg, fx.jwks[alg])
  const inputs = fx.tokens[alg].map(splitSigned)
  const run = (ms: number): [number, number] => {
    const cpu = process.cpuUsage()
    let n = 0
    const end = performance.now() + ms
    while (performance.now() < end) {
      for (let i = 0; i < 100; i++) {
        const x = inputs[(n + i) % inputs.length] as { data: Buffer, sig: Buffer }
        if (!verify(hash, x.data, key, x.sig)) throw new Error(`${alg}: a fixture token does not verify`)
      }
      n += 100
    }
    const used = process.cpuUsage(cpu)
    return [n, (used.user + used.system) / 1e6]
  }
  run(Math.min(1000, seconds * 250))
  const start = performance.now()
  const [n, cpu] = run(seconds * 1000)
  return { wall: n / ((performance.now() - start) / 1000), cpuUs: cpu * 1e6 / n }
}

const fx = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Fixture
const out: Record<string, { wall: number, cpuUs: number }> = {}
for (const alg of ALGS) out[alg] = rate(alg, fx, config.cryptoSeconds)
process.stdout.write(`RESULT ${JSON.stringify(out)}\n`)
