/**
 * State transfer (Tomcat DeltaManager's EVT_GET_ALL_SESSIONS, answered by ALL_SESSION_DATA and
 * ALL_SESSION_TRANSFERCOMPLETE), the asking side (transfer-answer.ts answers).
 *
 * Asking: a starting node asks the longest-running peer (members()[0]) for every session, queues
 * the session messages that arrive meanwhile, and when transfer-complete comes (or the timeout
 * passes, or no member is left to ask) replays the queue through the version rules, so nothing
 * older overwrites newer (no timestamp drop as Tomcat's stateTimestampDrop). A peer that leaves
 * or stays silent (its manager is not listening yet) is replaced by the next one.
 *
 * Chunks are installed as they arrive. Each carries its place (seq) and transfer-complete the
 * number of sessions sent: a missing or unreadable chunk, or a count that does not match what was
 * installed, makes this node ask again (the sessions it has are kept; the version rules make a
 * second copy of a session a no-op), so a partial state is never taken for a complete one.
 */
import { randomInt } from 'node:crypto'
import type { Logger } from 'pino'
import type { Member, SendResult } from '@nodecat/tribes'
import type { FullSession, SessionMessage } from './messages.js'
import type { SessionManagerStats } from './stats.js'
import type { MessageLimits } from './validate.js'
import { message } from './messages.js'
import { ChunkError, readChunk } from './transfer-chunk.js'

/** done: a member sent every session; incomplete: no member was left to ask; timed-out: stateTransferTimeout passed */
export type TransferEnd = 'done' | 'incomplete' | 'timed-out'

/** What the asking side needs from the manager. */
export interface TransferHost {
  readonly log: Logger
  readonly stats: SessionManagerStats['transfer']
  /** node peers, longest-running first */
  peers (): Member[]
  /** this member's id (for the mutual-wait tie-break), or null without a channel */
  localId (): string | null
  send (msg: SessionMessage, to: Member, mode: 'async' | 'sync'): Promise<SendResult | null>
  install (session: FullSession): void
  drop (reason: string, sender: Member): void
  /** the transfer is over: replay these queued messages, then become ready */
  finished (state: TransferEnd, queue: Array<{ message: SessionMessage, sender: Member }>): void
}

export interface TransferOptions {
  /** ms until the transfer gives up and continues with what arrived */
  timeout: number
  /** ms without data after which get-all is sent again */
  retry: number
  /** what one session and one chunk may hold (validate.ts) */
  limits: MessageLimits
}

export class StateTransfer {
  readonly #host: TransferHost
  readonly #opts: TransferOptions
  readonly #candidates: Member[]
  #xfer = 0
  #current: Member | null = null
  #timer: NodeJS.Timeout | null = null
  #retry: NodeJS.Timeout | null = null
  #queue: Array<{ message: SessionMessage, sender: Member }> = []
  #over = false
  /** the current attempt: the next chunk expected, sessions installed */
  #nextSeq = 0
  #received = 0

  constructor (host: TransferHost, opts: TransferOptions, peers: Member[]) {
    this.#host = host
    this.#opts = opts
    this.#candidates = [...peers]
  }

