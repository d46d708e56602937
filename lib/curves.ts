// Point checks for JWK import (lib/keys.ts): plain BigInt arithmetic, run once per key and never
// per token. OpenSSL validates NIST points itself, but accepts any 32- or 57-byte EdDSA key,
// including the small-order points under which forged signatures verify (test/key-hygiene.test.ts
// shows it), so the Edwards rules here are the only ones there are.

const mod = (a: bigint, p: bigint): bigint => {
  const r = a % p
  return r < 0n ? r + p : r
}

function pow (base: bigint, exp: bigint, p: bigint): bigint {
  let result = 1n
  let b = mod(base, p)
  while (exp > 0n) {
    if ((exp & 1n) === 1n) result = result * b % p
    b = b * b % p
    exp >>= 1n
  }
  return result
}

/** Big-endian unsigned integer (of a non-empty buffer: callers check lengths first). */
function bytesToBigInt (b: Uint8Array): bigint {
  return BigInt('0x' + Buffer.from(b).toString('hex'))
}

// NIST curves y^2 = x^3 - 3x + b (FIPS 186-5 / SP 800-186 §3.2.1). Cofactor 1: every affine
// point on the curve generates the whole group; the identity has no affine coordinates.
const P256 = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n
const P384 = 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n
const P521 = 2n ** 521n - 1n
const WEIERSTRASS: Record<string, { p: bigint, b: bigint }> = {
  'P-256': { p: P256, b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn },
  'P-384': { p: P384, b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn },
  'P-521': { p: P521, b: 0x51953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n }
}

export type EcFault = 'ec_out_of_range' | 'ec_off_curve'

/** SEC 1 v2 §3.2.2.1 public key validation for affine (x, y) on a NIST curve (lengths checked by the caller). */
export function checkNistPoint (crv: string, xBytes: Uint8Array, yBytes: Uint8Array): EcFault | undefined {
  const { p, b } = WEIERSTRASS[crv] as { p: bigint, b: bigint }
  const x = bytesToBigInt(xBytes)
  const y = bytesToBigInt(yBytes)
  // Coordinates are field elements: x + p would be a second spelling of the same point.
  if (x >= p || y >= p) return 'ec_out_of_range'
  if (mod(y * y - (x * x * x - 3n * x + b), p) !== 0n) return 'ec_off_curve'
  return undefined
}

// Edwards curves a*x^2 + y^2 = 1 + d*x^2*y^2 (RFC 8032 §5.1, §5.2). Projective (X : Y : Z).
interface Edwards {
  p: bigint
  a: bigint
  d: bigint
  /** log2 of the cofactor: doublings that take any small-order point to the identity. */
  cofactorLog: number
  /** Encoded length in bytes. */
  length: number
}

const P25519 = 2n ** 255n - 19n
const P448 = 2n ** 448n - 2n ** 224n - 1n
const EDWARDS: Record<string, Edwards> = {
  Ed25519: {
    p: P25519,
    a: P25519 - 1n,
    d: mod(-121665n * pow(121666n, P25519 - 2n, P25519), P25519),
    cofactorLog: 3,
    length: 32
  },
  Ed448: {
    p: P448,
    a: 1n,
    d: P448 - 39081n,
    cofactorLog: 2,
    length: 57
  }
}
// 2^((p-1)/4): a square root of -1 mod 2^255 - 19 (RFC 8032 §5.1.3 step 3).
const SQRT_M1_25519 = pow(2n, (P25519 - 1n) / 4n, P25519)

type Point = [bigint, bigint, bigint]

// dbl-2008-bbjlp (Bernstein, Birkner, Joye, Lange, Peters): complete on both curves, since a is a
// square and d is not.
function double (c: Edwards, [X1, Y1, Z1]: Point): Point {
  const { p } = c
  const B = (X1 + Y1) * (X1 + Y1) % p
  const C = X1 * X1 % p
  const D = Y1 * Y1 % p
  const E = c.a * C % p
  const F = (E + D) % p
  const J = mod(F - 2n * (Z1 * Z1 % p), p)
  return [mod(B - C - D, p) * J % p, F * mod(E - D, p) % p, F * J % p]
}

function isIdentity (c: Edwards, [X, Y, Z]: Point): boolean {
  return X % c.p === 0n && mod(Y - Z, c.p) === 0n
}

/** sqrt(u / v) mod p in one exponentiation, or undefined when u / v is not a square (RFC 8032 §5.1.3 step 3, §5.2.3 step 3). */
function sqrtRatio (c: Edwards, u: bigint, v: bigint): bigint | undefined {
  const { p } = c
  if (p === P25519) {
    const v3 = v * v % p * v % p
    let x = u * v3 % p * pow(u * v3 % p * v3 % p * v % p, (p - 5n) / 8n, p) % p
    const vxx = v * x % p * x % p
    if (vxx === u) return x
    if (vxx !== mod(-u, p)) return undefined
    x = x * SQRT_M1_25519 % p
    return x
  }
  const u2 = u * u % p
  const v3 = v * v % p * v % p
  const x = u2 * u % p * v % p * pow(u2 * u2 % p * u % p * v3 % p, (p - 3n) / 4n, p) % p
  return v * x % p * x % p === u ? x : undefined
}

export type OkpFault = 'okp_non_canonical' | 'okp_off_curve' | 'okp_small_order'

/**
 * RFC 8032 point decoding, strictly (§5.1.3, §5.2.3: y < p, x = 0 with the sign bit set refused,
 * Ed448's unused bits zero), then libsodium's rule for verification keys: not of small order (the
 * 8 points of Ed25519's 8-torsion, the 4 of Ed448's 4-torsion; crypto_sign_verify_detached).
 * Points with a torsion component are not refused: RFC 8032 key generation never makes them, only
 * their holder could use one, and the check ([order]P) would cost milliseconds per key.
 */
export function checkEdwardsPoint (crv: string, encoded: Uint8Array): OkpFault | undefined {
  const c = EDWARDS[crv] as Edwards
  const { p } = c
  const last = encoded[c.length - 1] as number
  if (c.length === 57 && (last & 0x7f) !== 0) return 'okp_non_canonical'
  const sign = last >> 7
  const le = Buffer.from(encoded).reverse()
  le[0] = (le[0] as number) & 0x7f
  const y = bytesToBigInt(le)
  if (y >= p) return 'okp_non_canonical'
  const yy = y * y % p
  let x = sqrtRatio(c, mod(yy - 1n, p), mod(c.d * yy - c.a, p))
  if (x === undefined) return 'okp_off_curve'
  if (x === 0n && sign === 1) return 'okp_non_canonical'
  if (Number(x & 1n) !== sign) x = p - x
  const P: Point = [x, y, 1n]
  let Q = P
  for (let i = 0; i < c.cofactorLog; i++) Q = double(c, Q)
  return isIdentity(c, Q) ? 'okp_small_order' : undefined
}
