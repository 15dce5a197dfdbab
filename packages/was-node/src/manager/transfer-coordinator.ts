/**
 * State transfer as the manager runs it (the protocol itself is transfer.ts): a starting node is
 * not ready until it has every session of its longest-running peer; meanwhile the session messages
 * that arrive are queued (Tomcat's receiverQueue) and replayed through the version rules when the
 * transfer is over. A get-all from another member is answered once this node is ready (or at once,
 * to break two starting nodes waiting on each other), with every session and then every removal
 * this node still remembers.
 */
import type { Member } from '@nodecat/tribes'
import type { FullSession, MessageType, SessionMessage } from './messages.js'
import type { ManagerContext } from './context.js'
import { StateTransfer, type TransferHost } from './transfer.js'
import { TRANSFER_WINDOW_BYTES, answerGetAll } from './transfer-answer.js'

/** message types queued while the initial state transfer runs (Tomcat's receiverQueue) */
const QUEUED = new Set<MessageType>(['created', 'delta', 'expired', 'accessed', 'id-changed', 'digest'])

export interface CoordinatorHost {
  /** this member's id, or null without a channel */
  localId (): string | null
  install (session: FullSession): void
  drop (reason: string, sender: Member, detail?: unknown): void
  /** handle a queued message now */
  replay (message: SessionMessage, sender: Member): void | Promise<void>
  /** exchange digests with a member (reconcile.ts) */
  reconcile (member: Member): void
}

export class TransferCoordinator {
  readonly ready: Promise<void>
  readonly #ctx: ManagerContext
  readonly #host: CoordinatorHost
  #resolveReady!: () => void
  #isReady = false
  #transfer: StateTransfer | null = null
  #deferredGetAll: Array<{ xfer: number, sender: Member }> = []

  constructor (ctx: ManagerContext, host: CoordinatorHost) {
    this.#ctx = ctx
    this.#host = host
    this.ready = new Promise((resolve) => { this.#resolveReady = resolve })
  }

  get isReady (): boolean { return this.#isReady }
  /** the initial state transfer is under way */
  get transferring (): boolean { return this.#transfer !== null }

  /** ask the longest-running of `peers` for every session; ready at once when there is nobody to ask */
  begin (peers: Member[]): void {
    const { opts, log } = this.#ctx
    if (peers.length === 0 || opts.stateTransferTimeout === 0) {
      log.info({ peers: peers.length }, 'no peers to transfer sessions from; starting empty')
      this.#markReady()
      return
    }
    // why: the limits validate.ts applies to a message (receive.ts), for the sessions unpacked from a chunk
    const limits = { maxSessionBytes: opts.maxSessionBytes, maxEntries: 10_000, maxChunkSessions: 5000 }
    this.#transfer = new StateTransfer(this.#transferHost(), { timeout: opts.stateTransferTimeout, retry: opts.transferRetry, limits }, peers)
    this.#transfer.start()
  }

  /** while the transfer runs, queue a session message for later; true when queued */
  holds (msg: SessionMessage, sender: Member): boolean {
    if (this.#transfer === null || !QUEUED.has(msg.t)) return false
    this.#transfer.enqueue(msg, sender)
    return true
  }

  onGetAll (xfer: number, sender: Member): void {
    if (!this.#isReady && !(this.#transfer?.breaksMutualWait(sender) ?? false)) {
      // why: one pending answer per asker (it may ask again while we are still transferring)
      this.#deferredGetAll = this.#deferredGetAll.filter((d) => d.sender.id !== sender.id)
      this.#deferredGetAll.push({ xfer, sender })
    } else {
      void this.#sendAll(xfer, sender)
    }
  }

  onChunk (msg: Extract<SessionMessage, { t: 'all-data' }>, sender: Member): void {
    if (this.#transfer) this.#transfer.onChunk(msg, sender)
    else this.#host.drop('stale-transfer', sender)
  }

  onComplete (msg: Extract<SessionMessage, { t: 'transfer-complete' }>, sender: Member): void {
    if (this.#transfer) this.#transfer.onComplete(msg, sender)
    else this.#host.drop('stale-transfer', sender)
  }

  onMemberGone (member: Member): void {
    this.#transfer?.onMemberGone(member)
  }

  /** the manager stops: the transfer is abandoned (nothing replayed) */
  cancel (): void {
    this.#transfer?.cancel()
    this.#transfer = null
  }

  /** the manager stopped: whoever awaits `ready` goes on */
  release (): void {
    if (!this.#isReady) this.#markReady()
  }

  #transferHost (): TransferHost {
    const { log, stats, replicator } = this.#ctx
    return {
      log,
      stats: stats.transfer,
      peers: () => replicator.peers(),
      localId: () => this.#host.localId(),
      send: async (msg, to, mode) => await replicator.send(msg, [to], mode),
      install: (f) => this.#host.install(f),
      drop: (reason, sender) => this.#host.drop(reason, sender),
      finished: (state, queue) => {
        this.#transfer = null
        // why: replayed through the version rules, so nothing older overwrites newer
        for (const { message: m, sender } of queue) {
          try {
            void this.#host.replay(m, sender)
          } catch (err) {
            this.#host.drop('handler-error', sender, (err as Error).message)
          }
        }
        this.#markReady()
        // why: a transfer that did not complete (timed out, its member gone, nobody answered)
        // left this node with part of the sessions at most: reconcile with every peer
        if (state !== 'done') for (const m of replicator.peers()) this.#host.reconcile(m)
      }
    }
  }

  #markReady (): void {
    if (this.#isReady) return
    this.#isReady = true
    this.#resolveReady()
    const deferred = this.#deferredGetAll
    this.#deferredGetAll = []
    for (const d of deferred) void this.#sendAll(d.xfer, d.sender)
  }

  async #sendAll (xfer: number, to: Member): Promise<void> {
    const { log, stats, replicator, table, opts, mono } = this.#ctx
    const host = { log, stats: stats.transfer, mono, send: async (msg: SessionMessage, m: Member, mode: 'async' | 'sync') => await replicator.send(msg, [m], mode) }
    // why filtered: with the backup manager a starting member gets only what it should hold
    const heldThere = replicator.heldThere(to)
    const sessions = replicator.strategy.placed ? new Map([...table.records].filter(([, rec]) => heldThere(rec))) : table.records
    if (replicator.strategy.placed) for (const rec of sessions.values()) replicator.heldBy(rec, to)
    await answerGetAll(host, xfer, to, sessions,
      { sessions: opts.transferChunkSessions, bytes: opts.transferChunkBytes, window: TRANSFER_WINDOW_BYTES })
    // why: a node that (re)starts has no tombstones; without ours, a replayed or late 'created' of
    // a session invalidated in the last tombstoneTime would re-install it there (SECURITY.md)
    for (const { base, at } of table.removedSince()) void replicator.removal(base, at, to, 'async')
  }
}
