/**
 * The sending side of replication: every message this manager sends is built here, once, and goes
 * out through one send that counts what was sent and every member it failed to reach. Who receives
 * a session's change is the replication strategy's choice (replication-strategy.ts).
 */
import type { Logger } from 'pino'
import type { Channel, Member, SendResult } from '@nodecat/tribes'
import type { DeltaAction, SessionRecord } from '../session/record.js'
import type { Stamp } from '../session/stamp.js'
import type { FullSession, SessionMessage } from './messages.js'
import type { SessionManagerStats } from './stats.js'
import type { ReplicationStrategy } from './replication-strategy.js'
import { actionToTuple, message, toFull, toTuple } from './messages.js'
import { isRefused } from '@nodecat/tribes'

export type SendMode = 'async' | 'sync'

export interface ReplicatorOptions {
  channel: Channel | null
  strategy: ReplicationStrategy
  /** the mode of a session's changes (the configured sendMode) */
  sendMode: SendMode
  /** this node's route (the suffix of a removed session's id) */
  route: string
  /** ms a removal is remembered (a tombstone's time less this is when the session was removed) */
  tombstoneTime: number
  log: Logger
  stats: SessionManagerStats
  running (): boolean
  mono (): number
}

export class Replicator {
  readonly #o: ReplicatorOptions

  constructor (options: ReplicatorOptions) {
    this.#o = options
  }

  get strategy (): ReplicationStrategy { return this.#o.strategy }

  /** nodecat app-server peers (balancers and tools get no session traffic) */
  peers (): Member[] {
    const channel = this.#o.channel
    if (!channel) return []
    try {
      return channel.members().filter((m) => m.meta?.role === 'node')
    } catch {
      return []
    }
  }

  /** a session as it travels to a peer now */
  full (rec: SessionRecord, now = this.#o.mono()): FullSession {
    return toFull(rec, now)
  }

  // ---- a session's changes, to the members the strategy chooses ----------------------------

  /** a session created here */
  created (rec: SessionRecord, now: number): Promise<SendResult | null> {
    return this.#replicate(rec.id, message({ t: 'created', s: toFull(rec, now) }))
  }

  /** what changed since `base`: a delta, or the whole session if peers never saw it */
  async changes (rec: SessionRecord, base: Stamp, actions: DeltaAction[], now: number): Promise<SendResult | null> {
    rec.unsent = []
    rec.unsentBase = null
    rec.lastReplicated = now
    if (base.version === 0) return await this.created(rec, now)
    return await this.#replicate(rec.id, message({ t: 'delta', id: rec.id, from: toTuple(base), to: toTuple(rec.stamp), a: actions.map(actionToTuple) }))
  }

  /** a read-only use (keeps the backups from expiring it) */
  accessed (rec: SessionRecord): Promise<SendResult | null> {
    return this.#replicate(rec.id, message({ t: 'accessed', id: rec.id, at: toTuple(rec.stamp) }))
  }

  /** a session took a new id (regenerated) or route (the binder) */
  idChanged (oldId: string, newId: string): Promise<SendResult | null> {
    return this.#replicate(newId, message({ t: 'id-changed', from: oldId, to: newId }))
  }

  /** a session held here was removed (expired or invalidated) */
  expired (rec: SessionRecord, why: 'expired' | 'invalidated'): Promise<SendResult | null> {
    return this.#replicate(rec.id, expiredMessage(rec.id, rec.stamp, why))
  }

  // ---- to one member -------------------------------------------------------------------------

  /**
   * Our copy, as an unsolicited session-full (req 0): installed only where it orders after the
   * copy held. To one member, or to the members the strategy chooses for the session.
   */
  pushWinner (rec: SessionRecord, to?: Member, mode: SendMode = 'async'): Promise<SendResult | null> {
    const msg = message({ t: 'session-full', id: rec.id, req: 0, s: this.full(rec) })
    return this.send(msg, to ? [to] : this.#o.strategy.targets({ id: rec.id, type: 'session-full' }, this.peers()), mode)
  }

  /** a session removed here at `at` (a tombstone), to one member: so it cannot come back there */
  removal (base: string, at: number, to: Member, mode: SendMode): Promise<SendResult | null> {
    const route = this.#o.route
    return this.send(expiredMessage(`${base}.${route}`, { version: 0, at, route }, 'invalidated'), [to], mode)
  }

  /**
   * Ask one member for a whole session (answered by a session-full with the same req). Resolves
   * true when the member is shown not to run (its address refused the connection: it holds
   * nothing). why acknowledged, not async: an async send to a dead member looks delivered, and
   * the asker would wait out its timeout for an answer that cannot come (a node that resumed from
   * a stall, whose one peer was then SIGKILLed, refused its users until the timeout).
   */
  async ask (member: Member, id: string, req: number): Promise<boolean> {
    const result = await this.send(message({ t: 'session-request', id, req }), [member], 'sync')
    return result !== null && result.failed.some((f) => isRefused(f.error))
  }

  /** answer a session-request: our copy, or null when this node has none */
  answer (id: string, req: number, rec: SessionRecord | undefined, to: Member): Promise<SendResult | null> {
    return this.send(message({ t: 'session-full', id, req, s: rec ? this.full(rec) : null }), [to], 'async')
  }

  /** the one send: counts the message, and every member it did not reach */
  async send (msg: SessionMessage, to: Member[], mode: SendMode): Promise<SendResult | null> {
    const { channel, stats, log } = this.#o
    if (!channel || to.length === 0 || !this.#o.running()) return null
    stats.sent[msg.t] = (stats.sent[msg.t] ?? 0) + 1
    try {
      const result = await channel.send(msg, { mode, to })
      for (const f of result.failed) {
        stats.sendFailures++
        log.warn({ type: msg.t, member: f.member.id, code: f.error.code, err: f.error.message }, 'replication message not delivered to a member')
      }
      return result
    } catch (err) {
      stats.sendFailures++
      log.warn({ type: msg.t, err: (err as Error).message }, 'replication send failed')
      return null
    }
  }

  /** a change to one session, to the members the strategy chooses, in the configured send mode */
  async #replicate (id: string, msg: SessionMessage): Promise<SendResult | null> {
    return await this.send(msg, this.#o.strategy.targets({ id, type: msg.t }, this.peers()), this.#o.sendMode)
  }
}

/** the one builder of 'expired': a removed session's id, the stamp it was removed at, and why */
function expiredMessage (id: string, at: Stamp, why: 'expired' | 'invalidated'): SessionMessage {
  return message({ t: 'expired', id, at: toTuple(at), why })
}
