// `npm run bench`: one run, every row of issue 4, on 127.0.0.1 only. Servers run one at a time in
// a child pinned to the server core; this process (the load generator) re-executes itself pinned
// to the load core. See bench/README.md.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { createDpopProof, createTestIssuer, type DpopKey, generateDpopKey, signDpopBoundToken } from '../testing.js'
import { coldBurst, memoryCheck } from './checks.js'
import { hasTaskset, startChild } from './child.js'
import { ALGS, AUDIENCE, type BenchAlg, BENCH_DIR, config, FIXTURE, type Fixture, ROUTE, TMP_DIR } from './config.js'
import { type DpopPool, measure, probe } from './load.js'
import { consoleTable, markdown, PEERS, type Report, type Row, svg } from './report.js'

function pinSelf (): boolean {
  if (!hasTaskset || process.env.BENCH_PINNED === '1') return false
  const r = spawnSync('taskset', ['-c', config.loadCore, process.execPath, '--import', 'tsx', join(BENCH_DIR, 'run.ts')], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_PINNED: '1' }
  })
  process.exitCode = r.status ?? 1
  return true
}

function cpuModel (): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))
    return m?.[1]?.trim() ?? 'unknown CPU'
  } catch {
    return 'unknown CPU'
  }
}

const load = (): string => loadavg().map(n => n.toFixed(2)).join(' ')
const log = (msg: string): void => { process.stderr.write(`${msg}\n`) }

/** BENCH_ONLY=regex keeps the rows whose `kind alg` matches (iteration aid; the report is partial). */
const only = process.env.BENCH_ONLY === undefined ? undefined : new RegExp(process.env.BENCH_ONLY)
/** BENCH_PROFILE=regex writes a --cpu-prof of the matching servers to bench/.tmp/prof. */
const profile = process.env.BENCH_PROFILE === undefined ? undefined : new RegExp(process.env.BENCH_PROFILE)

/** `dpop`: the row sends DPoP requests, from proofs made for the server's URL once it listens. */
async function row (kind: string, alg: BenchAlg | null, label: string, tokens: readonly string[], dpop?: (url: string) => DpopPool): Promise<Row> {
  const id = `${kind} ${alg ?? ''}`.trim()
  if (only !== undefined && !only.test(id)) return { kind, label, alg, rps: null, p99: null, cpuUs: null, note: 'skipped (BENCH_ONLY)' }
  const nodeArgs = profile?.test(id) === true ? ['--cpu-prof', `--cpu-prof-dir=${join(TMP_DIR, 'prof')}`] : []
  const child = await startChild('servers.ts', [kind, alg ?? 'RS256'], 'READY', nodeArgs)
  try {
    const url = `http://127.0.0.1:${child.line.split(' ')[1] as string}`
    const pool = dpop?.(url)
    const check = await probe(url, tokens[0], pool)
    if (check.status !== 200) {
      // The peer cannot verify this algorithm (or refuses the setup): reported, not loaded.
      log(`  ${id}: n/a (probe answered ${check.status} ${check.body.replace(/\s+/g, ' ').slice(0, 120)})`)
      return { kind, label, alg, rps: null, p99: null, cpuUs: null, note: `n/a: answers ${check.status}` }
    }
    const r = await measure(url, tokens, child.proc.pid, pool)
    log(`  ${id}: ${Math.round(r.rps)} req/s, p99 ${r.p99} ms, ${r.cpuUs?.toFixed(1) ?? '?'} CPU µs/req${r.non2xx > 0 || r.errors > 0 ? `, ${r.non2xx} non-2xx, ${r.errors} errors` : ''}`)
    let note = r.non2xx > 0 || r.errors > 0 ? `${r.non2xx} non-2xx, ${r.errors} errors` : undefined
    // Past the pool's end, proofs come round again and are refused as replays (the non-2xx above).
    if (pool !== undefined && pool.used > pool.size) note = `${note ?? ''}${note === undefined ? '' : '; '}proof pool of ${pool.size} ran out (set BENCH_DPOP_PROOFS)`
    const out: Row = { kind, label, alg, rps: r.rps, p99: r.p99, cpuUs: r.cpuUs }
    if (note !== undefined) out.note = note
    return out
  } finally {
    await child.stop()
  }
}

