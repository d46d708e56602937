// The DPoP proof's public key: the client chooses it, so it gets the JWKS keys' hygiene plus
// limits of its own, and its RFC 7638 thumbprint is what the access token's `cnf.jkt` names.
import { createHash } from 'node:crypto'
import type { JsonObject } from '../bearer.js'
import { importKeyMaterial, type KeyMaterial } from '../keys.js'
import { TokenCache } from '../cache.js'
import { fail } from '../errors.js'

// RFC 7517 / 7518 §6: members that only a private (or symmetric) key has.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv']

// RFC 7638 §3.2: the required members of each key type, in lexicographic order.
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x']
}

export interface ProofKey {
  readonly entry: KeyMaterial
  /** RFC 7638 SHA-256 thumbprint, base64url. */
  readonly jkt: string
}

/** The RFC 7638 SHA-256 thumbprint of a public JWK, or undefined if its members do not allow one. */
export function jwkThumbprint (jwk: JsonObject): string | undefined {
  const kty = jwk.kty
  if (typeof kty !== 'string' || !Object.hasOwn(THUMBPRINT_MEMBERS, kty)) return undefined
  const parts: string[] = []
  for (const m of THUMBPRINT_MEMBERS[kty] as readonly string[]) {
    const v = jwk[m]
    if (typeof v !== 'string' || v === '') return undefined
    // JSON.stringify escapes exactly as RFC 7638 §3.3 (RFC 8259, no whitespace) requires.
    parts.push(`${JSON.stringify(m)}:${JSON.stringify(v)}`)
  }
  return createHash('sha256').update(`{${parts.join(',')}}`).digest('base64url')
}

// Clients sign every request with the same key: imports are remembered by thumbprint, which
// covers the whole key material (an OKP point check costs up to half a millisecond). Only keys
// that imported cleanly are kept.
const imported = new TokenCache<KeyMaterial>(1024)

/**
 * Checks and imports the proof's `jwk` for `alg`, or throws AxiomsError('dpop_bad_jwk'): the same
 * key hygiene as JWKS keys (lib/keys.ts importKeyMaterial: sizes, exponents, points, encodings),
 * no private members, and `use`/`key_ops`/`alg` that fit the proof.
 */
export function importProofKey (jwk: unknown, alg: string): ProofKey {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) fail('dpop_bad_jwk')
  // Own members only, as for claims: nothing is read from a polluted Object.prototype.
  const j = Object.assign(Object.create(null), jwk) as JsonObject
  // RFC 9449 §4.3 (7): the header must not carry a private key.
  for (const m of PRIVATE_MEMBERS) if (Object.hasOwn(j, m)) fail('dpop_bad_jwk')
  const jkt = jwkThumbprint(j)
  if (jkt === undefined) fail('dpop_bad_jwk')
  // Members outside the thumbprint are checked per proof (they may differ between proofs).
  if (j.use !== undefined && j.use !== 'sig') fail('dpop_bad_jwk')
  if (j.key_ops !== undefined && !(Array.isArray(j.key_ops) && j.key_ops.includes('verify'))) fail('dpop_bad_jwk')
  if (j.alg !== undefined && j.alg !== alg) fail('dpop_bad_jwk')
  let entry = imported.get(jkt)
  if (entry === undefined) {
    const material: JsonObject = {}
    for (const m of THUMBPRINT_MEMBERS[j.kty as string] as readonly string[]) material[m] = j[m]
    const result = importKeyMaterial(material)
    // The importer's canonical members are the thumbprint's input: one key, one thumbprint.
    if ('unusable' in result || createHash('sha256').update(result.material).digest('base64url') !== jkt) fail('dpop_bad_jwk')
    entry = result
    imported.set(jkt, entry)
  }
  if (!entry.algs.has(alg)) fail('dpop_bad_jwk')
  return { entry, jkt }
}
