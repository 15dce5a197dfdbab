/**
 * The conflict rules, as pure functions: given the stored copy of a session and what a peer sent
 * (a delta, a whole copy, an expiry, an access), say what to do. The order itself (versions first,
 * then the stamp's time and route) is ../session/stamp.ts; the receive side (receive.ts) carries
 * out the verdicts, counts and logs the conflicts.
 */
import type { AttributeChange, SessionRecord } from '../session/record.js'
import type { Stamp } from '../session/stamp.js'
import { compareStamps, formatStamp, sameStamp } from '../session/stamp.js'

/**
 * What to do with a delta (`from` → `to`) against the stored copy:
 * - apply: it continues the stored copy;
 * - duplicate: already applied here, or older than the history this node remembers;
 * - incoming-lost: a concurrent write that orders before ours: ours wins (push it to the peers);
 * - gap: a delta in between is missing (or the same writer is ahead): hold it a moment;
 * - stored-lost: a concurrent write that orders after ours: fetch the winner's copy now.
 */
export type DeltaVerdict = 'apply' | 'duplicate' | 'incoming-lost' | 'gap' | 'stored-lost'

export function judgeDelta (stored: SessionRecord, d: { from: Stamp, to: Stamp }): DeltaVerdict {
  if (sameStamp(d.from, stored.stamp)) return 'apply'
  if (stored.knows(d.to)) return 'duplicate'
  if (compareStamps(d.to, stored.stamp) < 0) {
    const oldest = stored.history[0]?.version ?? stored.stamp.version
    if (d.to.version < oldest) return 'duplicate' // why: older than what we remember
    return 'incoming-lost'
  }
  if (d.from.version > stored.stamp.version || stored.stamp.route === d.to.route) return 'gap'
  return 'stored-lost'
}

/** which side's changes are lost when two copies come from different lineages */
export type CopyLoss = 'stored copy lost' | 'incoming copy lost'

/**
 * A whole copy (a push after a heal, a fetched session, a state transfer, a 'created') against the
 * stored one: `install` when it orders after the stored copy; `lost` when the two come from
 * different lineages (neither stamp is in the other's history), so one side's changes since they
 * split are lost.
 */
export function judgeFull (stored: SessionRecord, incoming: SessionRecord): { install: boolean, lost: CopyLoss | null } {
  const order = compareStamps(incoming.stamp, stored.stamp)
  if (order === 0) return { install: false, lost: null }
  const [winner, loser] = order > 0 ? [incoming, stored] : [stored, incoming]
  let lost: CopyLoss | null = order > 0 ? 'stored copy lost' : 'incoming copy lost'
  if (winner.knows(loser.stamp)) lost = null
  // why: older than the winner's remembered history: probably an ancestor, not a lost change
  else if (loser.stamp.version < (winner.history[0]?.version ?? winner.stamp.version)) lost = null
  return { install: order > 0, lost }
}

/** a peer expired a session that has newer changes here: expiry still wins, but it is a conflict */
export function expiryOverridesNewer (stored: Stamp, at: Stamp, why: 'expired' | 'invalidated'): boolean {
  return why === 'expired' && compareStamps(at, stored) < 0
}

/**
 * A peer says a session was used at stamp `at`:
 * - fetch: this node lacks it, or missed changes (ask for the whole session);
 * - touch: same copy here (note the use);
 * - push-and-touch: the sender serves an older copy than ours (send it ours, and note the use).
 */
export function judgeAccessed (stored: SessionRecord | undefined, at: Stamp): 'fetch' | 'touch' | 'push-and-touch' {
  if (stored === undefined || compareStamps(at, stored.stamp) > 0) return 'fetch'
  return sameStamp(at, stored.stamp) ? 'touch' : 'push-and-touch'
}

/** the attribute events a whole copy replacing the stored one amounts to */
export function attributeChanges (before: ReadonlyMap<string, Uint8Array>, after: ReadonlyMap<string, Uint8Array>): AttributeChange[] {
  const changes: AttributeChange[] = []
  for (const [name, old] of before) {
    const now = after.get(name)
    if (!now) changes.push({ name, kind: 'removed', bytes: undefined, oldBytes: old })
    else if (Buffer.compare(now, old) !== 0) changes.push({ name, kind: 'replaced', bytes: now, oldBytes: old })
  }
  for (const [name, bytes] of after) if (!before.has(name)) changes.push({ name, kind: 'added', bytes, oldBytes: undefined })
  return changes
}

/** losing changes already counted as conflicts ("base|stamp"), bounded: several peers may bring the same copy */
export class LossMemory {
  readonly #seen = new Set<string>()
  readonly #max: number

  constructor (max = 1024) {
    this.#max = max
  }

  /** true the first time this losing change is seen */
  first (base: string, loser: Stamp): boolean {
    const key = `${base}|${formatStamp(loser)}`
    if (this.#seen.has(key)) return false
    this.#seen.add(key)
    if (this.#seen.size > this.#max) this.#seen.delete(this.#seen.values().next().value!)
    return true
  }
}
