// Where DPoP proof identifiers are remembered for as long as the proof could be accepted
// (RFC 9449 §11.1). The interface is one method, so a store can sit on anything that can
// "set if absent, with an expiry" atomically; the default is a bounded in-memory map.

/**
 * A replay store. `claim` records `key` until `expiresAt` (epoch milliseconds) and answers
 * whether it was new: `true` the first time, `false` while an unexpired entry exists (a
 * replay). It must be atomic across every instance that shares the store. Throwing or
 * rejecting means "cannot tell": the request is then answered 503, never accepted unchecked.
 * Keys are fixed-length base64url strings (43 characters).
 */
export interface DpopReplayStore {
  claim: (key: string, expiresAt: number) => boolean | Promise<boolean>
}

/** Thrown by MemoryReplayStore when it is full of unexpired entries. */
export class ReplayStoreFullError extends Error {
  /** Seconds until the earliest entry expires (the 503's Retry-After). */
  readonly retryAfter: number
  constructor (retryAfter: number) {
    super('DPoP replay store is full')
    this.name = 'ReplayStoreFullError'
    this.retryAfter = retryAfter
  }
}

export interface MemoryReplayStoreOptions {
  /** Most entries held at once. Default 250,000 (about 30 MB at worst). */
  max?: number
  /** Clock in epoch milliseconds (tests). Default Date.now. */
  now?: () => number
}

// Entries are dropped as they expire: a few from the front on every claim (insertion order is
// close to expiry order), and a full sweep when the map is full, at most once a second.
const SWEEP_EACH_CLAIM = 4
const FULL_SWEEP_INTERVAL = 1000

/**
 * A bounded in-memory store for one process. When it holds `max` unexpired entries, a new
 * proof is refused (ReplayStoreFullError, answered 503) rather than an entry evicted early:
 * evicting would let that proof be replayed.
 */
export class MemoryReplayStore implements DpopReplayStore {
  private readonly max: number
  private readonly now: () => number
  private readonly entries = new Map<string, number>()
  private lastFullSweep = -Infinity
  private earliest = Infinity

  constructor (options: MemoryReplayStoreOptions = {}) {
    const max = options.max ?? 250_000
    if (!Number.isInteger(max) || max < 1) throw new TypeError('MemoryReplayStore: max must be an integer >= 1')
    this.max = max
    this.now = options.now ?? Date.now
  }

  get size (): number {
    return this.entries.size
  }

  claim (key: string, expiresAt: number): boolean {
    const now = this.now()
    this.sweepFront(now)
    const seen = this.entries.get(key)
    if (seen !== undefined) {
      if (seen > now) return false
      this.entries.delete(key)
    }
    if (this.entries.size >= this.max) this.sweepAll(now)
    this.entries.set(key, expiresAt)
    return true
  }

  private sweepFront (now: number): void {
    let n = 0
    for (const [key, exp] of this.entries) {
      if (exp > now || n++ >= SWEEP_EACH_CLAIM) break
      this.entries.delete(key)
    }
  }

  private sweepAll (now: number): void {
    // A full sweep is O(size): at most one a second, so a full store costs O(1) per refusal.
    if (now - this.lastFullSweep >= FULL_SWEEP_INTERVAL) {
      this.lastFullSweep = now
      let earliest = Infinity
      for (const [key, exp] of this.entries) {
        if (exp <= now) this.entries.delete(key)
        else if (exp < earliest) earliest = exp
      }
      this.earliest = earliest
      if (this.entries.size < this.max) return
    }
    throw new ReplayStoreFullError(Math.max(1, Math.ceil((this.earliest - now) / 1000)))
  }
}
