// Shared harness of the attack corpus (../shared/docs/SECURITY.md §8): issuers A and B on
// 127.0.0.1, the named keys, configurations D and S, the four routes with a handler spy, raw token
// builders and one assertion per outcome (status, body, challenge, handler, JWKS requests).
import { createHmac, randomUUID } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import type { Test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyServerOptions, type InjectOptions } from 'fastify'
import axioms, { type AxiomsOptions } from '../../index.js'
import { DPOP_OFFER } from '../fixture.js'
import { createTestIssuer, generateTestKey, signJws, type TestIssuer, type TestKey } from '../../testing.js'

export const A_ISS = 'https://idp-a.test'
export const B_ISS = 'https://idp-b.test'
export const API = 'https://api.test'

export interface World {
  a: TestIssuer
  b: TestIssuer
  /** Named keys: k-rs, k-es, k-ps, k-ed, k-rs512 and `shared` are A's; `sharedB` and `k-b` are B's. */
  k: { rs: TestKey, es: TestKey, ps: TestKey, ed: TestKey, rs512: TestKey, shared: TestKey, sharedB: TestKey, b: TestKey }
  close: () => Promise<void>
}

/** Issuers A and B with the corpus' keys, served on 127.0.0.1. One per test file. */
export async function createWorld (): Promise<World> {
  const a = await createTestIssuer({ issuer: A_ISS, algorithms: ['RS256'], audience: API })
  const b = await createTestIssuer({ issuer: B_ISS, algorithms: ['ES256'], audience: API })
  const k = {
    rs: a.addKey('RS256', 'k-rs'),
    es: a.addKey('ES256', 'k-es'),
    ps: a.addKey('PS256', 'k-ps'),
    ed: a.addKey('EdDSA', 'k-ed'),
    rs512: a.addKey('RS512', 'k-rs512'),
    shared: a.addKey('ES256', 'shared'),
    sharedB: b.addKey('ES256', 'shared'),
    b: b.addKey('ES256', 'k-b')
  }
  return {
    a,
    b,
    k,
    close: async () => { await Promise.all([a.close(), b.close()]) }
  }
}

/** A key that no issuer publishes (the attacker's). */
export function attackerKey (alg: Parameters<typeof generateTestKey>[0] = 'RS256', kid = 'k-rs'): TestKey {
  return generateTestKey(alg, kid)
}

export type Profile = 'D' | 'S'

/** Options with `undefined` allowed, to drop one of the defaults (e.g. `issuer` for `domain`). */
export type Overrides = { [K in keyof AxiomsOptions]?: AxiomsOptions[K] | undefined }

export function optionsFor (world: World, profile: Profile = 'D', extra: Overrides = {}): AxiomsOptions {
  const base: Record<string, unknown> = { issuer: A_ISS, jwksUri: world.a.jwksUri, audience: API, env: {} }
  if (profile === 'S') Object.assign(base, { profile: 'rfc9068', algorithms: ['RS256', 'ES256'] })
  const out: Record<string, unknown> = { ...base, ...extra }
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k]
  return out as AxiomsOptions
}

export interface Outcome {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: unknown
  text: string
  /** Handler calls during this request. */
  handled: number
  /** JWKS and discovery requests to A and B during this request. */
  jwks: number
  jwksB: number
  discovery: number
}

export interface Api {
  app: FastifyInstance
  world: World
  realm: string
  /** Total handler calls. */
  readonly calls: number
  /** Claims each handler call saw, in order. */
  seen: unknown[]
  /** Injects a request and measures handler calls and JWKS requests around it. */
  call: (opts: InjectOptions | string) => Promise<Outcome>
  /** GET /items (or `url`) with `Authorization: Bearer <token>`. */
  get: (token: string, url?: string, method?: InjectOptions['method']) => Promise<Outcome>
}

