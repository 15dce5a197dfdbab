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

const isNodePeer = (m: Member): boolean => m.meta?.role === 'node'

export class Replicator {
  readonly #o: ReplicatorOptions
  /** the channel's members() and send(), looked up once (the channel may be a proxy that binds on every get) */
  readonly #members: (() => Member[]) | null
  readonly #send: Channel['send'] | null

  constructor (options: ReplicatorOptions) {
    this.#o = options
    this.#members = options.channel ? options.channel.members.bind(options.channel) : null
    this.#send = options.channel ? options.channel.send.bind(options.channel) : null
  }

  get strategy (): ReplicationStrategy { return this.#o.strategy }

  /** nodecat app-server peers (balancers and tools get no session traffic) */
  peers (): Member[] {
    const members = this.#members
    if (members === null) return []
    try {
      return members().filter(isNodePeer)
    } catch {
      return []
    }
  }

  /**
   * Which sessions should `member` hold? Always all with the delta manager; with a placed strategy
   * those the placement rule names it for (counted among the live peers even if not heard yet).
   * The members are read once, so a loop over many sessions uses one test.
   */
  heldThere (member: Member): (rec: SessionRecord) => boolean {
    const { strategy } = this.#o
    if (!strategy.placed) return () => true
    const peers = this.peers()
    if (!peers.some((m) => m.id === member.id)) peers.push(member)
    return (rec) => strategy.placement(rec.route, peers).others.some((m) => m.id === member.id)
  }

  /** should `member` hold a copy of `rec` ({@link heldThere}, for one session) */
  belongsTo (rec: SessionRecord, member: Member): boolean {
    return this.heldThere(member)(rec)
  }

  /** a session as it travels to a peer now */
  full (rec: SessionRecord, now = this.#o.mono()): FullSession {
    return toFull(rec, now)
  }

  // ---- a session's changes, to the members the strategy chooses ----------------------------

  /** a session created here */
  created (rec: SessionRecord, now: number): Promise<SendResult | null> {
    return this.#replicate(rec, message({ t: 'created', s: toFull(rec, now) }))
  }

  /** what changed since `base`: a delta, or the whole session if peers never saw it */
  changes (rec: SessionRecord, base: Stamp, actions: DeltaAction[], now: number): Promise<SendResult | null> {
    if (rec.unsent.length > 0) rec.unsent = []
    rec.unsentBase = null
    rec.lastReplicated = now
    if (base.version === 0) return this.created(rec, now)
    return this.#replicate(rec, message({ t: 'delta', id: rec.id, from: toTuple(base), to: toTuple(rec.stamp), a: actions.map(actionToTuple) }))
  }

  /** a read-only use (keeps the backups from expiring it) */
  accessed (rec: SessionRecord): Promise<SendResult | null> {
    return this.#replicate(rec, message({ t: 'accessed', id: rec.id, at: toTuple(rec.stamp) }))
  }

  /** a session took a new id (regenerated) or route (the binder); `rec` carries the new id */
  idChanged (rec: SessionRecord, oldId: string): Promise<SendResult | null> {
    return this.#replicate(rec, message({ t: 'id-changed', from: oldId, to: rec.id }))
  }

  /** a session held here was removed (expired or invalidated) */
  expired (rec: SessionRecord, why: 'expired' | 'invalidated'): Promise<SendResult | null> {
    return this.#replicate(rec, expiredMessage(rec.id, rec.stamp, why))
  }

  // ---- to one member -------------------------------------------------------------------------

  /**
   * Our copy, as an unsolicited session-full (req 0): installed only where it orders after the
   * copy held. To the given member(s), or to the members the strategy chooses for the session.
   */
  pushWinner (rec: SessionRecord, to?: Member | Member[], mode: SendMode = 'async'): Promise<SendResult | null> {
    const targets = Array.isArray(to) ? to : to ? [to] : this.#o.strategy.targets({ id: rec.id, type: 'session-full' }, this.peers())
    return this.#tracked(rec, targets, this.send(this.#wholeOf(rec), targets, mode))
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
    const sent = this.send(message({ t: 'session-full', id, req, s: rec ? this.full(rec) : null }), [to], 'async')
    return rec ? this.#tracked(rec, [to], sent) : sent
  }

  /** `member` holds a copy of `rec` (it sent us one, or a change to it) */
  heldBy (rec: SessionRecord, member: Member | null): void {
    if (member !== null && this.#o.strategy.placed) (rec.holders ??= new Set()).add(member.id)
  }

  /** the one send: counts the message, and every member it did not reach */
  async send (msg: SessionMessage, to: Member[], mode: SendMode): Promise<SendResult | null> {
    const { stats, log } = this.#o
    const send = this.#send
    if (send === null || to.length === 0 || !this.#o.running()) return null
    // why per member: what a change costs (n - 1 copies with delta, k with backup)
    stats.sent[msg.t] = (stats.sent[msg.t] ?? 0) + to.length
    try {
      const result = await send(msg, { mode, to })
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

  /**
   * A change to one session, to the members the strategy chooses, in the configured send mode.
   * With a placed strategy (backup), a target that does not hold the session yet (a new backup, a
   * restarted one, the buddy of a node that adopted it) gets the whole session instead of the
   * change, in the same mode: so in sync mode the answer waits until every backup holds all of it.
   */
  #replicate (rec: SessionRecord, msg: SessionMessage): Promise<SendResult | null> {
    const { strategy, sendMode } = this.#o
    const targets = strategy.targets({ id: rec.id, type: msg.t }, this.peers())
    if (!strategy.placed || msg.t === 'expired') return this.send(msg, targets, sendMode)
    if (msg.t === 'created') return this.#tracked(rec, targets, this.send(msg, targets, sendMode))
    return this.#toHolders(rec, msg, targets)
  }

  /** placed strategy: the change to the targets holding the session, the whole session to the others */
  async #toHolders (rec: SessionRecord, msg: SessionMessage, targets: Member[]): Promise<SendResult | null> {
    const { sendMode } = this.#o
    const holders = rec.holders ??= new Set()
    const lacking = targets.filter((m) => !holders.has(m.id))
    const having = lacking.length === 0 ? targets : targets.filter((m) => holders.has(m.id))
    if (lacking.length === 0) return await this.send(msg, having, sendMode)
    const [a, b] = await Promise.all([
      having.length === 0 ? null : this.send(msg, having, sendMode),
      this.#tracked(rec, lacking, this.send(this.#wholeOf(rec), lacking, sendMode))
    ])
    if (a === null) return b
    if (b === null) return a
    return { delivered: [...a.delivered, ...b.delivered], failed: [...a.failed, ...b.failed] }
  }

  /** the whole session as an unsolicited session-full (req 0): installed where it is newer */
  #wholeOf (rec: SessionRecord): SessionMessage {
    return message({ t: 'session-full', id: rec.id, req: 0, s: this.full(rec) })
  }

  /**
   * With a placed strategy, the members a whole copy goes to hold it from now on (marked at once,
   * so a second change does not send the whole session again); one the send failed to reach does not
   */
  async #tracked (rec: SessionRecord, to: Member[], sent: Promise<SendResult | null>): Promise<SendResult | null> {
    if (!this.#o.strategy.placed) return await sent
    const holders = rec.holders ??= new Set()
    for (const m of to) holders.add(m.id)
    const result = await sent
    if (result === null) for (const m of to) holders.delete(m.id)
    else for (const f of result.failed) holders.delete(f.member.id)
    return result
  }
}

/** the one builder of 'expired': a removed session's id, the stamp it was removed at, and why */
function expiredMessage (id: string, at: Stamp, why: 'expired' | 'invalidated'): SessionMessage {
  return message({ t: 'expired', id, at: toTuple(at), why })
}
