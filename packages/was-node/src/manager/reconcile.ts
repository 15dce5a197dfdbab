/**
 * Reconcile with a member this node did not know when it started: it started empty or with part of
 * the cluster's sessions (its peers' heartbeats came late, a transfer was cut short), or the two
 * were apart. The node sends the member a digest of what it holds (each session's id and stamp,
 * and the ids it removed a moment ago), in chunks; the member answers with its own digest once.
 * Each side, on a whole digest, sends the other every session it holds that the other lacks or
 * holds an older copy of (as an unsolicited session-full, installed only where it is newer), and
 * drops the copies the other has just removed. So the missing sessions cross in both directions,
 * through the same version rules as every other copy.
 *
 * Who starts: the younger of the two (the member that was already running when this node started
 * was missed at start; a member that starts after this one gets a state transfer instead), and a
 * node whose state transfer did not complete, with every peer.
 */
import type { Member } from '@nodecat/tribes'
import type { Logger } from 'pino'
import { parseSessionId } from '@nodecat/protocol'
import type { SessionRecord } from '../session/record.js'
import type { Stamp } from '../session/stamp.js'
import type { SessionMessage, StampTuple } from './messages.js'
import { compareStamps } from '../session/stamp.js'
import { fromTuple, message, toTuple } from './messages.js'
import type { ManagerContext } from './context.js'

type Digest = Extract<SessionMessage, { t: 'digest' }>

export interface ReconcileHost {
  readonly log: Logger
  sessions (): ReadonlyMap<string, SessionRecord>
  /** ids (bases) removed within the tombstone time, with this node's route */
  removed (): string[]
  send (msg: SessionMessage, to: Member): Promise<unknown>
  /** send our copy of a session to one member (installed there only if newer) */
  push (rec: SessionRecord, to: Member): void
  /** the member removed this session a moment ago: remove ours too */
  removedThere (rec: SessionRecord, from: Member): void
}

export interface ReconcileStats {
  /** digests sent (whole, all chunks) */
  digestsSent: number
  /** whole digests received */
  digestsReceived: number
  /** sessions sent because the other side lacked them or held an older copy */
  sessionsPushed: number
}

export const emptyReconcileStats = (): ReconcileStats => ({ digestsSent: 0, digestsReceived: 0, sessionsPushed: 0 })

/** entries in one digest message */
export const DIGEST_CHUNK = 5000
/** entries held per member while its digest arrives */
const MAX_DIGEST_ENTRIES = 1_000_000

interface Incoming { xfer: number, nextSeq: number, entries: Map<string, Stamp | null> }

export class Reconciler {
  readonly stats: ReconcileStats = emptyReconcileStats()
  readonly #host: ReconcileHost
  readonly #incoming = new Map<string, Incoming>()
  #xfer = 0

  constructor (host: ReconcileHost) {
    this.#host = host
  }

  /** send this node's digest to a member; `answer` marks the reply to the member's own */
  async offer (to: Member, answer = false): Promise<void> {
    const xfer = ++this.#xfer
    const entries: Array<[string, StampTuple | null]> = []
    for (const rec of this.#host.sessions().values()) entries.push([rec.id, toTuple(rec.stamp)])
    for (const id of this.#host.removed()) entries.push([id, null])
    let seq = 0
    for (let i = 0; i === 0 || i < entries.length; i += DIGEST_CHUNK) {
      const s = entries.slice(i, i + DIGEST_CHUNK)
      const last = i + DIGEST_CHUNK >= entries.length
      await this.#host.send(message({ t: 'digest', xfer, seq: seq++, last, answer, s }), to)
    }
    this.stats.digestsSent++
    this.#host.log.info({ member: to.id, sessions: entries.length, answer }, answer ? 'sent this node\'s session digest in answer' : 'reconciling with a member this node did not know at start: sent a session digest')
  }

  /** a digest chunk from a member */
  onDigest (msg: Digest, from: Member): 'ok' | 'out-of-order' | 'too-large' {
    let inc = this.#incoming.get(from.id)
    if (inc === undefined || inc.xfer !== msg.xfer) {
      if (msg.seq !== 0) return 'out-of-order'
      inc = { xfer: msg.xfer, nextSeq: 0, entries: new Map() }
      this.#incoming.set(from.id, inc)
    }
    if (msg.seq !== inc.nextSeq) { this.#incoming.delete(from.id); return 'out-of-order' }
    inc.nextSeq++
    if (inc.entries.size + msg.s.length > MAX_DIGEST_ENTRIES) { this.#incoming.delete(from.id); return 'too-large' }
    for (const [id, stamp] of msg.s) inc.entries.set(parseSessionId(id)!.base, stamp === null ? null : fromTuple(stamp))
    if (!msg.last) return 'ok'
    this.#incoming.delete(from.id)
    this.stats.digestsReceived++
    this.#compare(inc.entries, from)
    if (!msg.answer) void this.offer(from, true)
    return 'ok'
  }

  /** the member left: forget its half-received digest */
  forget (member: Member): void {
    this.#incoming.delete(member.id)
  }

  #compare (theirs: Map<string, Stamp | null>, from: Member): void {
    let pushed = 0
    let removed = 0
    for (const rec of [...this.#host.sessions().values()]) {
      const their = theirs.get(rec.base)
      if (their === null) { this.#host.removedThere(rec, from); removed++; continue }
      if (their === undefined || compareStamps(rec.stamp, their) > 0) { this.#host.push(rec, from); pushed++ }
    }
    this.stats.sessionsPushed += pushed
    this.#host.log.info({ member: from.id, theirs: theirs.size, pushed, removed }, 'session digest compared: sent the member what it lacked')
  }
}

/**
 * A manager's reconciler: its sessions, removals and sends come from `ctx`; a removal the member
 * made is applied through `removedThere`. With the backup manager a member is sent only the
 * sessions it should hold.
 */
export function reconcilerOf (ctx: ManagerContext, removedThere: (rec: SessionRecord) => void): Reconciler {
  const { log, table, replicator, route } = ctx
  return new Reconciler({
    log,
    sessions: () => table.records,
    removed: () => table.removedBases().map((base) => `${base}.${route}`),
    send: async (msg, to) => await replicator.send(msg, [to], 'sync'),
    push: (rec, to) => { if (replicator.belongsTo(rec, to)) void replicator.pushWinner(rec, to) },
    removedThere
  })
}