export interface ApiOptions {
  profile?: Profile
  options?: Overrides
  fastify?: FastifyServerOptions
  /** Adds routes before the corpus routes (after the plugin). */
  routes?: (app: FastifyInstance, spy: (request: { authJwt: unknown }) => void) => void
  /** Skip app.ready() (for tests that expect it to fail). */
  noReady?: boolean
}

/** SPEC: realm defaults to the (first) issuer. */
function realmOf (o: AxiomsOptions): string {
  if (o.realm !== undefined) return o.realm
  const first = o.issuers?.[0]?.issuer ?? o.issuer ?? (o.domain === undefined ? A_ISS : `https://${o.domain}`)
  return Array.isArray(first) ? first[0] as string : first as string
}

export const DOCS = new Map<string, { user: unknown, title: string }>([
  ['1', { user: 'user-2', title: 'not yours' }],
  ['2', { user: 'user-1', title: 'yours' }],
  ['3', { user: 123, title: 'numeric owner' }]
])

export async function createApi (t: { teardown: (fn: () => unknown) => void }, world: World, o: ApiOptions = {}): Promise<Api> {
  // Generous plugin/onReady timeout: the machine is shared and prefetch runs in onReady.
  const app = Fastify({ pluginTimeout: 60000, ...o.fastify })
  t.teardown(() => app.close())
  const options = optionsFor(world, o.profile ?? 'D', o.options ?? {})
  await app.register(axioms, options)
  return await mountApi(app, world, realmOf(options), o)
}

/** What mountApi counts: the two issuers' requests. */
interface Counted { a: { requests: { jwks: number, discovery: number } }, b: { requests: { jwks: number, discovery: number } } }

/**
 * The corpus routes on an app whose plugin is registered, and the request helpers that measure
 * handler calls and JWKS requests around each request (shared by the fastify-jwt mode's fixture).
 */
export async function mountApi<W extends Counted> (app: FastifyInstance, world: W, realm: string, o: Pick<ApiOptions, 'routes' | 'noReady'>): Promise<Omit<Api, 'world'> & { world: W }> {
  let calls = 0
  const seen: unknown[] = []
  const spy = (request: { authJwt: unknown }): void => { calls++; seen.push(request.authJwt) }
  o.routes?.(app, spy)
  app.get('/items', { config: { axioms: { scopes: ['items:read'] } } }, async request => { spy(request); return { ok: true } })
  app.post('/items', { config: { axioms: { scopes: ['items:write'] } } }, async request => { spy(request); return { ok: true } })
  app.get('/admin', { config: { axioms: { roles: ['admin'] } } }, async request => { spy(request); return { ok: true } })
  app.get<{ Params: { id: string } }>('/docs/:id', {
    preHandler: app.checkObjectOwnership({ getObject: request => DOCS.get((request.params as { id: string }).id) })
  }, async request => { spy(request); return { ok: true, doc: request.ownedObject } })
  if (o.noReady !== true) await app.ready()
  const call = async (opts: InjectOptions | string): Promise<Outcome> => {
    const before = calls
    const j = world.a.requests.jwks
    const jb = world.b.requests.jwks
    const d = world.a.requests.discovery + world.b.requests.discovery
    const res = await app.inject(opts as InjectOptions)
    let body: unknown
    try { body = res.json() } catch { body = undefined }
    return {
      status: res.statusCode,
      headers: res.headers as Outcome['headers'],
      body,
      text: res.body,
      handled: calls - before,
      jwks: world.a.requests.jwks - j,
      jwksB: world.b.requests.jwks - jb,
      discovery: world.a.requests.discovery + world.b.requests.discovery - d
    }
  }
  return {
    app,
    world,
    realm,
    get calls () { return calls },
    seen,
    call,
    get: (token, url = '/items', method = 'GET') => call({ method, url, headers: { authorization: `Bearer ${token}` } })
  }
}

// ---------------------------------------------------------------------------------------------
// Tokens

export const b64u = (data: string | Buffer | Uint8Array): string => Buffer.from(data).toString('base64url')
export const now = (): number => Math.floor(Date.now() / 1000)

