/**
 * An in-process stand-in for a tribes Channel: a hub connects fake channels. Delivery is async
 * (setImmediate), in order per sender→receiver lane, through a msgpackr round trip (so nothing
 * shares object identity across "nodes"). 'sync' sends resolve after the receivers' handlers
 * settled; 'async' sends resolve at once. A test can drop or hold (and later release) messages
 * with `hub.filter` to create gaps and reordering.
 */
import { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'
import { Packr } from 'msgpackr'
import type { Channel, ChannelEvents, ChannelStats, ForeignMessageHandler, Member, MessageHandler, ReceiverState, SendOptions, SendResult, SendFailure } from '@nodecat/tribes'
import { errors } from '@nodecat/tribes'

const packr = new Packr({ useRecords: false })

/** refuse: the receiver's address refused the connection, as when its process was killed */
export type FilterVerdict = 'deliver' | 'drop' | 'hold' | 'refuse'
export type HubFilter = (message: any, from: FakeChannel, to: FakeChannel) => FilterVerdict

interface HeldMessage { bytes: Uint8Array, from: FakeChannel, to: FakeChannel }

function coded (code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code })
}

export class FakeHub {
  readonly channels = new Set<FakeChannel>()
  filter: HubFilter | null = null
  readonly heldMessages: HeldMessage[] = []
  #seq = 0
  #port = 4000

