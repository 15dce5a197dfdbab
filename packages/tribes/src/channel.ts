/**
 * The Channel: receiver, sender, dispatch queue, cluster key and membership composed into the
 * public contract of types.ts. Start order as in Tomcat's ChannelCoordinator: the receiver binds
 * (and learns its port), then the sender, then membership (which advertises that port).
 */
import { EventEmitter } from 'node:events'
import crypto from 'node:crypto'
import type { Logger } from 'pino'
import type { Channel, ChannelEvents, ChannelStats, ForeignMessageHandler, Member, MessageHandler, ReceiverState, SendOptions, SendResult, SendFailure } from './types.js'
import { errors, TribesError, TribesOptionError } from './errors.js'
import { resolveChannelOptions, isLoopback, type ChannelOptions, type ResolvedChannelOptions } from './options.js'
import { Keyring } from './crypto/keyring.js'
import { batchPieces, encodeEnvelopeFrame, encodeEnvelopeParts, packValue, type EnvelopeKind } from './codec/envelope.js'
import { modeToOptions, SEND_OPTIONS } from './codec/send-options.js'
import { decodeMember, identityKeyOfBlob, isShutdownCommand } from './codec/member.js'
import { encodeChannelDataFrame } from './codec/channel-data.js'
import { Receiver } from './transport/receiver.js'
import { Sender, MemberConnection, addressOf, wireLength, type Target, type Wire } from './transport/sender.js'
import { DispatchQueue, type DispatchItem } from './transport/dispatch-queue.js'
import { TcpHeartbeat } from './transport/tcp-heartbeat.js'
import { StaticAllowList } from './membership/static-allow-list.js'
import { TransportCounters, worthLogging } from './transport/counters.js'
import { createInboundHandler, identityKeyOfMember } from './inbound.js'
import { MembershipService } from './membership/membership-service.js'
import { McastHeartbeat } from './membership/mcast-heartbeat.js'
import { probeReceiver } from './membership/failure-detector.js'
import type { HeartbeatTransport } from './membership/heartbeat-transport.js'

interface Outgoing extends DispatchItem {
  targets: readonly Target[]
  /** ack/sync: the frame, encoded once for every target */
  frame?: Wire
  /** async: the packed value, framed (and sealed) later with its neighbours, one batch per member */
  value?: Buffer
  /** ack sends: receives one promise per target, in order */
  done?: (results: Array<Promise<void>>) => void
}

const EMPTY = Buffer.alloc(0)
const HEARTBEAT_OPTIONS = SEND_OPTIONS.BYTE_MESSAGE | SEND_OPTIONS.ASYNCHRONOUS
/** a batch is sealed once it holds this many bytes of values */
const BATCH_BYTES = 256 * 1024
/** room for the frame, ChannelData and envelope around a value (member blob excluded) */
const FRAME_ROOM = 18 + 40 + 6 + 28 + 4

