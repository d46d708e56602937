// Certificate-bound access tokens (RFC 8705 §3): a token whose `cnf` names `x5t#S256` is good only
// over a connection whose TLS client certificate has that SHA-256 thumbprint. The certificate
// comes from the TLS socket, or, where TLS ends at a proxy, from the request as the app says.
import { createHash, X509Certificate } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { ConfigError } from './options/read.js'
import { fail } from './errors.js'

export interface MtlsOptions {
  /**
   * TLS ended at a proxy: returns the client certificate the proxy forwarded for this request (PEM,
   * URL-encoded PEM, base64 DER or DER bytes), or undefined/null when there is none. The socket is
   * then never read. Whatever it returns is trusted as the certificate the client proved it holds.
   */
  certificate?: (request: FastifyRequest) => unknown
  /** Shorthand for `certificate`: read it from this request header (e.g. `x-ssl-client-cert`). */
  certificateHeader?: string
}

export interface MtlsSettings {
  /** `socket`: the TLS connection's peer certificate; `function`/`header`: from the request; `none`: never. */
  readonly source: 'socket' | 'function' | 'header' | 'none'
  readonly certificate: ((request: FastifyRequest) => unknown) | undefined
  readonly header: string | undefined
  /** Configured on purpose (`mtls` or its variable given): RFC 9728 metadata may say so. */
  readonly configured: boolean
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * Reads the `mtls` option (absent, `false`, or `{ certificate?, certificateHeader? }`) and
 * AXIOMS_MTLS_CERTIFICATE_HEADER into frozen settings, or throws ConfigError.
 */
export function resolveMtlsSettings (value: unknown, env: Record<string, string | undefined>): MtlsSettings {
  const rawEnv = env.AXIOMS_MTLS_CERTIFICATE_HEADER?.trim()
  const envHeader = rawEnv === '' ? undefined : rawEnv
  if (value === false) return Object.freeze({ source: 'none', certificate: undefined, header: undefined, configured: true })
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw new ConfigError('mtls', undefined, 'must be false or { certificate?, certificateHeader? }')
  }
  const obj = (value ?? {}) as Record<string, unknown>
  for (const key of Object.keys(obj)) {
    if (key !== 'certificate' && key !== 'certificateHeader') throw new ConfigError(`mtls.${key}`, undefined, 'is not an option of mtls (certificate, certificateHeader)')
  }
  if (obj.certificate !== undefined && typeof obj.certificate !== 'function') {
    throw new ConfigError('mtls.certificate', undefined, 'must be a function (request) => certificate | undefined')
  }
  const header = obj.certificateHeader ?? (obj.certificate === undefined ? envHeader : undefined)
  const headerEnv = obj.certificateHeader === undefined ? 'AXIOMS_MTLS_CERTIFICATE_HEADER' : undefined
  if (header !== undefined && (typeof header !== 'string' || !HEADER_NAME.test(header))) {
    throw new ConfigError('mtls.certificateHeader', headerEnv, 'must be an HTTP header name')
  }
  if (obj.certificate !== undefined && obj.certificateHeader !== undefined) {
    throw new ConfigError('mtls.certificateHeader', undefined, 'cannot be combined with mtls.certificate')
  }
  const configured = value !== undefined || envHeader !== undefined
  if (obj.certificate !== undefined) {
    return Object.freeze({ source: 'function', certificate: obj.certificate as MtlsSettings['certificate'], header: undefined, configured })
  }
  if (header !== undefined) return Object.freeze({ source: 'header', certificate: undefined, header: header.toLowerCase(), configured })
  return Object.freeze({ source: 'socket', certificate: undefined, header: undefined, configured })
}

/** RFC 8705 §3.1 `x5t#S256`: base64url of the SHA-256 of the certificate's DER encoding. */
export function certificateThumbprint (der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url')
}

const PEM = /^-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----$/
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

function strictBase64 (text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !BASE64.test(text)) return undefined
  const bytes = Buffer.from(text, 'base64')
  // One spelling per byte string (unused bits zero): re-encoding must give the text back.
  return bytes.toString('base64') === text ? bytes : undefined
}

