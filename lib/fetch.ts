// A bounded JSON request: one deadline for connect, headers and body (trickled bodies included),
// a byte cap, no redirects, fatal UTF-8, directly or through the egress proxy (lib/proxy.ts).
// get-jwks' fetch has none of these (README, "Why not").
import { formatDuration } from './options/duration.js'
import type { ProxySettings } from './options/proxy.js'
import { type Answer, type ProxyRoute, openRoute, proxyFailure, proxyFor } from './proxy.js'

/** What came back, for the warning: never the body itself. */
export interface FetchDetails {
  status?: number | undefined
  contentType?: string | undefined
  /** The declared (content-length) or counted size of the body, when known. */
  bytes?: number | undefined
  /** The proxy the request went through, as safe to log (no credentials). */
  proxy?: string | undefined
}

export class FetchError extends Error {
  /** Fixed, short cause: never the response body. */
  readonly code: string
  readonly status: number | undefined
  readonly contentType: string | undefined
  readonly bytes: number | undefined
  readonly proxy: string | undefined
  constructor (code: string, details: FetchDetails = {}) {
    super(`JWKS request failed: ${code}`)
    this.name = 'FetchError'
    this.code = code
    this.status = details.status
    this.contentType = details.contentType
    this.bytes = details.bytes
    this.proxy = details.proxy
  }
}

export interface JsonResponse {
  status: number
  body: unknown
  contentType: string | undefined
  /** Bytes of the body as received. */
  bytes: number
  /** The proxy it came through (no credentials), if any. */
  proxy?: string | undefined
}

/** How to send it. The default is a GET with `accept: application/json`, direct or through `proxy`. */
export interface FetchOptions {
  method?: 'GET' | 'POST'
  /** Added to `accept: application/json`. */
  headers?: Record<string, string>
  body?: string
  /** Where the proxy settings come from: undefined reaches every host directly. */
  proxy?: ProxySettings | undefined
}

const decoder = new TextDecoder('utf-8', { fatal: true })

/** `cancel` (optional) ends the request early, e.g. when the app closes: it fails as 'network'. */
export async function fetchJson (url: string, timeout: number, maxBytes: number, cancel?: AbortSignal, options: FetchOptions = {}): Promise<JsonResponse> {
  // An unparsable URL goes the direct way, where fetch refuses it ('network').
  const target = URL.canParse(url) ? new URL(url) : undefined
  const via = target === undefined ? undefined : proxyFor(target, options.proxy)
  // Loading undici (once) is local work, not the network's: it happens before the deadline starts.
  const route = via === undefined ? undefined : await openRoute(via)
  // One controller and a plain timer, both strongly held until the request settles: the deadline
  // covers connect, headers and body. Aborting also drops a refused response's connection.
  const controller = new AbortController()
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; controller.abort() }, timeout)
  const onCancel = (): void => controller.abort()
  cancel?.addEventListener('abort', onCancel)
  if (cancel?.aborted === true) controller.abort()
  try {
    return await request(url, maxBytes, controller, () => timedOut, options, route, target)
  } finally {
    clearTimeout(timer)
    cancel?.removeEventListener('abort', onCancel)
    await route?.close()
  }
}