  /** a channel for a node (role 'node', meta.route = route) or a balancer */
  channel (route: string, role: 'node' | 'balancer' = 'node', host?: string): FakeChannel {
    return new FakeChannel(this, route, role, this.#port++, host)
  }

  nextSeq (): number { return ++this.#seq }

  /** deliver every held message now (in the order they were held) */
  release (predicate: (message: any) => boolean = () => true): number {
    let n = 0
    for (const h of [...this.heldMessages]) {
      if (!predicate(packr.unpack(h.bytes))) continue
      this.heldMessages.splice(this.heldMessages.indexOf(h), 1)
      void h.from.deliverNow(h.bytes, h.to)
      n++
    }
    return n
  }

  /** resolves when every lane is idle (all sent messages processed) */
  async settle (rounds = 3): Promise<void> {
    for (let r = 0; r < rounds; r++) {
      for (const c of this.channels) await c.idle()
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
}

export class FakeChannel extends EventEmitter<ChannelEvents> implements Channel {
  readonly hub: FakeHub
  #local: Member
  #handlers = new Set<MessageHandler>()
  #foreignHandlers = new Set<ForeignMessageHandler>()
  #lanes = new Map<FakeChannel, Promise<void>>()
  #started = false
  #startedAt = 0
  #joinSeq = 0
  #stats: ChannelStats = { messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0, sendFailures: 0, queued: 0, queuedBytes: 0, queueDropped: 0, dropped: {} }
  /** every message this channel's handlers received, decoded (for assertions) */
  readonly received: any[] = []

  constructor (hub: FakeHub, route: string, role: 'node' | 'balancer', port: number, host?: string) {
    super()
    this.hub = hub
    const uniqueId = randomBytes(16).toString('hex')
    this.#local = { id: `127.0.0.1:${port}/${uniqueId}`, host: '127.0.0.1', port, uniqueId, domain: '', aliveTime: 0, meta: { protocol: 1, role, route, ...(host === undefined ? {} : { host }) } }
  }

  /** aliveTime grows from the start, as a real member's does (who started first matters) */
  get local (): Member { return this.#started ? { ...this.#local, aliveTime: Math.round(performance.now() - this.#startedAt) } : this.#local }
  get joinSeq (): number { return this.#joinSeq }
  get started (): boolean { return this.#started }

  async start (): Promise<void> {
    if (this.#started) return
    this.#started = true
    this.#startedAt = performance.now()
    this.#joinSeq = this.hub.nextSeq()
    for (const other of this.hub.channels) {
      other.emit('memberAdded', this.#local)
      this.emit('memberAdded', other.local)
    }
    this.hub.channels.add(this)
  }

  /** leave cleanly: peers see memberDisappeared 'shutdown' */
  async stop (): Promise<void> { this.#leave('shutdown') }

  /** vanish without a word: peers see memberDisappeared 'timeout' */
  crash (): void { this.#leave('timeout') }

  #leave (reason: 'shutdown' | 'timeout'): void {
    if (!this.#started) return
    this.#started = false
    this.hub.channels.delete(this)
    for (const other of this.hub.channels) other.emit('memberDisappeared', this.#local, reason)
  }

  members (): Member[] {
    return [...this.hub.channels].filter((c) => c !== this).sort((a, b) => a.joinSeq - b.joinSeq).map((c) => c.local)
  }

  foreignMembers (): Member[] { return [] }

  onMessage (handler: MessageHandler): () => void {
    this.#handlers.add(handler)
    return () => { this.#handlers.delete(handler) }
  }

  /** the hub has no foreign members: foreign handlers are kept and never called */
  onForeignMessage (handler: ForeignMessageHandler): () => void {
    this.#foreignHandlers.add(handler)
    return () => { this.#foreignHandlers.delete(handler) }
  }

  /** the hub is a multicast-like group: no static list */
  listedPeers (): Array<{ host: string, port: number }> { return [] }

  async probe (target: { host: string, port: number }): Promise<ReceiverState> {
    return [...this.hub.channels].some((c) => c.#started && c.#local.port === target.port) ? 'answering' : 'down'
  }

  stats (): ChannelStats { return structuredClone(this.#stats) }

  async idle (): Promise<void> {
    await Promise.all([...this.#lanes.values()])
  }

  async send (message: unknown, options: SendOptions = {}): Promise<SendResult> {
    const mode = options.mode ?? 'async'
    const targets = options.to === undefined ? this.members() : Array.isArray(options.to) ? options.to : [options.to as Member]
    const bytes = packr.pack(message)
    const delivered: Member[] = []
    const failed: SendFailure[] = []
    const waits: Array<Promise<void>> = []
    for (const member of targets) {
      const to = [...this.hub.channels].find((c) => c.local.id === member.id)
      if (!to || !this.#started) {
        failed.push({ member, error: coded('TRIBES_ERR_CONNECT', `member ${member.id} is not reachable`) })
        this.#stats.sendFailures++
        continue
      }
      this.#stats.messagesSent++
      this.#stats.bytesSent += bytes.length
      const verdict = this.hub.filter?.(packr.unpack(bytes), this, to) ?? 'deliver'
      if (verdict === 'drop') { delivered.push(member); continue }
      if (verdict === 'refuse') {
        // why a real tribes error: callers tell a refused connect from a timeout by its cause
        const error = mode === 'async' ? null : errors.connect(`127.0.0.1:${member.port}`, Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))
        if (error === null) delivered.push(member)
        else { failed.push({ member, error }); this.#stats.sendFailures++ }
        continue
      }
      if (verdict === 'hold') { this.hub.heldMessages.push({ bytes, from: this, to }); delivered.push(member); continue }
      const done = this.deliverNow(bytes, to)
      if (mode === 'async') { delivered.push(member); continue }
      waits.push(done.then(() => { delivered.push(member) }, (err: Error) => {
        failed.push({ member, error: coded('TRIBES_ERR_REMOTE_PROCESSING', err.message) })
      }))
    }
    await Promise.all(waits)
    return { delivered, failed }
  }

  /** queue bytes on the lane to `to`; resolves when its handlers settled (rejects if one threw) */
  deliverNow (bytes: Uint8Array, to: FakeChannel): Promise<void> {
    const prev = this.#lanes.get(to) ?? Promise.resolve()
    let result!: Promise<void>
    const lane = prev.then(async () => {
      await new Promise((resolve) => setImmediate(resolve))
      result = to.receive(bytes, this.#local)
      await result.catch(() => {})
    })
    this.#lanes.set(to, lane)
    return lane.then(() => result)
  }

  async receive (bytes: Uint8Array, from: Member): Promise<void> {
    if (!this.#started) return
    this.#stats.messagesReceived++
    this.#stats.bytesReceived += bytes.length
    const message = packr.unpack(bytes)
    this.received.push(message)
    await Promise.all([...this.#handlers].map(async (h) => await h(message, from)))
  }

  /** inject a raw message as if `from` had sent it (for hostile-input tests) */
  async inject (message: unknown, from: Member): Promise<void> {
    await this.receive(packr.pack(message), from)
  }
}
