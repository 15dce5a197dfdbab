/**
 * The session table of one node: the sessions it holds (by id base), the tombstones of sessions
 * removed a moment ago (so a late or replayed message cannot bring one back), and the members that
 * were dropped without a goodbye (they may come back stale: partition-heal.ts). Times are on this
 * node's monotonic clock (clock.ts).
 */
import type { SessionRecord } from '../session/record.js'

export interface TableOptions {
  /** ms a removed session's id is remembered (0: not at all) */
  tombstoneTime: number
  mono (): number
  /** a session's id was tombstoned (its held deltas are dropped) */
  onTombstone (base: string): void
  /** a message for a tombstoned session was ignored */
  onIgnored (): void
}

/** lost members remembered at most */
const MAX_LOST_MEMBERS = 256

export class SessionTable {
  readonly #o: TableOptions
  readonly #sessions = new Map<string, SessionRecord>()
  /** base → until when (ms) it stays removed */
  readonly #tombstones = new Map<string, number>()
  /** member id → when (ms) it was dropped without a goodbye */
  readonly #lostMembers = new Map<string, number>()

  constructor (options: TableOptions) {
    this.#o = options
  }

  /** the sessions, by base (read-only: change them through this table) */
  get records (): ReadonlyMap<string, SessionRecord> { return this.#sessions }
  get size (): number { return this.#sessions.size }
  get (base: string): SessionRecord | undefined { return this.#sessions.get(base) }
  has (base: string): boolean { return this.#sessions.has(base) }
  values (): IterableIterator<SessionRecord> { return this.#sessions.values() }
  /** store a record under its base (replacing the copy held) */
  set (rec: SessionRecord): void { this.#sessions.set(rec.base, rec) }
  delete (base: string): void { this.#sessions.delete(base) }

  /** a session changes its id base (regenerated here, or renamed by a peer): the old base is tombstoned */
  rebase (rec: SessionRecord, base: string): void {
    this.#sessions.delete(rec.base)
    this.tombstone(rec.base)
    rec.base = base
    this.#sessions.set(base, rec)
  }

  /** remember a removed session's base for tombstoneTime */
  tombstone (base: string): void {
    if (this.#o.tombstoneTime > 0) this.#tombstones.set(base, this.#o.mono() + this.#o.tombstoneTime)
    this.#o.onTombstone(base)
  }

  /** removed a moment ago: messages for it are ignored (and counted) */
  isTombstoned (base: string): boolean {
    const until = this.#tombstones.get(base)
    if (until === undefined) return false
    if (until > this.#o.mono()) { this.#o.onIgnored(); return true }
    this.#tombstones.delete(base)
    return false
  }

  /** removed a moment ago (without counting anything) */
  removedRecently (base: string): boolean {
    const until = this.#tombstones.get(base)
    return until !== undefined && until > this.#o.mono()
  }

  /** bases removed within the tombstone time, with when each was removed */
  * removedSince (since = -Infinity): Generator<{ base: string, at: number }> {
    for (const [base, until] of this.#tombstones) {
      const at = until - this.#o.tombstoneTime
      if (at >= since) yield { base, at }
    }
  }

  /** bases removed within the tombstone time */
  removedBases (): string[] {
    return [...this.#tombstones.keys()]
  }

  /** forget tombstones that are over */
  sweepTombstones (now: number): void {
    for (const [base, until] of this.#tombstones) if (until <= now) this.#tombstones.delete(base)
  }

  /** a member was dropped without a goodbye, now */
  memberLost (id: string): void {
    this.#lostMembers.set(id, this.#o.mono())
    if (this.#lostMembers.size > MAX_LOST_MEMBERS) this.#lostMembers.delete(this.#lostMembers.keys().next().value!)
  }

  /** a member is back: when it was lost (forgotten now), or undefined if it was not */
  memberBack (id: string): number | undefined {
    const at = this.#lostMembers.get(id)
    if (at !== undefined) this.#lostMembers.delete(id)
    return at
  }
}
