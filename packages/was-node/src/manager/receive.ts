/**
 * The receiving side of replication: every session message from a peer is checked (validate.ts),
 * counted, held back while the initial state transfer runs (transfer-coordinator.ts), and handled
 * here through the conflict rules (conflict-rules.ts): deltas apply in version order, a gap or an
 * unknown session is held and fetched whole (held.ts), a whole copy is installed only where it is
 * newer, and concurrent writes are counted and logged once each.
 */
import type { Member } from '@nodecat/tribes'
import type { SessionRecord } from '../session/record.js'
import type { FullSession, SessionMessage } from './messages.js'
import type { MessageLimits } from './validate.js'
import type { ManagerContext } from './context.js'
import type { Expiry } from './expiry.js'
import type { HeldDeltas, Held } from './held.js'
import type { SessionFetch } from './fetch.js'
import type { Reconciler } from './reconcile.js'
import type { TransferCoordinator } from './transfer-coordinator.js'
import { formatStamp } from '../session/stamp.js'
import { parseSessionId, sessionRef } from '../session/id.js'
import { actionFromTuple, fromFull, fromTuple } from './messages.js'
import { checkMessage } from './validate.js'
import { LossMemory, attributeChanges, expiryOverridesNewer, judgeAccessed, judgeDelta, judgeFull, type CopyLoss } from './conflict-rules.js'

/** the other parts the receive side hands messages to */
export interface ReceiveParts {
  expiry: Expiry
  held: HeldDeltas
  fetch: SessionFetch
  reconciler: Reconciler
  transfer: TransferCoordinator
}

type Msg<T extends SessionMessage['t']> = Extract<SessionMessage, { t: T }>

export class ReplicationReceiver {
  readonly #ctx: ManagerContext
  readonly #makeParts: () => ReceiveParts
  #built: ReceiveParts | null = null
  readonly #limits: MessageLimits
  readonly #losses = new LossMemory()

  /** `parts` is called when a message arrives (the parts are built after the receiver) */
  constructor (ctx: ManagerContext, parts: () => ReceiveParts) {
    this.#ctx = ctx
    this.#makeParts = parts
    this.#limits = { maxSessionBytes: ctx.opts.maxSessionBytes, maxEntries: 10_000, maxChunkSessions: 5000 }
  }

  /** the parts, asked for once they all exist (not per message) */
  #parts (): ReceiveParts {
    if (this.#built !== null) return this.#built
    const parts = this.#makeParts()
    if (parts.expiry !== undefined && parts.held !== undefined && parts.fetch !== undefined && parts.reconciler !== undefined && parts.transfer !== undefined) this.#built = parts
    return parts
  }

  /** a message was dropped (malformed, forged, stale, …): counted by reason and logged */
  drop (reason: string, sender: Member, detail?: unknown): void {
    const { stats, log } = this.#ctx
    stats.dropped[reason] = (stats.dropped[reason] ?? 0) + 1
    log.warn({ reason, member: sender?.id, detail }, 'replication message dropped')
  }

