// Coalesces work into the check phase of the event loop: the items pushed during one turn (the
// requests read in one poll) are processed together, then their callers continue together, so
// their responses are written in a burst. Why: on virtual machines, a write that wakes a sleeping
// peer on the same host (a sidecar proxy, a load balancer, a load generator) stalls the writer on
// an inter-processor interrupt, about 16 µs per wake-up on this project's machines (perf,
// bench/README.md); a burst pays it about once (the bench measures both ways).
import { AsyncResource } from 'node:async_hooks'

interface Pending<I, O> {
  input: I
  // Each item runs in its pusher's async context, not in whichever context scheduled the flush:
  // AsyncLocalStorage stores (request context, tracing) and diagnostics see the right request.
  context: AsyncResource
  resolve: (value: O | Promise<O>) => void
  reject: (reason: unknown) => void
}

export class TurnBatch<I, O> {
  private queue: Array<Pending<I, O>> = []
  private scheduled = false
  private readonly max: number
  private readonly work: (input: I) => O | Promise<O>
  private readonly onTurn = (): void => {
    this.scheduled = false
    this.flush()
  }

  /** `max`: the most items processed before their callers continue (bounds the added latency). */
  constructor (max: number, work: (input: I) => O | Promise<O>) {
    this.max = max
    this.work = work
  }

  /** Resolves with work(input), run in this turn's check phase or when the batch is full. */
  push (input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, context: new AsyncResource('axioms-fastify.verify'), resolve, reject })
      if (this.queue.length >= this.max) {
        this.flush()
      } else if (!this.scheduled) {
        this.scheduled = true
        setImmediate(this.onTurn)
      }
    })
  }

  private flush (): void {
    const items = this.queue
    this.queue = []
    // Every item is processed before any caller resumes (callers resume in microtasks).
    for (const item of items) {
      try {
        item.resolve(item.context.runInAsyncScope(this.work, null, item.input))
      } catch (err) {
        item.reject(err)
      }
    }
  }
}
