// The load generator: autocannon in this process (pinned to the load core by run.ts), a warm-up
// run that is thrown away, then the measured run.
import autocannon from 'autocannon'
import { cpuSeconds } from './child.js'
import { config, ROUTE } from './config.js'

export interface LoadResult {
  /** 2xx responses per second over the measured run. */
  rps: number
  p99: number
  p50: number
  non2xx: number
  errors: number
  /** Server CPU microseconds per 2xx response during the measured run, or null. */
  cpuUs: number | null
}

/** DPoP requests, each with its own proof: a replayed one would be refused, not measured. */
export interface DpopPool {
  /** The token and proof of the next request. */
  next: () => { token: string, proof: string }
  /** Proofs handed out so far, and how many there are. */
  readonly used: number
  readonly size: number
}

function fire (url: string, tokens: readonly string[], seconds: number, dpop?: DpopPool): Promise<autocannon.Result> {
  const opts: autocannon.Options = {
    url,
    connections: config.connections,
    pipelining: config.pipelining,
    duration: seconds
  }
  if (dpop !== undefined) {
    // setupRequest runs for every request, so every connection sends proofs no other one sent.
    opts.requests = [{
      method: 'GET',
      path: ROUTE,
      setupRequest: req => {
        const { token, proof } = dpop.next()
        req.headers = { authorization: `DPoP ${token}`, dpop: proof }
        return req
      }
    }]
  } else if (tokens.length === 1) {
    opts.method = 'GET'
    opts.headers = { authorization: `Bearer ${tokens[0] as string}` }
    opts.url = url + ROUTE
  } else if (tokens.length > 1) {
    // Each request buffer is built once; every connection walks the list in turn.
    opts.requests = tokens.map(t => ({ method: 'GET', path: ROUTE, headers: { authorization: `Bearer ${t}` } }))
  } else {
    opts.url = url + ROUTE
  }
  return autocannon(opts)
}

/** Warm-up (discarded), then the measured run. `tokens` empty: no Authorization header. */
export async function measure (url: string, tokens: readonly string[], pid?: number, dpop?: DpopPool): Promise<LoadResult> {
  if (config.warmup > 0) await fire(url, tokens, config.warmup, dpop)
  const cpu0 = cpuSeconds(pid)
  const r = await fire(url, tokens, config.duration, dpop)
  const cpu1 = cpuSeconds(pid)
  return {
    cpuUs: cpu0 === null || cpu1 === null || r['2xx'] === 0 ? null : (cpu1 - cpu0) * 1e6 / r['2xx'],
    rps: r['2xx'] / r.duration,
    p99: r.latency.p99,
    p50: r.latency.p50,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts
  }
}

/** One request, to check a server accepts the token before loading it. */
export async function probe (url: string, token: string | undefined, dpop?: DpopPool): Promise<{ status: number, body: string }> {
  let headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` }
  if (dpop !== undefined) {
    const next = dpop.next()
    headers = { authorization: `DPoP ${next.token}`, dpop: next.proof }
  }
  const res = await fetch(url + ROUTE, { headers, signal: AbortSignal.timeout(10_000) })
  return { status: res.status, body: (await res.text()).slice(0, 200) }
}
