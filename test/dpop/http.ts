// Shared by the HTTP-level DPoP and mTLS tests: a test issuer and an app with the plugin and a few
// routes that count handler calls, requests with `Authorization: DPoP` and a fresh proof, and one
// assertion per refusal (status, body, exact challenge, DPoP-Nonce, Retry-After, handler not run).
// The expected challenges are spelled out here by hand, not built with the plugin's code.
import type { ServerOptions as HttpsServerOptions } from 'node:https'
import type { Test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyServerOptions, type InjectOptions } from 'fastify'
import axioms, { type AxiomsOptions } from '../../index.js'
import {
  createDpopProof, createTestIssuer, type DpopKey, type DpopProofOptions, generateDpopKey, signDpopBoundToken,
  type TestIssuer
} from '../../testing.js'

export const ALL_ALGS = 'RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA'
/** The `algs` parameter of every DPoP challenge with the default `dpop.algorithms`. */
export const ALGS = `algs="${ALL_ALGS}"`
/** The bare DPoP challenge (no credentials, or a scheme this route does not accept). */
export const DPOP_BARE = `DPoP ${ALGS}`

export const dpopChallenge = (error: string, description: string, extra = ''): string =>
  `DPoP error="${error}", error_description="${description}"${extra}, ${ALGS}`
export const bearerChallenge = (realm: string, error: string, description: string, extra = ''): string =>
  `Bearer realm="${realm}", error="${error}", error_description="${description}"${extra}`

/** inject() talks to `localhost:80`: the URL every proof of an injected request names. */
export const BASE = 'http://localhost'

export interface Out {
  status: number
  headers: Record<string, string | string[] | number | undefined>
  body: unknown
  /** Handler calls during this request. */
  handled: number
}

export interface Rig {
  app: FastifyInstance
  idp: TestIssuer
  /** The client's DPoP key (ES256). */
  key: DpopKey
  realm: string
  readonly calls: number
  /** Claims the handlers saw, in order. */
  seen: unknown[]
  /** A token bound to `key` (or `to`), scope `items:read` unless claims say otherwise. */
  bound: (claims?: Record<string, unknown>, to?: DpopKey) => string
  /** A plain bearer token, scope `items:read` unless claims say otherwise. */
  plain: (claims?: Record<string, unknown>) => string
  /** A fresh proof for `url` and `token` by `key` (or `options.key`). */
  proof: (token: string, url?: string, options?: Partial<DpopProofOptions> & { key?: DpopKey }) => string
  /** Injects a request and counts handler calls around it. */
  call: (opts: InjectOptions) => Promise<Out>
  /** `Authorization: DPoP <token>` with a fresh proof (or `proof`, or none when `proof` is null). */
  dpop: (token: string, url?: string, options?: Partial<DpopProofOptions> & { key?: DpopKey, proof?: string | null, headers?: Record<string, string> }) => Promise<Out>
  /** `Authorization: Bearer <token>`. */
  bearer: (token: string, url?: string, method?: NonNullable<InjectOptions['method']>) => Promise<Out>
}

export interface RigOptions {
  options?: AxiomsOptions
  /** Fastify's options; `https` for a TLS server (the app is then listened on by the test). */
  fastify?: FastifyServerOptions & { https?: HttpsServerOptions }
  /** Routes added after the plugin, before the default ones; `spy` counts a handler call. */
  routes?: (app: FastifyInstance, spy: (request: { authJwt: unknown }) => void) => void
  /** The issuer to trust (default: a new one, closed with the test). */
  idp?: TestIssuer
  ready?: boolean
  /** Registers other plugins before axioms-fastify (@fastify/auth, ...). */
  before?: (app: FastifyInstance) => Promise<unknown>
  /** Add GET /dpop-only (not possible with DPoP disabled). Default true. */
  dpopRoute?: boolean
}

/**
 * An app with GET/POST /items (`config.axioms.scopes`), GET /any (`config.axioms: {}`) and
 * GET /dpop-only (`config.axioms.dpop: true`, unless `dpopRoute: false`), plus `routes`.
 */