  /** everything the channel delivers: session messages are ours, anything else is someone else's */
  onMessage (raw: unknown, sender: Member): void | Promise<void> {
    if (!this.#ctx.running()) return
    const checked = checkMessage(raw, this.#limits)
    if (checked === null) return // why: someone else's message on the shared channel
    if (!checked.ok) return this.drop(checked.reason, sender)
    const msg = checked.message
    const { stats } = this.#ctx
    stats.received[msg.t] = (stats.received[msg.t] ?? 0) + 1
    if (this.#parts().transfer.holds(msg, sender)) return
    try {
      return this.handle(msg, sender)
    } catch (err) {
      this.drop('handler-error', sender, (err as Error).message)
    }
  }

  /** one checked message (also a queued one, replayed after the state transfer) */
  handle (msg: SessionMessage, sender: Member): void | Promise<void> {
    const { transfer, reconciler } = this.#parts()
    switch (msg.t) {
      case 'created': this.installFull(msg.s, 'created', sender); return
      case 'delta': return this.#onDelta(msg, sender)
      case 'expired': return this.#onExpired(msg, sender)
      case 'accessed': return this.#onAccessed(msg, sender)
      case 'id-changed': return this.#onIdChanged(msg, sender)
      case 'get-all': return transfer.onGetAll(msg.xfer, sender)
      case 'all-data': return transfer.onChunk(msg, sender)
      case 'transfer-complete': return transfer.onComplete(msg, sender)
      case 'session-request': {
        const p = parseSessionId(msg.id)!
        void this.#ctx.replicator.answer(msg.id, msg.req, this.#ctx.table.get(p.base), sender)
        return
      }
      case 'session-full': return this.#onSessionFull(msg, sender)
      case 'digest': {
        const outcome = reconciler.onDigest(msg, sender)
        if (outcome !== 'ok') this.drop(`digest-${outcome}`, sender)
      }
    }
  }

  /** a whole session from a peer: install it if this node has nothing newer */
  installFull (f: FullSession, source: 'created' | 'transfer' | 'session-full', sender: Member | null = null): void {
    const { table, listeners, stats } = this.#ctx
    const p = parseSessionId(f.id)!
    if (table.isTombstoned(p.base)) return
    const incoming = fromFull(f, p.base, p.route, this.#ctx.mono())
    const rec = table.get(p.base)
    if (!rec) {
      table.set(incoming)
      listeners.created(incoming.id, true)
      listeners.changes(incoming.id, attributeChanges(new Map(), incoming.attributes), true)
    } else {
      const verdict = judgeFull(rec, incoming)
      if (verdict.lost !== null) this.#copyConflict(rec, incoming, sender, verdict.lost)
      if (verdict.install) {
        const changes = attributeChanges(rec.attributes, incoming.attributes)
        incoming.holders = rec.holders
        table.set(incoming)
        listeners.changes(incoming.id, changes, true)
      } else if (verdict.lost === 'incoming copy lost') {
        // why: the sender serves or pushed a losing copy and does not know it: send it ours
        if (sender !== null) void this.#ctx.replicator.pushWinner(rec, sender)
      } else if (source !== 'transfer') {
        stats.duplicates++
      }
    }
    const held = table.get(p.base)
    if (held !== undefined) this.#ctx.replicator.heldBy(held, sender)
    this.#drainHeld(p.base)
  }

  #onDelta (msg: Msg<'delta'>, sender: Member): void {
    const p = parseSessionId(msg.id)!
    if (this.#ctx.table.isTombstoned(p.base)) return
    const d: Held = { id: msg.id, route: p.route, from: fromTuple(msg.from), to: fromTuple(msg.to), actions: msg.a.map(actionFromTuple), sender }
    const rec = this.#ctx.table.get(p.base)
    if (!rec) return this.#parts().held.hold(p.base, d, false)
    if (this.#classify(rec, d, false) === 'applied') this.#drainHeld(p.base)
  }

  /** apply, ignore, count or hold one delta against the stored copy (conflict-rules.ts) */
  #classify (rec: SessionRecord, d: Held, fromHold: boolean): 'applied' | 'done' | 'held' {
    const verdict = judgeDelta(rec, d)
    switch (verdict) {
      case 'apply':
        this.#applyDelta(rec, d)
        if (fromHold) this.#ctx.stats.reordered++
        return 'applied'
      case 'duplicate':
        this.#ctx.stats.duplicates++
        return 'done'
      case 'incoming-lost':
        this.#deltaConflict(rec, d, 'incoming write lost')
        void this.#ctx.replicator.pushWinner(rec)
        return 'done'
    }
    if (fromHold) return 'held'
    if (verdict === 'gap') {
      this.#parts().held.hold(rec.base, d, false) // gap: wait a moment for the missing delta
    } else {
      this.#deltaConflict(rec, d, 'stored copy lost')
      this.#parts().held.hold(rec.base, d, true) // our lineage lost: fetch the winner's copy now
    }
    return 'held'
  }

  #deltaConflict (rec: SessionRecord, d: Held, outcome: 'incoming write lost' | 'stored copy lost'): void {
    const loser = outcome === 'incoming write lost' ? d.to : rec.stamp
    if (!this.#losses.first(rec.base, loser)) return
    this.#ctx.stats.conflicts++
    this.#ctx.log.warn({ session: sessionRef(rec.id), stored: formatStamp(rec.stamp), incoming: formatStamp(d.to), incomingBase: formatStamp(d.from), from: d.sender.id, outcome },
      'concurrent writes to one session: the greater stamp wins')
  }

  /** two whole copies diverged: one side's changes are lost; counted and logged once per lost change */
  #copyConflict (rec: SessionRecord, incoming: SessionRecord, from: Member | null, outcome: CopyLoss): void {
    const loser = outcome === 'stored copy lost' ? rec.stamp : incoming.stamp
    if (!this.#losses.first(rec.base, loser)) return
    this.#ctx.stats.conflicts++
    this.#ctx.log.warn({ session: sessionRef(rec.id), stored: formatStamp(rec.stamp), incoming: formatStamp(incoming.stamp), from: from?.id ?? null, outcome },
      'concurrent writes to one session (copies diverged, e.g. during a partition): the greater stamp wins')
  }

  #applyDelta (rec: SessionRecord, d: Held): void {
    const { stats } = this.#ctx
    const now = this.#ctx.mono()
    const changes = rec.apply(d.actions)
    rec.advance(d.to)
    rec.route = d.route
    rec.primary = false
    rec.lastAccessedTime = now
    rec.lastReplicated = now
    if (rec.unsent.length > 0) rec.unsent = []
    rec.unsentBase = null
    this.#ctx.replicator.heldBy(rec, d.sender)
    stats.deltasApplied++
    const lag = Math.max(0, this.#ctx.now() - d.to.at) // why: the writer's wall clock against ours
    stats.lag.lastMs = lag
    if (lag > stats.lag.maxMs) stats.lag.maxMs = lag
    this.#ctx.listeners.changes(rec.id, changes, true)
  }

  /** re-run held deltas of one session after its stored copy changed */
  #drainHeld (base: string): void {
    const rec = this.#ctx.table.get(base)
    if (!rec) return
    const { held } = this.#parts()
    if (held.count === 0) { held.settle(base); return } // why: the common case, nothing held for any session
    let progress = true
    while (progress) {
      progress = false
      for (const d of held.items(base)) {
        if (this.#classify(rec, d, true) !== 'held') {
          held.remove(base, d)
          progress = true
        }
      }
    }
    held.settle(base)
  }

  #onSessionFull (msg: Msg<'session-full'>, sender: Member): void {
    if (msg.req === 0) {
      if (msg.s !== null && msg.s.id === msg.id) this.installFull(msg.s, 'session-full', sender)
      return
    }
    const { fetch, held } = this.#parts()
    const base = parseSessionId(msg.id)!.base
    const copyBase = msg.s === null ? null : parseSessionId(msg.s.id)?.base ?? null
    if (fetch.answered(msg.req, base, msg.s, copyBase, sender)) return
    const answer = held.answered(msg.req, base, copyBase === base)
    if (answer === 'unsolicited') return this.drop('unsolicited-session-full', sender)
    if (answer === null || msg.s === null) return
    this.installFull(msg.s, 'session-full', sender)
    this.#ctx.stats.gapsRecovered++
    held.afterFetch(base)
  }

