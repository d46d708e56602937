// HTTPS through CONNECT, end to end: an HTTPS test issuer (certificate from a CA generated here),
// an HTTP proxy and an HTTPS proxy with credentials, all on 127.0.0.1. The plugin trusts the CA
// the way an app behind a TLS-intercepting proxy would: NODE_EXTRA_CA_CERTS, read by Node at
// startup, so the app runs in a child process of its own (test/fixtures/proxy-tls-child.ts).
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTestIssuer } from '../../testing.js'
import { issue, selfSigned } from '../dpop/certs.js'
import { startProxy } from './server.js'

t.test('an HTTPS issuer through an HTTP proxy and an HTTPS proxy, with the CA from NODE_EXTRA_CA_CERTS', async t => {
  const ca = await selfSigned('axioms-proxy-test-ca', true)
  const tls = await issue(ca, 'idp', '127.0.0.1')
  const idp = await createTestIssuer({ tls })
  const big = await createTestIssuer({ tls, algorithms: ['ES256'] })
  const slow = await createTestIssuer({ tls, algorithms: ['ES256'] })
  t.teardown(async () => { await Promise.all([idp.close(), big.close(), slow.close()]) })
  big.setMode('big')
  slow.setMode('trickle')
  const plain = await startProxy(t)
  const secure = await startProxy(t, { tls: await issue(ca, 'proxy', '127.0.0.1'), auth: { user: 'svc-api', password: 's3cr:t/@' } })
  t.match(idp.url, /^https:\/\/127\.0\.0\.1:\d+$/)

  const dir = mkdtempSync(join(tmpdir(), 'axioms-proxy-ca-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const caFile = join(dir, 'ca.pem')
  writeFileSync(caFile, ca.cert)

  const script = fileURLToPath(new URL('../fixtures/proxy-tls-child.ts', import.meta.url))
  const input = { issuer: idp.issuer, token: idp.sign({}), proxies: [plain.url, secure.authUrl], big: big.jwksUri, trickle: slow.jwksUri }
  // The same loaders as this test process (tap's TypeScript import), so coverage maps agree.
  const child = spawn(process.execPath, [...process.execArgv, script, JSON.stringify(input)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile }
  })
  let out = ''
  child.stdout.on('data', d => { out += String(d) })
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const exit = await new Promise(resolve => child.on('exit', (c, sig) => resolve(sig ?? c)))
  clearTimeout(killer)
  t.equal(exit, 0, 'the child exited by itself: nothing left open')
  const got = JSON.parse(out) as { direct: number, proxied: number[], big: string, trickle: string }
  t.equal(got.direct, 200, 'the CA is trusted on the direct path (Node\'s fetch)')
  t.same(got.proxied, [200, 200], 'and through each proxy (undici\'s fetch, TLS inside the tunnel)')
  t.equal(got.big, 'too_large', 'a 10 MB body through the tunnel is cut at jwksMaxBytes')
  t.equal(got.trickle, 'timeout', 'a trickled body through the tunnel is cut by the deadline')

  const host = idp.url.slice('https://'.length)
  t.same(plain.passed.filter(p => p.target === host).map(p => p.method), ['CONNECT', 'CONNECT'], 'discovery and JWKS, each through CONNECT')
  t.same(plain.passed.map(p => p.target).sort(), [host, host, big.url.slice(8), slow.url.slice(8)].sort())
  t.same(secure.passed.map(p => [p.method, p.target, p.auth]), [
    ['CONNECT', host, `Basic ${Buffer.from('svc-api:s3cr:t/@').toString('base64')}`],
    ['CONNECT', host, `Basic ${Buffer.from('svc-api:s3cr:t/@').toString('base64')}`]
  ], 'the HTTPS proxy got the credentials inside its own TLS')
})
