// Shared set-up of the key-management suites: a test issuer, a fresh Fastify app with the plugin
// and one protected route whose handler counts its calls, plus a captured log.
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { Writable } from 'node:stream'
import axioms, { type AxiomsOptions } from '../index.js'
import { createTestIssuer, type TestIssuer, type TestIssuerOptions } from '../testing.js'

export interface Teardown { teardown: (fn: () => unknown) => void }

export interface Rig {
  idp: TestIssuer
  app: FastifyInstance
  /** GET /p with `Bearer token`. */
  call: (token: string) => Promise<LightMyRequestResponse>
  /** Handler runs so far. */
  calls: () => number
  /** Parsed log lines at warn level and above. */
  logs: Array<Record<string, unknown>>
}

export async function issuer (t: Teardown, opts: TestIssuerOptions = {}): Promise<TestIssuer> {
  const idp = await createTestIssuer(opts)
  t.teardown(() => idp.close())
  return idp
}

export async function rig (t: Teardown, options: AxiomsOptions = {}, idp?: TestIssuer): Promise<Rig> {
  const i = idp ?? await issuer(t)
  const logs: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk, _enc, cb) {
      logs.push(JSON.parse(String(chunk)) as Record<string, unknown>)
      cb()
    }
  })
  const app = Fastify({ logger: { level: 'warn', stream } })
  t.teardown(() => app.close())
  await app.register(axioms, { audience: 'your-api-audience', issuer: i.issuer, env: {}, ...options })
  let calls = 0
  app.get('/p', { preHandler: app.hasValidAccessToken() }, async () => { calls++; return { ok: true } })
  return {
    idp: i,
    app,
    call: async token => app.inject({ url: '/p', headers: { authorization: `Bearer ${token}` } }),
    calls: () => calls,
    logs
  }
}

export const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: 'Unable to verify the access token right now' }
export const INVALID = { error: 'invalid_token', error_description: 'Invalid access token' }

/** Asserts the SPEC §6 503: body, Retry-After, no challenge. */
export function is503 (t: { equal: Function, same: Function, ok: Function }, res: LightMyRequestResponse, name = '503'): void {
  t.equal(res.statusCode, 503, name)
  t.same(res.json(), UNAVAILABLE, name)
  t.ok(Number(res.headers['retry-after']) > 0, `${name}: Retry-After`)
  t.equal(res.headers['www-authenticate'], undefined, `${name}: no challenge`)
}

export function is401 (t: { equal: Function, same: Function, match: Function }, res: LightMyRequestResponse, body = INVALID, name = '401'): void {
  t.equal(res.statusCode, 401, name)
  t.same(res.json(), body, name)
  t.match(res.headers['www-authenticate'], /^Bearer realm=".*", error="invalid_token"/, name)
}

export const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** Polls until cond() holds or the bound passes; returns whether it held. */
export async function until (cond: () => boolean, boundMs = 10_000): Promise<boolean> {
  const end = Date.now() + boundMs
  while (!cond()) {
    if (Date.now() > end) return false
    await sleep(25)
  }
  return true
}
