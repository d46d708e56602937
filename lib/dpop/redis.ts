// A replay store on Redis (axioms-fastify/dpop/redis), so that a proof accepted by one instance
// is refused by every other: one atomic `SET key 1 PX <ttl> NX` per proof. It takes the app's
// own ioredis client (an optional peer dependency) and imports nothing from it at run time.
import type { DpopReplayStore } from './replay.js'

export type { DpopReplayStore }

/** The one ioredis method used; an ioredis `Redis` or `Cluster` instance fits it. */
export interface RedisSetClient {
  set: (key: string, value: string, px: 'PX', milliseconds: number, nx: 'NX') => Promise<'OK' | null>
}

export interface RedisReplayStoreOptions {
  /** Prefix of every key. Default `axioms:dpop:`; give each API its own if they share a Redis. */
  prefix?: string
  /** Clock in epoch milliseconds (tests). Default Date.now. */
  now?: () => number
}

/**
 * Remembers proof identifiers in Redis until they expire. Answers are bounded by the plugin
 * (`dpop.replayTimeout`): a Redis that is down, slow or silent gives a 503, never a hang and
 * never an unchecked proof. Create the client with `enableOfflineQueue: false` (commands fail at
 * once while disconnected instead of queueing) and a `commandTimeout`, so nothing piles up.
 */
export class RedisReplayStore implements DpopReplayStore {
  private readonly client: RedisSetClient
  private readonly prefix: string
  private readonly now: () => number

  constructor (client: RedisSetClient, options: RedisReplayStoreOptions = {}) {
    if (typeof client?.set !== 'function') throw new TypeError('RedisReplayStore: pass an ioredis client')
    const prefix = options.prefix ?? 'axioms:dpop:'
    if (typeof prefix !== 'string') throw new TypeError('RedisReplayStore: prefix must be a string')
    this.client = client
    this.prefix = prefix
    this.now = options.now ?? Date.now
  }

  async claim (key: string, expiresAt: number): Promise<boolean> {
    // PX needs a positive integer; an entry already expired still counts as seen once.
    const ttl = Math.max(1, Math.ceil(expiresAt - this.now()))
    const answer = await this.client.set(this.prefix + key, '1', 'PX', ttl, 'NX')
    if (answer === 'OK') return true
    if (answer === null) return false
    throw new Error('unexpected answer to SET NX')
  }
}
