// Certificate-bound tokens through Fastify (RFC 8705 §3): over a real TLS server on 127.0.0.1 that
// asks for client certificates, a token with cnf["x5t#S256"] is accepted exactly when the
// connection's certificate matches; with DPoP too, both bindings must hold. Where TLS ends at a
// proxy, mtls.certificateHeader / mtls.certificate(request) say where the certificate is, and are
// trusted as given. Every certificate and key is generated here.
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import type { AxiomsOptions } from '../../index.js'
import { certificateThumbprint, createDpopProof, createTestIssuer, generateDpopKey, type DpopKey } from '../../testing.js'
import { logSink } from '../attacks/harness.js'
import { issue, type Issued, selfSigned, tlsGet } from './certs.js'
import { bearerChallenge, dpopChallenge, type Out, passed, refused, rig, type Rig } from './http.js'

const idp = await createTestIssuer()
t.teardown(() => idp.close())
const ca = await selfSigned('axioms test CA', true)
const serverCert = await issue(ca, '127.0.0.1', '127.0.0.1')
const alice = await issue(ca, 'alice')
const bob = await issue(ca, 'bob')
const stranger = await selfSigned('self-signed client')

const x5t = (c: Issued): string => certificateThumbprint(c.cert)
const certBound = (s: Rig, c: Issued, claims: Record<string, unknown> = {}): string => s.plain({ cnf: { 'x5t#S256': x5t(c) }, ...claims })
const bothBound = (s: Rig, c: Issued, key: DpopKey = s.key): string => s.plain({ cnf: { jkt: key.jkt, 'x5t#S256': x5t(c) } })

const MISMATCH = 'Access token is not bound to the client certificate'
const REQUIRED = 'Client certificate required'
const INVALID_CERT = 'Invalid client certificate'

interface TlsServer extends Rig { port: number, get: (headers: Record<string, string>, client?: Issued, path?: string) => Promise<Out> }

async function tlsServer (t: Test, options: AxiomsOptions = {}): Promise<TlsServer> {
  const s = await rig(t, {
    idp,
    options,
    fastify: { https: { key: serverCert.key, cert: serverCert.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: false } }
  })
  await s.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (s.app.server.address() as AddressInfo).port
  const get = async (headers: Record<string, string>, client?: Issued, path = '/items'): Promise<Out> => {
    const before = s.calls
    const res = await tlsGet(port, path, ca, client, headers)
    return { status: res.status, headers: res.headers as Out['headers'], body: res.body, handled: s.calls - before }
  }
  return Object.assign(s, { port, get })
}

t.test('over TLS: a certificate-bound token is accepted exactly with the matching client certificate', async t => {
  const s = await tlsServer(t)
  const token = certBound(s, alice)
  const bearer = { authorization: `Bearer ${token}` }
  passed(t, await s.get(bearer, alice), 'alice\'s token, alice\'s certificate')
  t.same((s.seen[0] as { cnf: unknown }).cnf, { 'x5t#S256': x5t(alice) })
  const mismatch = { status: 401, error: 'invalid_token', description: MISMATCH, challenge: bearerChallenge(s.realm, 'invalid_token', MISMATCH) }
  refused(t, await s.get(bearer, bob), mismatch, 'bob\'s certificate (same CA)')
  refused(t, await s.get(bearer, stranger), mismatch, 'a self-signed certificate')
  refused(t, await s.get(bearer), { status: 401, error: 'invalid_token', description: REQUIRED, challenge: bearerChallenge(s.realm, 'invalid_token', REQUIRED) }, 'no certificate')
  // The chain is not what binds (RFC 8705 §2.2): a self-signed certificate works for its own token.
  passed(t, await s.get({ authorization: `Bearer ${certBound(s, stranger)}` }, stranger), 'a self-signed certificate for its own token')
  passed(t, await s.get({ authorization: `Bearer ${s.plain()}` }, alice), 'a plain token with a certificate')
  passed(t, await s.get({ authorization: `Bearer ${s.plain()}` }), 'a plain token without one')
  const htu = `https://127.0.0.1:${s.port}/items`
  refused(t, await s.get({ authorization: `DPoP ${token}`, dpop: createDpopProof(s.key, { htu, accessToken: token }) }, alice),
    { status: 401, error: 'invalid_token', description: 'Access token is not DPoP-bound', challenge: dpopChallenge('invalid_token', 'Access token is not DPoP-bound') }, 'a certificate-bound token over DPoP')
  t.equal(s.calls, 4)
})

