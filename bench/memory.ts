// Memory check child: a plugin instance with tokenCache: 10000 verifies every token the parent
// sends (in batches over IPC) through app.axioms.verify; RSS is reported after a forced GC.
// Run with --expose-gc.
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import axioms from '../index.js'
import { FIXTURE, type Fixture } from './config.js'

const gc = (globalThis as { gc?: () => void }).gc

function rss (): number {
  gc?.()
  gc?.()
  return process.memoryUsage.rss()
}

async function main (): Promise<void> {
  const fx = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Fixture
  const app = Fastify({ logger: false })
  await app.register(axioms, { issuer: fx.issuer, audience: fx.audience, algorithms: ['EdDSA'], tokenCache: 10000, env: {} })
  await app.ready()
  let peak = 0
  let verified = 0
  process.on('message', (msg: { tokens?: string[], end?: boolean }) => {
    if (msg.end === true) {
      const stats = app.axioms.stats()
      process.send?.({ final: rss(), peak, verified, cacheSize: stats.tokenCacheSize })
      app.close().finally(() => process.exit(0))
      return
    }
    const tokens = msg.tokens as string[]
    Promise.all(tokens.map(t => app.axioms.verify(t))).then(() => {
      verified += tokens.length
      const now = process.memoryUsage.rss()
      if (now > peak) peak = now
      process.send?.({ ack: verified, rss: now })
    }, (err: Error) => {
      process.stderr.write(`memory check: a token was refused: ${err.message}\n`)
      process.exit(1)
    })
  })
  const baseline = rss()
  peak = baseline
  process.stdout.write(`READY ${baseline}\n`)
}

main().catch(err => {
  process.stderr.write(`memory child failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
