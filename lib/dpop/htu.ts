// `htu` against the request (RFC 9449 §4.3 (9)): both sides become one string, without query and
// fragment, after RFC 3986 §6.2.2 syntax-based and §6.2.3 scheme-based normalisation. The
// request's scheme, host and target arrive apart and are checked apart, so a Host header can
// never smuggle a path into the comparison (express-oauth2-jwt-bearer PR #244).

const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: '80', https: '443' }
// RFC 3986 §3.2.2 reg-name, narrowed to what DNS names and IPv4 addresses use, or an IPv6 literal.
const REG_NAME = /^[A-Za-z0-9._~-]+$/
const IPV6_LITERAL = /^\[[0-9A-Fa-f:.]+\]$/
const PORT = /^[0-9]*$/
// RFC 3986 Appendix B, for an absolute URI with an authority.
const ABSOLUTE = /^([^:/?#]+):\/\/([^/?#]*)([^?#]*)(?:\?[^#]*)?(?:#.*)?$/s

function isUnreserved (c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e
}

// Kept as they are in a path: unreserved, sub-delims, ":", "@" and "/".
const PATH_KEEP = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]$/

function hex (byte: number): string {
  return '%' + byte.toString(16).toUpperCase().padStart(2, '0')
}

function hexValue (c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}

/**
 * Percent-encoding normalisation of a path (RFC 3986 §6.2.2.1-2): escapes of unreserved
 * characters decoded, the others upper-cased, characters outside the path grammar escaped
 * (as clients and Node's router see them alike). `bytes`: the string holds raw octets (Node's
 * request target) rather than Unicode text (a JSON claim). Undefined for control characters,
 * broken escapes or lone surrogates.
 */
function normalisePercent (path: string, bytes: boolean): string | undefined {
  let out = ''
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i)
    if (c === 0x25) {
      const hi = hexValue(path.charCodeAt(i + 1))
      const lo = hexValue(path.charCodeAt(i + 2))
      if (hi < 0 || lo < 0) return undefined
      const byte = hi * 16 + lo
      out += isUnreserved(byte) ? String.fromCharCode(byte) : hex(byte)
      i += 2
    } else if (c < 0x20 || c === 0x7f) {
      return undefined
    } else if (c < 0x80) {
      const ch = path[i] as string
      out += PATH_KEEP.test(ch) ? ch : hex(c)
    } else if (bytes) {
      if (c > 0xff) return undefined
      out += hex(c)
    } else {
      const cp = path.codePointAt(i) as number
      // A lone surrogate has no UTF-8 form.
      if (cp >= 0xd800 && cp <= 0xdfff) return undefined
      if (cp > 0xffff) i++
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out += hex(b)
    }
  }
  return out
}

/** RFC 3986 §5.2.4 remove_dot_segments, for a path that starts with "/". */
function removeDotSegments (path: string): string {
  const out: string[] = []
  const segments = path.slice(1).split('/')
  let trailing = false
  for (const seg of segments) {
    trailing = false
    if (seg === '.') {
      trailing = true
    } else if (seg === '..') {
      out.pop()
      trailing = true
    } else {
      out.push(seg)
    }
  }
  return '/' + out.join('/') + (trailing && out.length > 0 ? '/' : '')
}

/** `host[:port]` lower-cased, with an empty or default port dropped; undefined if malformed. */
function normaliseAuthority (scheme: string, authority: string): string | undefined {
  let host = authority
  let port = ''
  const close = authority.lastIndexOf(']')
  const colon = authority.lastIndexOf(':')
  if (colon > close) {
    host = authority.slice(0, colon)
    port = authority.slice(colon + 1)
  }
  if (!REG_NAME.test(host) && !IPV6_LITERAL.test(host)) return undefined
  if (!PORT.test(port) || port.length > 5) return undefined
  if (port !== '') {
    const n = Number(port)
    if (n > 65535) return undefined
    port = String(n)
    if (port === DEFAULT_PORTS[scheme]) port = ''
  }
  return host.toLowerCase() + (port === '' ? '' : ':' + port)
}

/** The proof's `htu`, normalised (query and fragment dropped), or undefined if it is no http(s) URI. */
export function normaliseHtu (htu: string): string | undefined {
  const m = ABSOLUTE.exec(htu)
  if (m === null) return undefined
  const scheme = (m[1] as string).toLowerCase()
  if (!Object.hasOwn(DEFAULT_PORTS, scheme)) return undefined
  // No userinfo: a request never carries one.
  const authority = normaliseAuthority(scheme, m[2] as string)
  if (authority === undefined) return undefined
  const path = normalisePercent(m[3] as string, false)
  if (path === undefined) return undefined
  return `${scheme}://${authority}${path === '' ? '/' : removeDotSegments(path)}`
}

/**
 * The URI the request was sent to, normalised like normaliseHtu, from the scheme and host as
 * Fastify decided them (`request.protocol`, `request.host`, which follow `trustProxy`) and the
 * raw request target (`request.url`). Undefined when they cannot form one (a Host carrying a
 * path or userinfo, a target that is not origin-form): the request is refused.
 *
 * Dot segments are not removed here: Fastify routes the target as it came, so a target with
 * `.` or `..` segments must not match a proof for the path they would resolve to.
 */
export function requestHtu (scheme: string, host: string, target: string): string | undefined {
  const s = scheme.toLowerCase()
  if (!Object.hasOwn(DEFAULT_PORTS, s)) return undefined
  const authority = normaliseAuthority(s, host)
  if (authority === undefined || target.charCodeAt(0) !== 0x2f) return undefined
  let end = target.length
  const q = target.indexOf('?')
  if (q !== -1) end = q
  const f = target.indexOf('#')
  if (f !== -1 && f < end) end = f
  const path = normalisePercent(target.slice(0, end), true)
  if (path === undefined) return undefined
  return `${s}://${authority}${path}`
}
