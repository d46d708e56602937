// Runs the compiled app (check.mjs runs it for every setting compiled with the project's TypeScript).
import assert from 'node:assert/strict'
import { createTestIssuer } from 'axioms-fastify/testing'
import { buildApp, describeError, scopesOf } from './app.js'

async function main (): Promise<void> {
  const idp = await createTestIssuer({ audience: 'orders-api' })
  const app = await buildApp({ issuer: idp.issuer, audience: 'orders-api' })
  const call = async (method: 'GET' | 'DELETE', url: string, token?: string) =>
    await app.inject({ method, url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })

  const ok = await call('GET', '/orders', idp.sign({ sub: 'customer-42', scope: 'orders:read', tenant: 't1' }))
  assert.equal(ok.statusCode, 200)
  assert.deepEqual(ok.json(), { customer: 'customer-42', tenant: 't1', expires: true })
  const missing = await call('GET', '/orders')
  assert.equal(missing.statusCode, 401)
  assert.deepEqual(missing.json(), { error: 'invalid_token', error_description: 'Missing Authorization Header' })
  // DPoP is accepted by default: the bare challenge offers both schemes.
  assert.equal(missing.headers['www-authenticate'], `Bearer realm="${idp.issuer}", DPoP algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"`)
  assert.equal((await call('DELETE', '/orders/1', idp.sign({ roles: ['viewer'] }))).statusCode, 403)
  assert.equal((await call('DELETE', '/orders/1', idp.sign({ roles: ['admin'] }))).statusCode, 200)
  assert.equal((await call('GET', '/articles/a1', idp.sign({ sub: 'owner-1' }))).statusCode, 200)
  assert.equal((await call('GET', '/articles/a1', idp.sign({ sub: 'someone-else' }))).statusCode, 403)
  assert.deepEqual((await call('GET', '/feed')).json(), { anonymous: true })
  assert.equal(describeError(await app.axioms.verify('a.b.c').catch((e: unknown) => e)), 'AXIOMS_MALFORMED 401 invalid_token')
  assert.deepEqual(scopesOf({ scope: 'a b' }), ['a', 'b'])
  await app.close()
  await idp.close()
  console.log(`ran ${process.argv[2] ?? ''}: ok`)
}

main().catch((err: unknown) => { console.error(err); process.exit(1) })
