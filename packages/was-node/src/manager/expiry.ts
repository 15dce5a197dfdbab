/**
 * How a session leaves this node: it expires here (a primary at maxInactiveInterval, and tells the
 * cluster; a backup at twice that, silently: see SessionRecord.isExpired), it is invalidated or
 * removed by a peer, or the manager stops. A removed session's id is tombstoned (except at
 * shutdown), and sessionDestroyed fires.
 */
import type { SessionRecord } from '../session/record.js'
import type { DestroyReason } from './events.js'
import type { ManagerContext } from './context.js'

export class Expiry {
  readonly #ctx: ManagerContext

  constructor (ctx: ManagerContext) {
    this.#ctx = ctx
  }

  /** Expire idle sessions now; returns how many expired. Tombstones that are over are forgotten. */
  sweep (): number {
    const { table } = this.#ctx
    const now = this.#ctx.mono()
    let n = 0
    for (const rec of [...table.values()]) {
      if (rec.isExpired(now)) { this.expire(rec); n++ }
    }
    table.sweepTombstones(now)
    return n
  }

  /** one session expired here: removed, and the cluster told when this node served it */
  expire (rec: SessionRecord): void {
    this.#ctx.stats.expired++
    const tell = rec.primary
    this.remove(rec, 'expired', false)
    if (tell) void this.#ctx.replicator.expired(rec, 'expired')
  }

  /** remove a session held here (`replicated`: a peer said so) */
  remove (rec: SessionRecord, reason: DestroyReason, replicated: boolean): void {
    const { table } = this.#ctx
    if (table.get(rec.base) !== rec) return
    table.delete(rec.base)
    if (reason !== 'shutdown') table.tombstone(rec.base)
    this.#ctx.listeners.destroyed(rec.id, reason, replicated)
  }

  /** the manager stops: with expireSessionsOnShutdown, expire every session cluster-wide first */
  async beforeShutdown (): Promise<void> {
    if (!this.#ctx.opts.expireSessionsOnShutdown) return
    await Promise.all([...this.#ctx.table.values()].map((rec) => this.#ctx.replicator.expired(rec, 'expired')))
  }

  /** the manager stopped: drop every local copy (sessionDestroyed with reason 'shutdown') */
  shutdown (): void {
    for (const rec of [...this.#ctx.table.values()]) this.remove(rec, 'shutdown', false)
  }
}
