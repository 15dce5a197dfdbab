/**
 * Partition heal: a member dropped without a goodbye (hung, cut off) may come back as itself
 * (SIGCONT, a healed network), and would then serve the copies it held when it went silent. So
 * this node remembers when it lost such a member, and when the member is back sends it its copy
 * of each session it serves that changed since shortly before, and the sessions removed since;
 * the member installs only what is newer than what it holds. (A restarted process has a new id
 * and gets the sessions by state transfer.)
 */
import type { Member, SendResult } from '@nodecat/tribes'
import type { ManagerContext } from './context.js'

/** ms before a member was dropped from which its missed changes are resent when it comes back */
export const LOST_MEMBER_MARGIN = 60_000
/** sends of the changes a member that came back missed, when some were not acknowledged */
export const RESYNC_ATTEMPTS = 4
export const RESYNC_RETRY_MS = 1000

export class PartitionHeal {
  readonly #ctx: ManagerContext

  constructor (ctx: ManagerContext) {
    this.#ctx = ctx
  }

  /** a member was dropped: remember when, unless it said goodbye or is no session peer */
  memberGone (member: Member, reason?: string): void {
    if (reason !== 'shutdown' && member.meta?.role === 'node') this.#ctx.table.memberLost(member.id)
  }

  /** a member appeared: resync it if it is one we lost; false when it is not (a new member) */
  memberBack (member: Member): boolean {
    const lostAt = this.#ctx.table.memberBack(member.id)
    if (lostAt === undefined) return false
    // why the margin: changes sent while it was already silent, before we gave it up, may be lost too
    if (member.meta?.role === 'node') void this.#resync(member, lostAt - LOST_MEMBER_MARGIN, 1)
    return true
  }

  /**
   * Send a member that is back the sessions this node serves and used or changed since `since`
   * (its own clock, not the stamps' writer clocks, which may be skewed), and the sessions removed
   * since. Acknowledged (sync) sends: right after a heal the first frames on a new connection can
   * be lost, and a fire-and-forget push left copies diverged for good (sessions nobody touched
   * again stayed different). What was not acknowledged is sent again, a few times.
   */
  async #resync (member: Member, since: number, attempt: number): Promise<void> {
    const { table, replicator, log } = this.#ctx
    const sends: Array<Promise<SendResult | null>> = []
    let pushed = 0
    let removed = 0
    const heldThere = replicator.heldThere(member)
    for (const rec of table.values()) {
      if (rec.primary && (rec.lastAccessedTime >= since || rec.lastReplicated >= since) && heldThere(rec)) {
        sends.push(replicator.pushWinner(rec, member, 'sync'))
        pushed++
      }
    }
    for (const { base, at } of table.removedSince(since)) {
      sends.push(replicator.removal(base, at, member, 'sync'))
      removed++
    }
    const results = await Promise.all(sends)
    const failed = results.filter((r) => r === null || r.failed.length > 0).length
    log.info({ member: member.id, pushed, removed, failed, attempt }, 'a member that was dropped is back: sent it the sessions changed and removed since')
    if (failed === 0 || attempt >= RESYNC_ATTEMPTS || !this.#ctx.running()) return
    await new Promise((resolve) => setTimeout(resolve, RESYNC_RETRY_MS).unref())
    if (this.#ctx.running() && replicator.peers().some((m) => m.id === member.id)) await this.#resync(member, since, attempt + 1)
  }
}
