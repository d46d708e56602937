// axioms-fastify/testing: a real issuer on 127.0.0.1 for tests and samples. It serves discovery and
// a JWKS, signs tokens with generated keys, rotates them and can play an outage.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import { createHash, generateKeyPairSync, type KeyObject, randomUUID, sign as cryptoSign, constants } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { Algorithm, AxiomsOptions } from './lib/options/index.js'

export type { Algorithm }

export interface TestIssuerOptions {
  /** One signing key per algorithm; the first signs by default. Default `['RS256']`. */
  algorithms?: Algorithm[]
  /** The `iss` of tokens and of the discovery document. Default: the server's own URL. */
  issuer?: string
  /** `aud` put in tokens by default. Default `'your-api-audience'`. */
  audience?: string | string[]
  /** Seconds until `exp` by default. Default 300. */
  expiresIn?: number
  /** Serve `/.well-known/openid-configuration`. Default true. */
  discovery?: boolean
  /**
   * Serve HTTPS with this certificate (PEM, for 127.0.0.1) and key: `url` becomes
   * `https://127.0.0.1:PORT`. The plugin must trust its CA, e.g. through NODE_EXTRA_CA_CERTS.
   */
  tls?: { cert: string | Buffer, key: string | Buffer }
}

export interface SignOptions {
  /** Which key signs (by algorithm). Default: the first algorithm. */
  alg?: Algorithm
  /** Overrides the header `kid`; `null` drops it. */
  kid?: string | null
  /** Header `typ`; `null` drops it. Default `at+jwt`. */
  typ?: string | null
  /** Extra header members (they win over alg, kid and typ). */
  header?: Record<string, unknown>
  /** Seconds until `exp` for this token. */
  expiresIn?: number
}

/**
 * How the issuer answers JWKS and discovery requests: `ok` (default), `down` (connection closed
 * without an answer), `hang` (never answers), `status` (HTTP 500), `html` (an HTML error page),
 * `trickle` (the right document, one byte every 100 ms), `big` (a 10 MB JSON body without
 * `content-length`), `redirect` (302 to the same document), `notfound` (HTTP 404).
 */
export type IssuerMode = 'ok' | 'down' | 'hang' | 'status' | 'html' | 'trickle' | 'big' | 'redirect' | 'notfound'

/** One request received by the test issuer. */
export interface IssuerRequest {
  /** `jwks` or `discovery`. */
  document: 'jwks' | 'discovery'
  /** Epoch ms when it arrived. */
  at: number
}

export interface TestKey {
  kid: string
  alg: Algorithm
  privateKey: KeyObject
  publicKey: KeyObject
  /** The public JWK as published. */
  jwk: Record<string, unknown>
}

export interface TestIssuer {
  /** The issuer identifier (`iss`). */
  readonly issuer: string
  /** The server's own base URL (`http://127.0.0.1:PORT`, or `https://` with `tls`). */
  readonly url: string
  readonly jwksUri: string
  readonly discoveryUri: string
  /** Requests answered so far, by document. */
  readonly requests: { jwks: number, discovery: number }
  /** Every JWKS and discovery request, in order of arrival. */
  readonly log: readonly IssuerRequest[]
  /**
   * Options for `app.register(axioms, ...)` that trust this issuer (`issuer`, `audience`) and read
   * no AXIOMS_* variable (`env: {}`), so a test gives the same answers whatever the developer's
   * shell exports. `extra` is merged in last.
   */
  pluginOptions: (extra?: AxiomsOptions) => AxiomsOptions
  /** The keys currently published, current signing keys first. */
  readonly keys: readonly TestKey[]
  /**
   * Signs claims. `iss`, `aud`, `iat`, `exp` and `jti` are filled in; pass a value to override one
   * or `undefined` to drop it.
   */
  sign: (claims?: Record<string, unknown>, options?: SignOptions) => string
  /** Signs any header and payload as given (raw JSON text allowed), with the key of `alg` or `kid`. */
  signRaw: (header: Record<string, unknown> | string, payload: Record<string, unknown> | string, key?: TestKey) => string
  /** Replaces every signing key with a new one; `keepOld: true` keeps publishing the old ones. */
  rotate: (options?: { keepOld?: boolean }) => void
  /** Generates and publishes one more key (not used for signing unless passed to signRaw). */
  addKey: (alg: Algorithm, kid?: string) => TestKey
  /** Publishes this exact JWKS body (objects are served as JSON, strings as they are). */
  setJwks: (body: unknown) => void
  /** Publishes this exact discovery document (objects as JSON, strings as they are); `undefined` restores the default. */
  setDiscovery: (body: unknown) => void
  /** Plays an outage (or ends it with `ok`). */
  setMode: (mode: IssuerMode) => void
  /** Waits this many milliseconds before answering each request (0 by default). */
  setDelay: (ms: number) => void
  close: () => Promise<void>
}