  start (): void {
    this.#host.stats.state = 'running'
    this.#timer = setTimeout(() => {
      this.#host.log.error({ timeout: this.#opts.timeout, received: this.#host.stats.sessionsReceived },
        'no complete session state received in time; continuing with what arrived')
      this.#finish('timed-out')
    }, this.#opts.timeout)
    this.#askNext()
  }

  /** hold a session message until the transfer is over */
  enqueue (msg: SessionMessage, sender: Member): void {
    this.#queue.push({ message: msg, sender })
    this.#host.stats.queuedDuringTransfer++
  }

  onChunk (msg: Extract<SessionMessage, { t: 'all-data' }>, sender: Member): void {
    if (msg.xfer !== this.#xfer || this.#over) return this.#host.drop('stale-transfer', sender)
    if (msg.seq !== this.#nextSeq) {
      this.#host.drop('transfer-gap', sender)
      return this.#askAgain({ seq: msg.seq, expected: this.#nextSeq }, 'a state transfer chunk is missing; asking again')
    }
    let sessions: FullSession[]
    if ('b' in msg) {
      try {
        sessions = readChunk(msg.b, msg.n, this.#opts.limits)
      } catch (err) {
        if (!(err instanceof ChunkError)) throw err
        this.#host.drop(err.reason, sender)
        return this.#askAgain({ seq: msg.seq, reason: err.reason }, 'a state transfer chunk could not be read; asking again')
      }
    } else {
      sessions = msg.s
    }
    this.#nextSeq++
    this.#host.stats.chunksReceived++
    this.#armRetry() // why: progress; a long transfer is not re-asked while chunks keep coming
    for (const f of sessions) this.#host.install(f)
    this.#received += sessions.length
    this.#host.stats.sessionsReceived += sessions.length
  }

  onComplete (msg: Extract<SessionMessage, { t: 'transfer-complete' }>, sender: Member): void {
    if (msg.xfer !== this.#xfer || this.#over) return this.#host.drop('stale-transfer', sender)
    if (msg.count !== this.#received) {
      this.#host.drop('transfer-incomplete', sender)
      return this.#askAgain({ sent: msg.count, installed: this.#received }, 'the state transfer ended with sessions missing; asking again')
    }
    this.#host.log.info({ sessions: this.#host.stats.sessionsReceived, queued: this.#queue.length }, 'session state transfer complete')
    this.#finish('done')
  }

  onMemberGone (member: Member): void {
    if (this.#current?.id !== member.id || this.#over) return
    this.#host.log.warn({ member: member.id }, 'state transfer peer left; asking the next member')
    this.#askNext()
  }

  /**
   * Two nodes starting together can ask each other (each is the other's longest-running peer).
   * Then the one with the smaller member id answers at once with what it has, so the other gets
   * ready and answers in turn; every other get-all waits until this node is ready.
   */
  breaksMutualWait (asker: Member): boolean {
    const local = this.#host.localId()
    return this.#current !== null && this.#current.id === asker.id && local !== null && local < asker.id
  }

  /** stop without replaying (the manager is stopping) */
  cancel (): void {
    this.#over = true
    this.#clearTimers()
  }

  #askNext (): void {
    if (this.#over) return
    const live = new Set(this.#host.peers().map((m) => m.id))
    let next = this.#candidates.shift()
    while (next && !live.has(next.id)) next = this.#candidates.shift()
    if (!next) {
      this.#host.log.warn({ received: this.#host.stats.sessionsReceived }, 'no member answered the state transfer; continuing with what arrived, reconciling with every member that appears')
      this.#finish('incomplete')
      return
    }
    const xfer = this.#xfer = randomInt(1, 2 ** 47)
    this.#nextSeq = 0
    this.#received = 0
    this.#current = next
    this.#armRetry()
    this.#host.log.info({ member: next.id }, 'asking the longest-running member for all sessions')
    void this.#host.send(message({ t: 'get-all', xfer }), next, 'async').then((res) => {
      if (this.#xfer === xfer && (res === null || res.failed.length > 0)) this.#askNext()
    })
  }

  /**
   * A peer whose session manager is not listening yet (it started a moment ago) loses our get-all;
   * so while no data arrives, ask again (the next member in turn, this one last) every retry ms.
   */
  #armRetry (): void {
    if (this.#retry) clearTimeout(this.#retry)
    this.#retry = setTimeout(() => {
      this.#retry = null
      if (this.#over) return
      this.#host.log.info({ member: this.#current?.id }, 'no state transfer data yet; asking again')
      if (this.#current) this.#candidates.push(this.#current)
      this.#askNext()
    }, this.#opts.retry)
  }

  /** this attempt broke (a chunk lost or unreadable): ask again, the same member last */
  #askAgain (detail: Record<string, unknown>, why: string): void {
    this.#host.log.warn({ member: this.#current?.id, ...detail }, why)
    if (this.#current) this.#candidates.push(this.#current)
    this.#askNext()
  }

  #clearTimers (): void {
    if (this.#timer) clearTimeout(this.#timer)
    if (this.#retry) clearTimeout(this.#retry)
    this.#timer = null
    this.#retry = null
  }

  #finish (state: TransferEnd): void {
    if (this.#over) return
    this.#over = true
    this.#clearTimers()
    this.#host.stats.state = state
    const queue = this.#queue
    this.#queue = []
    this.#host.finished(state, queue)
  }
}