async function request (url: string, maxBytes: number, controller: AbortController, timedOut: () => boolean,
  options: FetchOptions, route: ProxyRoute | undefined, target: URL | undefined): Promise<JsonResponse> {
  const signal = controller.signal
  const proxy = route?.proxy.shown
  const method = options.method ?? 'GET'
  const init = {
    method,
    headers: { ...options.headers, accept: 'application/json' },
    body: options.body ?? null,
    signal,
    // 'manual': a redirect arrives as its 3xx status and is refused below. ('error' mode leaves an
    // abort after the headers unheeded in Node 20's fetch under load: a trickled body then hangs.)
    redirect: 'manual' as const
  }
  let res: Answer | undefined
  for (let attempt = 1; res === undefined; attempt++) {
    try {
      res = route === undefined ? await fetch(url, init) : await route.fetch(url, init)
    } catch (err) {
      if (signal.aborted) throw new FetchError(timedOut() ? 'timeout' : 'network', { proxy })
      if (route !== undefined) throw new FetchError(proxyFailure(err, route, target as URL), { proxy })
      // A pooled keep-alive connection that the server closed just then fails before any response:
      // a GET may be sent again, once, within the same deadline. (A proxied request has a
      // connection of its own: no such race.)
      if (attempt === 2 || method !== 'GET') throw new FetchError('network')
    }
  }
  const status = res.status
  const contentType = res.headers.get('content-type') ?? undefined
  const declared = res.headers.get('content-length')
  const details = (bytes?: number): FetchDetails => ({ status, contentType, bytes: bytes ?? (declared === null ? undefined : Number(declared)), proxy })
  const refuse = (code: string, bytes?: number): FetchError => {
    controller.abort()
    return new FetchError(code, details(bytes))
  }
  // An error status is final: its body (an HTML page, say) is never read, nor shown to anyone.
  if (status < 200 || status > 299) throw refuse(`status_${status}`)
  if (Number(declared) > maxBytes) throw refuse('too_large')
  // A body-less 2xx (204) is no JSON document.
  if (res.body === null) throw refuse('invalid_json')
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    const reader = res.body.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) throw refuse('too_large', size)
      chunks.push(value)
    }
  } catch (err) {
    if (err instanceof FetchError) throw err
    throw new FetchError(timedOut() ? 'timeout' : 'network', details(size))
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(Buffer.concat(chunks)))
  } catch {
    throw new FetchError('invalid_json', details(size))
  }
  return { status, body: parsed, contentType, bytes: size, ...(proxy === undefined ? {} : { proxy }) }
}

/** The members of `obj` that are not undefined (log objects without holes). */
export function defined<T extends object> (obj: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> }
}

/** What came back, in words: status, content type and size, or the deadline, never the body. */
export function describeFailure (err: FetchError, opts: { timeout: number, maxBytes: number }): string {
  const what = [err.contentType, err.bytes === undefined ? undefined : `${err.bytes} bytes`].filter(x => x !== undefined).join(', ')
  const http = err.status === undefined ? '' : `HTTP ${err.status}${what === '' ? '' : ` (${what})`}`
  if (err.code === 'proxy_status_407') return 'was refused by the proxy: HTTP 407 (it wants credentials, or refused the ones in the proxy URL)'
  if (err.code.startsWith('proxy_status_')) return `was refused by the proxy: HTTP ${err.code.slice(13)} to CONNECT`
  switch (err.code) {
    case 'timeout': return `timed out after ${formatDuration(opts.timeout)} (jwksTimeout)${http === '' ? '' : `, after ${http}`}`
    case 'network': return `could not be completed (connection refused, reset or closed)${http === '' ? '' : `, after ${http}`}`
    case 'proxy_network': return 'could not reach the proxy (connection refused, reset or closed, or its name does not resolve)'
    case 'too_large': return `answered more than jwksMaxBytes (${opts.maxBytes} bytes): ${http}`
    case 'invalid_json': return `answered ${http}, which is not JSON`
    case 'not_a_jwks': return `answered ${http}, a JSON document without a "keys" array`
    case 'not_an_introspection': return `answered ${http}, a JSON document without a boolean "active"`
    case 'discovery_issuer_mismatch': return `answered ${http}, a document whose "issuer" is not this issuer`
    case 'discovery_no_jwks_uri': return `answered ${http}, a document without an http(s) "jwks_uri"`
    case 'discovery_no_introspection_endpoint': return `answered ${http}, a document without an http(s) "introspection_endpoint"`
    /* c8 ignore next */
    case 'unexpected': return 'failed unexpectedly'
    default: return `answered ${http}${err.status !== undefined && err.status >= 300 && err.status < 400 ? ', a redirect, which is not followed' : ''}`
  }
}
