/**
 * The end of a request (Tomcat's ReplicationValve): what the request changed becomes one change to
 * the session, stored here and sent to the peers as one message (created, delta, accessed,
 * id-changed, expired). In sync mode the request waits until the peers applied it. The size and
 * session-count limits are checked before anything is stored.
 */
import type { CookieAction } from '../session/types.js'
import type { DeltaAction } from '../session/record.js'
import type { RequestHost, RequestOutcome } from '../session/request.js'
import type { ManagerContext } from './context.js'
import type { Expiry } from './expiry.js'
import { SessionRecord, mergeActions } from '../session/record.js'
import { sessionRef } from '../session/id.js'
import { SessionTooLargeError, TooManySessionsError } from '../session/errors.js'

export class RequestCommit {
  readonly #ctx: ManagerContext
  readonly #expiry: Expiry

  constructor (ctx: ManagerContext, expiry: Expiry) {
    this.#ctx = ctx
    this.#expiry = expiry
  }

  /** what a request (session/request.ts) needs of the manager */
  host (): RequestHost {
    const ctx = this.#ctx
    return {
      route: ctx.route,
      defaultMaxInactiveInterval: ctx.opts.maxInactiveInterval,
      record: (base) => ctx.table.get(base),
      checkCanCreate: () => this.checkCanCreate(),
      rejectedNotSerializable: () => { ctx.stats.rejected.notSerializable++ },
      commit: (outcome) => this.commit(outcome)
    }
  }

  /** throws WAS_ERR_TOO_MANY_SESSIONS when one more session would exceed maxActiveSessions */
  checkCanCreate (): void {
    const limit = this.#ctx.opts.maxActiveSessions
    if (limit >= 0 && this.#ctx.table.size >= limit) {
      this.#ctx.stats.rejected.tooMany++
      throw new TooManySessionsError(limit)
    }
  }

  #checkSize (rec: SessionRecord, actions: readonly DeltaAction[]): void {
    const bytes = rec.bytesAfter(actions)
    const limit = this.#ctx.opts.maxSessionBytes
    if (bytes > limit) {
      this.#ctx.stats.rejected.tooLarge++
      this.#ctx.log.warn({ session: sessionRef(rec.id), bytes, limit }, 'session too large: request changes refused')
      throw new SessionTooLargeError(rec.id, bytes, limit)
    }
  }

  /**
   * A request's outcome becomes one change, stored and sent. In async send mode nothing is waited
   * for, so the cookie action comes back at once (no promise per request); in sync mode a promise
   * that resolves when every send (and the binder's rename sent at open) was acknowledged.
   * Throws (before anything is stored) the limit errors of checkCanCreate and #checkSize.
   */
  commit (o: RequestOutcome): CookieAction | Promise<CookieAction> {
    // why null in async mode: the sends are not waited for, so they need not be collected
    const sends = this.#ctx.opts.sendMode === 'sync' ? [...o.pending] : null
    const cookie = this.#store(o, sends)
    return sends === null ? cookie : this.#afterSends(sends, cookie)
  }

  async #afterSends (sends: Array<Promise<unknown>>, cookie: CookieAction): Promise<CookieAction> {
    const t0 = performance.now()
    await Promise.all(sends)
    this.#ctx.stats.lastSyncWaitMs = performance.now() - t0
    return cookie
  }

  #store (o: RequestOutcome, sends: Array<Promise<unknown>> | null): CookieAction {
    const { table, listeners, replicator, opts, route } = this.#ctx
    const now = this.#ctx.mono()
    const wall = this.#ctx.now()
    if (o.invalidated && o.openedBase !== null) {
      const rec = table.get(o.openedBase)
      if (rec) {
        this.#expiry.remove(rec, 'invalidated', false)
        sent(sends, replicator.expired(rec, 'invalidated'))
      }
    }
    const s = o.session
    if (!s) return o.invalidated ? { action: 'clear' } : { action: 'none' }

    if (s.isNew) {
      this.checkCanCreate()
      const rec = new SessionRecord(s.base, route, now, opts.maxInactiveInterval, true)
      rec.creationTime = wall
      this.#checkSize(rec, o.actions)
      const changes = rec.apply(o.actions)
      rec.advance({ version: 1, at: wall, route })
      table.set(rec)
      listeners.created(rec.id, false)
      listeners.changes(rec.id, changes, false)
      if (o.replicate) sent(sends, replicator.created(rec, now))
      else rec.unsentBase = { version: 0, at: 0, route: '' }
      return { action: 'set', id: rec.id }
    }

    const rec = table.get(s.regeneratedFrom ?? s.base)
    if (!rec) {
      this.#ctx.log.info({ session: sessionRef(s.base) }, 'session ended elsewhere during the request; its changes are dropped')
      return { action: 'clear' }
    }
    if (o.actions.length > 0) this.#checkSize(rec, o.actions)
    if (s.regeneratedFrom !== null) {
      const oldId = rec.id
      table.rebase(rec, s.base)
      rec.route = route
      listeners.idChanged(oldId, rec.id, false)
      sent(sends, replicator.idChanged(rec, oldId))
    }
    const wasPrimary = rec.primary
    rec.primary = true
    rec.lastAccessedTime = now
    if (o.actions.length > 0) {
      const changes = rec.apply(o.actions)
      const base = rec.unsentBase ?? rec.stamp
      // why the check: a request's own actions name each attribute once already
      const all = rec.unsent.length === 0 ? o.actions : mergeActions(rec.unsent, o.actions)
      rec.advance({ version: rec.stamp.version + 1, at: wall, route })
      listeners.changes(rec.id, changes, false)
      if (o.replicate) sent(sends, replicator.changes(rec, base, all, now))
      else { rec.unsentBase = base; rec.unsent = all }
    } else if (o.replicate && rec.unsentBase) {
      sent(sends, replicator.changes(rec, rec.unsentBase, rec.unsent, now))
    } else if (o.replicate) {
      const max = rec.maxInactiveInterval
      const due = max > 0 && now - rec.lastReplicated > max * 1000 * opts.accessReplicateFraction
      if (!wasPrimary || due) {
        rec.lastReplicated = now
        sent(sends, replicator.accessed(rec))
      }
    }
    return rec.id !== o.clientId ? { action: 'set', id: rec.id } : NO_COOKIE_CHANGE
  }
}

/** a send started by the commit: kept when the answer waits for the sends (sync mode) */
function sent (sends: Array<Promise<unknown>> | null, send: Promise<unknown>): void {
  if (sends !== null) sends.push(send)
}

const NO_COOKIE_CHANGE: CookieAction = Object.freeze({ action: 'none' })