export async function rig (t: Test, o: RigOptions = {}): Promise<Rig> {
  let idp = o.idp
  if (idp === undefined) {
    const own = await createTestIssuer()
    t.teardown(() => own.close())
    idp = own
  }
  // One instance type for both: the tests only inject or listen.
  const app = Fastify({ pluginTimeout: 60_000, ...o.fastify } as FastifyServerOptions)
  t.teardown(() => app.close())
  await o.before?.(app)
  await app.register(axioms, idp.pluginOptions(o.options))
  let calls = 0
  const seen: unknown[] = []
  const spy = (request: { authJwt: unknown }): void => { calls++; seen.push(request.authJwt) }
  o.routes?.(app, spy)
  app.get('/items', { config: { axioms: { scopes: ['items:read'] } } }, async request => { spy(request); return { ok: true } })
  app.post('/items', { config: { axioms: { scopes: ['items:write'] } } }, async request => { spy(request); return { ok: true } })
  app.get('/any', { config: { axioms: {} } }, async request => { spy(request); return { ok: true } })
  if (o.dpopRoute !== false) app.get('/dpop-only', { config: { axioms: { dpop: true } } }, async request => { spy(request); return { ok: true } })
  if (o.ready !== false) await app.ready()
  const key = generateDpopKey('ES256')
  const issuer = idp
  const call = async (opts: InjectOptions): Promise<Out> => {
    const before = calls
    const res = await app.inject(opts)
    let body: unknown
    try { body = res.json() } catch { body = res.body }
    return { status: res.statusCode, headers: res.headers, body, handled: calls - before }
  }
  const proof: Rig['proof'] = (token, url = '/items', options = {}) => {
    const { key: by = key, ...rest } = options
    return createDpopProof(by, { htu: BASE + url, accessToken: token, ...rest })
  }
  return {
    app,
    idp,
    key,
    realm: idp.issuer,
    get calls () { return calls },
    seen,
    bound: (claims = {}, to = key) => signDpopBoundToken(issuer, to, { scope: 'items:read', ...claims }),
    plain: (claims = {}) => issuer.sign({ scope: 'items:read', ...claims }),
    proof,
    call,
    dpop: async (token, url = '/items', options = {}) => {
      const { proof: given, headers = {}, ...rest } = options
      const method = (rest.htm ?? 'GET') as NonNullable<InjectOptions['method']>
      const dpopHeader = given === null ? {} : { dpop: given ?? proof(token, url, rest) }
      return await call({ method, url, headers: { authorization: `DPoP ${token}`, ...dpopHeader, ...headers } })
    },
    bearer: async (token, url = '/items', method = 'GET') => await call({ method, url, headers: { authorization: `Bearer ${token}` } })
  }
}

export interface Refusal {
  status: number
  error: string
  description: string
  /** The exact WWW-Authenticate, or undefined for none. */
  challenge: string | undefined
  /** The exact DPoP-Nonce, or undefined for none (the default). */
  nonce?: string | undefined
  /** The exact Retry-After, or undefined for none (the default). */
  retryAfter?: string | undefined
}

/** Asserts a refusal: status, body, challenge, DPoP-Nonce, Retry-After and that no handler ran. */
export function refused (t: Test, out: Out, r: Refusal, label: string): void {
  t.equal(out.status, r.status, `${label}: status ${r.status}`)
  t.same(out.body, { error: r.error, error_description: r.description }, `${label}: body`)
  t.equal(out.headers['www-authenticate'], r.challenge, `${label}: WWW-Authenticate`)
  t.equal(out.headers['dpop-nonce'], r.nonce, `${label}: DPoP-Nonce`)
  t.equal(out.headers['retry-after'], r.retryAfter, `${label}: Retry-After`)
  t.equal(out.handled, 0, `${label}: the handler did not run`)
}

/** Asserts a 200 that ran the handler once. */
export function passed (t: Test, out: Out, label: string): void {
  t.equal(out.status, 200, `${label}: 200`)
  t.equal(out.handled, 1, `${label}: the handler ran once`)
}

/** A proof-fault refusal (401 invalid_dpop_proof on the DPoP challenge). */
export const proofFault = (description: string, nonce?: string): Refusal =>
  ({ status: 401, error: 'invalid_dpop_proof', description, challenge: dpopChallenge('invalid_dpop_proof', description), nonce })

/** The replay store could not answer: 503, no challenge, Retry-After 5. */
export const STORE_DOWN: Refusal = { status: 503, error: 'temporarily_unavailable', description: 'Unable to check the DPoP proof right now', challenge: undefined, retryAfter: '5' }

export const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
