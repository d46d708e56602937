// Bench settings, from the environment. BENCH_QUICK=1 shortens everything for a smoke run.
import { constants, createPublicKey, type JsonWebKey, type VerifyKeyObjectInput } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const quick = process.env.BENCH_QUICK === '1'

function num (name: string, full: number, short: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return quick ? short : full
  const n = Number(raw)
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`)
  return n
}

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url))
export const TMP_DIR = join(BENCH_DIR, '.tmp')
export const FIXTURE = join(TMP_DIR, 'fixture.json')

export const config = Object.freeze({
  quick,
  /** Seconds of load before measuring (excluded from the figures). */
  warmup: num('BENCH_WARMUP', 3, 1),
  /** Seconds of measured load per row. */
  duration: num('BENCH_DURATION', 5, 2),
  connections: num('BENCH_CONNECTIONS', 10, 10),
  pipelining: num('BENCH_PIPELINING', 1, 1),
  /** Distinct tokens per algorithm for the uncached rows. */
  tokens: num('BENCH_TOKENS', 2000, 2000),
  /** Seconds of crypto.verify per algorithm. */
  cryptoSeconds: num('BENCH_CRYPTO_SECONDS', 3, 1),
  /** Concurrent requests of the cold burst. */
  burst: num('BENCH_BURST', 1000, 1000),
  /** Distinct tokens pushed through a tokenCache of 10,000 for the memory check, and a time cap. */
  memoryTokens: num('BENCH_MEMORY_TOKENS', 1_000_000, 30_000),
  memorySeconds: num('BENCH_MEMORY_SECONDS', 240, 30),
  /** DPoP row: client keys the DPoP-bound tokens are spread over (each proof is signed by its token's key). */
  dpopKeys: num('BENCH_DPOP_KEYS', 100, 100),
  /** DPoP row: proofs signed before it runs (0: the Bearer row's rate over the run, plus a margin). */
  dpopProofs: num('BENCH_DPOP_PROOFS', 0, 0),
  /** Core of the server children and of the load generator. */
  serverCore: process.env.BENCH_SERVER_CORE ?? '0',
  loadCore: process.env.BENCH_LOAD_CORE ?? '1'
})

export const ALGS = ['RS256', 'ES256', 'EdDSA'] as const
export type BenchAlg = typeof ALGS[number]
export const AUDIENCE = 'your-api-audience'
export const ROUTE = '/private'

/** What run.ts hands every child through FIXTURE. */
export interface Fixture {
  issuer: string
  jwksUri: string
  audience: string
  /** Public JWKs by algorithm. */
  jwks: Record<BenchAlg, Record<string, unknown>>
  /** Distinct signed tokens by algorithm. */
  tokens: Record<BenchAlg, string[]>
}

/** A compact JWS as crypto.verify takes it: the signed bytes and the decoded signature. */
export function splitSigned (token: string): { data: Buffer, sig: Buffer } {
  const dot = token.lastIndexOf('.')
  return { data: Buffer.from(token.slice(0, dot)), sig: Buffer.from(token.slice(dot + 1), 'base64url') }
}

/** crypto.verify's key input and hash for a bench algorithm, the key imported once from its JWK. */
export function verifyKey (alg: BenchAlg, jwk: Record<string, unknown>): { key: VerifyKeyObjectInput, hash: string | null } {
  const key: VerifyKeyObjectInput = { key: createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }) }
  if (alg === 'RS256') key.padding = constants.RSA_PKCS1_PADDING
  if (alg === 'ES256') key.dsaEncoding = 'ieee-p1363'
  return { key, hash: alg === 'EdDSA' ? null : 'sha256' }
}
