// Keeps credentials out of Fastify's request logs. Fastify logs `{ req }` ("incoming request")
// through the logger's `req` serializer before any hook runs, so no hook can hide a header or a
// query token. The plugin instead wraps that serializer (Fastify's default or the app's own) in
// the app's pino logger: whatever it returns, `authorization` / `proxy-authorization` headers and
// `access_token` query values come out as "[Redacted]". Done once at registration: no hook, only
// the serializer's own work on each logged request; every child logger without its own `req`
// serializer (404s included) shares it.

const SERIALIZERS = Symbol.for('pino.serializers')
const kRedacting = Symbol('axioms.redacting')

export const REDACTED = '[Redacted]'

const SECRET_FIELDS = new Set(['authorization', 'proxy-authorization', 'access_token'])

type Serializer = ((value: unknown) => unknown) & { [kRedacting]?: true }

function isSecretName (name: string): boolean {
  let decoded = name
  try {
    decoded = decodeURIComponent(name.replace(/\+/g, ' '))
  } catch {
    // A malformed escape is compared as written.
  }
  return SECRET_FIELDS.has(decoded.toLowerCase())
}

/** Replaces the value of every `access_token` query parameter (any case, percent-encoded or not). */
export function redactUrl (url: string): string {
  const q = url.indexOf('?')
  if (q === -1) return url
  const hash = url.indexOf('#', q)
  const query = url.slice(q + 1, hash === -1 ? undefined : hash)
  const parts = query.split('&').map(part => {
    const eq = part.indexOf('=')
    const name = eq === -1 ? part : part.slice(0, eq)
    return eq !== -1 && isSecretName(name) ? `${name}=${REDACTED}` : part
  })
  return url.slice(0, q + 1) + parts.join('&') + (hash === -1 ? '' : url.slice(hash))
}

function redactFields (value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
  const out: Record<string, unknown> = { ...value }
  for (const key of Object.keys(out)) if (isSecretName(key)) out[key] = REDACTED
  return out
}

/** Cleans what a `req` serializer produced: url, headers and query. */
export function redactRequest (serialized: unknown): unknown {
  if (typeof serialized !== 'object' || serialized === null || Array.isArray(serialized)) return serialized
  const out: Record<string, unknown> = { ...serialized }
  if (typeof out.url === 'string') out.url = redactUrl(out.url)
  if (typeof out.originalUrl === 'string') out.originalUrl = redactUrl(out.originalUrl)
  if ('headers' in out) out.headers = redactFields(out.headers)
  if ('query' in out) out.query = redactFields(out.query)
  return out
}

/**
 * Wraps the `req` serializer of a pino logger in place. Returns false when the logger is not pino
 * (or has no `req` serializer): users of other loggers must redact `req.headers.authorization`
 * themselves (README, "Logging").
 */
export function redactRequestLogs (log: unknown): boolean {
  const serializers = (log as Record<symbol, unknown> | null | undefined)?.[SERIALIZERS] as Record<string, unknown> | undefined
  if (typeof serializers !== 'object' || serializers === null) return false
  const inner = serializers.req as Serializer | undefined
  if (typeof inner !== 'function') return false
  if (inner[kRedacting] === true) return true
  const wrapped: Serializer = function req (value: unknown) { return redactRequest(inner(value)) }
  wrapped[kRedacting] = true
  try {
    serializers.req = wrapped
  } catch {
    /* c8 ignore next 2 -- a frozen serializer map: nothing can be wrapped, say so */
    return false
  }
  return true
}