const GEN: Record<Algorithm, () => { privateKey: KeyObject, publicKey: KeyObject }> = {
  RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  RS384: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  RS512: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  PS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  PS384: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  PS512: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  ES384: () => generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  ES512: () => generateKeyPairSync('ec', { namedCurve: 'P-521' }),
  EdDSA: () => generateKeyPairSync('ed25519')
}

/** Makes a key pair for an algorithm, with its public JWK (`kid`, `alg`, `use: sig`). */
export function generateTestKey (alg: Algorithm, kid: string = `${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`): TestKey {
  const { privateKey, publicKey } = GEN[alg]()
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' }
  return { kid, alg, privateKey, publicKey, jwk }
}

const b64 = (data: string | Buffer): string => Buffer.from(data).toString('base64url')

/** Signs `header.payload` with a key the way JWS wants it (raw R || S for ECDSA, PSS for PS*). */
export function signJws (header: Record<string, unknown> | string, payload: Record<string, unknown> | string, key: TestKey): string {
  const h = b64(typeof header === 'string' ? header : JSON.stringify(header))
  const p = b64(typeof payload === 'string' ? payload : JSON.stringify(payload))
  const input = Buffer.from(`${h}.${p}`)
  const alg = key.alg
  const hash = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`
  const sig = cryptoSign(hash, input, {
    key: key.privateKey,
    ...(alg.startsWith('PS') ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 } : {}),
    ...(alg.startsWith('ES') ? { dsaEncoding: 'ieee-p1363' as const } : {})
  })
  return `${h}.${p}.${b64(sig)}`
}

/** Starts a JWKS + discovery server on 127.0.0.1 (random port). */
export async function createTestIssuer (options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const algorithms = options.algorithms ?? ['RS256']
  const audience = options.audience ?? 'your-api-audience'
  const defaultExpiresIn = options.expiresIn ?? 300
  const discovery = options.discovery ?? true
  let signing = algorithms.map(alg => generateTestKey(alg))
  let published: TestKey[] = [...signing]
  let customJwks: unknown
  let customDiscovery: unknown
  let mode: IssuerMode = 'ok'
  let delay = 0
  const requests = { jwks: 0, discovery: 0 }
  const log: IssuerRequest[] = []
  const hanging = new Set<ServerResponse>()
  const timers = new Set<NodeJS.Timeout>()
  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => { timers.delete(timer); fn() }, ms)
    timers.add(timer)
  }

  let issuer = options.issuer ?? ''
  let url = ''

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = String(req.url).split('?')[0]
    const isJwks = path === '/.well-known/jwks.json'
    const isDiscovery = discovery && path === '/.well-known/openid-configuration'
    if (!isJwks && !isDiscovery) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}')
      return
    }
    if (isJwks) requests.jwks++
    else requests.discovery++
    log.push({ document: isJwks ? 'jwks' : 'discovery', at: Date.now() })
    if (delay > 0) {
      hanging.add(res)
      res.on('close', () => hanging.delete(res))
      const current = mode
      later(delay, () => answer(isJwks, current, req, res))
    } else {
      answer(isJwks, mode, req, res)
    }
  }
  const server: Server = options.tls === undefined ? createServer(handle) : createTlsServer({ cert: options.tls.cert, key: options.tls.key }, handle)

  function answer (isJwks: boolean, mode: IssuerMode, req: IncomingMessage, res: ServerResponse): void {
    if (res.destroyed) return
    if (mode === 'hang') {
      hanging.add(res)
      res.on('close', () => hanging.delete(res))
      return
    }
    if (mode === 'down') {
      req.socket.destroy()
      return
    }
    if (mode === 'status') {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"server_error"}')
      return
    }
    if (mode === 'html') {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>Bad gateway</body></html>')
      return
    }
    if (mode === 'notfound') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}')
      return
    }
    if (mode === 'redirect') {
      res.writeHead(302, { location: req.url }).end()
      return
    }
    if (mode === 'big') {
      // 10 MB of valid JSON, streamed without content-length: only a running byte count stops it.
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"keys":[],"padding":"')
      const chunk = 'x'.repeat(64 * 1024)
      let sent = 0
      const pump = (): void => {
        while (sent < 160 && !res.destroyed) {
          sent++
          if (!res.write(chunk)) { res.once('drain', pump); return }
        }
        if (!res.destroyed) res.end('"}')
      }
      pump()
      return
    }
    const body = isJwks
      ? customJwks ?? { keys: published.map(k => k.jwk) }
      : customDiscovery ?? { issuer, jwks_uri: `${url}/.well-known/jwks.json`, id_token_signing_alg_values_supported: algorithms }
    const text = typeof body === 'string' ? body : JSON.stringify(body)
    if (mode === 'trickle') {
      res.writeHead(200, { 'content-type': 'application/json' })
      hanging.add(res)
      res.on('close', () => hanging.delete(res))
      let i = 0
      const drip = (): void => {
        if (res.destroyed) return
        if (i >= text.length) { res.end(); return }
        res.write(text[i++] as string)
        later(100, drip)
      }
      drip()
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(text)
  }
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  url = `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${(server.address() as AddressInfo).port}`
  if (issuer === '') issuer = url

  function keyFor (alg: Algorithm | undefined): TestKey {
    const key = alg === undefined ? signing[0] : signing.find(k => k.alg === alg)
    if (key === undefined) throw new Error(`createTestIssuer: no signing key for ${String(alg)}; pass it in algorithms`)
    return key
  }

  return {
    issuer,
    url,
    jwksUri: `${url}/.well-known/jwks.json`,
    discoveryUri: `${url}/.well-known/openid-configuration`,
    requests,
    log,
    pluginOptions: (extra = {}) => ({ issuer, audience, env: {}, ...extra }),
    get keys () { return published },
    sign (claims = {}, opts = {}) {
      const key = keyFor(opts.alg)
      const now = Math.floor(Date.now() / 1000)
      const payload: Record<string, unknown> = {
        iss: issuer,
        aud: audience,
        iat: now,
        exp: now + (opts.expiresIn ?? defaultExpiresIn),
        jti: randomUUID(),
        ...claims
      }
      for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k]
      const header: Record<string, unknown> = { alg: key.alg, kid: key.kid, typ: 'at+jwt' }
      if (opts.kid !== undefined) header.kid = opts.kid
      if (opts.typ !== undefined) header.typ = opts.typ
      for (const k of ['kid', 'typ']) if (header[k] === null) delete header[k]
      return signJws({ ...header, ...opts.header }, payload, key)
    },
    signRaw (header, payload, key) {
      return signJws(header, payload, key ?? keyFor(undefined))
    },
    rotate ({ keepOld = false } = {}) {
      const next = algorithms.map(alg => generateTestKey(alg))
      published = keepOld ? [...next, ...published] : [...next]
      signing = next
    },
    addKey (alg, kid) {
      const key = generateTestKey(alg, kid)
      published = [...published, key]
      return key
    },
    setJwks (body) {
      customJwks = body
    },
    setDiscovery (body) {
      customDiscovery = body
    },
    setMode (next) {
      mode = next
    },
    setDelay (ms) {
      delay = ms
    },
    async close () {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sender-constrained tokens: DPoP (RFC 9449) and certificate-bound tokens (RFC 8705). The values
// are computed here from the RFCs directly, not with the plugin's own code, so a test built on
// the kit can catch a mistake in either.

/** A DPoP key pair: `jwk` is the bare public JWK a proof carries; `kid` and `jkt` are its RFC 7638 thumbprint. */
export interface DpopKey extends TestKey {
  /** The RFC 7638 SHA-256 thumbprint, base64url: the `cnf.jkt` of tokens bound to this key. */
  jkt: string
}

const THUMBPRINT_MEMBERS: Record<string, string[]> = { RSA: ['e', 'kty', 'n'], EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'] }

/** RFC 7638 SHA-256 thumbprint of a public JWK (its required members, sorted, no whitespace). */
export function jwkThumbprint (jwk: Record<string, unknown>): string {
  const members = THUMBPRINT_MEMBERS[String(jwk.kty)]
  if (members === undefined) throw new Error(`jwkThumbprint: unsupported kty ${String(jwk.kty)}`)
  const canonical = '{' + members.map(m => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',') + '}'
  return createHash('sha256').update(canonical).digest('base64url')
}

/** Generates a DPoP key pair (ES256 by default; any supported algorithm). */
export function generateDpopKey (alg: Algorithm = 'ES256'): DpopKey {
  const { privateKey, publicKey } = GEN[alg]()
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>
  const jkt = jwkThumbprint(jwk)
  return { kid: jkt, alg, privateKey, publicKey, jwk, jkt }
}

/** RFC 9449 §4.2 `ath`: base64url(SHA-256(access token)). */
export function dpopAccessTokenHash (accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url')
}

export interface DpopProofOptions {
  /** The request's method. Default `GET`. */
  htm?: string
  /** The request's URL (query and fragment are ignored by the check). */
  htu: string
  /** The access token the proof goes with: sets `ath`. */
  accessToken?: string
  /** The server's nonce (`DPoP-Nonce`). */
  nonce?: string
  /** Seconds since the epoch. Default now. */
  iat?: number
  /** Default a random UUID. */
  jti?: string
  /** Header members to add or replace (`typ`, `alg`, `jwk` ...); `undefined` drops one. */
  header?: Record<string, unknown>
  /** Payload members to add or replace; `undefined` drops one (`ath` too). */
  claims?: Record<string, unknown>
}

function withOverrides (base: Record<string, unknown>, over: Record<string, unknown> | undefined): Record<string, unknown> {
  const out = { ...base, ...over }
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k]
  return out
}

/**
 * Signs a DPoP proof: header `{ typ: 'dpop+jwt', alg, jwk }`, payload `{ jti, htm, htu, iat }`
 * plus `ath` and `nonce` when given. `header` and `claims` override or drop any member.
 */
export function createDpopProof (key: DpopKey, options: DpopProofOptions): string {
  const header = withOverrides({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk }, options.header)
  const payload = withOverrides({
    jti: options.jti ?? randomUUID(),
    htm: options.htm ?? 'GET',
    htu: options.htu,
    iat: options.iat ?? Math.floor(Date.now() / 1000),
    ...(options.accessToken === undefined ? {} : { ath: dpopAccessTokenHash(options.accessToken) }),
    ...(options.nonce === undefined ? {} : { nonce: options.nonce })
  }, options.claims)
  return signJws(header, payload, key)
}

/** Signs any proof header and payload as given (objects, or raw JSON text) with the DPoP key. */
export function signDpopProofRaw (key: DpopKey, header: Record<string, unknown> | string, payload: Record<string, unknown> | string): string {
  return signJws(header, payload, key)
}

/** An access token bound to a DPoP key: the issuer's `sign` with `cnf: { jkt }` added. */
export function signDpopBoundToken (issuer: TestIssuer, key: DpopKey, claims: Record<string, unknown> = {}, options?: SignOptions): string {
  return issuer.sign({ ...claims, cnf: { jkt: key.jkt } }, options)
}

/** RFC 8705 §3.1 `x5t#S256` of a certificate given as PEM or DER: base64url(SHA-256(DER)). */
export function certificateThumbprint (certificate: string | Uint8Array): string {
  let der: Uint8Array
  if (typeof certificate === 'string') {
    const m = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/.exec(certificate)
    if (m === null) throw new Error('certificateThumbprint: not a PEM certificate')
    der = Buffer.from((m[1] as string).replace(/\s+/g, ''), 'base64')
  } else {
    der = certificate
  }
  return createHash('sha256').update(der).digest('base64url')
}

/** An access token bound to a client certificate (PEM or DER): `cnf: { 'x5t#S256' }` added. */
export function signCertificateBoundToken (issuer: TestIssuer, certificate: string | Uint8Array, claims: Record<string, unknown> = {}, options?: SignOptions): string {
  return issuer.sign({ ...claims, cnf: { 'x5t#S256': certificateThumbprint(certificate) } }, options)
}
