// The setup most tests share: a local test issuer and a fresh Fastify app with the plugin
// registered against it, both closed when the test ends.
import type { Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import axioms, { type AxiomsOptions } from '../index.js'
import { createTestIssuer, type TestIssuer } from '../testing.js'

export interface Fixture { app: FastifyInstance, idp: TestIssuer }

export async function appWithIssuer (t: Test, options: AxiomsOptions = {}): Promise<Fixture> {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {}, ...options })
  return { app, idp }
}
