// Certificate-bound tokens (lib/mtls.ts, RFC 8705 §3) over real TLS on 127.0.0.1: the client
// certificate of the connection, its x5t#S256, the binding check, and the proxy sources
// (a header or a function) with strict certificate parsing.
import t from 'tap'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import {
  certificateThumbprint, checkCertificateBinding, clientCertificate, type MtlsSettings,
  parseCertificate, peerCertificate, resolveMtlsSettings
} from '../../lib/mtls.js'
import { AxiomsError } from '../../lib/errors.js'
import { certificateThumbprint as kitThumbprint } from '../../testing.js'
import { issue, type Issued, selfSigned, type TlsAnswer, tlsGet } from './certs.js'
import { confirmation } from '../../lib/checks.js'

const ca = await selfSigned('axioms test CA', true)
const server = await issue(ca, '127.0.0.1', '127.0.0.1')
const alice = await issue(ca, 'alice')
const bob = await issue(ca, 'bob')
const stranger = await selfSigned('self-signed client')

function reasonOf (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof AxiomsError) return err.reason
    throw err
  }
  return undefined
}

/** A route that reports the connection's certificate and checks a binding given in the query. */
function bindingRoute (app: FastifyInstance, settings: MtlsSettings): void {
  app.get('/bound', async (request: FastifyRequest<{ Querystring: { x5t?: string } }>, reply) => {
    let der: Buffer | undefined
    try {
      der = clientCertificate(settings, request)
      const expected = confirmation({ cnf: { 'x5t#S256': request.query.x5t } }, 'x5t#S256')
      checkCertificateBinding(expected as string, der)
      return { ok: true, x5t: certificateThumbprint(der as Buffer) }
    } catch (err) {
      const e = err as AxiomsError
      return reply.code(e.statusCode).send({ reason: e.reason, detail: e.detail ?? null, x5t: der === undefined ? null : certificateThumbprint(der) })
    }
  })
}

// Status and body: what these tests compare.
type Answer = Pick<TlsAnswer, 'status' | 'body'>

async function get (port: number, path: string, client?: Issued): Promise<Answer> {
  const { status, body } = await tlsGet(port, path, ca, client)
  return { status, body }
}

t.test('over a real TLS connection: the client certificate and its binding', async t => {
  const app = Fastify({ https: { key: server.key, cert: server.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: false } })
  t.teardown(() => app.close())
  bindingRoute(app, resolveMtlsSettings(undefined, {}))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const a = kitThumbprint(alice.cert)
  t.equal(a, kitThumbprint(alice.der), 'the kit reads PEM and DER alike')

  const ok = await get(port, `/bound?x5t=${a}`, alice)
  t.same(ok, { status: 200, body: { ok: true, x5t: a } }, 'the certificate the token names')
  const wrong = await get(port, `/bound?x5t=${a}`, bob)
  t.same(wrong, { status: 401, body: { reason: 'mtls_mismatch', detail: null, x5t: kitThumbprint(bob.cert) } }, 'another client of the same CA')
  const none = await get(port, `/bound?x5t=${a}`)
  t.same(none, { status: 401, body: { reason: 'mtls_no_certificate', detail: null, x5t: null } }, 'no client certificate')
  // RFC 8705 §2.2: a self-signed certificate binds too; the chain is not what is checked.
  const s = kitThumbprint(stranger.cert)
  t.same(await get(port, `/bound?x5t=${s}`, stranger), { status: 200, body: { ok: true, x5t: s } })
  t.same((await get(port, `/bound?x5t=${s}`, alice)).body.reason, 'mtls_mismatch')
})

t.test('plain HTTP has no client certificate, even with a header, when the socket is the source', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  bindingRoute(app, resolveMtlsSettings(undefined, {}))
  const res = await app.inject({ url: `/bound?x5t=${kitThumbprint(alice.cert)}`, headers: { 'x-ssl-client-cert': encodeURIComponent(alice.cert) } })
  t.same(res.json(), { reason: 'mtls_no_certificate', detail: null, x5t: null })
  t.equal(peerCertificate(undefined), undefined)
  t.equal(peerCertificate({}), undefined)
})