t.test('over TLS: a token bound to both a DPoP key and a certificate needs both', async t => {
  const s = await tlsServer(t)
  const htu = `https://127.0.0.1:${s.port}/items`
  const token = bothBound(s, alice)
  const dpop = (proofKey: DpopKey = s.key): Record<string, string> => ({ authorization: `DPoP ${token}`, dpop: createDpopProof(proofKey, { htu, accessToken: token }) })
  passed(t, await s.get(dpop(), alice), 'the proof and the certificate')
  refused(t, await s.get(dpop()), { status: 401, error: 'invalid_token', description: REQUIRED, challenge: dpopChallenge('invalid_token', REQUIRED) }, 'the proof, no certificate')
  refused(t, await s.get(dpop(), bob), { status: 401, error: 'invalid_token', description: MISMATCH, challenge: dpopChallenge('invalid_token', MISMATCH) }, 'the proof, another certificate')
  const thief = generateDpopKey('ES256')
  refused(t, await s.get(dpop(thief), alice), { status: 401, error: 'invalid_token', description: 'Access token is not bound to the DPoP proof key', challenge: dpopChallenge('invalid_token', 'Access token is not bound to the DPoP proof key') }, 'the certificate, another key\'s proof')
  refused(t, await s.get({ authorization: `DPoP ${token}` }, alice), { status: 401, error: 'invalid_dpop_proof', description: 'Missing DPoP proof', challenge: dpopChallenge('invalid_dpop_proof', 'Missing DPoP proof') }, 'the certificate, no proof')
  refused(t, await s.get({ authorization: `Bearer ${token}` }, alice), { status: 401, error: 'invalid_token', description: 'DPoP-bound access token requires the DPoP scheme', challenge: bearerChallenge(s.realm, 'invalid_token', 'DPoP-bound access token requires the DPoP scheme') }, 'the certificate, as Bearer')
  t.equal(s.calls, 1)
})

t.test('mtls.certificateHeader (TLS ended at a proxy): the header is the certificate, the socket is not read', async t => {
  for (const [label, options] of [
    ['option', { mtls: { certificateHeader: 'X-Client-Cert' } }],
    ['AXIOMS_MTLS_CERTIFICATE_HEADER', { env: { AXIOMS_MTLS_CERTIFICATE_HEADER: 'x-client-cert' } }]
  ] as Array<[string, AxiomsOptions]>) {
    const { stream, lines } = logSink()
    const s = await rig(t, { idp, options, fastify: { logger: { level: 'debug', stream } } })
    const token = certBound(s, alice)
    const send = (cert?: string): Promise<Out> => s.call({ url: '/items', headers: { authorization: `Bearer ${token}`, ...(cert === undefined ? {} : { 'x-client-cert': cert }) } })
    const base64Der = alice.der.toString('base64')
    passed(t, await send(encodeURIComponent(alice.cert)), `${label}: URL-encoded PEM (nginx $ssl_client_escaped_cert)`)
    passed(t, await send(base64Der), `${label}: base64 DER`)
    passed(t, await send(alice.cert.replace(/\n/g, ' ').trim()), `${label}: PEM with its line breaks folded`)
    const invalid = { status: 401, error: 'invalid_token', description: INVALID_CERT, challenge: bearerChallenge(s.realm, 'invalid_token', INVALID_CERT) }
    refused(t, await send(encodeURIComponent(bob.cert)), { status: 401, error: 'invalid_token', description: MISMATCH, challenge: bearerChallenge(s.realm, 'invalid_token', MISMATCH) }, `${label}: bob's certificate`)
    refused(t, await send('not a certificate'), invalid, `${label}: garbage`)
    refused(t, await send(base64Der + 'AAAA'), invalid, `${label}: trailing bytes`)
    refused(t, await send(encodeURIComponent(alice.cert + bob.cert)), invalid, `${label}: two certificates`)
    refused(t, await send('%E0%A4%A'), invalid, `${label}: a broken escape`)
    t.match(lines.map(l => JSON.parse(l) as Record<string, unknown>).filter(l => l.msg === 'axioms: request refused').at(-1), { reason: 'mtls_bad_certificate', cause: 'unparsable' }, `${label}: logged with its cause`)
    refused(t, await send(), { status: 401, error: 'invalid_token', description: REQUIRED, challenge: bearerChallenge(s.realm, 'invalid_token', REQUIRED) }, `${label}: no header`)
    // The risk the README states: whoever can reach the app around the proxy sets the header.
    passed(t, await send(encodeURIComponent(alice.cert)), `${label}: trusted as given, with no TLS at all`)
  }
  const s = await tlsServer(t, { mtls: { certificateHeader: 'x-client-cert' } })
  const token = certBound(s, alice)
  refused(t, await s.get({ authorization: `Bearer ${token}` }, alice), { status: 401, error: 'invalid_token', description: REQUIRED, challenge: bearerChallenge(s.realm, 'invalid_token', REQUIRED) }, 'over TLS with the right certificate but no header: the socket is not read')
  passed(t, await s.get({ authorization: `Bearer ${token}`, 'x-client-cert': encodeURIComponent(alice.cert) }), 'over TLS without a certificate, the header names it')
})

