/**
 * What happens before a request opens its session (SessionStore.prepare):
 * - the first id naming a session this node lacks is fetched from the peers (fetch.ts);
 * - an id naming a held session under another node's route (a failover) is checked with the peers
 *   once, since a node that missed a delta holds an older copy;
 * - while this node's copies are suspect (it stalled, or met again members it had lost: a SIGCONT,
 *   a healed network), every held session is checked with the peers first, and when they do not
 *   confirm it in time the request is refused unprocessed (SessionUnverifiedError, 503), so the
 *   balancer sends it to another node instead of serving, or writing over, a stale copy.
 */
import type { Logger } from 'pino'
import type { FetchOutcome, SessionFetch } from './fetch.js'
import type { SessionTable } from './session-table.js'
import { parseSessionId } from '../session/id.js'
import { SessionUnverifiedError } from '../session/errors.js'

export interface PrepareHost {
  readonly route: string
  readonly log: Logger
  readonly table: SessionTable
  readonly fetch: SessionFetch
  /** running, ready, fetching on, and some peer to ask */
  canFetch (): boolean
  mono (): number
}

export class RequestPrepare {
  readonly #host: PrepareHost
  #suspectUntil = 0
  /** requests served when this node lost its last peer (null: it has peers) */
  #cutOffAt: number | null = null
  /** requests committed, to tell a survivor that served alone from a node that was cut off */
  #served = 0

  constructor (host: PrepareHost) {
    this.#host = host
  }

  /** this node's copies may be stale for `ms` (a stall, members back after a loss) */
  suspect (reason: string, ms: number): void {
    const until = this.#host.mono() + ms
    if (until <= this.#suspectUntil) return
    if (this.#suspectUntil <= this.#host.mono()) this.#host.log.warn({ reason, ms }, 'this node\'s copies may be stale: every session is checked with the peers before it is served')
    this.#suspectUntil = until
  }

  get suspected (): boolean { return this.#suspectUntil > this.#host.mono() }

  /** a request committed on this node */
  served (): void { this.#served++ }

  /** the last peer was lost without a goodbye */
  cutOff (): void { this.#cutOffAt ??= this.#served }

  /**
   * A member lost earlier is back. If this node had lost every peer and no request reached it
   * meanwhile (the users went on elsewhere: it was the one cut off), the member may hold newer
   * copies: suspect ours for `ms`. A node that served while alone was the survivor.
   */
  rejoined (ms: number): void {
    if (this.#cutOffAt !== null && this.#cutOffAt === this.#served) this.suspect('members lost while this node was cut off are back', ms)
    this.#cutOffAt = null
  }

  prepare (candidateIds: readonly string[]): Promise<void> | null {
    const h = this.#host
    if (!Array.isArray(candidateIds)) return null
    const suspect = this.suspected
    let waits: Array<Promise<void>> | null = null
    // why lazily: the common request (no id, or a held session of this node) needs no peer list
    let can: boolean | undefined
    const fetching = (): boolean => (can ??= h.canFetch())
    for (const candidate of candidateIds) {
      const parsed = parseSessionId(candidate)
      if (!parsed) continue
      if (h.table.has(parsed.base)) {
        // why: a failover, or copies that may be stale: check with the peers before the binder
        // makes it ours and the next write builds on an old copy
        if ((suspect || parsed.route !== h.route) && fetching()) {
          const check = h.fetch.fetch(candidate, parsed.base)
          ;(waits ??= []).push(suspect ? check.then((outcome) => this.#confirmed(outcome, candidate)) : check.then(() => {}))
        }
        break // why: the first id naming a held session wins; later ones do not matter
      }
      if (h.table.removedRecently(parsed.base) || !fetching()) continue
      ;(waits ??= []).push(h.fetch.fetch(candidate, parsed.base).then(() => {}))
    }
    if (waits === null) return null
    return waits.length === 1 ? waits[0]! : Promise.all(waits).then(() => {})
  }

  #confirmed (outcome: FetchOutcome, id: string): void {
    if (outcome === 'timed-out') throw new SessionUnverifiedError(id)
  }
}
