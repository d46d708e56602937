// Requests through an egress proxy, on the npm undici (Node's global fetch takes no dispatcher
// from another undici). http URLs are sent to the proxy in absolute form (proxies that refuse
// CONNECT to port 80 still forward them), https URLs through a CONNECT tunnel, TLS checked by Node
// end to end. undici is loaded on the first proxied request only (~90 ms), never at startup.
import { isIP } from 'node:net'
import type { Dispatcher } from 'undici'
import type { ProxySettings, ProxyUrl } from './options/proxy.js'

/** The proxy a URL goes through, or undefined when it is reached directly (NO_PROXY, or none set). */
export function proxyFor (url: URL, settings: ProxySettings | undefined): ProxyUrl | undefined {
  if (settings === undefined || settings.noProxyAll) return undefined
  const proxy = url.protocol === 'https:' ? settings.https : settings.http
  if (proxy === undefined) return undefined
  const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '')
  const port = Number(url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : url.port)
  for (const entry of settings.noProxyHosts) {
    if (entry.port !== 0 && entry.port !== port) continue
    if (host === entry.host || host.endsWith(`.${entry.host}`)) return undefined
  }
  const family = isIP(host)
  if (settings.noProxyNets !== undefined && family !== 0 && settings.noProxyNets.check(host, family === 4 ? 'ipv4' : 'ipv6')) return undefined
  return proxy
}

/** What fetchJson reads of a response; the global and undici's Response both fit. */
export interface Answer {
  readonly status: number
  readonly headers: { get: (name: string) => string | null }
  readonly body: ReadableStream<Uint8Array> | null
}

export interface ProxiedInit {
  method: string
  headers: Record<string, string>
  body: string | null
  signal: AbortSignal
  redirect: 'manual'
}

/** One request's way through a proxy: its own connection, closed when the request settles. */
export interface ProxyRoute {
  readonly proxy: ProxyUrl
  fetch: (url: string, init: ProxiedInit) => Promise<Answer>
  /** The proxy answered CONNECT with 200: from then on, failures are the far end's. */
  readonly tunnelled: () => boolean
  /** Ends every connection of the route, a CONNECT still waiting for its answer included. */
  close: () => Promise<void>
}

/** The proxy answered CONNECT with something other than 200. */
export class ProxyStatusError extends Error {
  readonly code = 'AXIOMS_PROXY_STATUS'
  readonly status: number
  constructor (status: number) {
    super(`proxy answered ${status} to CONNECT`)
    this.status = status
  }
}

let undici: Promise<typeof import('undici')> | undefined

/**
 * A fresh agent per request: JWKS requests are minutes apart, far beyond any keep-alive, and an
 * agent of its own is the one way to end a CONNECT the proxy never answers (aborting the fetch
 * leaves it, and its socket, in undici's queue).
 */
export async function openRoute (proxy: ProxyUrl): Promise<ProxyRoute> {
  const { fetch, Pool, ProxyAgent } = await (undici ??= import('undici'))
  let tunnelled = false
  const dispatcher = new ProxyAgent({
    uri: proxy.href,
    proxyTunnel: false,
    // The proxy's client: its CONNECT answer is read here, so a refusal keeps its status.
    clientFactory: (origin: URL, opts: object): Dispatcher => {
      const pool = new Pool(origin, opts)
      const connect = pool.connect.bind(pool) as (o: Dispatcher.ConnectOptions) => Promise<Dispatcher.ConnectData>
      const checked = async (o: Dispatcher.ConnectOptions): Promise<Dispatcher.ConnectData> => {
        const answer = await connect(o)
        if (answer.statusCode !== 200) {
          answer.socket.destroy()
          throw new ProxyStatusError(answer.statusCode)
        }
        tunnelled = true
        return answer
      }
      return Object.assign(pool, { connect: checked })
    }
  })
  return {
    proxy,
    fetch: async (url, init) => await fetch(url, { ...init, dispatcher }) as Answer,
    tunnelled: () => tunnelled,
    close: async () => { await dispatcher.destroy() }
  }
}

/**
 * The code of a request that failed before any answer, mapped by error code: the proxy refused
 * (`proxy_status_<n>`), could not be reached (`proxy_network`), or the far end failed behind a
 * tunnel (`network`).
 */
export function proxyFailure (err: unknown, route: ProxyRoute, target: URL): string {
  const cause = (err as { cause?: unknown } | null)?.cause
  if (cause instanceof ProxyStatusError) return `proxy_status_${cause.status}`
  // undici turns a 407 to an absolute-form request into this error (our arguments are fixed).
  if (target.protocol === 'http:' && (cause as { code?: unknown } | undefined)?.code === 'UND_ERR_INVALID_ARG') return 'proxy_status_407'
  return route.tunnelled() ? 'network' : 'proxy_network'
}
