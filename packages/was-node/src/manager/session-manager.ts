/**
 * The replicated session manager: Tomcat's DeltaManager semantics (all-to-all copies, one delta
 * per request, state transfer from the longest-running member, expiry across nodes, the
 * JvmRouteBinderValve rename) plus versions: deltas apply in version order, a gap or an unknown
 * session is fetched whole instead of dropped, and concurrent writes resolve by the rule in
 * ../session/stamp.ts, counted and logged.
 */
import { EventEmitter } from 'node:events'
import { createHash } from 'node:crypto'
import pino from 'pino'
import type { Logger } from 'pino'
import type { Channel, Member, SendResult } from '@nodecat/tribes'
import type { CookieAction, RequestSession, SessionStore } from '../session/types.js'
import type { Stamp } from '../session/stamp.js'
import type { AttributeChange, DeltaAction } from '../session/record.js'
import type { RequestHost, RequestOutcome } from '../session/request.js'
import type { Clock, ResolvedOptions, SessionManagerOptions } from './defaults.js'
import type { DestroyReason, SessionManagerEvents } from './events.js'
import type { FullSession, MessageType, SessionMessage } from './messages.js'
import type { MessageLimits } from './validate.js'
import type { SessionManagerStats } from './stats.js'
import { SessionRecord, mergeActions } from '../session/record.js'
import { RequestSessionImpl } from '../session/request.js'
import { compareStamps, formatStamp, sameStamp } from '../session/stamp.js'
import { decodeValue } from '../session/codec.js'
import { parseSessionId, sessionRef } from '../session/id.js'
import { ManagerNotRunningError, SessionTooLargeError, TooManySessionsError } from '../session/errors.js'
import { resolveOptions } from './defaults.js'
import { actionFromTuple, actionToTuple, fromFull, fromTuple, message, toFull, toTuple } from './messages.js'
import { checkMessage } from './validate.js'
import { StateTransfer, answerGetAll, type TransferHost } from './transfer.js'
import { HeldDeltas, type Held } from './held.js'
import { SessionFetch } from './fetch.js'
import { Reconciler } from './reconcile.js'
import { emptyStats } from './stats.js'
import { systemClock } from './clock.js'


/** message types queued while the initial state transfer runs (Tomcat's receiverQueue) */
const QUEUED = new Set<MessageType>(['created', 'delta', 'expired', 'accessed', 'id-changed', 'digest'])

/**
 * Replicated sessions for one node. Implements the SessionStore the HTTP layer uses.
 * Lifecycle: `new SessionManager(opts)`, `await start()` (joins, fetches all sessions), `open()`
 * per request, `await stop()`. The channel is owned by the caller (start it before, stop it after).
 */
/** ms before a member was dropped from which its missed changes are resent when it comes back */
const LOST_MEMBER_MARGIN = 60_000
/** sends of the changes a member that came back missed, when some were not acknowledged */
const RESYNC_ATTEMPTS = 4
const RESYNC_RETRY_MS = 1000

export class SessionManager extends EventEmitter<SessionManagerEvents> implements SessionStore {
  readonly route: string
  readonly ready: Promise<void>
  readonly #opts: ResolvedOptions
  readonly #log: Logger
  readonly #clock: Clock
  /** this node's never-stepping clock for idle times, tombstones and lost members (clock.ts) */
  readonly #mono: () => number
  readonly #channel: Channel | null
  readonly #limits: MessageLimits
  readonly #sessions = new Map<string, SessionRecord>()
  readonly #tombstones = new Map<string, number>()
  /** members dropped without a goodbye, and when (clock ms): they may come back stale */
  readonly #lostMembers = new Map<string, number>()
  /** losing changes already counted as conflicts ("base|stamp"), bounded */
  readonly #losses = new Set<string>()
  readonly #held: HeldDeltas
  readonly #fetch: SessionFetch
  readonly #reconciler: Reconciler
  #nextReq = 1 // why: 0 marks an unsolicited session-full (a pushed winner)
  readonly #stats: SessionManagerStats
  #resolveReady!: () => void
  #isReady = false
  #running = false
  #started = false
  #transfer: StateTransfer | null = null
  #deferredGetAll: Array<{ xfer: number, sender: Member }> = []
  #offMessage: (() => void) | null = null
  #expiryTimer: NodeJS.Timeout | null = null
  readonly #host: RequestHost

