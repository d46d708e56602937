// The setup most tests share: a local test issuer and a fresh Fastify app with the plugin
// registered against it, both closed when the test ends.
import type { Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import axioms, { type AxiomsOptions } from '../index.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'

export interface Fixture { app: FastifyInstance, idp: TestIssuer }

/**
 * The DPoP challenge that follows the Bearer one on a 401 without usable credentials, DPoP being
 * accepted by default (dpop.mode 'allowed', every algorithm).
 */
export const DPOP_OFFER = 'DPoP algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"'

/** The challenge of a 401 without usable credentials, by default: Bearer, then DPoP. */
export const offered = (realm: string): string => `Bearer realm="${realm}", ${DPOP_OFFER}`

export async function appWithIssuer (t: Test, options: AxiomsOptions = {}): Promise<Fixture> {
  const idp = await testIssuer(t)
  const app = await appWith(t, { issuer: idp.issuer, ...options })
  return { app, idp }
}

/** The same with two issuers, both trusted through `issuers`. */
export async function appWithTwoIssuers (t: Test, options: AxiomsOptions = {}): Promise<{ app: FastifyInstance, a: TestIssuer, b: TestIssuer }> {
  const a = await testIssuer(t)
  const b = await testIssuer(t)
  const app = await appWith(t, { issuers: [{ issuer: a.issuer }, { issuer: b.issuer }], ...options })
  return { app, a, b }
}

async function testIssuer (t: Test): Promise<TestIssuer> {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  return idp
}

async function appWith (t: Test, options: AxiomsOptions): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { audience: 'your-api-audience', env: {}, ...options })
  return app
}
