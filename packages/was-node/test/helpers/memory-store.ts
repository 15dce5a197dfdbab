/**
 * TEST DOUBLE: an in-memory SessionStore that follows the contract in src/session/types.ts, for
 * testing the HTTP embeddings without the replicated manager. It records every end() call so tests
 * can assert the replication decision, and can delay end() (sync send mode) or make it fail.
 */
import { randomBytes } from 'node:crypto'
import type { CookieAction, RequestSession, SessionApi, SessionStore } from '../../src/session/types.js'
import { WasError } from '../../src/errors.js'

interface Stored { attributes: Map<string, unknown>, maxInactiveInterval: number, principal: unknown }

export interface MemoryStoreOptions {
  route?: string
  /** resolve `ready` only when the test says so */
  readyGate?: Promise<void>
}

export class MemoryStore implements SessionStore {
  readonly route: string
  readonly ready: Promise<void>
  readonly sessions = new Map<string, Stored>()
  /** one entry per end() call: the session id at the end and the replicate flag */
  readonly ends: Array<{ id: string | null, replicate: boolean }> = []
  /** when set, end() waits for it before resolving (simulates sync send mode) */
  endGate: Promise<void> | null = null
  /** when set, end() rejects with it */
  endError: Error | null = null

  constructor (options: MemoryStoreOptions = {}) {
    this.route = options.route ?? 'mem1'
    this.ready = options.readyGate ?? Promise.resolve()
  }

  newId (): string { return `${randomBytes(16).toString('hex').toUpperCase()}.${this.route}` }

  /** forget a session as if it had expired */
  expire (id: string): void { this.sessions.delete(id) }

  open (candidateIds: readonly string[]): RequestSession {
    let id: string | null = null
    let requestedId: string | null = null
    let rebound = false
    for (const candidate of candidateIds) {
      const dot = candidate.indexOf('.')
      const base = dot > 0 ? candidate.slice(0, dot) : candidate
      const local = `${base}.${this.route}`
      if (this.sessions.has(candidate)) {
        requestedId = candidate
        if (candidate !== local) { // binder: re-suffix to this route
          this.sessions.set(local, this.sessions.get(candidate)!)
          this.sessions.delete(candidate)
          rebound = true
        }
        id = local
        break
      }
    }
    return this.#request(id, requestedId, rebound)
  }

  #request (startId: string | null, requestedId: string | null, rebound: boolean): RequestSession {
    const store = this
    let id = startId
    let isNew = false
    let changed = rebound
    let invalidated = false
    const current = (): Stored | undefined => (id === null ? undefined : store.sessions.get(id))
    const create = (): Stored => {
      let s = current()
      if (s === undefined) {
        id = store.newId(); isNew = true; changed = true; invalidated = false
        s = { attributes: new Map(), maxInactiveInterval: 1800, principal: null }
        store.sessions.set(id, s)
      }
      return s
    }
    const session: SessionApi = {
      get id () { return current() === undefined ? null : id },
      get isNew () { return isNew },
      get<T> (name: string) { return current()?.attributes.get(name) as T | undefined },
      set (name, value) { create().attributes.set(name, value) },
      delete (name) { current()?.attributes.delete(name) },
      has (name) { return current()?.attributes.has(name) ?? false },
      keys () { return [...(current()?.attributes.keys() ?? [])] },
      get maxInactiveInterval () { return current()?.maxInactiveInterval ?? 1800 },
      set maxInactiveInterval (s: number) { create().maxInactiveInterval = s },
      get principal () { return current()?.principal ?? null },
      set principal (p: unknown) { create().principal = p },
      regenerate () {
        const s = current()
        if (s === undefined || id === null) return
        store.sessions.delete(id)
        id = store.newId(); changed = true
        store.sessions.set(id, s)
      },
      invalidate () {
        if (id !== null) store.sessions.delete(id)
        id = null; invalidated = true
      }
    }
    return {
      session,
      requestedId,
      rebound,
      async end ({ replicate }): Promise<CookieAction> {
        store.ends.push({ id: session.id, replicate })
        if (store.endGate !== null) await store.endGate
        if (store.endError !== null) throw store.endError
        if (invalidated && session.id === null) return requestedId !== null ? { action: 'clear' } : { action: 'none' }
        if (session.id !== null && changed) return { action: 'set', id: session.id }
        return { action: 'none' }
      }
    }
  }
}

/** The coded error a real manager rejects end() with for an oversized session. */
export function tooLarge (): WasError {
  return new WasError('WAS_ERR_SESSION_TOO_LARGE', 'session exceeds maxSessionBytes')
}
