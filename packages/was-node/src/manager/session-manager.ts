/**
 * The replicated session manager: Tomcat's DeltaManager semantics (all-to-all copies, one delta
 * per request, state transfer from the longest-running member, expiry across nodes, the
 * JvmRouteBinderValve rename) plus versions: deltas apply in version order, a gap or an unknown
 * session is fetched whole instead of dropped, and concurrent writes resolve by the rule in
 * ../session/stamp.ts, counted and logged.
 *
 * A façade over parts with one job each:
 * - session-table.ts: the sessions, tombstones and lost members;
 * - request-commit.ts: what a request changed becomes one change, stored and sent;
 * - replicator.ts: every message sent, built once, with send-failure accounting;
 * - replication-strategy.ts: who receives each change, where a missing session is fetched from
 *   and who should hold a session: every node (delta), or a primary and k buddies (backup,
 *   Tomcat's BackupManager, with rebalance.ts moving copies when members come and go);
 * - receive.ts: the switch over incoming messages, through conflict-rules.ts (pure functions);
 * - held.ts, fetch.ts, reconcile.ts: gaps, fetch on miss, digest exchange;
 * - transfer-coordinator.ts and transfer.ts: state transfer and readiness;
 * - partition-heal.ts: a lost member that comes back is resynced;
 * - expiry.ts and listeners.ts: how a session leaves, and the listener events.
 */
import { EventEmitter } from 'node:events'
import pino from 'pino'
import type { Logger } from 'pino'
import type { Channel, Member } from '@nodecat/tribes'
import type { RequestSession, SessionStore } from '../session/types.js'
import type { RequestHost } from '../session/request.js'
import type { ResolvedOptions, SessionManagerOptions } from './defaults.js'
import type { SessionManagerEvents } from './events.js'
import type { SessionManagerStats } from './stats.js'
import type { ManagerContext } from './context.js'
import { RequestSessionImpl } from '../session/request.js'
import { parseSessionId, sessionRef } from '../session/id.js'
import { ManagerNotRunningError } from '../session/errors.js'
import { resolveOptions } from './defaults.js'
import { heldDeltasOf, type HeldDeltas } from './held.js'
import { SessionFetch } from './fetch.js'
import { reconcilerOf, type Reconciler } from './reconcile.js'
import { emptyStats } from './stats.js'
import { systemClock } from './clock.js'
import { SessionTable } from './session-table.js'
import { SessionListeners } from './listeners.js'
import { Replicator } from './replicator.js'
import { deltaStrategy, type ReplicationStrategy } from './replication-strategy.js'
import { Expiry } from './expiry.js'
import { RequestCommit } from './request-commit.js'
import { ReplicationReceiver } from './receive.js'
import { TransferCoordinator } from './transfer-coordinator.js'
import { PartitionHeal } from './partition-heal.js'
import { RequestPrepare } from './request-prepare.js'
import { Rebalance } from './rebalance.js'
import { inspectSession, replicaDigest, type SessionSnapshot } from './snapshot.js'

const NO_PENDING: Array<Promise<unknown>> = Object.freeze([]) as unknown as Array<Promise<unknown>>

/**
 * Replicated sessions for one node. Implements the SessionStore the HTTP layer uses.
 * Lifecycle: `new SessionManager(opts)`, `await start()` (joins, fetches all sessions), `open()`
 * per request, `await stop()`. The channel is owned by the caller (start it before, stop it after).
 */
export class SessionManager extends EventEmitter<SessionManagerEvents> implements SessionStore {
  readonly route: string
  readonly ready: Promise<void>
  readonly #opts: ResolvedOptions
  readonly #log: Logger
  readonly #channel: Channel | null
  readonly #ctx: ManagerContext
  readonly #table: SessionTable
  readonly #replicator: Replicator
  readonly #held: HeldDeltas
  readonly #fetch: SessionFetch
  readonly #reconciler: Reconciler
  readonly #expiry: Expiry
  readonly #receiver: ReplicationReceiver
  readonly #transfer: TransferCoordinator
  readonly #heal: PartitionHeal
  readonly #prepare: RequestPrepare
  readonly #rebalance: Rebalance
  readonly #host: RequestHost
  #nextReq = 1 // why: 0 marks an unsolicited session-full (a pushed winner)
  #running = false
  #started = false
  #offMessage: (() => void) | null = null
  #expiryTimer: NodeJS.Timeout | null = null

