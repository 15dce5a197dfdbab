/**
 * Deltas that cannot be applied yet (a version gap, or a session this node does not know) are not
 * dropped: they wait here, briefly, for the missing delta; then the whole session is asked for,
 * from the delta's sender first and then from every other node (session-request →
 * session-full), each with a timeout. Bounded: per session and in total.
 */
import type { Member } from '@nodecat/tribes'
import type { DeltaAction } from '../session/record.js'
import type { Stamp } from '../session/stamp.js'
import type { ManagerContext } from './context.js'
import { sessionRef } from '../session/id.js'

/** a delta waiting for a missing version or an unknown session */
export interface Held { id: string, route: string, from: Stamp, to: Stamp, actions: DeltaAction[], sender: Member }

interface Entry { items: Held[], timer: NodeJS.Timeout | null, asking: boolean, attempts: number }
interface Request { base: string, id: string, candidates: Member[], timer: NodeJS.Timeout }

export const MAX_HELD_PER_SESSION = 64
export const MAX_HELD = 10_000
/** fetches of one session before its held deltas are given up */
export const MAX_FULL_ATTEMPTS = 3

export interface HeldHost {
  /** the members that may hold this session (the replication strategy's fetchFrom) */
  peers (id: string): Member[]
  running (): boolean
  /** a fresh request number, never 0 (0 marks an unsolicited session-full: a pushed winner) */
  nextReq (): number
  /** send session-request { id, req } to one member; true when it refused (runs no longer: holds nothing) */
  ask (member: Member, id: string, req: number): Promise<boolean>
  /** a held delta refused because the bounds are reached */
  overflow (d: Held): void
  /** held deltas given up (nobody has the session, or the gap stays open) */
  giveUp (id: string, held: number, why: string): void
}

export class HeldDeltas {
  readonly #host: HeldHost
  readonly #gapWait: number
  readonly #requestTimeout: number
  readonly #entries = new Map<string, Entry>()
  readonly #requests = new Map<number, Request>()
  #count = 0

  constructor (host: HeldHost, opts: { gapWait: number, requestTimeout: number }) {
    this.#host = host
    this.#gapWait = opts.gapWait
    this.#requestTimeout = opts.requestTimeout
  }

  /** deltas held now */
  get count (): number { return this.#count }

  #entry (base: string): Entry {
    let e = this.#entries.get(base)
    if (!e) { e = { items: [], timer: null, asking: false, attempts: 0 }; this.#entries.set(base, e) }
    return e
  }

  /** hold a delta; ask for the whole session after gapWait, or at once with askNow */
  hold (base: string, d: Held, askNow: boolean): void {
    const e = this.#entry(base)
    if (e.items.length >= MAX_HELD_PER_SESSION || this.#count >= MAX_HELD) return this.#host.overflow(d)
    e.items.push(d)
    this.#count++
    if (e.asking) return
    if (askNow) {
      if (e.timer) clearTimeout(e.timer)
      e.timer = null
      this.request(base, d.id, d.sender)
    } else if (!e.timer) {
      e.timer = setTimeout(() => { e.timer = null; this.request(base, d.id, d.sender) }, this.#gapWait)
    }
  }

  /** the deltas held for one session (a copy) */
  items (base: string): Held[] {
    return [...(this.#entries.get(base)?.items ?? [])]
  }

  /** a held delta was applied or settled */
  remove (base: string, d: Held): void {
    const e = this.#entries.get(base)
    const i = e ? e.items.indexOf(d) : -1
    if (!e || i < 0) return
    e.items.splice(i, 1)
    this.#count--
  }

  /** forget a session's held deltas, unless a fetch is still under way and some remain */
  settle (base: string): void {
    const e = this.#entries.get(base)
    if (e && e.items.length === 0 && !e.asking) this.clear(base)
  }

  clear (base: string): void {
    const e = this.#entries.get(base)
    if (!e) return
    if (e.timer) clearTimeout(e.timer)
    this.#count -= e.items.length
    this.#entries.delete(base)
  }

  clearAll (): void {
    for (const e of this.#entries.values()) if (e.timer) clearTimeout(e.timer)
    for (const r of this.#requests.values()) clearTimeout(r.timer)
    this.#entries.clear()
    this.#requests.clear()
    this.#count = 0
  }

  /** ask members for the whole session: `first` (the sender) first, then each other node */
  request (base: string, id: string, first: Member): void {
    const e = this.#entry(base)
    if (e.asking || !this.#host.running()) return
    e.asking = true
    e.attempts++
    this.#askNext(base, id, [first, ...this.#host.peers(id).filter((m) => m.id !== first.id)])
  }

  #askNext (base: string, id: string, candidates: Member[]): void {
    const e = this.#entries.get(base)
    if (!e || !this.#host.running()) return
    const member = candidates.shift()
    if (!member) {
      if (e.items.length > 0) this.#host.giveUp(id, e.items.length, 'no member has this session any more')
      e.asking = false
      this.clear(base)
      return
    }
    const req = this.#host.nextReq()
    const timer = setTimeout(() => { this.#requests.delete(req); this.#askNext(base, id, candidates) }, this.#requestTimeout)
    this.#requests.set(req, { base, id, candidates, timer })
    void this.#host.ask(member, id, req).then((gone) => { if (gone) this.answered(req, base, false) }, () => {})
  }

  /**
   * A session-full answered request `req`. Returns the session base when the copy should be
   * installed, or null: not our request ('unsolicited'), or the member had no copy (the next one
   * is asked).
   */
  answered (req: number, base: string, hasCopy: boolean): { base: string } | 'unsolicited' | null {
    const r = this.#requests.get(req)
    if (!r || r.base !== base) return 'unsolicited'
    clearTimeout(r.timer)
    this.#requests.delete(req)
    if (!hasCopy) { this.#askNext(r.base, r.id, r.candidates); return null }
    const e = this.#entries.get(r.base)
    if (e) e.asking = false
    return { base: r.base }
  }

  /** after installing a fetched copy: deltas still held are newer still; ask their sender, a few times */
  afterFetch (base: string): void {
    const e = this.#entries.get(base)
    if (!e) return
    if (e.items.length === 0) return this.clear(base)
    const first = e.items[0]!
    if (e.attempts >= MAX_FULL_ATTEMPTS) {
      this.#host.giveUp(first.id, e.items.length, 'gap could not be closed')
      this.clear(base)
    } else {
      this.request(base, first.id, first.sender)
    }
  }
}

/** A manager's held deltas: gave-up gaps are counted and logged, the waits come from its options. */
export function heldDeltasOf (ctx: ManagerContext, host: Pick<HeldHost, 'peers' | 'nextReq' | 'ask' | 'overflow'>): HeldDeltas {
  const giveUp = (id: string, held: number, why: string): void => {
    ctx.stats.gapsUnrecoverable++
    ctx.log.warn({ session: sessionRef(id), held }, `${why}: held deltas dropped`)
  }
  return new HeldDeltas({ ...host, running: ctx.running, giveUp }, { gapWait: ctx.opts.gapWait, requestTimeout: ctx.opts.sessionRequestTimeout })
}
