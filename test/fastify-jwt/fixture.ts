// verifier 'fastify-jwt' against the real @fastify/jwt and get-jwks, wired as @fastify/jwt's README
// JWKS example shows (get-jwks' getPublicKey from the token's header and `iss`), with get-jwks'
// issuersWhitelist set to the test issuers. get-jwks builds the JWKS URL from `iss`, so the issuers
// here are the test kit's own URLs (http://127.0.0.1:PORT) rather than the corpus' fixed names.
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions, type InjectOptions } from 'fastify'
import fjwt, { type FastifyJWTOptions, type JwtHeader, type TokenOrHeader } from '@fastify/jwt'
import buildGetJwks from 'get-jwks'
import axioms, { type AxiomsOptions } from '../../index.js'
import { createTestIssuer, signJws, type TestIssuer, type TestKey } from '../../testing.js'
import { mountApi, type Outcome } from '../attacks/harness.js'

export const API = 'https://api.test'

export interface World {
  a: TestIssuer
  b: TestIssuer
  /** A's keys: rs, es, ps, ed, rs512, shared; B's: sharedB, b. */
  k: { rs: TestKey, es: TestKey, ps: TestKey, ed: TestKey, rs512: TestKey, shared: TestKey, sharedB: TestKey, b: TestKey }
  close: () => Promise<void>
}

export async function createWorld (): Promise<World> {
  const a = await createTestIssuer({ algorithms: ['RS256'], audience: API })
  const b = await createTestIssuer({ algorithms: ['ES256'], audience: API })
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
  return { a, b, k, close: async () => { await Promise.all([a.close(), b.close()]) } }
}

export type Claims = Record<string, unknown>
export const now = (): number => Math.floor(Date.now() / 1000)

/** V's claims with A's served issuer; `undefined` drops a claim. */
export function claimsV (world: World, over: Claims = {}): Claims {
  const t = now()
  const c: Claims = { iss: world.a.issuer, aud: API, sub: 'user-1', client_id: 'c1', iat: t, exp: t + 300, jti: randomUUID(), scope: 'items:read', ...over }
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
  return signJws(headerFor(key, header), claimsV(world, claims), key)
}

export interface Api {
  app: FastifyInstance
  realm: string
  readonly calls: number
  seen: unknown[]
  call: (opts: InjectOptions | string) => Promise<Outcome>
  get: (token: string, url?: string, method?: InjectOptions['method']) => Promise<Outcome>
}

export interface ApiOptions {
  /** 'S': profile rfc9068 and algorithms RS256, ES256. */
  profile?: 'D' | 'S'
  /** Merged over the defaults; `undefined` drops one (e.g. `issuer` for `issuers`). */
  options?: { [K in keyof AxiomsOptions]?: AxiomsOptions[K] | undefined }
  /** get-jwks options; default `{ issuersWhitelist: [A, B] }`. */
  getJwks?: Parameters<typeof buildGetJwks>[0]
  /** Extra @fastify/jwt options (merged over the README's). */
  jwt?: Partial<FastifyJWTOptions>
  /** Register @fastify/jwt after axioms-fastify (its check waits for onReady). */
  jwtAfter?: boolean
  fastify?: FastifyServerOptions
  routes?: (app: FastifyInstance, spy: (request: { authJwt: unknown }) => void) => void
}

/** @fastify/jwt as its README's JWKS example registers it, keys from `getJwks`. */
export async function registerFastifyJwt (app: FastifyInstance, getJwks: ReturnType<typeof buildGetJwks>, extra: Partial<FastifyJWTOptions> = {}): Promise<void> {
  await app.register(fjwt, {
    decode: { complete: true },
    secret: async (_request: FastifyRequest, token: TokenOrHeader) => {
      const { header: { kid, alg }, payload: { iss } } = token as { header: JwtHeader & { kid: string }, payload: { iss: string } }
      return getJwks.getPublicKey({ kid, domain: iss, alg })
    },
    ...extra
  })
}

/** The corpus' routes behind axioms-fastify in 'fastify-jwt' mode; counts handler calls and fetches. */
export async function createApi (t: { teardown: (fn: () => unknown) => void }, world: World, o: ApiOptions = {}): Promise<Api> {
  const app = Fastify({ pluginTimeout: 60000, ...o.fastify })
  t.teardown(() => app.close())
  const getJwks = buildGetJwks(o.getJwks ?? { issuersWhitelist: [world.a.issuer, world.b.issuer] })
  const merged: Record<string, unknown> = {
    verifier: 'fastify-jwt',
    issuer: world.a.issuer,
    audience: API,
    env: {},
    ...(o.profile === 'S' ? { profile: 'rfc9068', algorithms: ['RS256', 'ES256'] } : {}),
    ...o.options
  }
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k]
  const options = merged as AxiomsOptions
  if (o.jwtAfter !== true) await registerFastifyJwt(app, getJwks, o.jwt)
  await app.register(axioms, options)
  if (o.jwtAfter === true) await registerFastifyJwt(app, getJwks, o.jwt)
  const issuer = options.issuers?.[0]?.issuer ?? options.issuer
  return await mountApi(app, world, options.realm ?? (Array.isArray(issuer) ? issuer[0] as string : issuer as string), o)
}
