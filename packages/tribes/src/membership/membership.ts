/**
 * The member table (Tribes Membership semantics). Identity = host + TCP port + uniqueId: a
 * restarted process has a new uniqueId and so is a new member. Time is passed in by the caller
 * (`now`, ms on any monotonic clock), so the table itself never reads a clock.
 */
import type { Member, MemberMeta } from '../types.js'
import { hostToString, type MemberFields } from '../codec/member.js'

/** Why a datagram changed nothing. Counted by the service as drops, except 'self' and 'unknown-shutdown'. */
export type IgnoreReason = 'self' | 'domain' | 'replay' | 'duplicate' | 'full' | 'unknown-shutdown' | 'kind-conflict'

export type HeardOutcome =
  | { outcome: 'added', member: Member }
  | { outcome: 'updated', member: Member, /** it had been silent and under verification */ wasSuspect: boolean }
  | { outcome: 'removed', member: Member, reason: 'shutdown' }
  | { outcome: 'ignored', reason: IgnoreReason }

export interface MemberEntry {
  member: Member
  /** `now` of the last datagram that advanced its aliveTime */
  lastHeard: number
  /** set while it is silent past dropTime but its receiver still answers */
  suspectSince: number | undefined
}

export interface MembershipTableOptions {
  /** this process; its own datagrams (multicast loopback) are ignored */
  local: { host: string, port: number, uniqueId: string }
  domain: string
  dropTime: number
  maxMembers?: number
  maxForeignMembers?: number
}

const TOMBSTONES = 1024

/** "10.0.0.11:4000/1f6f…" ("[::1]:4000/…" for IPv6): the member id of types.ts. */
export function memberId (host: string, port: number, uniqueId: string): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}/${uniqueId}`
}

/** Build the public Member of a decoded blob. */
export function toMember (fields: MemberFields, meta: MemberMeta | null): Member {
  const host = hostToString(fields.host)
  const uniqueId = fields.uniqueId.toString('hex')
  return Object.freeze({
    id: memberId(host, fields.port, uniqueId),
    host,
    port: fields.port,
    uniqueId,
    domain: fields.domain.toString('latin1'),
    aliveTime: fields.aliveTime,
    meta: meta === null ? null : Object.freeze({ ...meta })
  })
}

const byAliveTime = (a: MemberEntry, b: MemberEntry): number =>
  b.member.aliveTime - a.member.aliveTime || (a.member.id < b.member.id ? -1 : a.member.id > b.member.id ? 1 : 0)

export class MembershipTable {
  readonly #localId: string
  readonly #domain: string
  readonly #dropTime: number
  readonly #maxMembers: number
  readonly #maxForeign: number
  readonly #entries = new Map<string, MemberEntry>()
  /** removed ids → highest aliveTime that may no longer bring them back (Infinity after shutdown) */
  readonly #tombstones = new Map<string, number>()

  constructor (options: MembershipTableOptions) {
    this.#localId = memberId(options.local.host, options.local.port, options.local.uniqueId)
    this.#domain = options.domain
    this.#dropTime = options.dropTime
    this.#maxMembers = options.maxMembers ?? 1024
    this.#maxForeign = options.maxForeignMembers ?? 64
  }

  get dropTime (): number { return this.#dropTime }

  /**
   * Apply one decoded datagram heard at `now`. A known member's datagram with a lower aliveTime
   * than already seen is a replay; an equal one is a duplicate that does not count as a sign of
   * life. A shutdown (BABY-ALEX) removes the member at once.
   */
  heard (member: Member, shutdown: boolean, now: number): HeardOutcome {
    if (member.id === this.#localId) return { outcome: 'ignored', reason: 'self' }
    if (member.domain !== this.#domain) return { outcome: 'ignored', reason: 'domain' }
    const existing = this.#entries.get(member.id)
    if (existing !== undefined) {
      // why: foreign datagrams carry no tag; one must never turn a nodecat member into a
      // foreign one (or shut it down) by borrowing its identity
      if ((existing.member.meta === null) !== (member.meta === null)) return { outcome: 'ignored', reason: 'kind-conflict' }
      if (member.aliveTime < existing.member.aliveTime) return { outcome: 'ignored', reason: 'replay' }
      if (shutdown) {
        this.#entries.delete(member.id)
        this.#bury(member.id, Infinity)
        return { outcome: 'removed', member: existing.member, reason: 'shutdown' }
      }
      if (member.aliveTime === existing.member.aliveTime) return { outcome: 'ignored', reason: 'duplicate' }
      const wasSuspect = existing.suspectSince !== undefined
      existing.member = member
      existing.lastHeard = now
      existing.suspectSince = undefined
      return { outcome: 'updated', member, wasSuspect }
    }
    const buried = this.#tombstones.get(member.id)
    if (buried !== undefined && member.aliveTime <= buried) return { outcome: 'ignored', reason: 'replay' }
    if (shutdown) {
      this.#bury(member.id, Infinity)
      return { outcome: 'ignored', reason: 'unknown-shutdown' }
    }
    if (this.#entries.size >= this.#maxMembers) return { outcome: 'ignored', reason: 'full' }
    if (member.meta === null && this.foreignMembers().length >= this.#maxForeign) return { outcome: 'ignored', reason: 'full' }
    this.#tombstones.delete(member.id)
    this.#entries.set(member.id, { member, lastHeard: now, suspectSince: undefined })
    return { outcome: 'added', member }
  }

  /** Entries silent for strictly more than dropTime at `now`. */
  silent (now: number): MemberEntry[] {
    return [...this.#entries.values()].filter((e) => now - e.lastHeard > this.#dropTime)
  }

  /** Remove every member silent for more than dropTime, unverified (reason 'timeout'). */
  expire (now: number): Member[] {
    return this.silent(now).map((e) => this.remove(e.member.id)!).filter((m) => m !== undefined)
  }

  /**
   * Remove a member. Later datagrams of the same identity are accepted again only with a higher
   * aliveTime than the last seen (a process that was frozen and resumes comes back as itself).
   */
  remove (id: string): Member | undefined {
    const entry = this.#entries.get(id)
    if (entry === undefined) return undefined
    this.#entries.delete(id)
    this.#bury(id, entry.member.aliveTime)
    return entry.member
  }

  get (id: string): MemberEntry | undefined {
    return this.#entries.get(id)
  }

  /** nodecat members, longest-running first. */
  members (): Member[] {
    return [...this.#entries.values()].filter((e) => e.member.meta !== null).sort(byAliveTime).map((e) => e.member)
  }

  /** foreign members (payload not nodecat's), longest-running first. */
  foreignMembers (): Member[] {
    return [...this.#entries.values()].filter((e) => e.member.meta === null).sort(byAliveTime).map((e) => e.member)
  }

  #bury (id: string, aliveTime: number): void {
    this.#tombstones.delete(id)
    this.#tombstones.set(id, aliveTime)
    if (this.#tombstones.size > TOMBSTONES) this.#tombstones.delete(this.#tombstones.keys().next().value!)
  }
}
