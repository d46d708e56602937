// A bounded JSON GET: one deadline for connect, headers and body (trickled bodies included), a
// byte cap, no redirects, fatal UTF-8. get-jwks' fetch has none of these (README, "Why not").

/** What came back, for the warning: never the body itself. */
export interface FetchDetails {
  status?: number | undefined
  contentType?: string | undefined
  /** The declared (content-length) or counted size of the body, when known. */
  bytes?: number | undefined
}

export class FetchError extends Error {
  /** Fixed, short cause: never the response body. */
  readonly code: string
  readonly status: number | undefined
  readonly contentType: string | undefined
  readonly bytes: number | undefined
  constructor (code: string, details: FetchDetails = {}) {
    super(`JWKS request failed: ${code}`)
    this.name = 'FetchError'
    this.code = code
    this.status = details.status
    this.contentType = details.contentType
    this.bytes = details.bytes
  }
}

export interface JsonResponse {
  status: number
  body: unknown
  contentType: string | undefined
  /** Bytes of the body as received. */
  bytes: number
}

const decoder = new TextDecoder('utf-8', { fatal: true })

/** `cancel` (optional) ends the request early, e.g. when the app closes: it fails as 'network'. */
export async function fetchJson (url: string, timeout: number, maxBytes: number, cancel?: AbortSignal): Promise<JsonResponse> {
  // One controller and a plain timer, both strongly held until the request settles: the deadline
  // covers connect, headers and body. Aborting also drops a refused response's connection.
  const controller = new AbortController()
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; controller.abort() }, timeout)
  const onCancel = (): void => controller.abort()
  cancel?.addEventListener('abort', onCancel)
  if (cancel?.aborted === true) controller.abort()
  try {
    return await request(url, maxBytes, controller, () => timedOut)
  } finally {
    clearTimeout(timer)
    cancel?.removeEventListener('abort', onCancel)
  }
}

async function request (url: string, maxBytes: number, controller: AbortController, timedOut: () => boolean): Promise<JsonResponse> {
  const signal = controller.signal
  let res: Response | undefined
  for (let attempt = 1; res === undefined; attempt++) {
    try {
      // 'manual': a redirect arrives as its 3xx status and is refused below. ('error' mode leaves an
      // abort after the headers unheeded in Node 20's fetch under load: a trickled body then hangs.)
      res = await fetch(url, { signal, redirect: 'manual', headers: { accept: 'application/json' } })
    } catch {
      // A pooled keep-alive connection that the server closed just then fails before any response:
      // a GET may be sent again, once, within the same deadline.
      if (attempt === 2 || signal.aborted) throw new FetchError(timedOut() ? 'timeout' : 'network')
    }
  }
  const status = res.status
  const contentType = res.headers.get('content-type') ?? undefined
  const declared = res.headers.get('content-length')
  const details = (bytes?: number): FetchDetails => ({ status, contentType, bytes: bytes ?? (declared === null ? undefined : Number(declared)) })
  const refuse = (code: string, bytes?: number): FetchError => {
    controller.abort()
    return new FetchError(code, details(bytes))
  }
  // An error status is final: its body (an HTML page, say) is never read, nor shown to anyone.
  if (status < 200 || status > 299) throw refuse(`status_${status}`)
  if (Number(res.headers.get('content-length')) > maxBytes) throw refuse('too_large')
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
  return { status, body: parsed, contentType, bytes: size }
}