function rawGet (port: number, path: string, headerLines: string[]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')))
    socket.on('data', c => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString()
      const [head = '', body = ''] = text.split('\r\n\r\n')
      resolve({ status: Number(head.split(' ')[1]), body: JSON.parse(body) })
    })
    socket.end(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headerLines.map(l => l + '\r\n').join('')}\r\n`)
  })
}

t.test('TLS ended at a proxy: the certificate from a header, over a real socket', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  bindingRoute(app, resolveMtlsSettings({ certificateHeader: 'X-SSL-Client-Cert' }, {}))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const a = kitThumbprint(alice.cert)
  const path = `/bound?x5t=${a}`
  // nginx: $ssl_client_escaped_cert is the URL-encoded PEM.
  t.same(await rawGet(port, path, [`X-SSL-Client-Cert: ${encodeURIComponent(alice.cert)}`]), { status: 200, body: { ok: true, x5t: a } })
  // Some proxies send base64 DER, others PEM on one line.
  t.same((await rawGet(port, path, [`X-SSL-Client-Cert: ${alice.der.toString('base64')}`])).status, 200)
  t.same((await rawGet(port, path, [`X-SSL-Client-Cert: ${alice.cert.replace(/\r?\n/g, ' ')}`])).status, 200)
  t.same(await rawGet(port, path, [`X-SSL-Client-Cert: ${encodeURIComponent(bob.cert)}`]), { status: 401, body: { reason: 'mtls_mismatch', detail: null, x5t: kitThumbprint(bob.cert) } })
  t.same(await rawGet(port, path, []), { status: 401, body: { reason: 'mtls_no_certificate', detail: null, x5t: null } })
  t.same(await rawGet(port, path, ['X-SSL-Client-Cert: not a certificate']), { status: 401, body: { reason: 'mtls_bad_certificate', detail: 'unparsable', x5t: null } })
  // Two lines: Node joins them with ", ", which is no certificate.
  t.same((await rawGet(port, path, [`X-SSL-Client-Cert: ${encodeURIComponent(alice.cert)}`, `X-SSL-Client-Cert: ${encodeURIComponent(bob.cert)}`])).body.reason, 'mtls_bad_certificate')
})

t.test('TLS ended at a proxy: the certificate from a function', async t => {
  let supplied: unknown
  let seen: FastifyRequest | undefined
  const app = Fastify()
  t.teardown(() => app.close())
  bindingRoute(app, resolveMtlsSettings({ certificate: (request: FastifyRequest) => { seen = request; if (supplied instanceof Error) throw supplied; return supplied } }, {}))
  const a = kitThumbprint(alice.cert)
  const call = async (): Promise<Record<string, unknown>> => (await app.inject({ url: `/bound?x5t=${a}` })).json()
  for (const value of [alice.der, new Uint8Array(alice.der), alice.cert, encodeURIComponent(alice.cert)]) {
    supplied = value
    t.same(await call(), { ok: true, x5t: a }, typeof value)
  }
  t.ok(seen !== undefined && typeof seen.headers === 'object', 'called with the Fastify request')
  for (const value of [undefined, null, '']) {
    supplied = value
    t.equal((await call()).reason, 'mtls_no_certificate', String(value))
  }
  supplied = new Error('proxy header missing')
  t.same(await call(), { reason: 'mtls_bad_certificate', detail: 'function_threw', x5t: null })
  supplied = 42
  t.same(await call(), { reason: 'mtls_bad_certificate', detail: 'unparsable', x5t: null })
})

t.test('mtls: false never finds a certificate', async t => {
  const app = Fastify({ https: { key: server.key, cert: server.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: false } })
  t.teardown(() => app.close())
  bindingRoute(app, resolveMtlsSettings(false, {}))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  t.equal((await get(port, `/bound?x5t=${kitThumbprint(alice.cert)}`, alice)).body.reason, 'mtls_no_certificate')
})

t.test('parseCertificate is strict', async t => {
  const base64 = alice.der.toString('base64')
  const crlf = alice.cert.replace(/\n/g, '\r\n')
  for (const [value, label] of [
    [alice.der, 'DER'], [alice.cert, 'PEM'], [crlf, 'PEM with CRLF'], [`  ${alice.cert}\n\n`, 'PEM with surrounding space'],
    [encodeURIComponent(alice.cert), 'URL-encoded PEM'], [base64, 'base64 DER']
  ] as Array<[unknown, string]>) {
    t.same(parseCertificate(value), alice.der, label)
  }
  const trailing = Buffer.concat([alice.der, Buffer.from([0])])
  // A certificate whose base64 needs padding (DER length not a multiple of 3; it varies with the signature).
  let padded = [alice, bob, stranger, server, ca].find(c => c.der.length % 3 !== 0)
  for (let i = 0; padded === undefined && i < 20; i++) {
    const c = await selfSigned(`pad-${i}`)
    if (c.der.length % 3 !== 0) padded = c
  }
  const p64 = (padded as Issued).der.toString('base64')
  t.same(parseCertificate(p64), (padded as Issued).der, 'padded base64 DER')
  // Flip the last data character's unused low bits: the same bytes, another spelling.
  const data = p64.replace(/=+$/, '')
  const last = data.charCodeAt(data.length - 1)
  const twin = data.slice(0, -1) + String.fromCharCode(last === 0x2f ? 0x2b : last + 1) + p64.slice(data.length)
  t.same(Buffer.from(twin, 'base64'), (padded as Issued).der, 'the twin decodes to the same bytes')
  for (const [value, label] of [
    [Buffer.alloc(0), 'empty DER'], [trailing, 'DER with a trailing byte'], [alice.der.subarray(0, 100), 'truncated DER'],
    [alice.cert + bob.cert, 'two certificates'], [alice.cert.replace('-----END CERTIFICATE-----', '-----END CERTIFICATE-----x'), 'trailing text'],
    [alice.key, 'a private key'], [alice.cert.replace('CERTIFICATE', 'X509 CRL'), 'another PEM type'],
    [alice.cert.replace(/\n(.)/, '\n!$1'), 'a character outside base64'],
    [p64.replace(/=+$/, ''), 'base64 without its padding'], [`${base64}=`, 'extra padding'], [base64.slice(0, -1), 'a character short'], [twin, 'non-canonical padding bits'],
    [trailing.toString('base64'), 'base64 DER with a trailing byte'], ['%E0%A4%A', 'a broken escape'], ['', 'empty'], ['garbage', 'garbage'],
    [42, 'a number'], [null, 'null'], [{ raw: alice.der }, 'an object']
  ] as Array<[unknown, string]>) {
    t.equal(parseCertificate(value), undefined, label)
  }
})

t.test('confirmation (x5t#S256) and checkCertificateBinding', async t => {
  const a = kitThumbprint(alice.der)
  t.equal(confirmation({ cnf: { 'x5t#S256': a } }, 'x5t#S256'), a)
  t.equal(confirmation({ cnf: { jkt: a } }, 'x5t#S256'), undefined, 'DPoP-bound only')
  t.equal(confirmation({}, 'x5t#S256'), undefined)
  for (const cnf of ['x', null, [], { 'x5t#S256': 1 }, { 'x5t#S256': '' }, { 'x5t#S256': a + 'A' }, { 'x5t#S256': a.slice(0, -1) + '_' }, { 'x5t#S256': alice.der.toString('hex') }]) {
    t.equal(reasonOf(() => confirmation({ cnf }, 'x5t#S256')), 'mtls_bad_cnf', JSON.stringify(cnf))
  }
  t.equal(reasonOf(() => checkCertificateBinding(a, alice.der)), undefined)
  t.equal(reasonOf(() => checkCertificateBinding(a, bob.der)), 'mtls_mismatch')
  t.equal(reasonOf(() => checkCertificateBinding(a, undefined)), 'mtls_no_certificate')
  t.equal(certificateThumbprint(alice.der), a, 'the plugin and the kit agree')
})