t.test('mtls.certificate(request): what the function returns is the certificate', async t => {
  const { stream, lines } = logSink()
  const s = await rig(t, {
    idp,
    fastify: { logger: { level: 'debug', stream } },
    options: {
      mtls: {
        certificate: request => {
          const given = request.headers['x-test']
          if (given === 'der') return alice.der
          if (given === 'bytes') return new Uint8Array(alice.der)
          if (given === 'pem') return alice.cert
          if (given === 'number') return 42
          if (given === 'empty') return ''
          if (given === 'null') return null
          if (given === 'throw') throw new Error('proxy header missing')
          return undefined
        }
      }
    }
  })
  const token = certBound(s, alice)
  const send = (what: string): Promise<Out> => s.call({ url: '/items', headers: { authorization: `Bearer ${token}`, 'x-test': what } })
  for (const what of ['der', 'bytes', 'pem']) passed(t, await send(what), `returns ${what}`)
  const invalid = { status: 401, error: 'invalid_token', description: INVALID_CERT, challenge: bearerChallenge(s.realm, 'invalid_token', INVALID_CERT) }
  refused(t, await send('throw'), invalid, 'the function throws')
  const refusedLines = (): Array<Record<string, unknown>> => lines.map(l => JSON.parse(l) as Record<string, unknown>).filter(l => l.msg === 'axioms: request refused')
  t.match(refusedLines().at(-1), { reason: 'mtls_bad_certificate', cause: 'function_threw' }, 'logged as the function\'s fault')
  t.notMatch(lines.join('\n'), /proxy header missing/, 'the function\'s message is not logged or sent')
  refused(t, await send('number'), invalid, 'returns a number')
  for (const what of ['empty', 'null', 'undefined']) {
    refused(t, await send(what), { status: 401, error: 'invalid_token', description: REQUIRED, challenge: bearerChallenge(s.realm, 'invalid_token', REQUIRED) }, `returns ${what}: no certificate`)
  }
  passed(t, await s.bearer(s.plain()), 'a plain token never asks the function')
})

t.test('mtls: false: no certificate is ever found, so certificate-bound tokens are refused', async t => {
  const s = await tlsServer(t, { mtls: false })
  refused(t, await s.get({ authorization: `Bearer ${certBound(s, alice)}` }, alice), { status: 401, error: 'invalid_token', description: REQUIRED, challenge: bearerChallenge(s.realm, 'invalid_token', REQUIRED) }, 'even with the matching certificate')
  passed(t, await s.get({ authorization: `Bearer ${s.plain()}` }, alice), 'plain tokens as usual')
})