export type Claims = Record<string, unknown>

/** Baseline claims of V (valid under D and S); `undefined` drops a claim. */
export function claimsV (over: Claims = {}): Claims {
  const t = now()
  const c: Claims = { iss: A_ISS, aud: API, sub: 'user-1', client_id: 'c1', iat: t, exp: t + 300, jti: randomUUID(), scope: 'items:read', ...over }
  for (const key of Object.keys(c)) if (c[key] === undefined) delete c[key]
  return c
}

export function headerFor (key: TestKey, over: Claims = {}): Claims {
  const h: Claims = { alg: key.alg, kid: key.kid, typ: 'at+jwt', ...over }
  for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k]
  return h
}

/** A token signed by `key` (k-rs by default) with V's header and claims, overridable. */
export function token (world: World, claims: Claims = {}, header: Claims = {}, key: TestKey = world.k.rs): string {
  return signJws(headerFor(key, header), claimsV(claims), key)
}

/** Signs raw header and payload JSON text (duplicate members, 1e400, __proto__ ...). */
export function signText (headerText: string, payloadText: string, key: TestKey): string {
  return signJws(headerText, payloadText, key)
}

/** `header.payload.signature` from raw bytes, no signing library involved. */
export function compact (header: string | Buffer, payload: string | Buffer, signature: string | Buffer): string {
  return `${b64u(header)}.${b64u(payload)}.${b64u(signature)}`
}