/** DER bytes that hold exactly one X.509 certificate and nothing else, or undefined. */
function exactCertificate (der: Buffer): Buffer | undefined {
  let cert: X509Certificate
  try {
    cert = new X509Certificate(der)
  } catch {
    return undefined
  }
  return cert.raw.equals(der) ? der : undefined
}

/**
 * Strictly parses a certificate as proxies forward it: DER bytes, one PEM `CERTIFICATE` block,
 * the same URL-encoded (nginx `$ssl_client_escaped_cert`, AWS ALB), or bare base64 DER.
 * Undefined for anything else, trailing bytes and second certificates included.
 */
export function parseCertificate (value: unknown): Buffer | undefined {
  if (value instanceof Uint8Array) return value.length === 0 ? undefined : exactCertificate(Buffer.from(value))
  if (typeof value !== 'string') return undefined
  let text = value.trim()
  if (text.includes('%')) {
    try {
      text = decodeURIComponent(text).trim()
    } catch {
      return undefined
    }
  }
  const pem = PEM.exec(text)
  const der = strictBase64(pem === null ? text : (pem[1] as string).replace(/\s+/g, ''))
  return der === undefined ? undefined : exactCertificate(der)
}

interface PeerSocket { getPeerX509Certificate?: () => X509Certificate | undefined }

/** The DER of a TLS socket's peer certificate, or undefined (no TLS, or no client certificate). */
export function peerCertificate (socket: unknown): Buffer | undefined {
  const s = socket as PeerSocket | null | undefined
  if (typeof s?.getPeerX509Certificate !== 'function') return undefined
  // The binding holds whether or not the chain was verified (RFC 8705 §2.2, self-signed
  // certificates): the handshake proved the client holds the certificate's private key.
  return s.getPeerX509Certificate()?.raw
}

/**
 * The request's client certificate (DER) by the configured source, or undefined when it has
 * none. Throws AxiomsError('mtls_bad_certificate') when the source gave something unusable.
 */
export function clientCertificate (settings: MtlsSettings, request: FastifyRequest): Buffer | undefined {
  let supplied: unknown
  if (settings.source === 'socket') return peerCertificate(request.raw.socket)
  if (settings.source === 'none') return undefined
  if (settings.source === 'header') {
    // Node joins repeated lines with ", " (no certificate then); a list is not parsed either.
    supplied = request.headers[settings.header as string]
  } else {
    try {
      supplied = (settings.certificate as (request: FastifyRequest) => unknown)(request)
    } catch {
      fail('mtls_bad_certificate', 'function_threw')
    }
  }
  if (supplied === undefined || supplied === null || supplied === '') return undefined
  const der = parseCertificate(supplied)
  if (der === undefined) fail('mtls_bad_certificate', 'unparsable')
  return der
}

// A SHA-256 thumbprint, base64url: 43 characters.
const X5T = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/

/**
 * The `cnf["x5t#S256"]` of verified claims: undefined when the token is not certificate-bound;
 * throws AxiomsError('mtls_bad_cnf') when `cnf` or the member are there but malformed.
 */
export function confirmationX5t (claims: Readonly<Record<string, unknown>>): string | undefined {
  if (!Object.hasOwn(claims, 'cnf')) return undefined
  const cnf = claims.cnf
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) fail('mtls_bad_cnf')
  if (!Object.hasOwn(cnf, 'x5t#S256')) return undefined
  const x5t = (cnf as Record<string, unknown>)['x5t#S256']
  if (typeof x5t !== 'string' || !X5T.test(x5t)) fail('mtls_bad_cnf')
  return x5t
}

/** RFC 8705 §3: throws unless a certificate is there and its thumbprint is the token's. */
export function checkCertificateBinding (expected: string, der: Uint8Array | undefined): void {
  if (der === undefined) fail('mtls_no_certificate')
  if (certificateThumbprint(der) !== expected) fail('mtls_mismatch')
}
