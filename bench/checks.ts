// The two one-off checks of issue 4: a cold burst shares one JWKS fetch, and a bounded token
// cache keeps memory flat over a million distinct tokens.
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import { signJws, type TestIssuer } from '../testing.js'
import { startChild } from './child.js'
import { AUDIENCE, config, ROUTE } from './config.js'

export interface BurstResult {
  requests: number
  ok: number
  otherStatus: Record<string, number>
  jwksRequests: number
  /** Requests already written when the (deliberately delayed) JWKS answer was released. */
  sentBeforeJwks: number
  ms: number
}

/**
 * A JWKS endpoint that holds its answer for `delayMs`, so that the whole burst arrives while the
 * one fetch is still in flight; it counts every request.
 */
async function slowJwks (body: string, delayMs: number, onAnswer: () => void): Promise<{ server: Server, url: string, count: () => number }> {
  let n = 0
  const server = createServer((_req, res) => {
    n++
    setTimeout(() => { onAnswer(); res.writeHead(200, { 'content-type': 'application/json' }).end(body) }, delayMs)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`, count: () => n }
}

function get (port: number, token: string): Promise<number> {
  return new Promise(resolve => {
    const req = request({ host: '127.0.0.1', port, path: ROUTE, agent: false, headers: { authorization: `Bearer ${token}` } }, res => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', () => resolve(0))
    req.end()
  })
}

export async function coldBurst (idp: TestIssuer, tokens: readonly string[]): Promise<BurstResult> {
  let sent = 0
  let sentBeforeJwks = -1
  const jwks = await slowJwks(JSON.stringify({ keys: idp.keys.map(k => k.jwk) }), 1000, () => {
    if (sentBeforeJwks === -1) sentBeforeJwks = sent
  })
  const child = await startChild('servers.ts', ['axioms-cold', 'RS256'], 'READY', [], false, { BENCH_JWKS_URI: jwks.url })
  try {
    const port = Number(child.line.split(' ')[1])
    const start = performance.now()
    const all: Array<Promise<number>> = []
    for (let i = 0; i < config.burst; i++) {
      all.push(get(port, tokens[i % tokens.length] as string))
      sent++
    }
    const statuses = await Promise.all(all)
    const otherStatus: Record<string, number> = {}
    for (const s of statuses) if (s !== 200) otherStatus[s] = (otherStatus[s] ?? 0) + 1
    return {
      requests: config.burst,
      ok: statuses.filter(s => s === 200).length,
      otherStatus,
      jwksRequests: jwks.count(),
      sentBeforeJwks,
      ms: performance.now() - start
    }
  } finally {
    await child.stop()
    jwks.server.closeAllConnections()
    await new Promise(resolve => jwks.server.close(resolve))
  }
}

export interface MemoryResult {
  tokens: number
  target: number
  seconds: number
  baselineMB: number
  finalMB: number
  peakMB: number
  growthMB: number
  cacheSize: number
  /** True when the time cap stopped the run before `target` tokens. */
  capped: boolean
}

const MB = 1024 * 1024
const BATCH = 1000

/** Streams distinct EdDSA tokens (signed here, on the load core) to the memory child. */
export async function memoryCheck (idp: TestIssuer): Promise<MemoryResult> {
  const key = idp.keys.find(k => k.alg === 'EdDSA')
  if (key === undefined) throw new Error('the bench issuer has no EdDSA key')
  const child = await startChild('memory.ts', [], 'READY', ['--expose-gc'], true)
  const baseline = Number(child.line.split(' ')[1])
  const proc = child.proc
  const header = { alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' }
  const prefix = randomUUID()
  let made = 0
  const batch = (): string[] => {
    const now = Math.floor(Date.now() / 1000)
    const out: string[] = []
    for (let i = 0; i < BATCH; i++, made++) {
      out.push(signJws(header, { iss: idp.issuer, aud: AUDIENCE, sub: `user-${made}`, iat: now, exp: now + 3600, jti: `${prefix}-${made}` }, key))
    }
    return out
  }
  const start = performance.now()
  const deadline = start + config.memorySeconds * 1000
  let inFlight = 0
  const ended = new Promise<MemoryResult>((resolve, reject) => {
    proc.on('exit', code => { if (code !== 0) reject(new Error(`memory child exited with ${String(code)}`)) })
    proc.on('message', (msg: { ack?: number, final?: number, peak?: number, verified?: number, cacheSize?: number }) => {
      if (msg.final === undefined) return
      resolve({
        tokens: msg.verified as number,
        target: config.memoryTokens,
        seconds: (performance.now() - start) / 1000,
        baselineMB: baseline / MB,
        finalMB: msg.final / MB,
        peakMB: (msg.peak as number) / MB,
        growthMB: (msg.final - baseline) / MB,
        cacheSize: msg.cacheSize as number,
        capped: (msg.verified as number) < config.memoryTokens
      })
    })
  })
  // Two batches in flight: the child verifies one while this process signs the next.
  await new Promise<void>(resolve => {
    const pump = (): void => {
      while (inFlight < 2 && made < config.memoryTokens && performance.now() < deadline) {
        proc.send({ tokens: batch() })
        inFlight++
      }
      if (inFlight === 0) resolve()
    }
    proc.on('message', (msg: { ack?: number }) => {
      if (msg.ack === undefined) return
      inFlight--
      setImmediate(pump)
    })
    pump()
  })
  proc.send({ end: true })
  try {
    return await ended
  } finally {
    await child.stop()
  }
}
