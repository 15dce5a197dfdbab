/**
 * One client request's tries on workers, the same for the HTTP path (proxy.ts) and the WebSocket
 * path (websocket.ts): choose a worker (the chooser claims a RECOVERING worker's one probe), count
 * the try in flight on it, end the try (released, probe released, success recorded), and when a
 * try fails apply the retry decision (retry.ts): blame the worker's health, remember the failure
 * to report if no later try succeeds, and keep the worker out of this request's later tries.
 *
 * maxAttempts bounds the tries that cost something: a try the worker refused before processing
 * anything (connection refused, or a stopping nodecat node's "not processed" 503) does not count,
 * since that worker is excluded from the request's later tries, so such tries are bounded by the
 * number of workers. Otherwise a machine stopping its three workers at once could use up a
 * request's three tries on three refusals while a fourth worker was up.
 */
import type { Chooser } from './choose.js'
import type { ClientErrorCode } from './errors.js'
import { decideRetry, laterFailure, IDEMPOTENT_METHODS, WORKER_DRAINING, type RetryDecision, type RetryFailure } from './retry.js'
import type { BalancerStats } from './stats.js'
import type { Worker } from './worker.js'

/** One try on one worker: in flight from its creation until end(). */
export class Try {
  readonly worker: Worker
  /** ms timestamp the try started; a success counts only against failures older than this */
  readonly startedAt = Date.now()
  readonly #probe: boolean
  #ended = false

  constructor (worker: Worker, sticky: boolean, probe: boolean) {
    this.worker = worker
    this.#probe = probe
    worker.startRequest(sticky)
  }

  get ended (): boolean { return this.#ended }

  /** the try is over (once; later calls do nothing); `ok`: it got its answer, which the worker's health hears of */
  end (ok: boolean): void {
    if (this.#ended) return
    this.#ended = true
    const w = this.worker
    w.endRequest()
    if (this.#probe) w.health.releaseProbe()
    if (ok) w.health.succeed(this.startedAt)
  }
}

/** What the caller knows about a failed try beyond its error code. */
export interface TryFacts {
  /** the request reached the worker (was written to a connection) */
  reached: boolean
  /** a response byte went to the client */
  responded: boolean
  /** the request's body can be sent again */
  replayable: boolean
}

/** codes of a connection the worker's host refused outright (nothing was sent) */
const REFUSED = new Set(['ECONNREFUSED'])

/** the worker refused the try before processing anything, at once: the try cost nothing */
function refusedUnprocessed (code: string, facts: TryFacts): boolean {
  return code === WORKER_DRAINING || (!facts.reached && REFUSED.has(code))
}

export class Tries {
  readonly #chooser: Chooser
  readonly #stats: BalancerStats
  readonly #maxAttempts: number
  readonly #routes: readonly string[]
  readonly #idempotent: boolean
  #attempts = 0
  /** tries that were refused unprocessed and do not count against maxAttempts */
  #free = 0
  #lastWorker: Worker | null = null
  /** workers this request must not go to again */
  #exclude: Set<Worker> | null = null
  /** workers this request was already tried again on */
  #retriedOn: Set<Worker> | null = null
  #lastFailure: RetryFailure | null = null

  /** `routes`: the session routes the request carries, best first; `method`: its HTTP method */
  constructor (chooser: Chooser, stats: BalancerStats, maxAttempts: number, routes: readonly string[], method: string | undefined) {
    this.#chooser = chooser
    this.#stats = stats
    this.#maxAttempts = maxAttempts
    this.#routes = routes
    this.#idempotent = IDEMPOTENT_METHODS.has(method ?? '')
  }

  /** tries taken so far */
  get attempts (): number { return this.#attempts }
  /** the worker of the latest try (null before the first) */
  get lastWorker (): Worker | null { return this.#lastWorker }
  /** is the request's method idempotent (may it be hedged or retried after it reached a worker)? */
  get idempotent (): boolean { return this.#idempotent }

  /**
   * The next try, or the code to answer with when there is none: attempts used up, or no usable
   * worker. Either way the client hears the last real failure (a worker that failed it, or one
   * that could not be reached) rather than a bare "no worker".
   */
  next (): Try | ClientErrorCode {
    if (this.#attempts - this.#free >= this.#maxAttempts) return this.#lastFailure ?? 'LB_ERR_NO_WORKER'
    const choice = this.#chooser.choose(this.#routes, this.#exclude)
    if (choice.error !== undefined) return choice.error === 'LB_ERR_STICKY_UNAVAILABLE' ? choice.error : this.#lastFailure ?? choice.error
    if (this.#attempts > 0) this.#stats.retries++
    this.#attempts++
    this.#lastWorker = choice.worker
    return new Try(choice.worker, choice.sticky, choice.probe)
  }

  /**
   * A second try alongside `original`, whose worker stays silent (hedge.ts): the worker the sticky
   * rules give when `original`'s is left out, as for a failover. It is a try (counted in
   * `attempts`, the access log's tries) but takes none of maxAttempts from the failover that may
   * follow (a node killed mid-race still gets its retries); there is at most one per request, and
   * none with maxAttempts 1 (no second try wanted). Null when no other worker is usable.
   */
  hedge (original: Try): Try | null {
    if (this.#maxAttempts < 2 || this.#attempts - this.#free >= this.#maxAttempts) return null
    const exclude = new Set(this.#exclude ?? [])
    exclude.add(original.worker)
    const choice = this.#chooser.choose(this.#routes, exclude)
    if (choice.error !== undefined) return null
    // why: the chooser's last resort (a worker in ERROR, probed when nothing else is left) is
    // for a request that has no other way; a hedge is optional and waits for its original instead
    if (choice.worker.health.state() === 'ERROR') {
      if (choice.probe) choice.worker.health.releaseProbe()
      return null
    }
    this.#stats.hedgesSent++
    this.#attempts++
    this.#free++
    this.#lastWorker = choice.worker
    return new Try(choice.worker, choice.sticky, choice.probe)
  }

  /**
   * A try failed with `code`, for a reason of the worker's (a client that went away is the
   * caller's to handle before this). Ends the try, applies the decision to the worker and to this
   * request's later tries, and returns it for the caller to act on (retry: call next()).
   */
  failed (t: Try, code: string, facts: TryFacts): RetryDecision {
    t.end(false)
    const w = t.worker
    const d = decideRetry({ code, ...facts, idempotent: this.#idempotent, retriedHere: this.#retriedOn?.has(w) === true })
    if (d.blame !== 'none') {
      w.recordError(code)
      w.health.fail(code, d.blame === 'immediate')
    }
    if (d.action === 'retry') {
      this.#lastFailure = laterFailure(this.#lastFailure, d.failure)
      if (d.where === 'elsewhere') (this.#exclude ??= new Set()).add(w)
      else (this.#retriedOn ??= new Set()).add(w)
      if (d.where === 'elsewhere' && refusedUnprocessed(code, facts)) this.#free++
    }
    return d
  }
}
