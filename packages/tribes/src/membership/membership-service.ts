/**
 * MembershipService: McastService semantics over any HeartbeatTransport. It sends this member's
 * blob every `frequency` ms, turns received blobs into the member table, verifies silent members
 * with a TCP connect before dropping them (TcpFailureDetector), and reports the changes as
 * events. Everything a datagram can do wrong ends as a counted drop, never as a throw.
 */
import { EventEmitter } from 'node:events'
import { randomUUID } from 'node:crypto'
import { pino, type Logger } from 'pino'
import type { DisappearReason, Member, MemberMeta } from '../types.js'
import { errors } from '../errors.js'
import { hostToBytes, hostToString, SHUTDOWN_COMMAND, type MemberFields } from '../codec/member.js'
import { encodePayload, encodeSignedMember, tagLengthOf, type MemberAuth } from '../codec/member-payload.js'
import { readMemberDatagram } from './datagram.js'
import type { HeartbeatTransport } from './heartbeat-transport.js'
import { MembershipTable, memberId, toMember } from './membership.js'
import { FailureDetector, ackProbe, type Probe } from './failure-detector.js'
import { check, MEMBERSHIP_DEFAULTS } from './defaults.js'

export interface MembershipEvents {
  memberAdded: [member: Member]
  memberDisappeared: [member: Member, reason: DisappearReason]
  /** a member whose payload is not nodecat's: reported once, never offered as a peer */
  foreignMember: [member: Member]
}

export interface LocalMemberOptions {
  /** receiver address this member advertises (an IP address, never a name) */
  host: string
  /** receiver TCP port this member advertises */
  port: number
  domain?: string
  meta: MemberMeta
  /** 16 bytes (or 32 hex characters); default: random, v4 layout as Tribes does */
  uniqueId?: Buffer | string
}

export interface MembershipServiceOptions {
  local: LocalMemberOptions
  transport: HeartbeatTransport
  /** ms between heartbeats; default 500 */
  frequency?: number
  /** ms of silence before a member is verified and dropped; default 3000 */
  dropTime?: number
  /** ms for the failure detector's TCP connect; default 1000 */
  connectTimeout?: number
  /** ms a silent member whose receiver still answers is kept past dropTime; default 10 × dropTime */
  suspectTimeout?: number
  /** cluster key: datagrams are tagged, and untagged or wrongly tagged ones are dropped */
  auth?: MemberAuth
  logger?: Logger
  /** ms, monotonic; default performance.now */
  clock?: () => number
  /** default: a TCP connect to the member's receiver */
  probe?: Probe
  /** false: no interval timers (tests drive heartbeat() and checkNow() themselves) */
  timers?: boolean
  maxMembers?: number
  maxForeignMembers?: number
}

export interface MembershipStats {
  heartbeatsSent: number
  /** heartbeats sent at once to answer a member heard for the first time (part of heartbeatsSent) */
  answers: number
  heartbeatsReceived: number
  sendErrors: number
  /** failure-detector TCP probes started */
  probes: number
  /** datagrams dropped, by reason: malformed, auth, domain, replay, duplicate, version, full */
  dropped: Record<string, number>
}

/** ms between two prompted heartbeats (answers to new members) at most */
export const ANSWER_GAP_MS = 50
/** ms after start at which a joiner heartbeats once more, in case its first datagram was lost */
export const HELLO_AGAIN_MS = 100

function randomUniqueId (): Buffer {
  return Buffer.from(randomUUID().replaceAll('-', ''), 'hex')
}

export class MembershipService extends EventEmitter<MembershipEvents> {
  readonly #transport: HeartbeatTransport
  readonly #table: MembershipTable
  readonly #detector: FailureDetector
  readonly #log: Logger
  readonly #clock: () => number
  readonly #auth: MemberAuth | undefined
  readonly #frequency: number
  readonly #dropTime: number
  readonly #suspectTimeout: number
  readonly #timers: boolean
  readonly #fields: MemberFields
  readonly #localId: string
  readonly #host: string
  readonly #meta: MemberMeta
  readonly #domain: string
  readonly #dropped: Record<string, number> = {}
  #blob: Buffer
  #startedAt = 0
  #state: 'new' | 'started' | 'stopped' = 'new'
  #interval: NodeJS.Timeout | undefined
  #sending = false
  #sent = 0
  #answers = 0
  #lastAlive = -1
  #answer: NodeJS.Timeout | undefined
  #lastAnswer = -Infinity
  #hello: NodeJS.Timeout | undefined
  #received = 0
  #sendErrors = 0