  constructor (options: SessionManagerOptions) {
    super()
    this.#opts = resolveOptions(options)
    this.route = this.#opts.route
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'session-manager', route: this.route })
    const system = options.clock === undefined ? systemClock(this.#opts.route) : null
    this.#clock = options.clock ?? system!
    const clock = this.#clock
    this.#mono = clock.monotonic ? () => clock.monotonic!() : () => clock.now()
    this.#channel = this.#opts.channel
    this.#stats = emptyStats(this.route)
    if (system?.offset) this.#log.warn({ offsetMs: system.offset.offset, afterMs: system.offset.after }, 'test hook NODECAT_TEST_CLOCK_OFFSET_MS: this node\'s wall clock is deliberately wrong')
    this.#limits = { maxSessionBytes: this.#opts.maxSessionBytes, maxEntries: 10_000, maxChunkSessions: 5000 }
    this.ready = new Promise((resolve) => { this.#resolveReady = resolve })
    const nextReq = (): number => this.#nextReq++
    const ask = (member: Member, id: string, req: number): void => { void this.#send(message({ t: 'session-request', id, req }), [member], 'async') }
    this.#fetch = new SessionFetch({
      peers: () => this.#peers(),
      running: () => this.#running,
      nextReq,
      ask,
      install: (f, from) => this.#installFull(f, 'session-full', from)
    }, { timeout: this.#opts.sessionFetchTimeout, maxInFlight: 1000, missMemory: 5000 })
    this.#reconciler = new Reconciler({
      log: this.#log,
      sessions: () => this.#sessions,
      removed: () => [...this.#tombstones.keys()].map((base) => `${base}.${this.route}`),
      send: async (msg, to) => await this.#send(msg, [to], 'sync'),
      push: (rec, to) => { void this.#pushWinner(rec, to) },
      removedThere: (rec) => this.#remove(rec, 'invalidated', true)
    })
    this.#held = new HeldDeltas({
      peers: () => this.#peers(),
      running: () => this.#running,
      nextReq,
      ask,
      overflow: (d) => this.#drop('hold-full', d.sender, { session: sessionRef(d.id) }),
      giveUp: (id, held, why) => {
        this.#stats.gapsUnrecoverable++
        this.#log.warn({ session: sessionRef(id), held }, `${why}: held deltas dropped`)
      }
    }, { gapWait: this.#opts.gapWait, requestTimeout: this.#opts.sessionRequestTimeout })
    // why: a session manager with no listeners must not throw on an 'error'-less emitter; events are plain
    this.#host = {
      route: this.route,
      defaultMaxInactiveInterval: this.#opts.maxInactiveInterval,
      record: (base) => this.#sessions.get(base),
      checkCanCreate: () => this.#checkCanCreate(),
      rejectedNotSerializable: () => { this.#stats.rejected.notSerializable++ },
      commit: async (outcome) => await this.#commit(outcome)
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** Join: listen for replication, ask the longest-running peer for all sessions; resolves when ready. */
  async start (): Promise<void> {
    if (this.#started) return await this.ready
    this.#started = true
    this.#running = true
    if (this.#channel) {
      this.#offMessage = this.#channel.onMessage((m, sender) => this.#onMessage(m, sender))
      this.#channel.on('memberDisappeared', this.#onMemberGone)
      this.#channel.on('memberAdded', this.#onMemberBack)
    }
    if (this.#opts.processExpiresFrequency > 0) {
      this.#expiryTimer = setInterval(() => this.processExpires(), this.#opts.processExpiresFrequency)
      this.#expiryTimer.unref()
    }
    const peers = this.#peers()
    if (peers.length === 0 || this.#opts.stateTransferTimeout === 0) {
      this.#log.info({ peers: peers.length }, 'no peers to transfer sessions from; starting empty')
      this.#markReady()
      return
    }
    this.#transfer = new StateTransfer(this.#transferHost(), { timeout: this.#opts.stateTransferTimeout, retry: this.#opts.transferRetry }, peers)
    this.#transfer.start()
    await this.ready
  }

  /**
   * Leave: stop listening and drop the local copies. With expireSessionsOnShutdown the sessions
   * are expired cluster-wide first; otherwise peers keep them (the default). Local listeners get
   * sessionDestroyed with reason 'shutdown' either way, as in Tomcat.
   */
  async stop (): Promise<void> {
    if (!this.#running) return
    const sends: Array<Promise<unknown>> = []
    if (this.#opts.expireSessionsOnShutdown) {
      for (const rec of this.#sessions.values()) {
        sends.push(this.#replicate(message({ t: 'expired', id: rec.id, at: toTuple(rec.stamp), why: 'expired' })))
      }
    }
    await Promise.all(sends)
    this.#running = false
    this.#offMessage?.()
    this.#offMessage = null
    this.#channel?.off('memberDisappeared', this.#onMemberGone)
    this.#channel?.off('memberAdded', this.#onMemberBack)
    if (this.#expiryTimer) clearInterval(this.#expiryTimer)
    this.#transfer?.cancel()
    this.#transfer = null
    this.#held.clearAll()
    this.#fetch.clear()
    for (const rec of [...this.#sessions.values()]) this.#remove(rec, 'shutdown', false)
    if (!this.#isReady) this.#markReady()
  }

  // ---- the SessionStore contract -------------------------------------------------------------

  /**
   * Open a request. The first candidate id whose base names a live session wins; if that session
   * is labelled with another route it is renamed to this route at once and the rename announced
   * (JvmRouteBinderValve). Unknown or expired ids never become a session id.
   */
  open (candidateIds: readonly string[]): RequestSession {
    if (this.#started && !this.#running) throw new ManagerNotRunningError('open() after stop()')
    const now = this.#mono()
    for (const candidate of Array.isArray(candidateIds) ? candidateIds : []) {
      const parsed = parseSessionId(candidate)
      if (!parsed) continue
      const rec = this.#sessions.get(parsed.base)
      if (!rec) continue
      if (rec.isExpired(now)) { this.#expire(rec); continue }
      const pending: Array<Promise<unknown>> = []
      if (rec.route !== this.route) {
        const oldId = rec.id
        rec.route = this.route
        this.#log.info({ session: sessionRef(rec.id), fromRoute: oldId.slice(oldId.indexOf('.') + 1), toRoute: this.route }, 'session moved to this node (binder): renamed')
        this.#emitIdChanged(oldId, rec.id, false)
        pending.push(this.#replicate(message({ t: 'id-changed', from: oldId, to: rec.id })))
      }
      return new RequestSessionImpl(this.#host, { base: parsed.base, clientId: candidate, rebound: parsed.route !== this.route, pending })
    }
    return new RequestSessionImpl(this.#host, null)
  }

  /**
   * Before open(): when a candidate id that comes before any session held here names a session
   * this node lacks, or names a held session under another node's route (a failover), ask the
   * live peers for it (fetch.ts). Resolves when the copies are in (or nobody has it, or the wait
   * is over); null when there is nothing to wait for.
   */
  prepare (candidateIds: readonly string[]): Promise<void> | null {
    if (!this.#running || !this.#isReady || this.#opts.sessionFetchTimeout === 0 || this.#peers().length === 0) return null
    let waits: Array<Promise<void>> | null = null
    for (const candidate of Array.isArray(candidateIds) ? candidateIds : []) {
      const parsed = parseSessionId(candidate)
      if (!parsed) continue
      if (this.#sessions.has(parsed.base)) {
        // why: the id names another node: the user failed over to us, and our copy may be older
        // than a live peer's (a delta this node missed); check with the peers once, before the
        // binder makes it ours and the next write builds on a stale copy
        if (parsed.route !== this.route) (waits ??= []).push(this.#fetch.fetch(candidate, parsed.base))
        break // why: the first id naming a held session wins; later ones do not matter
      }
      const until = this.#tombstones.get(parsed.base)
      if (until !== undefined && until > this.#mono()) continue
      ;(waits ??= []).push(this.#fetch.fetch(candidate, parsed.base))
    }
    if (waits === null) return null
    return waits.length === 1 ? waits[0]! : Promise.all(waits).then(() => {})
  }

  /** Expire idle sessions now: a primary at maxInactiveInterval (and tells the cluster), a backup at twice that, silently. */
  processExpires (): number {
    const now = this.#mono()
    let n = 0
    for (const rec of [...this.#sessions.values()]) {
      if (rec.isExpired(now)) { this.#expire(rec); n++ }
    }
    for (const [base, until] of this.#tombstones) if (until <= now) this.#tombstones.delete(base)
    return n
  }

  stats (): SessionManagerStats {
    let primary = 0
    for (const r of this.#sessions.values()) if (r.primary) primary++
    const s = structuredClone(this.#stats)
    s.ready = this.#isReady
    s.sessions = this.#sessions.size
    s.primary = primary
    s.backup = this.#sessions.size - primary
    s.held = this.#held.count
    s.fetch = { ...this.#fetch.stats }
    s.reconcile = { ...this.#reconciler.stats }
    return s
  }

  /** A read-only snapshot of one stored session (for status pages and tests), or null. */
  inspect (id: string): { id: string, version: number, stamp: string, primary: boolean, attributes: Record<string, unknown>, maxInactiveInterval: number, lastAccessedTime: number, creationTime: number, principal: unknown, bytes: number } | null {
    const p = parseSessionId(id)
    const rec = p ? this.#sessions.get(p.base) : undefined
    if (!rec) return null
    return {
      id: rec.id,
      version: rec.stamp.version,
      stamp: formatStamp(rec.stamp),
      primary: rec.primary,
      attributes: Object.fromEntries([...rec.attributes].map(([k, v]) => [k, decodeValue(v)])),
      maxInactiveInterval: rec.maxInactiveInterval,
      lastAccessedTime: rec.lastAccessedTime, // why: on this node's monotonic clock (clock.ts), which reads as ms since the epoch
      creationTime: rec.creationTime,
      principal: rec.principal ? decodeValue(rec.principal) : null,
      bytes: rec.bytes
    }
  }

  /**
   * What this node holds, for convergence checks (status `?replicas=1`, tests): each session's
   * reference (never its id) with its stamp, and one SHA-256 over every session's reference,
   * stamp, route, attributes and principal. Two nodes with the same digest hold identical copies.
   */
  replicas (): { count: number, digest: string, sessions: Record<string, string> } {
    const rows = [...this.#sessions.values()].map((rec) => ({ ref: sessionRef(rec.id), rec })).sort((a, b) => a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0)
    const all = createHash('sha256')
    const sessions: Record<string, string> = {}
    for (const { ref, rec } of rows) {
      const one = createHash('sha256').update(`${ref}|${formatStamp(rec.stamp)}|${rec.route}|${rec.maxInactiveInterval}|`)
      for (const name of [...rec.attributes.keys()].sort()) one.update(`${name.length}:${name}`).update(rec.attributes.get(name)!)
      one.update(rec.principal ?? new Uint8Array(0))
      const h = one.digest('hex')
      all.update(h)
      sessions[ref] = `${formatStamp(rec.stamp)} ${h.slice(0, 12)}`
    }
    return { count: rows.length, digest: all.digest('hex'), sessions }
  }

  /** ids of every session held here */
  sessionIds (): string[] {
    return [...this.#sessions.values()].map((r) => r.id)
  }

  // ---- committing a request --------------------------------------------------------------

  #checkCanCreate (): void {
    const limit = this.#opts.maxActiveSessions
    if (limit >= 0 && this.#sessions.size >= limit) {
      this.#stats.rejected.tooMany++
      throw new TooManySessionsError(limit)
    }
  }

  #checkSize (rec: SessionRecord, actions: readonly DeltaAction[]): void {
    const bytes = rec.bytesAfter(actions)
    if (bytes > this.#opts.maxSessionBytes) {
      this.#stats.rejected.tooLarge++
      this.#log.warn({ session: sessionRef(rec.id), bytes, limit: this.#opts.maxSessionBytes }, 'session too large: request changes refused')
      throw new SessionTooLargeError(rec.id, bytes, this.#opts.maxSessionBytes)
    }
  }

  async #commit (o: RequestOutcome): Promise<CookieAction> {
    const now = this.#mono()
    const wall = this.#clock.now()
    const sends: Array<Promise<unknown>> = [...o.pending]
    const finish = async (cookie: CookieAction): Promise<CookieAction> => {
      if (this.#opts.sendMode === 'sync') {
        const t0 = performance.now()
        await Promise.all(sends)
        this.#stats.lastSyncWaitMs = performance.now() - t0
      }
      return cookie
    }
    if (o.invalidated && o.openedBase !== null) {
      const rec = this.#sessions.get(o.openedBase)
      if (rec) {
        this.#remove(rec, 'invalidated', false)
        sends.push(this.#replicate(message({ t: 'expired', id: rec.id, at: toTuple(rec.stamp), why: 'invalidated' })))
      }
    }
    const s = o.session
    if (!s) return await finish(o.invalidated ? { action: 'clear' } : { action: 'none' })

    if (s.isNew) {
      this.#checkCanCreate()
      const rec = new SessionRecord(s.base, this.route, now, this.#opts.maxInactiveInterval, true)
      rec.creationTime = wall
      this.#checkSize(rec, o.actions)
      const changes = rec.apply(o.actions)
      rec.advance({ version: 1, at: wall, route: this.route })
      this.#sessions.set(rec.base, rec)
      this.#emitCreated(rec.id, false)
      this.#emitChanges(rec.id, changes, false)
      if (o.replicate) sends.push(this.#replicate(message({ t: 'created', s: toFull(rec, now) })))
      else rec.unsentBase = { version: 0, at: 0, route: '' }
      return await finish({ action: 'set', id: rec.id })
    }

    const rec = this.#sessions.get(s.regeneratedFrom ?? s.base)
    if (!rec) {
      this.#log.info({ session: sessionRef(s.base) }, 'session ended elsewhere during the request; its changes are dropped')
      return await finish({ action: 'clear' })
    }
    if (o.actions.length > 0) this.#checkSize(rec, o.actions)
    if (s.regeneratedFrom !== null) {
      const oldId = rec.id
      this.#sessions.delete(rec.base)
      this.#tombstone(rec.base)
      rec.base = s.base
      rec.route = this.route
      this.#sessions.set(rec.base, rec)
      this.#emitIdChanged(oldId, rec.id, false)
      sends.push(this.#replicate(message({ t: 'id-changed', from: oldId, to: rec.id })))
    }
    const wasPrimary = rec.primary
    rec.primary = true
    rec.lastAccessedTime = now
    if (o.actions.length > 0) {
      const changes = rec.apply(o.actions)
      const base = rec.unsentBase ?? rec.stamp
      const all = mergeActions(rec.unsent, o.actions)
      rec.advance({ version: rec.stamp.version + 1, at: wall, route: this.route })
      this.#emitChanges(rec.id, changes, false)
      if (o.replicate) sends.push(this.#sendChanges(rec, base, all, now))
      else { rec.unsentBase = base; rec.unsent = all }
    } else if (o.replicate && rec.unsentBase) {
      sends.push(this.#sendChanges(rec, rec.unsentBase, rec.unsent, now))
    } else if (o.replicate) {
      const max = rec.maxInactiveInterval
      const due = max > 0 && now - rec.lastReplicated > max * 1000 * this.#opts.accessReplicateFraction
      if (!wasPrimary || due) {
        rec.lastReplicated = now
        sends.push(this.#replicate(message({ t: 'accessed', id: rec.id, at: toTuple(rec.stamp) })))
      }
    }
    return await finish(rec.id !== o.clientId ? { action: 'set', id: rec.id } : { action: 'none' })
  }

  /** send what changed since `base`: a delta, or the whole session if peers never saw it */
  async #sendChanges (rec: SessionRecord, base: Stamp, actions: DeltaAction[], now: number): Promise<unknown> {
    rec.unsent = []
    rec.unsentBase = null
    rec.lastReplicated = now
    if (base.version === 0) return await this.#replicate(message({ t: 'created', s: toFull(rec, now) }))
    return await this.#replicate(message({ t: 'delta', id: rec.id, from: toTuple(base), to: toTuple(rec.stamp), a: actions.map(actionToTuple) }))
  }

  // ---- sending -----------------------------------------------------------------------------

  /** nodecat app-server peers (balancers and tools get no session traffic) */
  #peers (): Member[] {
    if (!this.#channel) return []
    try {
      return this.#channel.members().filter((m) => m.meta?.role === 'node')
    } catch {
      return []
    }
  }

  /** a replication message to every node peer, in the configured send mode */
  async #replicate (msg: SessionMessage): Promise<SendResult | null> {
    return await this.#send(msg, this.#peers(), this.#opts.sendMode)
  }

  async #send (msg: SessionMessage, to: Member[], mode: 'async' | 'sync'): Promise<SendResult | null> {
    if (!this.#channel || to.length === 0 || !this.#running) return null
    this.#stats.sent[msg.t] = (this.#stats.sent[msg.t] ?? 0) + 1
    try {
      const result = await this.#channel.send(msg, { mode, to })
      for (const f of result.failed) {
        this.#stats.sendFailures++
        this.#log.warn({ type: msg.t, member: f.member.id, code: f.error.code, err: f.error.message }, 'replication message not delivered to a member')
      }
      return result
    } catch (err) {
      this.#stats.sendFailures++
      this.#log.warn({ type: msg.t, err: (err as Error).message }, 'replication send failed')
      return null
    }
  }

  // ---- receiving ---------------------------------------------------------------------------

  #drop (reason: string, sender: Member, detail?: unknown): void {
    this.#stats.dropped[reason] = (this.#stats.dropped[reason] ?? 0) + 1
    this.#log.warn({ reason, member: sender?.id, detail }, 'replication message dropped')
  }

  #onMessage (raw: unknown, sender: Member): void | Promise<void> {
    if (!this.#running) return
    const checked = checkMessage(raw, this.#limits)
    if (checked === null) return // why: someone else's message on the shared channel
    if (!checked.ok) return this.#drop(checked.reason, sender)
    const msg = checked.message
    this.#stats.received[msg.t] = (this.#stats.received[msg.t] ?? 0) + 1
    if (this.#transfer && QUEUED.has(msg.t)) return this.#transfer.enqueue(msg, sender)
    try {
      return this.#handle(msg, sender)
    } catch (err) {
      this.#drop('handler-error', sender, (err as Error).message)
    }
  }

  #handle (msg: SessionMessage, sender: Member): void | Promise<void> {
    switch (msg.t) {
      case 'created': this.#installFull(msg.s, 'created', sender); return
      case 'delta': return this.#onDelta(msg, sender)
      case 'expired': return this.#onExpired(msg, sender)
      case 'accessed': return this.#onAccessed(msg, sender)
      case 'id-changed': return this.#onIdChanged(msg, sender)
      case 'get-all':
        if (!this.#isReady && !(this.#transfer?.breaksMutualWait(sender) ?? false)) {
          // why: one pending answer per asker (it may ask again while we are still transferring)
          this.#deferredGetAll = this.#deferredGetAll.filter((d) => d.sender.id !== sender.id)
          this.#deferredGetAll.push({ xfer: msg.xfer, sender })
        }
        else void this.#sendAll(msg.xfer, sender)
        return
      case 'all-data': return this.#transfer ? this.#transfer.onChunk(msg, sender) : this.#drop('stale-transfer', sender)
      case 'transfer-complete': return this.#transfer ? this.#transfer.onComplete(msg, sender) : this.#drop('stale-transfer', sender)
      case 'session-request': {
        const p = parseSessionId(msg.id)!
        const rec = this.#sessions.get(p.base)
        void this.#send(message({ t: 'session-full', id: msg.id, req: msg.req, s: rec ? this.#fullForPeer(rec) : null }), [sender], 'async')
        return
      }
      case 'session-full': return this.#onSessionFull(msg, sender)
      case 'digest': {
        const outcome = this.#reconciler.onDigest(msg, sender)
        if (outcome !== 'ok') this.#drop(`digest-${outcome}`, sender)
      }
    }
  }

  #isTombstoned (base: string): boolean {
    const until = this.#tombstones.get(base)
    if (until === undefined) return false
    if (until > this.#mono()) { this.#stats.ignoredRemoved++; return true }
    this.#tombstones.delete(base)
    return false
  }

  #tombstone (base: string): void {
    if (this.#opts.tombstoneTime > 0) this.#tombstones.set(base, this.#mono() + this.#opts.tombstoneTime)
    this.#clearHeld(base)
  }

  #onDelta (msg: Extract<SessionMessage, { t: 'delta' }>, sender: Member): void {
    const p = parseSessionId(msg.id)!
    if (this.#isTombstoned(p.base)) return
    const d: Held = { id: msg.id, route: p.route, from: fromTuple(msg.from), to: fromTuple(msg.to), actions: msg.a.map(actionFromTuple), sender }
    const rec = this.#sessions.get(p.base)
    if (!rec) return this.#hold(p.base, d, false)
    if (this.#classify(rec, d, false) === 'applied') this.#drainHeld(p.base)
  }

  /** apply, ignore, count or hold one delta against the stored copy (rules in session/stamp.ts) */
  #classify (rec: SessionRecord, d: Held, fromHold: boolean): 'applied' | 'done' | 'held' {
    if (sameStamp(d.from, rec.stamp)) {
      this.#applyDelta(rec, d)
      if (fromHold) this.#stats.reordered++
      return 'applied'
    }
    if (rec.knows(d.to)) { this.#stats.duplicates++; return 'done' }
    if (compareStamps(d.to, rec.stamp) < 0) {
      const oldest = rec.history[0]?.version ?? rec.stamp.version
      if (d.to.version < oldest) { this.#stats.duplicates++; return 'done' } // why: older than what we remember
      this.#conflict(rec, d, 'incoming write lost')
      void this.#pushWinner(rec)
      return 'done'
    }
    if (fromHold) return 'held'
    const base = rec.base
    if (d.from.version > rec.stamp.version || rec.stamp.route === d.to.route) {
      this.#hold(base, d, false) // gap: wait a moment for the missing delta
    } else {
      this.#conflict(rec, d, 'stored copy lost')
      this.#hold(base, d, true) // our lineage lost: fetch the winner's copy now
    }
    return 'held'
  }

  #conflict (rec: SessionRecord, d: Held, outcome: string): void {
    const loser = outcome === 'incoming write lost' ? d.to : rec.stamp
    if (!this.#firstLoss(rec.base, loser)) return
    this.#stats.conflicts++
    this.#log.warn({ session: sessionRef(rec.id), stored: formatStamp(rec.stamp), incoming: formatStamp(d.to), incomingBase: formatStamp(d.from), from: d.sender.id, outcome },
      'concurrent writes to one session: the greater stamp wins')
  }

  /**
   * A whole copy (a push after a heal, a fetched session, a state transfer) and the stored copy
   * come from different lineages (neither stamp is in the other's history): one side's changes
   * since they split are lost. Counted and logged like a losing delta, once per lost change.
   */
  #fullConflict (rec: SessionRecord, incoming: SessionRecord, from: Member | null): 'stored copy lost' | 'incoming copy lost' | null {
    const order = compareStamps(incoming.stamp, rec.stamp)
    if (order === 0) return null
    const [winner, loser] = order > 0 ? [incoming, rec] : [rec, incoming]
    if (winner.knows(loser.stamp)) return null
    // why: older than the winner's remembered history: probably an ancestor, not a lost change
    if (loser.stamp.version < (winner.history[0]?.version ?? winner.stamp.version)) return null
    const outcome = order > 0 ? 'stored copy lost' : 'incoming copy lost'
    if (!this.#firstLoss(rec.base, loser.stamp)) return outcome
    this.#stats.conflicts++
    this.#log.warn({ session: sessionRef(rec.id), stored: formatStamp(rec.stamp), incoming: formatStamp(incoming.stamp), from: from?.id ?? null, outcome },
      'concurrent writes to one session (copies diverged, e.g. during a partition): the greater stamp wins')
    return outcome
  }

  /** true the first time this losing change is seen (several peers may bring the same copy) */
  #firstLoss (base: string, loser: Stamp): boolean {
    const key = `${base}|${formatStamp(loser)}`
    if (this.#losses.has(key)) return false
    this.#losses.add(key)
    if (this.#losses.size > 1024) this.#losses.delete(this.#losses.values().next().value!)
    return true
  }

  #applyDelta (rec: SessionRecord, d: Held): void {
    const now = this.#mono()
    const changes = rec.apply(d.actions)
    rec.advance(d.to)
    rec.route = d.route
    rec.primary = false
    rec.lastAccessedTime = now
    rec.lastReplicated = now
    rec.unsent = []
    rec.unsentBase = null
    this.#stats.deltasApplied++
    const lag = Math.max(0, this.#clock.now() - d.to.at) // why: the writer's wall clock against ours
    this.#stats.lag.lastMs = lag
    if (lag > this.#stats.lag.maxMs) this.#stats.lag.maxMs = lag
    if (this.#opts.notifyListenersOnReplication) this.#emitChanges(rec.id, changes, true)
  }

  #hold (base: string, d: Held, askNow: boolean): void {
    this.#held.hold(base, d, askNow)
  }

  #clearHeld (base: string): void {
    this.#held.clear(base)
  }

  #requestFull (base: string, id: string, first: Member): void {
    this.#held.request(base, id, first)
  }

  /** re-run held deltas of one session after its stored copy changed */
  #drainHeld (base: string): void {
    const rec = this.#sessions.get(base)
    if (!rec) return
    let progress = true
    while (progress) {
      progress = false
      for (const d of this.#held.items(base)) {
        if (this.#classify(rec, d, true) !== 'held') {
          this.#held.remove(base, d)
          progress = true
        }
      }
    }
    this.#held.settle(base)
  }

  /**
   * The writer of a losing delta does not know it lost, and other nodes may have applied it: send
   * our (winning) copy to them all (or to one member), so every node converges. It travels as an
   * unsolicited session-full (req 0) and replaces only a copy whose stamp orders before it.
   */
  #pushWinner (rec: SessionRecord, to?: Member, mode: 'async' | 'sync' = 'async'): Promise<SendResult | null> {
    return this.#send(message({ t: 'session-full', id: rec.id, req: 0, s: this.#fullForPeer(rec) }), to ? [to] : this.#peers(), mode)
  }

  #onSessionFull (msg: Extract<SessionMessage, { t: 'session-full' }>, sender: Member): void {
    if (msg.req === 0) {
      if (msg.s !== null && msg.s.id === msg.id) this.#installFull(msg.s, 'session-full', sender)
      return
    }
    const base = parseSessionId(msg.id)!.base
    const copyBase = msg.s === null ? null : parseSessionId(msg.s.id)?.base ?? null
    if (this.#fetch.answered(msg.req, base, msg.s, copyBase, sender)) return
    const answer = this.#held.answered(msg.req, base, copyBase === base)
    if (answer === 'unsolicited') return this.#drop('unsolicited-session-full', sender)
    if (answer === null || msg.s === null) return
    this.#installFull(msg.s, 'session-full', sender)
    this.#stats.gapsRecovered++
    this.#held.afterFetch(base)
  }

  /** a whole session from a peer: install it if this node has nothing newer */
  #installFull (f: FullSession, source: 'created' | 'transfer' | 'session-full', sender: Member | null = null): void {
    const p = parseSessionId(f.id)!
    if (this.#isTombstoned(p.base)) return
    const now = this.#mono()
    const incoming = fromFull(f, p.base, p.route, now)
    const rec = this.#sessions.get(p.base)
    if (!rec) {
      this.#sessions.set(p.base, incoming)
      if (this.#opts.notifyListenersOnReplication) {
        this.#emitCreated(incoming.id, true)
        this.#emitChanges(incoming.id, [...incoming.attributes].map(([name, bytes]) => ({ name, kind: 'added', bytes, oldBytes: undefined })), true)
      }
    } else if (compareStamps(incoming.stamp, rec.stamp) > 0) {
      this.#fullConflict(rec, incoming, sender)
      const changes: AttributeChange[] = []
      for (const [name, old] of rec.attributes) {
        const now2 = incoming.attributes.get(name)
        if (!now2) changes.push({ name, kind: 'removed', bytes: undefined, oldBytes: old })
        else if (Buffer.compare(now2, old) !== 0) changes.push({ name, kind: 'replaced', bytes: now2, oldBytes: old })
      }
      for (const [name, bytes] of incoming.attributes) if (!rec.attributes.has(name)) changes.push({ name, kind: 'added', bytes, oldBytes: undefined })
      this.#sessions.set(p.base, incoming)
      if (this.#opts.notifyListenersOnReplication) this.#emitChanges(incoming.id, changes, true)
    } else if (this.#fullConflict(rec, incoming, sender) === 'incoming copy lost') {
      // why: the sender serves or pushed a losing copy and does not know it: send it ours
      if (sender !== null) void this.#pushWinner(rec, sender)
    } else {
      if (source !== 'transfer') this.#stats.duplicates++
    }
    this.#drainHeld(p.base)
  }

  #fullForPeer (rec: SessionRecord): FullSession {
    return toFull(rec, this.#mono())
  }

  #onExpired (msg: Extract<SessionMessage, { t: 'expired' }>, sender: Member): void {
    const p = parseSessionId(msg.id)!
    const rec = this.#sessions.get(p.base)
    if (!rec) { this.#tombstone(p.base); return }
    const at = fromTuple(msg.at)
    if (msg.why === 'expired' && compareStamps(at, rec.stamp) < 0) {
      this.#stats.conflicts++
      this.#log.warn({ session: sessionRef(rec.id), stored: formatStamp(rec.stamp), expiredAt: formatStamp(at), from: sender.id }, 'a peer expired a session that has newer changes here; expiry wins everywhere')
    }
    this.#remove(rec, msg.why, true)
  }

  #onAccessed (msg: Extract<SessionMessage, { t: 'accessed' }>, sender: Member): void {
    const p = parseSessionId(msg.id)!
    if (this.#isTombstoned(p.base)) return
    const rec = this.#sessions.get(p.base)
    const at = fromTuple(msg.at)
    if (!rec || compareStamps(at, rec.stamp) > 0) return this.#requestFull(p.base, msg.id, sender) // why: we missed changes
    if (!sameStamp(at, rec.stamp)) void this.#pushWinner(rec, sender) // why: the sender serves a copy older than ours
    rec.lastAccessedTime = this.#mono()
    rec.primary = false
    rec.route = p.route
  }

  #onIdChanged (msg: Extract<SessionMessage, { t: 'id-changed' }>, sender: Member): void {
    const from = parseSessionId(msg.from)!
    const to = parseSessionId(msg.to)!
    const rec = this.#sessions.get(from.base)
    if (!rec) {
      if (from.base !== to.base) this.#tombstone(from.base)
      if (!this.#sessions.has(to.base) && !this.#isTombstoned(to.base)) this.#requestFull(to.base, msg.to, sender)
      return
    }
    const oldId = rec.id
    if (from.base !== to.base) {
      this.#sessions.delete(from.base)
      this.#tombstone(from.base)
      rec.base = to.base
      this.#sessions.set(to.base, rec)
    }
    rec.route = to.route
    rec.primary = false
    if (this.#opts.notifyListenersOnReplication) this.#emitIdChanged(oldId, rec.id, true)
  }

  #onMemberGone = (member: Member, reason?: string): void => {
    this.#transfer?.onMemberGone(member)
    this.#reconciler.forget(member)
    // why: a member dropped without a goodbye (hung, cut off) may come back as itself and would
    // then serve the copies it held when it went silent; remember when we stopped replicating to it
    if (reason !== 'shutdown' && member.meta?.role === 'node') {
      this.#lostMembers.set(member.id, this.#mono())
      if (this.#lostMembers.size > 256) this.#lostMembers.delete(this.#lostMembers.keys().next().value!)
    }
  }

  /**
   * A member we had dropped is back under the same id (SIGCONT, a healed network): it missed every
   * change we made meanwhile. Send it our copy of each session we serve that changed since shortly
   * before we lost it, and the sessions removed since then; it installs only what is newer than
   * what it holds. (A restarted process has a new id and gets the sessions by state transfer.)
   */
  #onMemberBack = (member: Member): void => {
    const lostAt = this.#lostMembers.get(member.id)
    if (lostAt === undefined) return this.#onMemberNew(member)
    this.#lostMembers.delete(member.id)
    if (member.meta?.role !== 'node') return
    // why the margin: changes sent while it was already silent, before we gave it up, may be lost too
    void this.#resync(member, lostAt - LOST_MEMBER_MARGIN, 1)
  }

  /**
   * A member appears. One that was running before this node started was missed at start (its
   * heartbeats came late, or the two were apart): reconcile with it (reconcile.ts). One that
   * started after this node gets a state transfer instead, and one that appears while this node's
   * own transfer runs is left to it.
   */
  #onMemberNew (member: Member): void {
    if (member.meta?.role !== 'node' || !this.#isReady || this.#transfer !== null || !this.#running) return
    let ownAge: number
    try { ownAge = this.#channel!.local.aliveTime } catch { return }
    if (member.aliveTime < ownAge) return
    void this.#reconciler.offer(member)
  }

  /**
   * Send a member that is back the sessions this node serves and used or changed since `since`
   * (its own clock, not the stamps' writer clocks, which may be skewed), and the sessions removed
   * since. Acknowledged (sync) sends: right after a heal the first frames on a new connection can
   * be lost, and a fire-and-forget push left copies diverged for good (sessions nobody touched
   * again stayed different). What was not acknowledged is sent again, a few times.
   */
  async #resync (member: Member, since: number, attempt: number): Promise<void> {
    const sends: Array<Promise<SendResult | null>> = []
    let pushed = 0
    let removed = 0
    for (const rec of this.#sessions.values()) {
      if (rec.primary && (rec.lastAccessedTime >= since || rec.lastReplicated >= since)) {
        sends.push(this.#pushWinner(rec, member, 'sync'))
        pushed++
      }
    }
    for (const [base, until] of this.#tombstones) {
      const at = until - this.#opts.tombstoneTime
      if (at < since) continue
      sends.push(this.#send(message({ t: 'expired', id: `${base}.${this.route}`, at: toTuple({ version: 0, at, route: this.route }), why: 'invalidated' }), [member], 'sync'))
      removed++
    }
    const results = await Promise.all(sends)
    const failed = results.filter((r) => r === null || r.failed.length > 0).length
    this.#log.info({ member: member.id, pushed, removed, failed, attempt }, 'a member that was dropped is back: sent it the sessions changed and removed since')
    if (failed === 0 || attempt >= RESYNC_ATTEMPTS || !this.#running) return
    await new Promise((resolve) => setTimeout(resolve, RESYNC_RETRY_MS).unref())
    if (this.#running && this.#peers().some((m) => m.id === member.id)) await this.#resync(member, since, attempt + 1)
  }

  // ---- state transfer (transfer.ts) --------------------------------------------------------

  #transferHost (): TransferHost {
    return {
      log: this.#log,
      stats: this.#stats.transfer,
      peers: () => this.#peers(),
      localId: () => this.#channel?.local.id ?? null,
      send: async (msg, to, mode) => await this.#send(msg, [to], mode),
      install: (f) => this.#installFull(f, 'transfer'),
      drop: (reason, sender) => this.#drop(reason, sender),
      finished: (state, queue) => {
        this.#transfer = null
        // why: replayed through the version rules, so nothing older overwrites newer
        for (const { message: m, sender } of queue) {
          try {
            void this.#handle(m, sender)
          } catch (err) {
            this.#drop('handler-error', sender, (err as Error).message)
          }
        }
        this.#markReady()
        // why: a transfer that did not complete (timed out, its member gone, nobody answered)
        // left this node with part of the sessions at most: reconcile with every peer
        if (state !== 'done') for (const m of this.#peers()) void this.#reconciler.offer(m)
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
    const host = { log: this.#log, stats: this.#stats.transfer, send: async (msg: SessionMessage, m: Member, mode: 'async' | 'sync') => await this.#send(msg, [m], mode) }
    await answerGetAll(host, xfer, to, this.#sessions, (rec) => this.#fullForPeer(rec),
      { sessions: this.#opts.transferChunkSessions, bytes: this.#opts.transferChunkBytes })
    // why: a node that (re)starts has no tombstones; without ours, a replayed or late 'created' of
    // a session invalidated in the last tombstoneTime would re-install it there (SECURITY.md)
    for (const [base, until] of this.#tombstones) {
      const at = until - this.#opts.tombstoneTime
      void this.#send(message({ t: 'expired', id: `${base}.${this.route}`, at: toTuple({ version: 0, at, route: this.route }), why: 'invalidated' }), [to], 'async')
    }
  }

  // ---- expiry and removal ------------------------------------------------------------------

  #expire (rec: SessionRecord): void {
    this.#stats.expired++
    const tell = rec.primary
    this.#remove(rec, 'expired', false)
    if (tell) void this.#replicate(message({ t: 'expired', id: rec.id, at: toTuple(rec.stamp), why: 'expired' }))
  }

  #remove (rec: SessionRecord, reason: DestroyReason, replicated: boolean): void {
    if (this.#sessions.get(rec.base) !== rec) return
    this.#sessions.delete(rec.base)
    if (reason !== 'shutdown') this.#tombstone(rec.base)
    if (!replicated || this.#opts.notifyListenersOnReplication) this.#safeEmit('sessionDestroyed', { id: rec.id, reason, replicated })
  }

  // ---- listeners ---------------------------------------------------------------------------

  #safeEmit<K extends keyof SessionManagerEvents> (name: K, ...args: SessionManagerEvents[K]): void {
    try {
      (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args)
    } catch (err) {
      this.#log.error({ event: name, err: (err as Error).message }, 'a session listener threw')
    }
  }

  #emitCreated (id: string, replicated: boolean): void {
    this.#safeEmit('sessionCreated', { id, replicated })
  }

  #emitIdChanged (oldId: string, newId: string, replicated: boolean): void {
    this.#safeEmit('sessionIdChanged', { oldId, newId, replicated })
  }

  #emitChanges (id: string, changes: AttributeChange[], replicated: boolean): void {
    const decode = (b: Uint8Array | undefined): unknown => {
      if (!b) return undefined
      try { return decodeValue(b) } catch { return undefined }
    }
    for (const c of changes) {
      const event = c.kind === 'added' ? 'attributeAdded' : c.kind === 'replaced' ? 'attributeReplaced' : 'attributeRemoved'
      if (this.listenerCount(event) === 0) continue
      this.#safeEmit(event, { id, name: c.name, value: decode(c.bytes), oldValue: decode(c.oldBytes), replicated })
    }
  }
}

