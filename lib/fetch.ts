// A bounded JSON GET: one deadline for connect, headers and body (trickled bodies included), a
// byte cap, no redirects, fatal UTF-8. get-jwks' fetch has none of these (README, "Why not").

export class FetchError extends Error {
  /** Fixed, short cause: never the response body. */
  readonly code: string
  readonly status: number | undefined
  constructor (code: string, status?: number) {
    super(`JWKS request failed: ${code}`)
    this.name = 'FetchError'
    this.code = code
    this.status = status
  }
}

export interface JsonResponse {
  status: number
  body: unknown
}

const decoder = new TextDecoder('utf-8', { fatal: true })

export async function fetchJson (url: string, timeout: number, maxBytes: number): Promise<JsonResponse> {
  const signal = AbortSignal.timeout(timeout)
  let res: Response
  try {
    res = await fetch(url, { signal, redirect: 'error', headers: { accept: 'application/json' } })
  } catch {
    throw new FetchError(signal.aborted ? 'timeout' : 'network')
  }
  const status = res.status
  const declared = Number(res.headers.get('content-length'))
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {})
    throw new FetchError('too_large', status)
  }
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    // A body-less response (204, 304) has no stream: getReader throws and counts as a network fault.
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) {
        await reader.cancel().catch(() => {})
        throw new FetchError('too_large', status)
      }
      chunks.push(value)
    }
  } catch (err) {
    if (err instanceof FetchError) throw err
    throw new FetchError(signal.aborted ? 'timeout' : 'network', status)
  }
  if (status < 200 || status > 299) throw new FetchError(`status_${status}`, status)
  let body: unknown
  try {
    body = JSON.parse(decoder.decode(Buffer.concat(chunks)))
  } catch {
    throw new FetchError('invalid_json', status)
  }
  return { status, body }
}