  constructor (options: MembershipServiceOptions) {
    super()
    const d = MEMBERSHIP_DEFAULTS
    this.#frequency = check.integer(options.frequency ?? d.frequency, 'membership.frequency', 10, 60000)
    this.#dropTime = check.integer(options.dropTime ?? d.dropTime, 'membership.dropTime', this.#frequency + 1, 600000)
    const connectTimeout = check.integer(options.connectTimeout ?? d.connectTimeout, 'membership.connectTimeout', 10, 60000)
    this.#suspectTimeout = check.integer(options.suspectTimeout ?? d.suspectFactor * this.#dropTime, 'membership.suspectTimeout', 0, 6000000)
    const local = options.local
    let hostBytes: Buffer
    try { hostBytes = hostToBytes(check.string(local.host, 'membership.local.host')) } catch { check.fail('membership.local.host', 'an IP address', local.host) }
    const port = check.integer(local.port, 'membership.local.port', 1, 65535)
    const domain = check.string(local.domain ?? d.domain, 'membership.domain')
    if (Buffer.byteLength(domain, 'latin1') > 1024) check.fail('membership.domain', 'at most 1024 characters', domain)
    const uniqueId = local.uniqueId === undefined ? randomUniqueId() : typeof local.uniqueId === 'string' ? Buffer.from(local.uniqueId, 'hex') : Buffer.from(local.uniqueId)
    if (uniqueId.length !== 16) check.fail('membership.local.uniqueId', '16 bytes (32 hex characters)', local.uniqueId)
    this.#auth = options.auth
    this.#domain = domain
    const tagLength = this.#auth === undefined ? 0 : tagLengthOf(this.#auth)
    this.#meta = { ...local.meta }
    let payload: Buffer
    try { payload = encodePayload(this.#meta, tagLength) } catch (err) { check.fail('membership.local.meta', (err as Error).message, local.meta) }
    this.#host = hostToString(hostBytes!)
    this.#fields = {
      aliveTime: 0,
      port,
      securePort: -1,
      udpPort: -1,
      host: hostBytes!,
      command: Buffer.alloc(0),
      domain: Buffer.from(domain, 'latin1'),
      uniqueId,
      payload: payload!
    }
    this.#localId = memberId(this.#host, port, uniqueId.toString('hex'))
    this.#transport = options.transport
    this.#log = options.logger ?? pino({ level: 'silent' })
    this.#clock = options.clock ?? (() => performance.now())
    this.#timers = options.timers ?? true
    // why: the default probe needs our own member blob as the sender of its TCP_FAIL_DETECT frame
    this.#detector = new FailureDetector({ connectTimeout, probe: options.probe ?? ackProbe(() => this.localBlob()) })
    this.#table = new MembershipTable({
      local: { host: this.#host, port, uniqueId: uniqueId.toString('hex') },
      domain,
      dropTime: this.#dropTime,
      maxMembers: options.maxMembers ?? d.maxMembers,
      maxForeignMembers: options.maxForeignMembers ?? d.maxForeignMembers
    })
    this.#blob = this.#encode(0, false)
  }

