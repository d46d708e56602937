// Byte-level builders for DPoP proofs: header and payload JSON text, base64url segments and
// signatures made here with node:crypto, independent of the plugin and of the test kit.
import { constants, createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import { type DpopSettings, resolveDpopSettings } from '../../lib/dpop/options.js'
import { AxiomsError } from '../../lib/errors.js'

export const b64u = (data: string | Uint8Array): string => Buffer.from(data).toString('base64url')
export const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('base64url')

export interface RawKey {
  alg: string
  privateKey: KeyObject
  publicKey: KeyObject
  jwk: Record<string, unknown>
  /** RFC 7638, computed by hand for this key type. */
  jkt: string
}

export function rawKey (alg: string): RawKey {
  let pair: { privateKey: KeyObject, publicKey: KeyObject }
  if (alg.startsWith('RS') || alg.startsWith('PS')) pair = generateKeyPairSync('rsa', { modulusLength: 2048 })
  else if (alg === 'ES256') pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  else if (alg === 'ES384') pair = generateKeyPairSync('ec', { namedCurve: 'P-384' })
  else if (alg === 'ES512') pair = generateKeyPairSync('ec', { namedCurve: 'P-521' })
  else if (alg === 'Ed448') pair = generateKeyPairSync('ed448')
  else pair = generateKeyPairSync('ed25519')
  const jwk = pair.publicKey.export({ format: 'jwk' }) as Record<string, string>
  let canonical: string
  if (jwk.kty === 'RSA') canonical = `{"e":"${jwk.e}","kty":"RSA","n":"${jwk.n}"}`
  else if (jwk.kty === 'EC') canonical = `{"crv":"${jwk.crv}","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`
  else canonical = `{"crv":"${jwk.crv}","kty":"OKP","x":"${jwk.x}"}`
  return { alg: alg === 'Ed448' ? 'EdDSA' : alg, ...pair, jwk, jkt: sha256(canonical) }
}

/** The JWS signature bytes over `input` for `alg` (raw R||S for ECDSA, PSS for PS*). */
export function signatureFor (alg: string, key: KeyObject, input: string): Buffer {
  const data = Buffer.from(input)
  if (alg === 'EdDSA') return sign(null, data, key)
  const hash = `sha${alg.slice(2)}`
  if (alg.startsWith('ES')) return sign(hash, data, { key, dsaEncoding: 'ieee-p1363' })
  if (alg.startsWith('PS')) return sign(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 })
  return sign(hash, data, key)
}

/** `b64u(header).b64u(payload).b64u(signature)` from JSON text, signed by `key` as `alg`. */
export function proofFromText (headerText: string, payloadText: string, key: RawKey, alg = key.alg): string {
  const input = `${b64u(headerText)}.${b64u(payloadText)}`
  return `${input}.${b64u(signatureFor(alg, key.privateKey, input))}`
}

export const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl'
export const HTU = 'https://api.test/items'

export interface ProofParts { header: Record<string, unknown>, payload: Record<string, unknown> }

/** A valid proof's header and payload for key, at `now` (seconds). Members set to undefined are dropped. */
export function parts (key: RawKey, now: number, over: { header?: Record<string, unknown>, payload?: Record<string, unknown> } = {}): ProofParts {
  const header: Record<string, unknown> = { typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk, ...over.header }
  const payload: Record<string, unknown> = { jti: `jti-${Math.random().toString(36).slice(2)}`, htm: 'GET', htu: HTU, iat: now, ath: sha256(TOKEN), ...over.payload }
  for (const o of [header, payload]) for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k]
  return { header, payload }
}

export function proof (key: RawKey, now: number, over: { header?: Record<string, unknown>, payload?: Record<string, unknown> } = {}, signAs = key.alg): string {
  const p = parts(key, now, over)
  return proofFromText(JSON.stringify(p.header), JSON.stringify(p.payload), key, signAs)
}

export function settings (dpop: unknown = {}, env: Record<string, string> = {}): DpopSettings {
  return resolveDpopSettings(dpop, env)
}

/** The AxiomsError thrown (sync) or rejected by fn, or undefined. */
export async function refusal (fn: () => unknown): Promise<AxiomsError | undefined> {
  try {
    await fn()
  } catch (err) {
    if (err instanceof AxiomsError) return err
    throw err
  }
  return undefined
}