  constructor (options: SessionManagerOptions, strategy: ReplicationStrategy = deltaStrategy) {
    super()
    const opts = this.#opts = resolveOptions(options)
    this.route = opts.route
    const log = this.#log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'session-manager', route: this.route })
    const system = options.clock === undefined ? systemClock(opts.route) : null
    const clock = options.clock ?? system!
    const mono = clock.monotonic ? () => clock.monotonic!() : () => clock.now()
    this.#channel = opts.channel
    const stats = emptyStats(this.route)
    if (system?.offset) log.warn({ offsetMs: system.offset.offset, afterMs: system.offset.after }, 'test hook NODECAT_TEST_CLOCK_OFFSET_MS: this node\'s wall clock is deliberately wrong')
    const running = (): boolean => this.#running
    const table = this.#table = new SessionTable({
      tombstoneTime: opts.tombstoneTime,
      mono,
      onTombstone: (base) => this.#held.clear(base),
      onIgnored: () => { stats.ignoredRemoved++ }
    })
    const replicator = this.#replicator = new Replicator({ channel: opts.channel, strategy, sendMode: opts.sendMode, route: this.route, tombstoneTime: opts.tombstoneTime, log, stats, running, mono })
    // why: a session manager with no listeners must not throw on an 'error'-less emitter; events are plain
    const listeners = new SessionListeners(this, log, opts.notifyListenersOnReplication)
    const ctx = this.#ctx = { route: this.route, opts, log, stats, table, listeners, replicator, mono, now: () => clock.now(), running }
    this.#expiry = new Expiry(ctx)
    const receiver = this.#receiver = new ReplicationReceiver(ctx, () => ({ expiry: this.#expiry, held: this.#held, fetch: this.#fetch, reconciler: this.#reconciler, transfer: this.#transfer }))
    const nextReq = (): number => this.#nextReq++
    const ask = async (member: Member, id: string, req: number): Promise<boolean> => await replicator.ask(member, id, req)
    const fetchFrom = (id: string): Member[] => strategy.fetchFrom(id, replicator.peers())
    this.#fetch = new SessionFetch({ peers: fetchFrom, running, nextReq, ask, install: (f, from) => receiver.installFull(f, 'session-full', from) },
      { timeout: opts.sessionFetchTimeout, maxInFlight: 1000, missMemory: 5000 })
    this.#reconciler = reconcilerOf(ctx, (rec) => this.#expiry.remove(rec, 'invalidated', true))
    this.#held = heldDeltasOf(ctx, { peers: fetchFrom, nextReq, ask, overflow: (d) => receiver.drop('hold-full', d.sender, { session: sessionRef(d.id) }) })
    this.#transfer = new TransferCoordinator(ctx, {
      localId: () => this.#channel?.local.id ?? null,
      install: (f) => receiver.installFull(f, 'transfer'),
      drop: (reason, sender, detail) => receiver.drop(reason, sender, detail),
      replay: (m, sender) => receiver.handle(m, sender),
      reconcile: (m) => { void this.#reconciler.offer(m) }
    })
    this.ready = this.#transfer.ready
    this.#heal = new PartitionHeal(ctx)
    this.#rebalance = new Rebalance(ctx, strategy, { grace: opts.rebalanceGrace, interval: opts.rebalanceInterval, settle: 250 }, (base) => this.#held.clear(base))
    stats.manager = strategy.name
    const host = new RequestCommit(ctx, this.#expiry).host()
    this.#host = { ...host, commit: (o) => { this.#prepare.served(); return host.commit(o) } }
    this.#prepare = new RequestPrepare({
      route: this.route,
      log,
      table,
      fetch: this.#fetch,
      mono,
      canFetch: () => this.#running && this.#transfer.isReady && opts.sessionFetchTimeout > 0 && replicator.peers().length > 0
    })
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** Join: listen for replication, ask the longest-running peer for all sessions; resolves when ready. */
  async start (): Promise<void> {
    if (this.#started) return await this.ready
    this.#started = true
    this.#running = true
    if (this.#channel) {
      this.#offMessage = this.#channel.onMessage((m, sender) => this.#receiver.onMessage(m, sender))
      this.#channel.on('memberDisappeared', this.#onMemberGone)
      this.#channel.on('memberAdded', this.#onMemberBack)
    }
    if (this.#opts.processExpiresFrequency > 0) {
      this.#expiryTimer = setInterval(() => this.processExpires(), this.#opts.processExpiresFrequency)
      this.#expiryTimer.unref()
    }
    this.#transfer.begin(this.#replicator.peers())
    await this.ready
    this.#rebalance.start()
    this.#rebalance.schedule()
  }

  /**
   * Leave: stop listening and drop the local copies. With expireSessionsOnShutdown the sessions
   * are expired cluster-wide first; otherwise peers keep them (the default). Local listeners get
   * sessionDestroyed with reason 'shutdown' either way, as in Tomcat.
   */
  async stop (): Promise<void> {
    if (!this.#running) return
    await this.#expiry.beforeShutdown()
    this.#running = false
    this.#offMessage?.()
    this.#offMessage = null
    this.#channel?.off('memberDisappeared', this.#onMemberGone)
    this.#channel?.off('memberAdded', this.#onMemberBack)
    if (this.#expiryTimer) clearInterval(this.#expiryTimer)
    this.#rebalance.stop()
    this.#transfer.cancel()
    this.#held.clearAll()
    this.#fetch.clear()
    this.#expiry.shutdown()
    this.#transfer.release()
  }

  // ---- the SessionStore contract -------------------------------------------------------------

  /**
   * Open a request. The first candidate id whose base names a live session wins; if that session
   * is labelled with another route it is renamed to this route at once and the rename announced
   * (JvmRouteBinderValve). Unknown or expired ids never become a session id.
   */
  open (candidateIds: readonly string[]): RequestSession {
    if (this.#started && !this.#running) throw new ManagerNotRunningError('open() after stop()')
    const now = this.#ctx.mono()
    for (const candidate of Array.isArray(candidateIds) ? candidateIds : []) {
      const parsed = parseSessionId(candidate)
      if (!parsed) continue
      const rec = this.#table.get(parsed.base)
      if (!rec) continue
      if (rec.isExpired(now)) { this.#expiry.expire(rec); continue }
      // why shared when empty: most requests rename nothing, so they need no array of their own
      let pending = NO_PENDING
      if (rec.route !== this.route) {
        const oldId = rec.id
        rec.route = this.route
        this.#log.info({ session: sessionRef(rec.id), fromRoute: oldId.slice(oldId.indexOf('.') + 1), toRoute: this.route }, 'session moved to this node (binder): renamed')
        this.#ctx.listeners.idChanged(oldId, rec.id, false)
        pending = [this.#replicator.idChanged(rec, oldId)]
      }
      return new RequestSessionImpl(this.#host, { base: parsed.base, clientId: candidate, rebound: parsed.route !== this.route, pending })
    }
    return new RequestSessionImpl(this.#host, null)
  }

  /** Before open(): fetch or check the session the request names (request-prepare.ts). */
  prepare (candidateIds: readonly string[]): Promise<void> | null {
    return this.#prepare.prepare(candidateIds)
  }

  /** This node's copies may be stale for `ms` (the service saw its event loop stall). */
  suspect (reason: string, ms: number): void {
    this.#prepare.suspect(reason, ms)
  }

  /** Expire idle sessions now: a primary at maxInactiveInterval (and tells the cluster), a backup at twice that, silently. */
  processExpires (): number {
    return this.#expiry.sweep()
  }

  stats (): SessionManagerStats {
    let primary = 0
    for (const r of this.#table.values()) if (r.primary) primary++
    const s = structuredClone(this.#ctx.stats)
    s.ready = this.#transfer.isReady
    s.sessions = this.#table.size
    s.primary = primary
    s.backup = this.#table.size - primary
    s.held = this.#held.count
    s.fetch = { ...this.#fetch.stats }
    s.reconcile = { ...this.#reconciler.stats }
    s.rebalance = { ...this.#rebalance.stats }
    return s
  }

  /** A read-only snapshot of one stored session (for status pages and tests), or null. */
  inspect (id: string): SessionSnapshot | null {
    return inspectSession(this.#table, id)
  }

  /**
   * What this node holds, for convergence checks (status `?replicas=1`, tests): each session's
   * reference (never its id) with its stamp, and one SHA-256 over every session's reference,
   * stamp, route, attributes and principal. Two nodes with the same digest hold identical copies.
   */
  replicas (): { count: number, digest: string, sessions: Record<string, string> } {
    return replicaDigest(this.#table)
  }

  /** ids of every session held here */
  sessionIds (): string[] {
    return [...this.#table.values()].map((r) => r.id)
  }

  // ---- members -------------------------------------------------------------------------------

  #onMemberGone = (member: Member, reason?: string): void => {
    this.#transfer.onMemberGone(member)
    this.#reconciler.forget(member)
    this.#heal.memberGone(member, reason)
    if (reason !== 'shutdown' && this.#replicator.peers().length === 0) this.#prepare.cutOff()
    if (this.#transfer.isReady) this.#rebalance.schedule()
  }

  /** a member appears: one we lost is resynced (partition-heal.ts); a new one may be reconciled */
  #onMemberBack = (member: Member): void => {
    if (this.#heal.memberBack(member)) this.#prepare.rejoined(2 * this.#opts.sessionRequestTimeout)
    else this.#onMemberNew(member)
    if (this.#transfer.isReady) this.#rebalance.schedule()
  }

  /** backup manager: check every copy against the placement now (tests, benchmarks); resolves when the pushes are acknowledged */
  async rebalance (): Promise<void> {
    await this.#rebalance.run()
  }

  /**
   * A member appears. One that was running before this node started was missed at start (its
   * heartbeats came late, or the two were apart): reconcile with it (reconcile.ts). One that
   * started after this node gets a state transfer instead, and one that appears while this node's
   * own transfer runs is left to it.
   */
  #onMemberNew (member: Member): void {
    if (member.meta?.role !== 'node' || !this.#transfer.isReady || this.#transfer.transferring || !this.#running) return
    let ownAge: number
    try { ownAge = this.#channel!.local.aliveTime } catch { return }
    if (member.aliveTime < ownAge) return
    void this.#reconciler.offer(member)
  }
}