  /** This process as a member, with its current aliveTime. */
  get localMember (): Member {
    return toMember({ ...this.#fields, aliveTime: this.#aliveTime() }, this.#meta)
  }

  /** The blob of the last heartbeat (the sender address of every outgoing ChannelData). */
  localBlob (): Buffer {
    return this.#blob
  }

  /** Join: start the transport, send a heartbeat at once, then every `frequency` ms. */
  async start (): Promise<void> {
    if (this.#state !== 'new') throw errors.membershipState(`membership service cannot start when ${this.#state}`)
    this.#state = 'started'
    this.#startedAt = this.#clock()
    try {
      await this.#transport.start((blob, from) => this.heard(blob, from))
    } catch (err) {
      this.#state = 'stopped' // nothing joined, so stop() has nobody to say goodbye to
      throw err
    }
    await this.heartbeat()
    if (this.#timers && this.#state === 'started') {
      this.#hello = setTimeout(() => { void this.heartbeat() }, Math.min(HELLO_AGAIN_MS, this.#frequency))
      this.#hello.unref()
    }
    if (this.#timers) {
      this.#interval = setInterval(() => {
        void this.heartbeat()
        void this.checkNow()
      }, this.#frequency)
      this.#interval.unref()
    }
    this.#log.info({ member: this.#localId, frequency: this.#frequency, dropTime: this.#dropTime }, 'membership started')
  }

  /** Leave: send one shutdown datagram (BABY-ALEX), then close the transport. */
  async stop (): Promise<void> {
    if (this.#state !== 'started') { this.#state = 'stopped'; return }
    this.#state = 'stopped'
    clearInterval(this.#interval)
    clearTimeout(this.#hello)
    clearTimeout(this.#answer)
    const goodbye = this.#encode(Math.max(this.#aliveTime(), this.#lastAlive + 1), true)
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        this.#transport.send(goodbye),
        new Promise((resolve) => { timer = setTimeout(resolve, 2000) })
      ])
    } catch (err) {
      this.#log.warn({ err }, 'could not send the shutdown datagram; peers will drop this member after dropTime')
    } finally {
      clearTimeout(timer)
    }
    await this.#transport.stop()
    await this.#detector.idle()
    this.#log.info({ member: this.#localId }, 'membership stopped')
  }

  /** Send one heartbeat now (the timer calls this every `frequency` ms). */
  async heartbeat (): Promise<void> {
    if (this.#state !== 'started' || this.#sending) return
    this.#sending = true
    // why: each heartbeat carries a larger aliveTime than the last, or peers drop it as a replayed
    // duplicate (an answer to a new member can fall in the same millisecond as a periodic one)
    this.#lastAlive = Math.max(this.#aliveTime(), this.#lastAlive + 1)
    this.#blob = this.#encode(this.#lastAlive, false)
    try {
      await this.#transport.send(this.#blob)
      this.#sent++
    } catch (err) {
      this.#sendErrors++
      if (this.#sendErrors === 1 || this.#sendErrors % 100 === 0) {
        this.#log.warn({ err, errors: this.#sendErrors }, 'heartbeat send failed')
      }
    } finally {
      this.#sending = false
    }
  }

  /** Current nodecat peers (never foreign, never self), longest-running first. */
  members (): Member[] { return this.#table.members() }

  /** Foreign members currently heard on the group. */
  foreignMembers (): Member[] { return this.#table.foreignMembers() }

  /** What the transport calls for every blob it receives. Never throws. */
  heard (blob: Buffer, from: string): void {
    if (this.#state !== 'started') return
    this.#received++
    const read = readMemberDatagram(blob, this.#domain, this.#auth)
    if (!read.ok) {
      if (read.member?.id === this.#localId) return
      return this.#drop(read.reason, from, read.detail)
    }
    const { member, shutdown } = read
    if (member.id === this.#localId) return
    const meta = member.meta
    const result = this.#table.heard(member, shutdown, this.#clock())
    switch (result.outcome) {
      case 'added':
        if (meta === null) {
          this.#log.info({ member: member.id, from }, 'foreign member on the group (not nodecat); never used as a peer')
          this.#emit('foreignMember', member)
        } else {
          this.#log.info({ member: member.id, route: meta.route, role: meta.role }, 'member added')
          this.#emit('memberAdded', member)
          this.#answerNewMember()
        }
        return
      case 'updated':
        if (result.wasSuspect) this.#log.info({ member: member.id }, 'silent member heard again')
        return
      case 'removed':
        if (result.member.meta === null) { this.#log.info({ member: member.id }, 'foreign member left'); return }
        this.#log.info({ member: member.id }, 'member left (shutdown)')
        this.#emit('memberDisappeared', result.member, 'shutdown')
        return
      case 'ignored':
        if (result.reason !== 'self' && result.reason !== 'unknown-shutdown') this.#drop(result.reason, from, `member ${member.id}`)
    }
  }

  /**
   * Check members silent for more than dropTime: each is verified with a TCP connect; a refused
   * or timed-out connect drops it ('timeout'). One that answers is kept, re-checked on later
   * ticks, and dropped ('timeout') once silent for dropTime + suspectTimeout. Foreign members are
   * dropped on silence without a check. Resolves when the checks it started are done.
   */
  async checkNow (): Promise<void> {
    if (this.#state !== 'started') return
    const now = this.#clock()
    const checks: Array<Promise<void>> = []
    for (const entry of this.#table.silent(now)) {
      const m = entry.member
      if (m.meta === null) {
        this.#table.remove(m.id)
        this.#log.info({ member: m.id }, 'foreign member timed out')
        continue
      }
      if (entry.suspectSince !== undefined && now - entry.lastHeard > this.#dropTime + this.#suspectTimeout) {
        this.#log.warn({ member: m.id, silentMs: Math.round(now - entry.lastHeard) }, 'member silent too long although its receiver answers; dropping it')
        this.#disappear(m.id, 'timeout')
        continue
      }
      if (this.#detector.checking(m.id)) continue
      checks.push(this.#detector.check(m).then((alive) => {
        const e = this.#table.get(m.id)
        if (this.#state !== 'started' || e === undefined || this.#clock() - e.lastHeard <= this.#dropTime) return
        if (!alive) {
          this.#log.info({ member: m.id }, 'member silent and its receiver does not answer; dropping it')
          this.#disappear(m.id, 'timeout')
        } else if (e.suspectSince === undefined) {
          e.suspectSince = this.#clock()
          this.#log.warn({ member: m.id }, 'member silent but its receiver answers; keeping it')
        }
      }))
    }
    await Promise.all(checks)
  }

  /**
   * A send to this member failed (connection refused or reset): verify it now. Resolves false
   * (and the member is gone with reason 'failure-detected') when its receiver does not answer.
   */
  async suspect (member: Member): Promise<boolean> {
    if (this.#state !== 'started' || this.#table.get(member.id) === undefined) return true
    const alive = await this.#detector.check(member)
    if (!alive && this.#state === 'started' && this.#table.get(member.id) !== undefined) {
      this.#log.warn({ member: member.id }, 'send failed and the receiver does not answer; dropping the member')
      this.#disappear(member.id, 'failure-detected')
    }
    return alive
  }

  /** a new member was heard: send our heartbeat soon (coalesced, at most one per ANSWER_GAP_MS) */
  #answerNewMember (): void {
    if (this.#answer !== undefined) return
    const wait = Math.max(0, this.#lastAnswer + ANSWER_GAP_MS - this.#clock())
    this.#answer = setTimeout(() => {
      this.#answer = undefined
      if (this.#state !== 'started') return
      this.#lastAnswer = this.#clock()
      this.#answers++
      void this.heartbeat()
    }, wait)
    this.#answer.unref()
  }

  stats (): MembershipStats {
    return {
      heartbeatsSent: this.#sent,
      answers: this.#answers,
      heartbeatsReceived: this.#received,
      sendErrors: this.#sendErrors,
      probes: this.#detector.probes,
      dropped: { ...this.#dropped }
    }
  }

  #aliveTime (): number {
    return this.#state === 'new' ? 0 : Math.max(0, Math.round(this.#clock() - this.#startedAt))
  }

  #encode (aliveTime: number, shutdown: boolean): Buffer {
    const fields = { ...this.#fields, aliveTime, command: shutdown ? SHUTDOWN_COMMAND : this.#fields.command }
    return encodeSignedMember(fields, this.#auth)
  }

  #disappear (id: string, reason: DisappearReason): void {
    const m = this.#table.remove(id)
    if (m !== undefined) this.#emit('memberDisappeared', m, reason)
  }

  #drop (reason: string, from: string, detail: string): void {
    const n = (this.#dropped[reason] ?? 0) + 1
    this.#dropped[reason] = n
    // why: a hostile or misconfigured sender repeats every frequency; log the first and then rarely
    if (n === 1 || n % 1000 === 0) this.#log.warn({ reason, from, count: n }, `membership datagram dropped: ${detail}`)
    else this.#log.debug({ reason, from, count: n }, `membership datagram dropped: ${detail}`)
  }

  #emit<K extends keyof MembershipEvents> (event: K, ...args: MembershipEvents[K]): void {
    try {
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args)
    } catch (err) {
      this.#log.error({ err, event }, 'membership listener threw')
    }
  }
}