async function cryptoRates (): Promise<Report['verify']> {
  const child = await startChild('crypto.ts', [], 'RESULT')
  await child.stop()
  return JSON.parse(child.line.slice('RESULT '.length)) as Report['verify']
}

/** Runs fn while a spinning process keeps the load core as busy as autocannon keeps it. */
async function withBusyLoadCore<T> (fn: () => Promise<T>): Promise<T> {
  const spin = ['-e', 'for (;;) {}']
  const proc = hasTaskset ? spawn('taskset', ['-c', config.loadCore, process.execPath, ...spin], { stdio: 'ignore' }) : spawn(process.execPath, spin, { stdio: 'ignore' })
  try {
    await new Promise(resolve => setTimeout(resolve, 200))
    return await fn()
  } finally {
    const exited = once(proc, 'exit')
    proc.kill('SIGKILL')
    await exited
  }
}

/**
 * Proofs for the DPoP row: the measured Bearer rate is its ceiling (one more signature per request),
 * so that rate over the warm-up and the measured run, with a margin for a noisy machine, is enough.
 */
function proofCount (bearerRps: number | null): number {
  if (config.dpopProofs > 0) return config.dpopProofs
  return Math.ceil((bearerRps ?? 50_000) * (config.warmup + config.duration + 1) * 1.3) + 10
}