/** HS256 over `h.p` with any key bytes, computed with node:crypto createHmac. */
export function hs256 (header: Claims, payload: Claims, key: string | Buffer): string {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`
  return `${input}.${b64u(createHmac('sha256', key).update(input).digest())}`
}

export function segments (tok: string): [string, string, string] {
  const [h, p, s] = tok.split('.') as [string, string, string]
  return [h, p, s]
}

export function signatureOf (tok: string): Buffer {
  return Buffer.from(segments(tok)[2], 'base64url')
}

export function withSignature (tok: string, sig: Buffer): string {
  const [h, p] = segments(tok)
  return `${h}.${p}.${b64u(sig)}`
}

// ---------------------------------------------------------------------------------------------
// Expectations

export const DESC = {
  MH: 'Missing Authorization Header',
  IB: 'Invalid Authorization Bearer',
  IH: 'Invalid Authorization Header',
  MT: 'Malformed token',
  ALG: 'Invalid or unsupported algorithm',
  KID: 'Missing key ID in token header',
  TYP: 'Invalid token type',
  IAC: 'Invalid access token',
  SIG: 'Invalid token signature',
  EXP: 'Token has expired',
  NOEXP: 'Token missing expiration claim',
  AUD: 'Invalid token audience',
  ISS: 'Invalid token issuer',
  INS: 'Insufficient role, scope or permission',
  OWN: 'You do not have permission to access this resource',
  NF: 'Object not found',
  TU: 'Unable to verify the access token right now'
} as const
export type Tag = keyof typeof DESC

/** 401 with a challenge that carries no error attribute (no credentials, other scheme). */
export type Bare = 'MH' | 'IB'

export interface Expect {
  /** JWKS requests to A expected during the request (default 0). `null` skips the check. */
  jwks?: number | null
  /** `scope="..."` expected on a 403 challenge. */
  scope?: string
  /** Bare challenge (no error attribute): A1, A2, A6, A10. Bearer, then DPoP unless `dpopOff`. */
  bare?: boolean
  /** The app runs with dpop: false: a bare challenge is Bearer's alone. */
  dpopOff?: boolean
}

type Tap = Test

function statusOf (tag: Tag): { status: number, error: string } {
  if (tag === 'IH') return { status: 400, error: 'invalid_request' }
  if (tag === 'INS' || tag === 'OWN') return { status: 403, error: 'insufficient_scope' }
  if (tag === 'NF') return { status: 404, error: 'not_found' }
  if (tag === 'TU') return { status: 503, error: 'temporarily_unavailable' }
  return { status: 401, error: 'invalid_token' }
}

/** Asserts a refusal: status, body, exact challenge, no handler, JWKS requests. */
export function refused (t: Tap, out: Outcome, tag: Tag, realm: string, e: Expect = {}, label = ''): void {
  const { status, error } = statusOf(tag)
  const msg = (what: string): string => `${label}${label === '' ? '' : ': '}${what}`
  t.equal(out.status, status, msg(`status ${status}`))
  t.same(out.body, { error, error_description: DESC[tag] }, msg(`body ${tag}`))
  let challenge: string | undefined = `Bearer realm="${realm}"`
  if (e.bare !== true) challenge += `, error="${error}", error_description="${DESC[tag]}"`
  else if (e.dpopOff !== true) challenge += `, ${DPOP_OFFER}`
  if (e.scope !== undefined) challenge += `, scope="${e.scope}"`
  if (tag === 'TU' || tag === 'NF') challenge = undefined
  t.equal(out.headers['www-authenticate'], challenge, msg('challenge'))
  if (tag === 'TU') t.match(out.headers['retry-after'], /^\d+$/, msg('Retry-After'))
  t.equal(out.handled, 0, msg('handler did not run'))
  if (e.jwks !== null) t.equal(out.jwks, e.jwks ?? 0, msg('JWKS requests'))
}

/** Asserts a 200 that ran the handler once. */
export function accepted (t: Tap, out: Outcome, label = ''): void {
  t.equal(out.status, 200, `${label} 200`)
  t.equal(out.handled, 1, `${label} handler ran once`)
}

// ---------------------------------------------------------------------------------------------
// Real sockets

export async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as AddressInfo).port
}

export interface RawResponse {
  status: number
  /** Header names as sent on the wire, with values. */
  rawHeaders: string[]
  headers: Record<string, string>
  body: string
}

/** Sends raw bytes over TCP (Connection: close expected) and parses the answer. */
export function rawHttp (port: number, payload: string | Buffer, timeoutMs = 10000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('raw request timed out')) }, timeoutMs)
    socket.on('data', c => chunks.push(c))
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      const text = Buffer.concat(chunks).toString('latin1')
      const [head = '', ...rest] = text.split('\r\n\r\n')
      const lines = head.split('\r\n')
      const status = Number((lines[0] ?? '').split(' ')[1])
      const rawHeaders: string[] = []
      const headers: Record<string, string> = {}
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':')
        if (i === -1) continue
        const name = line.slice(0, i)
        const value = line.slice(i + 1).trim()
        rawHeaders.push(name, value)
        headers[name.toLowerCase()] = value
      }
      resolve({ status, rawHeaders, headers, body: rest.join('\r\n\r\n') })
    })
    socket.end(payload)
  })
}

/** A GET over a real socket with the given header lines. */
export function socketGet (port: number, path: string, headerLines: string[]): Promise<RawResponse> {
  return rawHttp(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headerLines.map(l => l + '\r\n').join('')}\r\n`)
}

/** node:http GET, for headers Node itself builds. */
export function httpGet (port: number, path: string, headers: Record<string, string>): Promise<{ status: number, headers: Record<string, unknown>, body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers, timeout: 10000 }, res => {
      const chunks: Buffer[] = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}

// ---------------------------------------------------------------------------------------------
// Logs

/** A pino destination collecting every line, for log assertions. */
export function logSink (): { stream: Writable, lines: string[] } {
  const lines: string[] = []
  let buf = ''
  const stream = new Writable({
    write (chunk, _enc, cb) {
      buf += chunk.toString()
      let i
      while ((i = buf.indexOf('\n')) !== -1) {
        lines.push(buf.slice(0, i))
        buf = buf.slice(i + 1)
      }
      cb()
    }
  })
  return { stream, lines }
}