function sameValues (a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Create a channel. Options are validated here, at once (a bad option throws a coded error
 * naming it); sockets open on `start()`.
 */
export function createChannel (options: ChannelOptions = {}): Channel {
  return new TribesChannel(resolveChannelOptions(options))
}

class TribesChannel extends EventEmitter<ChannelEvents> implements Channel {
  readonly #o: ResolvedChannelOptions
  readonly #log: Logger
  readonly #counters = new TransportCounters()
  readonly #handlers = new Set<MessageHandler>()
  readonly #foreignHandlers = new Set<ForeignMessageHandler>()
  /** connections of replies to foreign members still under way (closed on stop) */
  readonly #foreignReplies = new Set<MemberConnection>()
  /** members known to membership, by identity key (for the per-message sender lookup) */
  readonly #known = new Map<string, Member>()
  readonly #keyring: Keyring | undefined
  // why: message ids = 8 random bytes + a counter: unique without a random draw per message, and
  // what the receiver's replay guard expects (increasing per stream). Heartbeats bypass the
  // dispatch queue, so they count in a stream of their own.
  readonly #ids = { app: { prefix: crypto.randomBytes(8), next: 0 }, heartbeat: { prefix: crypto.randomBytes(8), next: 0 } }
  #state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped' = 'new'
  #receiver: Receiver | undefined
  #sender: Sender | undefined
  /**
   * Static membership's heartbeats travel on connections of their own: on the data connection a
   * heartbeat could wait behind a sync message whose handler is still pending (a peer that is not
   * listening yet holds it), and a member that cannot be heard cannot be waited for.
   */
  #heartbeatSender: Sender | undefined
  #queue: DispatchQueue<Outgoing> | undefined
  #membership: MembershipService | undefined
  #tcpHeartbeat: TcpHeartbeat | undefined

  constructor (o: ResolvedChannelOptions) {
    super()
    this.#o = o
    this.#log = o.logger
    this.#keyring = o.key === undefined
      ? undefined
      : new Keyring({
        key: o.key,
        keyFile: o.keyFile,
        onReload: (e) => e.ok
          ? this.#log.info({ keyId: e.keyId, previousKeys: e.previousKeys }, 'cluster key file changed: new keys in use')
          : this.#log.error({ err: e.error }, 'cluster key file changed but cannot be used; keeping the keys in use'),
        previousKeys: o.previousKeys,
        replayWindow: o.replayWindow,
        replayStreams: o.replayStreams
      })
  }

  get local (): Member {
    if (this.#membership === undefined) throw errors.notStarted('channel')
    return this.#membership.localMember
  }

  async start (): Promise<void> {
    if (this.#state !== 'new') throw errors.channelState(this.#state)
    this.#state = 'starting'
    const o = this.#o
    try {
      this.#announceSecurity()
      const receiver = new Receiver({
        address: o.address,
        port: o.port,
        autoBind: o.autoBind,
        maxFrameSize: o.maxMessageSize,
        maxConnections: o.maxConnections,
        maxConnectionsPerPeer: o.maxConnectionsPerPeer,
        frameTimeout: o.frameTimeout,
        maxBufferedBytes: o.maxBufferedBytes,
        firstFrameTimeout: o.firstFrameTimeout,
        // why: only an envelope that opens (with a key, an authentic one) proves a connection
        proof: 'handler',
        logger: this.#log,
        counters: this.#counters,
        onMessage: createInboundHandler({
          keyring: this.#keyring,
          counters: this.#counters,
          logger: this.#log,
          domain: o.domain,
          handlers: this.#handlers,
          known: this.#known,
          onHeartbeat: (blob, from) => this.#tcpHeartbeat?.deliver(blob, from),
          admits: this.#staticAllowList(),
          foreignHandlers: this.#foreignHandlers,
          foreignSender: (blob) => this.#foreignSender(blob),
          replyForeign: (to, message, options) => this.#replyForeign(to, message, options)
        })
      })
      this.#receiver = receiver
      const port = await receiver.start()
      this.#log.info({ address: o.address, port, chosenBy: o.addressSource }, 'receiver listening')
      this.#sender = new Sender({
        connectTimeout: o.connectTimeout,
        logger: this.#log,
        counters: this.#counters,
        onPeerFailure: (address, err) => this.#peerFailed(address, err)
      })
      if (o.membership.type === 'static') {
        this.#heartbeatSender = new Sender({
          connectTimeout: o.connectTimeout,
          logger: this.#log,
          counters: this.#counters,
          onPeerFailure: (address, err) => this.#peerFailed(address, err)
        })
      }
      this.#queue = new DispatchQueue<Outgoing>({
        maxBytes: o.queueMaxBytes,
        maxMessages: o.queueMaxMessages,
        logger: this.#log,
        deliver: (batch) => this.#deliver(batch)
      })
      const membership = new MembershipService({
        local: { host: o.address, port, domain: o.domain, meta: o.meta },
        transport: this.#heartbeatTransport(port),
        frequency: o.membership.frequency,
        dropTime: o.membership.dropTime,
        connectTimeout: o.connectTimeout,
        auth: this.#keyring,
        logger: this.#log
      })
      membership.on('memberAdded', (m) => {
        this.#known.set(identityKeyOfMember(m), m)
        // why: a heartbeat refused just before it started must not fail the first sends to it
        this.#sender?.connection(m).clearBackoff()
        this.#heartbeatSender?.connection(m).clearBackoff()
        this.emit('memberAdded', m)
      })
      membership.on('memberDisappeared', (m, reason) => {
        this.#known.delete(identityKeyOfMember(m))
        // why: no half-open connection to a departed member; a later send reconnects
        void this.#sender?.remove(m)
        void this.#heartbeatSender?.remove(m)
        this.emit('memberDisappeared', m, reason)
      })
      membership.on('foreignMember', (m) => this.emit('foreignMember', m))
      this.#membership = membership
      await membership.start()
      this.#state = 'started'
    } catch (err) {
      await this.#closeAll()
      this.#state = 'stopped'
      throw err
    }
  }

  async stop (): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return
    if (this.#state === 'new') { this.#state = 'stopped'; return }
    this.#state = 'stopping'
    await this.#closeAll()
    this.#state = 'stopped'
    this.#log.info('channel stopped')
  }

  /** flush queued messages, say goodbye, then close sender and receiver */
  async #closeAll (): Promise<void> {
    try { await this.#queue?.close() } catch (err) { this.#log.warn({ err }, 'dispatch queue did not drain') }
    try { await this.#membership?.stop() } catch (err) { this.#log.warn({ err }, 'membership stop failed') }
    await this.#sender?.close()
    await this.#heartbeatSender?.close()
    await Promise.all([...this.#foreignReplies].map((c) => c.close()))
    await this.#receiver?.stop()
  }

  members (): Member[] {
    return this.#membership?.members() ?? []
  }

  foreignMembers (): Member[] {
    return this.#membership?.foreignMembers() ?? []
  }

  listedPeers (): Array<{ host: string, port: number }> {
    const m = this.#o.membership
    if (m.type !== 'static') return []
    const self = this.#membership === undefined ? null : addressOf(this.#membership.localMember)
    return m.members.filter((p) => addressOf(p) !== self).map((p) => ({ host: p.host, port: p.port }))
  }

  async probe (target: { host: string, port: number }): Promise<ReceiverState> {
    const membership = this.#membership
    if (membership === undefined) throw errors.notStarted('channel')
    return await probeReceiver(target.host, target.port, this.#o.connectTimeout, membership.localBlob())
  }

  onMessage (handler: MessageHandler): () => void {
    if (typeof handler !== 'function') throw new TypeError('onMessage needs a function')
    this.#handlers.add(handler)
    return () => { this.#handlers.delete(handler) }
  }

  onForeignMessage (handler: ForeignMessageHandler): () => void {
    if (typeof handler !== 'function') throw new TypeError('onForeignMessage needs a function')
    this.#foreignHandlers.add(handler)
    return () => { this.#foreignHandlers.delete(handler) }
  }

  /** the foreign member membership lists with this sender blob (same host, port and uniqueId) */
  #foreignSender (blob: Buffer): Member | undefined {
    const key = identityKeyOfBlob(blob)
    if (key === undefined) return undefined
    return this.#membership?.foreignMembers().find((m) => identityKeyOfMember(m) === key)
  }

  /**
   * ForeignMessage.reply: one frame of ours (our member blob, a random message id, the caller's
   * message as it is) on a connection of its own to the member's receiver, closed after it.
   */
  async #replyForeign (to: Member, message: Uint8Array, options: number = SEND_OPTIONS.ASYNCHRONOUS): Promise<void> {
    if (!Number.isInteger(options) || options < 0 || options > 0x7fffffff) throw new TribesOptionError(`reply options must be send-option bits (a non-negative 32-bit integer), got ${String(options)}`)
    const membership = this.#membership
    // why 'starting' too: membership may list a foreign member before start() has returned
    if (membership === undefined || (this.#state !== 'started' && this.#state !== 'starting')) throw errors.closed('channel')
    const frame = encodeChannelDataFrame({ options, timestamp: Date.now(), uniqueId: crypto.randomBytes(16), sender: membership.localBlob(), message: Buffer.from(message.buffer, message.byteOffset, message.byteLength) })
    if (frame.length > this.#o.maxMessageSize) throw errors.frameTooLarge(frame.length, this.#o.maxMessageSize)
    const conn = new MemberConnection(to, { connectTimeout: this.#o.connectTimeout, logger: this.#log, counters: this.#counters })
    this.#foreignReplies.add(conn)
    try {
      if ((options & SEND_OPTIONS.USE_ACK) !== 0) await conn.sendAcked(frame, this.#o.timeout)
      else await conn.sendFlushed(frame)
      this.#counters.messagesSent++
      this.#counters.bytesSent += frame.length
    } catch (err) {
      this.#counters.sendFailures++
      throw err
    } finally {
      this.#foreignReplies.delete(conn)
      void conn.close()
    }
  }

  async send (message: unknown, options: SendOptions = {}): Promise<SendResult> {
    if (this.#state !== 'started') throw this.#state === 'new' || this.#state === 'starting' ? errors.notStarted('channel') : errors.closed('channel')
    const mode = options.mode ?? this.#o.sendMode
    const to = options.to
    const targets: Member[] = to === undefined ? this.#membership!.members() : Array.isArray(to) ? [...to as readonly Member[]] : [to as Member]
    if (targets.length === 0) return { delivered: [], failed: [] }
    const value = packValue(message)
    const limit = this.#batchLimit()
    if (value.length + 4 > limit) throw errors.frameTooLarge(value.length, limit - 4)
    const queue = this.#queue!
    if (mode === 'async') {
      // why: async messages to one member leave as batches, one frame (and with a key one seal,
      // which costs more than all the rest) per member per turn instead of one per message
      const item: Outgoing = { value, bytes: value.length, droppable: true, targets }
      if (queue.push(item)) return { delivered: targets, failed: [] }
      this.#counters.queueDropped++
      const err = errors.queueFull(queue.size, queue.bytes)
      return { delivered: [], failed: targets.map((member) => ({ member, error: err })) }
    }
    const frame = this.#frameParts('app', modeToOptions(mode), [value], value.length)
    const bytes = wireLength(frame)
    const results = await new Promise<Array<Promise<void>>>((resolve, reject) => {
      if (!queue.push({ frame, bytes, droppable: false, targets, done: resolve })) reject(errors.closed('channel'))
    })
    const settled = await Promise.allSettled(results)
    const delivered: Member[] = []
    const failed: SendFailure[] = []
    settled.forEach((r, i) => {
      if (r.status === 'fulfilled') delivered.push(targets[i]!)
      else failed.push({ member: targets[i]!, error: r.reason as TribesError })
    })
    this.#counters.messagesSent += delivered.length
    this.#counters.bytesSent += bytes * delivered.length
    this.#counters.sendFailures += failed.length
    return { delivered, failed }
  }

  stats (): ChannelStats {
    const c = this.#counters
    const dropped: Record<string, number> = { ...c.dropped }
    for (const [k, n] of Object.entries(this.#membership?.stats().dropped ?? {})) dropped[`membership-${k}`] = n
    return {
      messagesSent: c.messagesSent,
      messagesReceived: c.messagesReceived,
      bytesSent: c.bytesSent,
      bytesReceived: c.bytesReceived,
      sendFailures: c.sendFailures,
      queued: this.#queue?.size ?? 0,
      queuedBytes: this.#queue?.bytes ?? 0,
      queueDropped: c.queueDropped,
      socketWrites: this.#sender?.counts.writes ?? 0,
      framesWritten: this.#sender?.counts.frames ?? 0,
      dropped
    }
  }

  #uniqueId (kind: EnvelopeKind): Buffer {
    // why: app frames take their ids when sent, batches when delivered (later): on streams of their
    // own, each stream's counters reach a member in increasing order
    const stream = kind === 'app' ? this.#ids.app : this.#ids.heartbeat
    const n = stream.next++
    const uniqueId = Buffer.allocUnsafe(16)
    stream.prefix.copy(uniqueId, 0)
    uniqueId.writeUInt32BE(Math.floor(n / 0x100000000) >>> 0, 8)
    uniqueId.writeUInt32BE(n >>> 0, 12)
    return uniqueId
  }

  #frame (kind: EnvelopeKind, options: number, body: Buffer, sender = this.#membership!.localBlob()): Buffer {
    return encodeEnvelopeFrame({ options, timestamp: Date.now(), uniqueId: this.#uniqueId(kind), sender }, kind, body, this.#keyring)
  }

  /** an app or batch frame as buffers (the body's big pieces neither joined nor copied; see encodeEnvelopeParts) */
  #frameParts (kind: EnvelopeKind, options: number, pieces: readonly Uint8Array[], length: number): Wire {
    return encodeEnvelopeParts({ options, timestamp: Date.now(), uniqueId: this.#uniqueId(kind), sender: this.#membership!.localBlob() }, kind, pieces, length, this.#keyring)
  }

  /** write one batch of queued messages; returns a promise when a socket needs to drain */
  #deliver (batch: Outgoing[]): void | Promise<void> {
    const sender = this.#sender!
    const touched = new Set<MemberConnection>()
    const batches = new Map<MemberConnection, { values: Buffer[], bytes: number }>()
    const limit = Math.min(BATCH_BYTES, this.#batchLimit())
    const use = (t: Target): MemberConnection => {
      const conn = sender.connection(t)
      if (!touched.has(conn)) { touched.add(conn); conn.cork() }
      return conn
    }
    // why: members that get the same values in the same order (a delta to every peer) share one
    // frame: encoded and sealed once, written to each (each receiver's replay guard is its own)
    const recent: Array<{ values: Buffer[], frame: Wire }> = []
    const flush = (conn: MemberConnection): void => {
      const b = batches.get(conn)
      if (b === undefined) return
      batches.delete(conn)
      let frame = recent.find((r) => sameValues(r.values, b.values))?.frame
      if (frame === undefined) {
        const { pieces, length } = batchPieces(b.values)
        frame = this.#frameParts('batch', HEARTBEAT_OPTIONS, pieces, length)
        if (recent.unshift({ values: b.values, frame }) > 8) recent.pop()
      }
      this.#writeAsync(conn, frame, b.values.length)
    }
    for (const item of batch) {
      if (item.value !== undefined) {
        for (const t of item.targets) {
          const conn = use(t)
          let b = batches.get(conn)
          // a batch body is `int length ‖ value` per value; keep it under the receivers' maxMessageSize
          if (b !== undefined && b.bytes + 4 + item.value.length > limit) { flush(conn); b = undefined }
          if (b === undefined) batches.set(conn, b = { values: [], bytes: 0 })
          b.values.push(item.value)
          b.bytes += 4 + item.value.length
        }
      } else {
        // ack/sync. why flush first: a batch queued before this message must not be overtaken by it
        item.done!(item.targets.map((t) => {
          const conn = use(t)
          flush(conn)
          return conn.sendAcked(item.frame!, this.#o.timeout)
        }))
      }
    }
    for (const conn of [...batches.keys()]) flush(conn)
    const waits: Array<Promise<void>> = []
    for (const conn of touched) {
      conn.uncork()
      if (conn.needsDrain) waits.push(conn.drained())
    }
    if (waits.length > 0) return Promise.all(waits).then(() => undefined)
  }

  /**
   * Largest envelope body a frame of ours may carry so that peers with the same maxMessageSize
   * accept it (maxMessageSize should be equal across the cluster).
   */
  #batchLimit (): number {
    return this.#o.maxMessageSize - FRAME_ROOM - this.#membership!.localBlob().length
  }

  #writeAsync (conn: MemberConnection, frame: Wire, messages: number): void {
    const c = this.#counters
    const err = conn.sendAsync(frame)
    if (err === undefined) {
      c.messagesSent += messages
      c.bytesSent += wireLength(frame)
    } else {
      c.sendFailures += messages
      if (worthLogging(c.sendFailures)) this.#log.warn({ member: conn.address, err, sendFailures: c.sendFailures }, 'async message not sent')
    }
  }

  /** static membership: the list is an allow-list, for heartbeats and messages alike */
  #staticAllowList (): ((sender: Buffer, from: string) => boolean) | undefined {
    const m = this.#o.membership
    if (m.type !== 'static') return undefined
    const list = new StaticAllowList(m.members)
    return (sender, from) => list.admits(sender, from)
  }

  #heartbeatTransport (port: number): HeartbeatTransport {
    const m = this.#o.membership
    if (m.type === 'multicast') {
      return new McastHeartbeat({ address: m.address, port: m.port, bind: m.bind, ttl: m.ttl, logger: this.#log })
    }
    this.#tcpHeartbeat = new TcpHeartbeat({
      peers: m.members,
      self: () => ({ host: this.#o.address, port }),
      sendBlob: async (peer, blob) => {
        const sender = this.#heartbeatSender
        if (sender === undefined || sender.closed) return
        let kind: EnvelopeKind = 'heartbeat'
        try { if (isShutdownCommand(decodeMember(blob).command)) kind = 'stop' } catch { /* membership built it; send as is */ }
        await sender.connection(peer).sendFlushed(this.#frame(kind, HEARTBEAT_OPTIONS, EMPTY, blob))
      }
    })
    return this.#tcpHeartbeat
  }

  /** a connect failed or a connection broke: let membership verify the member(s) there at once */
  #peerFailed (address: string, err: TribesError): void {
    const membership = this.#membership
    if (membership === undefined || this.#state !== 'started') return
    for (const m of membership.members()) {
      if (addressOf(m) !== address) continue
      this.#log.debug({ member: m.id, err }, 'send failed; verifying member')
      void membership.suspect(m).catch((e: unknown) => this.#log.warn({ err: e }, 'member verification failed'))
    }
  }

  #announceSecurity (): void {
    const o = this.#o
    if (this.#keyring !== undefined) {
      this.#log.info({ keyId: this.#keyring.keyId, previousKeys: this.#keyring.previousKeyCount }, 'cluster traffic is authenticated and encrypted')
    } else if (!isLoopback(o.address)) {
      // resolveChannelOptions refused this unless insecure: true
      this.#log.warn({ address: o.address }, '!!! INSECURE: no cluster key and a non-loopback receiver address; anyone on this network can read and forge cluster traffic (insecure: true) !!!')
    }
    if (o.addressSource === 'first-interface' || o.addressSource === 'no-interface') {
      this.#log.info({ address: o.address, chosenBy: o.addressSource }, 'receiver address chosen automatically; set `address` to pick another')
    }
  }
}