  #onExpired (msg: Msg<'expired'>, sender: Member): void {
    const { table } = this.#ctx
    const p = parseSessionId(msg.id)!
    const rec = table.get(p.base)
    if (!rec) { table.tombstone(p.base); return }
    const at = fromTuple(msg.at)
    if (expiryOverridesNewer(rec.stamp, at, msg.why)) {
      this.#ctx.stats.conflicts++
      this.#ctx.log.warn({ session: sessionRef(rec.id), stored: formatStamp(rec.stamp), expiredAt: formatStamp(at), from: sender.id }, 'a peer expired a session that has newer changes here; expiry wins everywhere')
    }
    this.#parts().expiry.remove(rec, msg.why, true)
  }

  #onAccessed (msg: Msg<'accessed'>, sender: Member): void {
    const { table } = this.#ctx
    const p = parseSessionId(msg.id)!
    if (table.isTombstoned(p.base)) return
    const rec = table.get(p.base)
    const verdict = judgeAccessed(rec, fromTuple(msg.at))
    if (verdict === 'fetch' || rec === undefined) return this.#parts().held.request(p.base, msg.id, sender) // why: we missed changes
    if (verdict === 'push-and-touch') void this.#ctx.replicator.pushWinner(rec, sender) // why: the sender serves a copy older than ours
    rec.lastAccessedTime = this.#ctx.mono()
    rec.primary = false
    rec.route = p.route
  }

  #onIdChanged (msg: Msg<'id-changed'>, sender: Member): void {
    const { table } = this.#ctx
    const from = parseSessionId(msg.from)!
    const to = parseSessionId(msg.to)!
    const rec = table.get(from.base)
    if (!rec) {
      if (from.base !== to.base) table.tombstone(from.base)
      if (!table.has(to.base) && !table.isTombstoned(to.base)) this.#parts().held.request(to.base, msg.to, sender)
      return
    }
    const oldId = rec.id
    if (from.base !== to.base) table.rebase(rec, to.base)
    rec.route = to.route
    rec.primary = false
    this.#ctx.listeners.idChanged(oldId, rec.id, true)
  }
}
