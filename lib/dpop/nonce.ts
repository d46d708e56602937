// Server-provided DPoP nonces (RFC 9449 §9, §8.1 syntax), stateless: a nonce is the number of a
// time step and an HMAC of it, so every instance holding the same secret issues and accepts the
// same nonces without sharing any state. A nonce is issued during its step and accepted one step
// either side (the next one too, for instances whose clocks run a little ahead).
import { createHmac, timingSafeEqual } from 'node:crypto'
import { isCanonicalBase64url } from '../bearer.js'

const LABEL = 'axioms-fastify dpop-nonce v1'
const STEP_BYTES = 6
const MAC_BYTES = 18
// base64url of 24 bytes: 32 characters, all within NQCHAR.
const NONCE_LENGTH = 32

export type NonceCheck = 'current' | 'valid' | 'invalid'

export class DpopNonces {
  private readonly secrets: readonly Buffer[]
  private readonly lifetimeMs: number
  private readonly now: () => number
  private step = -1
  private value = ''

  /** `secrets[0]` issues, every secret verifies; `lifetime` in seconds; `now` in epoch ms. */
  constructor (secrets: readonly Buffer[], lifetime: number, now: () => number = Date.now) {
    if (secrets.length === 0) throw new TypeError('DpopNonces: at least one secret')
    this.secrets = secrets
    this.lifetimeMs = lifetime * 1000
    this.now = now
  }

  private currentStep (): number {
    return Math.floor(this.now() / this.lifetimeMs)
  }

  /** The nonce to hand out now (the same for the whole step, on every instance). */
  current (): string {
    const step = this.currentStep()
    if (step !== this.step) {
      this.step = step
      this.value = encode(step, mac(this.secrets[0] as Buffer, step))
    }
    return this.value
  }

  /** `current` for this step's nonce, `valid` for a neighbouring step's, else `invalid`. */
  check (nonce: string): NonceCheck {
    if (nonce.length !== NONCE_LENGTH || !isCanonicalBase64url(nonce)) return 'invalid'
    const bytes = Buffer.from(nonce, 'base64url')
    const step = bytes.readUIntBE(0, STEP_BYTES)
    const now = this.currentStep()
    if (step < now - 1 || step > now + 1) return 'invalid'
    const given = bytes.subarray(STEP_BYTES)
    for (const secret of this.secrets) {
      if (timingSafeEqual(given, mac(secret, step))) return step === now ? 'current' : 'valid'
    }
    return 'invalid'
  }
}

function mac (secret: Buffer, step: number): Buffer {
  const data = Buffer.alloc(STEP_BYTES)
  data.writeUIntBE(step, 0, STEP_BYTES)
  return createHmac('sha256', secret).update(LABEL).update(data).digest().subarray(0, MAC_BYTES)
}

function encode (step: number, tag: Buffer): string {
  const out = Buffer.alloc(STEP_BYTES + MAC_BYTES)
  out.writeUIntBE(step, 0, STEP_BYTES)
  tag.copy(out, STEP_BYTES)
  return out.toString('base64url')
}
