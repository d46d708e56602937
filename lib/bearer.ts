// Authorization parsing and compact-JWS syntax checks. Pure: no Fastify, no crypto, no I/O, so
// garbage is refused before any key lookup or signature work (SECURITY.md I7).
import { isUtf8 } from 'node:buffer'
import { fail } from './errors.js'

/** Tokens over this size are refused before any decoding. */
export const MAX_TOKEN_BYTES = 8192

export type HeaderValue = string | string[] | undefined

/**
 * Extracts the token from the Authorization header value(s): scheme `Bearer`, or `DPoP` when
 * `dpop` (RFC 9449 §7.1, the same syntax), case-insensitive, then one or more spaces and one
 * token. `count` is how many Authorization lines the request carried (Node keeps only the first
 * in `headers`).
 */
export function extractToken (value: HeaderValue, count: number, dpop = false): string {
  if (count > 1 || Array.isArray(value)) fail('duplicate_header')
  if (value === undefined) fail('missing_header')
  const space = value.indexOf(' ')
  const scheme = space === -1 ? value : value.slice(0, space)
  if (!(scheme.length === 6 && scheme.toLowerCase() === 'bearer') && !(dpop && isDpopScheme(scheme))) fail('invalid_scheme')
  let start = space + 1
  let end = value.length
  if (space === -1) start = end
  while (start < end && value.charCodeAt(start) === 32) start++
  while (end > start && value.charCodeAt(end - 1) === 32) end--
  if (start === end) fail('empty_token')
  const token = value.slice(start, end)
  if (token.includes(' ')) fail('duplicate_header')
  if (token.length > MAX_TOKEN_BYTES) fail('token_too_large')
  return token
}

/** Whether an Authorization value (or its scheme) names DPoP, in any case. */
export function isDpopScheme (value: string): boolean {
  return (value.length === 4 || value.charCodeAt(4) === 32) && value.slice(0, 4).toLowerCase() === 'dpop'
}

/** Counts Authorization lines in Node's raw header list (names at even indexes). */
export function countAuthorization (rawHeaders: readonly string[]): number {
  let n = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string
    if (name.length === 13 && name.toLowerCase() === 'authorization') n++
  }
  return n
}

export type JsonObject = Record<string, unknown>

export interface DecodedToken {
  header: JsonObject
  payload: JsonObject
  /** `header.payload`, the bytes the signature covers. */
  signingInput: string
  signature: Buffer
}

const SEGMENT = /^[A-Za-z0-9_-]+$/
// For a segment whose length is 2 or 3 mod 4, the last character carries unused low bits that
// must be zero; otherwise two spellings decode to the same bytes (SECURITY.md B5, N1).
const CANONICAL_LAST_2 = /[AQgw]$/
const CANONICAL_LAST_3 = /[AEIMQUYcgkosw048]$/

/** Canonical unpadded base64url (RFC 7515 §2): the URL alphabet only, non-empty, unused bits zero. */
export function isCanonicalBase64url (s: string): boolean {
  if (!SEGMENT.test(s)) return false
  const rest = s.length & 3
  return rest === 0 || (rest === 2 ? CANONICAL_LAST_2.test(s) : rest === 3 && CANONICAL_LAST_3.test(s))
}

function decodeSegment (segment: string): Buffer {
  if (!isCanonicalBase64url(segment)) fail('malformed')
  return Buffer.from(segment, 'base64url')
}

function decodeJsonObject (segment: string): JsonObject {
  const bytes = decodeSegment(segment)
  if (!isUtf8(bytes)) fail('malformed')
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch {
    fail('malformed')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('malformed')
  // Every member the checks read (exp, typ, crit, cnf, ...) must be the token's own: with a
  // prototype, a member the token lacks would be read from whatever polluted Object.prototype.
  return Object.setPrototypeOf(value, null) as JsonObject
}

// An issuer signs with a handful of keys, so its tokens share a handful of header segments:
// each is decoded once. Bounded (oldest out first); only headers that decoded are kept, frozen
// because every token with that segment gets the same object.
const HEADER_MEMO_MAX = 32
const headerMemo = new Map<string, JsonObject>()

function decodeHeader (segment: string): JsonObject {
  let header = headerMemo.get(segment)
  if (header === undefined) {
    header = Object.freeze(decodeJsonObject(segment))
    if (headerMemo.size >= HEADER_MEMO_MAX) headerMemo.delete(headerMemo.keys().next().value as string)
    headerMemo.set(segment, header)
  }
  return header
}

/**
 * Splits and decodes a compact JWS: exactly three non-empty canonical base64url segments.
 * `memo: false` for JWTs whose headers are one-offs (DPoP proofs carry the client's key): they
 * would only push the issuers' headers out of the memo.
 */
export function decodeCompact (token: string, memo = true): DecodedToken {
  const first = token.indexOf('.')
  const second = first === -1 ? -1 : token.indexOf('.', first + 1)
  if (second === -1 || token.indexOf('.', second + 1) !== -1) fail('malformed')
  const headerSegment = token.slice(0, first)
  const header = memo ? decodeHeader(headerSegment) : decodeJsonObject(headerSegment)
  const payload = decodeJsonObject(token.slice(first + 1, second))
  const signature = decodeSegment(token.slice(second + 1))
  return { header, payload, signingInput: token.slice(0, second), signature }
}
