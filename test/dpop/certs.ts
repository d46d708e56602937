// X.509 certificates generated per test run (none committed): a CA, a server certificate for
// 127.0.0.1 and client certificates, with @peculiar/x509 on node:crypto's WebCrypto.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto'
import { type IncomingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'

x509.cryptoProvider.set(webcrypto as never)

type KeyPair = webcrypto.CryptoKeyPair

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }

export interface Issued {
  /** PEM of the certificate. */
  cert: string
  /** DER of the certificate. */
  der: Buffer
  /** PEM (PKCS#8) of its private key. */
  key: string
  keys: KeyPair
  name: string
}

async function keyPair (): Promise<KeyPair> {
  return await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as KeyPair
}

async function pem (keys: KeyPair): Promise<string> {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey))
  return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }) as string
}

function validity (): { serialNumber: string, notBefore: Date, notAfter: Date } {
  return { serialNumber: randomBytes(8).toString('hex'), notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3_600_000) }
}

function done (c: x509.X509Certificate, keys: KeyPair, key: string, name: string): Issued {
  return { cert: c.toString('pem'), der: Buffer.from(c.rawData), key, keys, name }
}

export async function selfSigned (name: string, ca = false): Promise<Issued> {
  const keys = await keyPair()
  const extensions = ca ? [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)] : []
  const c = await x509.X509CertificateGenerator.createSelfSigned({ ...validity(), name: `CN=${name}`, signingAlgorithm: ALG, keys: keys as never, extensions })
  return done(c, keys, await pem(keys), name)
}

/** A certificate signed by `ca`; `ip` adds a subjectAltName for a server. */
export async function issue (ca: Issued, name: string, ip?: string): Promise<Issued> {
  const keys = await keyPair()
  const extensions: x509.Extension[] = ip === undefined ? [] : [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: ip }])]
  const c = await x509.X509CertificateGenerator.create({
    ...validity(),
    subject: `CN=${name}`,
    issuer: `CN=${ca.name}`,
    signingAlgorithm: ALG,
    publicKey: keys.publicKey as never,
    signingKey: ca.keys.privateKey as never,
    extensions
  })
  return done(c, keys, await pem(keys), name)
}

export interface TlsAnswer { status: number, headers: IncomingHttpHeaders, body: Record<string, unknown> }

/**
 * GET over TLS to 127.0.0.1, trusting `ca`, presenting `client`'s certificate if given. A fresh
 * connection per request (no agent), so each carries its own client certificate.
 */
export function tlsGet (port: number, path: string, ca: Issued, client?: Issued, headers: Record<string, string> = {}): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1',
      port,
      path,
      headers,
      ca: ca.cert,
      agent: false,
      timeout: 10_000,
      ...(client === undefined ? {} : { cert: client.cert, key: client.key })
    }, res => {
      const chunks: Buffer[] = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}
