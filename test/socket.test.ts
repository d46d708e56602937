// Header edge cases that only a real socket shows: raw requests written with node:net to an app
// listening on 127.0.0.1, so Node's own header handling is part of the test.
import t from 'tap'
import { connect } from 'node:net'
import Fastify from 'fastify'
import axioms from '../index.js'
import { createTestIssuer } from '../testing.js'
import { offered } from './fixture.js'

interface Raw { status: number, headers: Record<string, string>, body: string }

// Writes a raw request and reads until the server closes the connection (Connection: close).
function raw (port: number, head: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    const chunks: Buffer[] = []
    socket.setTimeout(20000, () => socket.destroy(new Error('socket timeout')))
    socket.on('data', c => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1')
      const split = text.indexOf('\r\n\r\n')
      const lines = text.slice(0, split).split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':')
        headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
      }
      resolve({ status: Number(lines[0]?.split(' ')[1]), headers, body: text.slice(split + 4) })
    })
    socket.end(head.replace(/\n/g, '\r\n') + '\r\n')
  })
}

t.test('header edge cases over a real socket', async t => {
  const idp = await createTestIssuer()
  t.teardown(() => idp.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(axioms, { audience: 'your-api-audience', issuer: idp.issuer, env: {} })
  let calls = 0
  app.get('/cfg', { config: { axioms: { scopes: ['a'] } } }, async () => { calls++; return { ok: true } })
  app.get('/hook', { preHandler: [app.hasValidAccessToken(), app.hasRequiredScopes(['a'])] }, async () => { calls++; return { ok: true } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const realm = idp.issuer
  const token = idp.sign({ scope: 'a' })
  const request = (path: string, lines: string[], method = 'GET'): Promise<Raw> =>
    raw(port, `${method} ${path} HTTP/1.1\nHost: 127.0.0.1\nConnection: close\n${lines.map(l => l + '\n').join('')}`)

  for (const path of ['/cfg', '/hook']) {
    const ok = await request(path, [`Authorization: Bearer ${token}`])
    t.equal(ok.status, 200, `${path}: one good header`)

    const two = await request(path, [`Authorization: Bearer ${token}`, `Authorization: Bearer ${token}`])
    t.equal(two.status, 400, `${path}: two Authorization lines`)
    t.same(JSON.parse(two.body), { error: 'invalid_request', error_description: 'Invalid Authorization Header' })
    t.equal(two.headers['www-authenticate'], `Bearer realm="${realm}", error="invalid_request", error_description="Invalid Authorization Header"`)
    const mixed = await request(path, [`Authorization: Bearer ${token}`, 'authorization: Basic abc'])
    t.equal(mixed.status, 400, `${path}: two lines, different case and scheme`)

    const big = await request(path, [`Authorization: Bearer ${'a'.repeat(9 * 1024)}`])
    t.equal(big.status, 401, `${path}: 9 KiB token`)
    t.same(JSON.parse(big.body), { error: 'invalid_token', error_description: 'Malformed token' })
    t.equal(big.headers['www-authenticate'], `Bearer realm="${realm}", error="invalid_token", error_description="Malformed token"`)

    const huge = await request(path, [`Authorization: Bearer ${'a'.repeat(17 * 1024)}`])
    t.equal(huge.status, 431, `${path}: header over 16 KiB is refused by Node`)

    const spaces = await request(path, ['Authorization: Bearer     '])
    t.equal(spaces.status, 401, `${path}: Bearer with trailing spaces`)
    t.same(JSON.parse(spaces.body), { error: 'invalid_token', error_description: 'Invalid Authorization Bearer' })
    t.equal(spaces.headers['www-authenticate'], `Bearer realm="${realm}", error="invalid_token", error_description="Invalid Authorization Bearer"`)

    const head = await request(path, [], 'HEAD')
    t.equal(head.status, 401, `${path}: HEAD without a token`)
    t.equal(head.headers['www-authenticate'], offered(realm))
    t.equal(head.body, '', 'no body')

    const padded = await request(path, [`Authorization:    Bearer ${token}   `])
    t.equal(padded.status, 200, `${path}: optional whitespace around the value`)
  }
  t.equal(calls, 4, 'the handler ran only for the good requests')
})
