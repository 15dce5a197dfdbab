/**
 * Fetch on miss: a request names a session this node does not hold (it restarted, started empty,
 * joined late, or missed a replication message) while peers are alive. Before the app runs, the
 * node asks every live node peer for that id (session-request → session-full) and waits until all
 * have answered or `timeout` ms passed. Every copy that arrives is installed through the version
 * rules, so the newest copy among the answers wins. Only then may the request start a new session,
 * and only when no peer held one: a fetched session keeps its own id (no fixation), and an id that
 * nobody holds never becomes a session.
 *
 * Bounded against forged ids: one fetch per session id at a time (requests for it share it), at
 * most `maxInFlight` fetches at once (more are skipped and counted), and an id nobody held is
 * remembered for `missMemory` ms, so repeating it costs no cluster traffic.
 */
import type { Member } from '@nodecat/tribes'
import type { FullSession } from './messages.js'

export interface FetchHost {
  /** the live members that may hold this session (the replication strategy's fetchFrom) */
  peers (id: string): Member[]
  running (): boolean
  /** a fresh request number (shared with the held-delta fetches) */
  nextReq (): number
  /**
   * send session-request { id, req } to one member; resolves true when the member is shown not to
   * run (it refused the connection), which counts as its answer "nothing here"
   */
  ask (member: Member, id: string, req: number): Promise<boolean>
  /** a copy arrived: install it if it is newer than what is held */
  install (session: FullSession, from: Member): void
}

export interface FetchOptions {
  /** ms to wait for the peers' answers */
  timeout: number
  /** fetches in flight at once */
  maxInFlight: number
  /** ms an id that no peer held is remembered */
  missMemory: number
}

export interface FetchStats {
  /** fetches started (one per session id, shared by concurrent requests) */
  requests: number
  /** fetches that brought a copy */
  found: number
  /** every peer answered: nobody holds it */
  notFound: number
  /** some peer did not answer in time (what did arrive was installed) */
  timedOut: number
  /** ids answered from the memory of recent misses, without asking */
  remembered: number
  /** not fetched: too many fetches in flight */
  busy: number
}

/**
 * found: a copy arrived; not-found: every peer answered, nobody holds it; timed-out: some peer did
 * not answer in time (copies that did arrive are installed); skipped: not asked (no peer, busy, or
 * a remembered miss)
 */
export type FetchOutcome = 'found' | 'not-found' | 'timed-out' | 'skipped'

export const emptyFetchStats = (): FetchStats => ({ requests: 0, found: 0, notFound: 0, timedOut: 0, remembered: 0, busy: 0 })

interface Pending {
  base: string
  outstanding: number
  found: boolean
  over: boolean
  reqs: number[]
  timer: NodeJS.Timeout
  done: Promise<FetchOutcome>
  resolve: (outcome: FetchOutcome) => void
}

const MAX_REMEMBERED = 10_000
/** ms a late answer is still installed (right after a heal, the first frames can take seconds) */
const LATE_ANSWERS_MS = 10_000

export class SessionFetch {
  readonly stats: FetchStats = emptyFetchStats()
  readonly #host: FetchHost
  readonly #opts: FetchOptions
  readonly #byBase = new Map<string, Pending>()
  readonly #byReq = new Map<number, Pending>()
  /** ids nobody held, until when (ms, performance.now) */
  readonly #misses = new Map<string, number>()

  constructor (host: FetchHost, opts: FetchOptions) {
    this.#host = host
    this.#opts = opts
  }

  /** Ask the peers for one session; resolves when it is installed, or nobody has it, or time is up. */
  fetch (id: string, base: string): Promise<FetchOutcome> {
    const running = this.#byBase.get(base)
    if (running !== undefined) return running.done
    const missUntil = this.#misses.get(base)
    if (missUntil !== undefined) {
      if (missUntil > performance.now()) { this.stats.remembered++; return Promise.resolve('not-found') }
      this.#misses.delete(base)
    }
    const peers = this.#host.running() ? this.#host.peers(id) : []
    if (peers.length === 0) return Promise.resolve('skipped')
    if (this.#byBase.size >= this.#opts.maxInFlight) { this.stats.busy++; return Promise.resolve('skipped') }
    this.stats.requests++
    let resolve!: (outcome: FetchOutcome) => void
    const done = new Promise<FetchOutcome>((_resolve) => { resolve = _resolve })
    const p: Pending = { base, outstanding: peers.length, found: false, over: false, reqs: [], timer: setTimeout(() => this.#finish(p, true), this.#opts.timeout), done, resolve }
    this.#byBase.set(base, p)
    for (const member of peers) {
      const req = this.#host.nextReq()
      p.reqs.push(req)
      this.#byReq.set(req, p)
      void this.#host.ask(member, id, req).then((gone) => { if (gone) this.answered(req, base, null, null, member) }, () => {})
    }
    return done
  }

  /**
   * A session-full answered request `req`: true when it was one of ours (the copy, if any, is
   * installed), false when it was not (the caller handles it).
   */
  answered (req: number, base: string, session: FullSession | null, sessionBase: string | null, from: Member): boolean {
    const p = this.#byReq.get(req)
    if (p === undefined || p.base !== base) return false
    this.#byReq.delete(req)
    // why also after the deadline: a late copy is still the cluster's, and newer wins anyway
    if (session !== null && sessionBase === base) {
      this.#host.install(session, from)
      p.found = true
    }
    if (!p.over && --p.outstanding === 0) this.#finish(p, false)
    return true
  }

  /** forget every fetch (the manager stops); waiting requests go on without */
  clear (): void {
    for (const p of this.#byBase.values()) { clearTimeout(p.timer); p.resolve('skipped') }
    this.#byBase.clear()
    this.#byReq.clear()
    this.#misses.clear()
  }

  #finish (p: Pending, timedOut: boolean): void {
    if (p.over) return
    p.over = true
    clearTimeout(p.timer)
    this.#byBase.delete(p.base)
    const outcome: FetchOutcome = p.found ? 'found' : timedOut ? 'timed-out' : 'not-found'
    if (p.found) this.stats.found++
    else if (timedOut) this.stats.timedOut++
    else {
      this.stats.notFound++
      this.#misses.set(p.base, performance.now() + this.#opts.missMemory)
      if (this.#misses.size > MAX_REMEMBERED) this.#misses.delete(this.#misses.keys().next().value!)
    }
    // late answers are still taken for a while; then the request numbers are forgotten
    setTimeout(() => { for (const r of p.reqs) if (this.#byReq.get(r) === p) this.#byReq.delete(r) }, Math.max(10 * this.#opts.timeout, LATE_ANSWERS_MS)).unref()
    p.resolve(outcome)
  }
}