/** A proof per request, in order; each made for the server's URL and its token. */
function dpopPool (url: string, bound: ReadonlyArray<{ key: DpopKey, token: string }>, count: number): DpopPool {
  const started = Date.now()
  const htu = url + ROUTE
  const entries: Array<{ token: string, proof: string }> = []
  for (let i = 0; i < count; i++) {
    const { key, token } = bound[i % bound.length] as { key: DpopKey, token: string }
    entries.push({ token, proof: createDpopProof(key, { htu, accessToken: token }) })
  }
  log(`  signed ${count} DPoP proofs in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  let used = 0
  return {
    next: () => entries[used++ % count] as { token: string, proof: string },
    get used () { return used },
    size: count
  }
}

async function main (): Promise<void> {
  if (pinSelf()) return
  const loadBefore = load()
  mkdirSync(TMP_DIR, { recursive: true })
  const idp = await createTestIssuer({ algorithms: [...ALGS], audience: AUDIENCE, expiresIn: 6 * 3600 })
  try {
    log(`signing ${config.tokens} tokens per algorithm...`)
    const tokens = {} as Record<BenchAlg, string[]>
    const jwks = {} as Fixture['jwks']
    for (const alg of ALGS) {
      tokens[alg] = Array.from({ length: config.tokens }, (_, i) => idp.sign({ sub: `user-${i}`, scope: 'read write' }, { alg }))
      jwks[alg] = (idp.keys.find(k => k.alg === alg) as { jwk: Record<string, unknown> }).jwk
    }
    const fx: Fixture = { issuer: idp.issuer, jwksUri: idp.jwksUri, audience: AUDIENCE, jwks, tokens }
    writeFileSync(FIXTURE, JSON.stringify(fx))
    // The DPoP row: tokens like the RS256 ones, each bound to one of a few client keys (ES256), so
    // that proof keys are imported once per client as in real traffic; the proofs come later.
    const clientKeys: DpopKey[] = Array.from({ length: Math.max(1, config.dpopKeys) }, () => generateDpopKey('ES256'))
    const dpopTokens = Array.from({ length: config.tokens }, (_, i) => {
      const key = clientKeys[i % clientKeys.length] as DpopKey
      return { key, token: signDpopBoundToken(idp, key, { sub: `user-${i}`, scope: 'read write' }, { alg: 'RS256' }) }
    })

    // The signature's cost is measured twice: with the load core idle, and with it busy as it is
    // during every HTTP row. On machines whose cores share a physical core (SMT siblings, many
    // VMs) a busy neighbour slows the server core; the bound uses the busy figure so that both of
    // its terms are measured under the same conditions. Both are reported.
    log('crypto.verify alone (load core idle, then busy)...')
    const verifyIdle = await cryptoRates()
    const verify = await withBusyLoadCore(cryptoRates)
    for (const [name, v] of [['idle', verifyIdle], ['busy', verify]] as const) {
      log(`  ${name}: ${ALGS.map(a => `${a} ${Math.round(v[a].wall)}/s (${v[a].cpuUs.toFixed(1)} CPU µs)`).join(', ')}`)
    }

    const rows: Row[] = []
    log('servers...')
    rows.push(await row('fastify-bare', null, 'bare Fastify (ceiling)', tokens.RS256))
    rows.push(await row('express-bare', null, 'bare Express', tokens.RS256))
    rows.push(await row('axioms-cached', 'RS256', '**axioms-fastify**, tokenCache hit', tokens.RS256.slice(0, 1)))
    for (const alg of ALGS) {
      rows.push(await row('fastify-crypto-only', alg, 'floor: Fastify + crypto.verify, inline', tokens[alg]))
      rows.push(await row('fastify-crypto-batch', alg, 'floor: Fastify + crypto.verify, batched', tokens[alg]))
      rows.push(await row('axioms', alg, '**axioms-fastify**, uncached', tokens[alg]))
      if (alg === 'RS256') {
        // Two signature checks per request (the token's RS256, the proof's ES256), a fresh proof
        // each: signed now, so that none is older than the proof window (iatOffset) when sent.
        const bearerRps = rows.at(-1)?.rps ?? null
        const pool = (url: string): DpopPool => dpopPool(url, dpopTokens, proofCount(bearerRps))
        rows.push(await row('axioms-dpop', alg, '**axioms-fastify**, uncached, DPoP (+ ES256 proof)', tokens[alg], pool))
      }
      if (alg === 'RS256') rows.push(await row('axioms-inline', alg, 'axioms-fastify, uncached, `verifyBatch: 0`', tokens[alg]))
      for (const peer of PEERS) rows.push(await row(peer, alg, peer, tokens[alg]))
    }

    const skipChecks = only !== undefined && process.env.BENCH_CHECKS !== '1'
    let burst = null
    let memory = null
    if (!skipChecks) {
      log(`cold burst of ${config.burst}...`)
      burst = await coldBurst(idp, tokens.RS256)
      log(`  ${burst.jwksRequests} JWKS request(s), ${burst.ok}/${burst.requests} answered 200`)
      log(`memory: up to ${config.memoryTokens} distinct tokens, tokenCache 10000, ${config.memorySeconds} s cap...`)
      memory = await memoryCheck(idp)
      log(`  ${memory.tokens} tokens in ${memory.seconds.toFixed(0)} s, RSS growth ${memory.growthMB.toFixed(1)} MB (peak ${memory.peakMB.toFixed(1)} MB)`)
    }

    const report: Report = {
      machine: {
        date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        cpu: cpuModel(),
        // Not availableParallelism() or nproc: this process is pinned to one core.
        nproc: cpus().length,
        node: process.version,
        pinned: hasTaskset ? `Servers pinned to core ${config.serverCore}, load generator (autocannon) to core ${config.loadCore} with taskset.` : 'taskset not found: nothing pinned, figures are less reliable.',
        loadBefore,
        loadAfter: load(),
        settings: `${config.connections} connections, pipelining ${config.pipelining}, ${config.warmup} s warm-up + ${config.duration} s per row, ${config.tokens} tokens${config.quick ? ', BENCH_QUICK' : ''}`
      },
      rows,
      verify,
      verifyIdle,
      burst,
      memory
    }
    process.stdout.write(`\n${consoleTable(report)}\n`)
    if (only === undefined) {
      writeFileSync(join(BENCH_DIR, 'RESULTS.md'), markdown(report))
      writeFileSync(join(BENCH_DIR, 'results.svg'), svg(report))
      log('\nwrote bench/RESULTS.md and bench/results.svg')
    } else {
      log('\nBENCH_ONLY set: RESULTS.md and results.svg left as they were')
    }
  } finally {
    await idp.close()
  }
}

main().catch(err => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
