/**
 * One stored session as the manager holds it: attribute values as msgpackr bytes (so the size
 * limit, replication and state transfer never re-encode), times on this node's clock, the stamp of
 * the last change and a short history of earlier stamps (to tell a duplicate from a lost write).
 */
import type { Stamp } from './stamp.js'
import { ZERO_STAMP } from './stamp.js'

/** A change as it travels in a delta: only the last change per name survives (DeltaRequest). */
export type DeltaAction =
  | { kind: 'set', name: string, bytes: Uint8Array }
  | { kind: 'delete', name: string }
  | { kind: 'maxInactiveInterval', seconds: number }
  | { kind: 'principal', bytes: Uint8Array | null }

/** What an applied action changed, for the attribute listeners. */
export interface AttributeChange {
  name: string
  kind: 'added' | 'replaced' | 'removed'
  bytes: Uint8Array | undefined
  oldBytes: Uint8Array | undefined
}

/**
 * The bytes to keep for a stored value: a received value is a view into the whole frame it came
 * in (a batch of up to 256 KiB), and msgpackr's own output a view into its shared buffer, so a
 * session kept idle would hold all of that alive. A view much smaller than its backing buffer is
 * copied (the check is one comparison; the copy happens mostly on the receiving side).
 */
export function ownBytes (bytes: Uint8Array): Uint8Array {
  return bytes.buffer.byteLength > KEEP_VIEW_BYTES && bytes.buffer.byteLength > 2 * bytes.byteLength ? Uint8Array.prototype.slice.call(bytes) : bytes
}
/** a view of a backing buffer up to this size is kept as it is (Node's own Buffer pool is 8 KiB) */
const KEEP_VIEW_BYTES = 16 * 1024

const HISTORY = 32
// why: a fixed cost per session and per attribute so the size limit also bounds many tiny values
const SESSION_OVERHEAD = 128
const ATTRIBUTE_OVERHEAD = 16

export class SessionRecord {
  base: string
  route: string
  readonly attributes = new Map<string, Uint8Array>()
  creationTime: number
  lastAccessedTime: number
  maxInactiveInterval: number
  principal: Uint8Array | null = null
  stamp: Stamp = ZERO_STAMP
  history: Stamp[] = []
  /** true on the node that last served a request for it */
  primary: boolean
  /** when this node last sent anything about it (for the accessed rate limit) */
  lastReplicated: number
  /** changes made by requests excluded from replication, sent with the next replicated delta */
  unsent: DeltaAction[] = []
  unsentBase: Stamp | null = null
  /**
   * member ids known to hold a copy (sent to, or heard from); used by the backup manager, which
   * sends a member that lacks the session the whole of it instead of a delta
   */
  holders: Set<string> | null = null
  /** backup manager: when this node found it should no longer hold this copy (mono ms), or null */
  strayAt: number | null = null

  constructor (base: string, route: string, now: number, maxInactiveInterval: number, primary: boolean) {
    this.base = base
    this.route = route
    this.creationTime = now
    this.lastAccessedTime = now
    this.maxInactiveInterval = maxInactiveInterval
    this.primary = primary
    this.lastReplicated = now
  }

  get id (): string { return `${this.base}.${this.route}` }

  /** encoded size: what maxSessionBytes limits */
  get bytes (): number {
    let n = SESSION_OVERHEAD + (this.principal?.length ?? 0)
    for (const [name, v] of this.attributes) n += name.length + v.length + ATTRIBUTE_OVERHEAD
    return n
  }

  /** the size this session would have after `actions` */
  bytesAfter (actions: readonly DeltaAction[]): number {
    let n = this.bytes
    for (const a of actions) {
      if (a.kind === 'set' || a.kind === 'delete') {
        const old = this.attributes.get(a.name)
        if (old) n -= a.name.length + old.length + ATTRIBUTE_OVERHEAD
        if (a.kind === 'set') n += a.name.length + a.bytes.length + ATTRIBUTE_OVERHEAD
      } else if (a.kind === 'principal') {
        n += (a.bytes?.length ?? 0) - (this.principal?.length ?? 0)
      }
    }
    return n
  }

  /** apply actions in order; returns the attribute changes for listeners */
  apply (actions: readonly DeltaAction[]): AttributeChange[] {
    const changes: AttributeChange[] = []
    for (const a of actions) {
      switch (a.kind) {
        case 'set': {
          const old = this.attributes.get(a.name)
          this.attributes.set(a.name, ownBytes(a.bytes))
          changes.push({ name: a.name, kind: old ? 'replaced' : 'added', bytes: a.bytes, oldBytes: old })
          break
        }
        case 'delete': {
          const old = this.attributes.get(a.name)
          if (old) {
            this.attributes.delete(a.name)
            changes.push({ name: a.name, kind: 'removed', bytes: undefined, oldBytes: old })
          }
          break
        }
        case 'maxInactiveInterval': this.maxInactiveInterval = a.seconds; break
        case 'principal': this.principal = a.bytes === null ? null : ownBytes(a.bytes); break
      }
    }
    return changes
  }

  /** move to a new stamp, remembering the old one */
  advance (stamp: Stamp): void {
    if (this.stamp.version > 0) {
      this.history.push(this.stamp)
      if (this.history.length > HISTORY) this.history.shift()
    }
    this.stamp = stamp
  }

  knows (stamp: Stamp): boolean {
    const same = (s: Stamp) => s.version === stamp.version && s.at === stamp.at && s.route === stamp.route
    return same(this.stamp) || this.history.some(same)
  }

  /** idle ms at `now`, and whether that makes it expired (a backup waits twice as long) */
  isExpired (now: number): boolean {
    if (this.maxInactiveInterval <= 0) return false
    const limit = this.maxInactiveInterval * 1000 * (this.primary ? 1 : 2)
    return now - this.lastAccessedTime >= limit
  }
}

/** Merge action lists keeping only the last change per name (Tomcat's DeltaRequest semantics). */
export function mergeActions (first: readonly DeltaAction[], then: readonly DeltaAction[]): DeltaAction[] {
  const byKey = new Map<string, DeltaAction>()
  const key = (a: DeltaAction) => a.kind === 'set' || a.kind === 'delete' ? `a:${a.name}` : a.kind
  for (const a of [...first, ...then]) {
    byKey.delete(key(a)) // why: re-insert so the order is the order of last change
    byKey.set(key(a), a)
  }
  return [...byKey.values()]
}
