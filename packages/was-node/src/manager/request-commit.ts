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
      commit: async (outcome) => await this.commit(outcome)
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

  async commit (o: RequestOutcome): Promise<CookieAction> {
    const { table, listeners, replicator, opts, stats, route } = this.#ctx
    const now = this.#ctx.mono()
    const wall = this.#ctx.now()
    const sends: Array<Promise<unknown>> = [...o.pending]
    const finish = async (cookie: CookieAction): Promise<CookieAction> => {
      if (opts.sendMode === 'sync') {
        const t0 = performance.now()
        await Promise.all(sends)
        stats.lastSyncWaitMs = performance.now() - t0
      }
      return cookie
    }
    if (o.invalidated && o.openedBase !== null) {
      const rec = table.get(o.openedBase)
      if (rec) {
        this.#expiry.remove(rec, 'invalidated', false)
        sends.push(replicator.expired(rec, 'invalidated'))
      }
    }
    const s = o.session
    if (!s) return await finish(o.invalidated ? { action: 'clear' } : { action: 'none' })

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
      if (o.replicate) sends.push(replicator.created(rec, now))
      else rec.unsentBase = { version: 0, at: 0, route: '' }
      return await finish({ action: 'set', id: rec.id })
    }

    const rec = table.get(s.regeneratedFrom ?? s.base)
    if (!rec) {
      this.#ctx.log.info({ session: sessionRef(s.base) }, 'session ended elsewhere during the request; its changes are dropped')
      return await finish({ action: 'clear' })
    }
    if (o.actions.length > 0) this.#checkSize(rec, o.actions)
    if (s.regeneratedFrom !== null) {
      const oldId = rec.id
      table.rebase(rec, s.base)
      rec.route = route
      listeners.idChanged(oldId, rec.id, false)
      sends.push(replicator.idChanged(rec, oldId))
    }
    const wasPrimary = rec.primary
    rec.primary = true
    rec.lastAccessedTime = now
    if (o.actions.length > 0) {
      const changes = rec.apply(o.actions)
      const base = rec.unsentBase ?? rec.stamp
      const all = mergeActions(rec.unsent, o.actions)
      rec.advance({ version: rec.stamp.version + 1, at: wall, route })
      listeners.changes(rec.id, changes, false)
      if (o.replicate) sends.push(replicator.changes(rec, base, all, now))
      else { rec.unsentBase = base; rec.unsent = all }
    } else if (o.replicate && rec.unsentBase) {
      sends.push(replicator.changes(rec, rec.unsentBase, rec.unsent, now))
    } else if (o.replicate) {
      const max = rec.maxInactiveInterval
      const due = max > 0 && now - rec.lastReplicated > max * 1000 * opts.accessReplicateFraction
      if (!wasPrimary || due) {
        rec.lastReplicated = now
        sends.push(replicator.accessed(rec))
      }
    }
    return await finish(rec.id !== o.clientId ? { action: 'set', id: rec.id } : { action: 'none' })
  }
}
