/**
 * Hedged tries for hung workers. A worker that stops answering without closing its connections
 * (SIGSTOP, a stuck event loop, a full disk) looks alive to TCP: only the headers timeout (30 s)
 * or the health check would notice it. So an idempotent request whose body is fully buffered (or
 * empty) and whose worker stays silent longer than a bound learned from that worker's own recent
 * response-head times is sent once more, to the worker the sticky failover rules give next, and
 * the first response head wins (proxy.ts runs the race, attempt.ts counts the hedge as a try).
 *
 * The bound: factor x (smoothed head time + 4 x its mean deviation, as TCP estimates its
 * retransmission timeout, RFC 6298), at least `floor`, at most a quarter of headersTimeout. It is
 * the WORKER's silence that hedges, never one request's: with n requests in flight on it, a
 * healthy worker sends a head about every bound / n, so a request is hedged once the worker has
 * sent no head at all (since that request was sent) for bound / n, at least `floor`. A busy
 * worker that is merely slow, or one slow endpoint on a worker that answers its other requests,
 * keeps sending heads, so nothing of it is hedged (a GET with side effects, an OAuth callback or
 * an expensive report, is not run twice because it is slow; the headers timeout still bounds it);
 * a hung one is found after about `floor` however slow it was before (on a loaded machine the
 * bound itself is seconds).
 *
 * Not every lost race means a hung worker: a slow endpoint, or one long GC pause, makes a worker
 * lose a race now and then. A worker is put in ERROR at once (as for a failed connect) only on its
 * second stall in a row, a stall being a race the hedge won while the worker then sent no head at
 * all for STALL_FACTOR x the silence that hedged it (the original is kept that long, its answer
 * discarded, then aborted). Any head from the worker ends the series. A hung worker with several
 * users gets its two stalls at once; a worker that answers one request slowly while it answers
 * others (or answers the next one) is never marked.
 */

/** a race the hedge won is a stall when the original stayed silent this many bounds */
export const STALL_FACTOR = 3

/** consecutive stalls (no head between) that put a worker in ERROR */
export const STALLS_TO_ERROR = 2

/** the code a worker's last error shows when it was put in ERROR for stalls */
export const WORKER_SILENT = 'WORKER_SILENT'

export interface HedgeRules {
  /** least ms of silence before a hedge; 0 turns hedging off */
  floor: number
  /** times the worker's estimated slow head time */
  factor: number
  /** most ms of silence before a hedge (a quarter of headersTimeout) */
  ceiling: number
}

/** What one worker's recent response heads say about it, and its current series of stalls. */
export class HeadTimes {
  /** smoothed head time and mean deviation, ms (-1: no sample yet) */
  #smoothed = -1
  #deviation = 0
  /** performance.now() of the worker's latest response head */
  #lastHeadAt = 0
  #stalls = 0

  /** a response head arrived `ms` after its request was sent */
  answered (ms: number, now = performance.now()): void {
    this.#lastHeadAt = now
    this.#stalls = 0
    if (this.#smoothed < 0) {
      this.#smoothed = ms
      this.#deviation = ms / 2
      return
    }
    this.#deviation += (Math.abs(this.#smoothed - ms) - this.#deviation) / 4
    this.#smoothed += (ms - this.#smoothed) / 8
  }

  /** ms of silence after which a request on this worker is hedged */
  bound (rules: HedgeRules): number {
    const slow = this.#smoothed < 0 ? 0 : this.#smoothed + 4 * this.#deviation
    return Math.min(rules.ceiling, Math.max(rules.floor, rules.factor * slow))
  }

  /** performance.now() of the worker's latest response head (0: none yet) */
  get lastHeadAt (): number { return this.#lastHeadAt }

  /**
   * ms of silence after which a request sent at `sentAt` on this worker is hedged, `now`, with
   * `inFlight` requests on the worker (see the top of this file); `bound` from bound().
   */
  hedgeAfter (bound: number, floor: number, inFlight: number, sentAt: number, now: number): { hedge: boolean, silence: number, nextCheck: number } {
    const workerQuiet = Math.max(this.#lastHeadAt, sentAt)
    const whole = Math.max(floor, bound / Math.max(1, inFlight))
    if (now - workerQuiet >= whole) return { hedge: true, silence: whole, nextCheck: 0 }
    return { hedge: false, silence: 0, nextCheck: workerQuiet + whole - now }
  }

  /**
   * A request stayed silent while its hedge answered, and now the worker has sent no head for
   * `window` ms (or it has: then this is no stall). True when this makes STALLS_TO_ERROR stalls
   * in a row: the worker is hung.
   */
  stalled (window: number, now = performance.now()): boolean {
    if (now - this.#lastHeadAt < window) return false
    this.#stalls++
    return this.#stalls >= STALLS_TO_ERROR
  }

  /** for /status and tests: the estimate (null before the first head) and the current stall series */
  get smoothedMs (): number | null { return this.#smoothed < 0 ? null : this.#smoothed }
  get stalls (): number { return this.#stalls }
}

/** hedge rules from the options (ceiling: a quarter of headersTimeout) */
export function hedgeRules (o: { hedgeFloor: number, hedgeFactor: number, headersTimeout: number }): HedgeRules {
  return { floor: o.hedgeFloor, factor: o.hedgeFactor, ceiling: Math.max(1, Math.floor(o.headersTimeout / 4)) }
}
