/**
 * A SessionStore that stands in for the session manager while the node starts: the HTTP server
 * must listen before the channel can advertise its URL, and the manager needs the channel. Requests
 * that arrive meanwhile wait in the middleware on `ready`, which resolves once the real store is
 * attached and its own state transfer is over.
 */
import type { RequestSession, SessionStore } from '../session/types.js'
import { serviceErrors } from './errors.js'

export class DeferredStore implements SessionStore {
  readonly route: string
  readonly ready: Promise<void>
  #target: SessionStore | null = null
  #resolve!: () => void
  #reject!: (err: unknown) => void

  constructor (route: string) {
    this.route = route
    this.ready = new Promise<void>((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
    // why: a node that fails to start must not leave an unhandled rejection behind
    this.ready.catch(() => {})
  }

  /** hand requests to the real store once it is ready */
  attach (target: SessionStore): void {
    this.#target = target
    target.ready.then(() => this.#resolve(), (err: unknown) => this.#reject(err))
  }

  /** startup failed: waiting requests get an error instead of hanging */
  fail (err: unknown): void { this.#reject(err) }

  prepare (candidateIds: readonly string[]): Promise<void> | null {
    return this.#target?.prepare?.(candidateIds) ?? null
  }

  open (candidateIds: readonly string[]): RequestSession {
    if (this.#target === null) throw serviceErrors.notReady()
    return this.#target.open(candidateIds)
  }
}
