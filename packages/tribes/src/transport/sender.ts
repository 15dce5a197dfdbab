/**
 * The TCP sender (ParallelNioSender/NioSender): one kept-alive connection per member address, so
 * messages to one member stay in order. Connections open lazily (writes made before the connect
 * completes are buffered by the socket) within `connectTimeout`.
 *
 * Acks: with USE_ACK the receiver answers every message with ACK or FAIL_ACK, in order, on the
 * same connection; pending acks are a FIFO. A send waits at most `timeout` ms for its ack
 * (TRIBES_ERR_SEND_TIMEOUT; the entry stays in the FIFO so a late ack cannot be mistaken for the
 * next message's).
 *
 * Failures: a refused or timed-out connect fails every waiting send with TRIBES_ERR_CONNECT and
 * for `reconnectDelay` ms later sends fail at once (no connect storm towards a dead member). A
 * connection that breaks (ECONNRESET, EPIPE, …) before its acks arrived is re-opened once and the
 * unacknowledged messages are written again (Tomcat's maxRetryAttempts=1). So, as in Tomcat, a
 * message whose first copy was already processed may be processed twice; with a cluster key the
 * receiver's replay check drops that duplicate (and still acks it). Each failure is reported to
 * `onPeerFailure`, which lets membership verify the member at once.
 *
 * Writes: a frame may be one Buffer or a list of buffers written in order (a frame built without
 * joining its parts, see encodeEnvelopeParts). Between `cork()` and `uncork()` every frame written
 * to a connection is handed to its socket as one write (one writev); `writes` and `frames` count
 * the writes handed to the sockets and the frames in them (the coalescing is measurable).
 */
import net from 'node:net'
import type { Logger } from 'pino'
import { errors, type TribesError } from '../errors.js'
import { FrameParser, isAck, isFailAck } from '../codec/frame.js'
import { worthLogging, type TransportCounters } from './counters.js'

export interface Target {
  readonly host: string
  readonly port: number
}

export interface SenderOptions {
  connectTimeout: number
  logger: Logger
  counters: TransportCounters
  /** ms during which sends to an address whose connect failed fail at once; default 200 */
  reconnectDelay?: number
  /** a connect to `address` failed or its connection broke */
  onPeerFailure?: (address: string, error: TribesError) => void
}

/**
 * Bytes a connection's socket may hold beyond what the kernel took before the dispatch queue waits
 * for it to drain (Node's default, 16 KiB, is less than one batch of big deltas: the queue would
 * stop after every batch). Bounded per connection, so a slow member still costs at most this.
 */
export const WRITE_HIGH_WATER = 1024 * 1024

/** one frame: a Buffer, or buffers that are written in order and make one frame together */
export type Wire = Buffer | readonly Buffer[]

export function wireLength (w: Wire): number {
  if (Buffer.isBuffer(w)) return w.length
  let n = 0
  for (const b of w as readonly Buffer[]) n += b.length
  return n
}

/** what a sender handed to its sockets, since it was made */
export interface WriteCounts {
  /** writes handed to the sockets (each one write or writev call) */
  writes: number
  /** frames in them */
  frames: number
}

export function addressOf (t: Target): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`
}

interface PendingAck {
  frame: Wire
  resolve: () => void
  reject: (err: TribesError) => void
  timer: NodeJS.Timeout | undefined
  settled: boolean
  retried: boolean
}

function settle (p: PendingAck, err?: TribesError): void {
  if (p.settled) return
  p.settled = true
  clearTimeout(p.timer)
  if (err === undefined) p.resolve()
  else p.reject(err)
}

/** The connection to one member address. */
export class MemberConnection {
  readonly address: string
  readonly #target: Target
  readonly #o: SenderOptions
  #socket: net.Socket | undefined
  #connected = false
  #lastError: unknown
  #pending: PendingAck[] = []
  #backoffUntil = 0
  #backoffError: TribesError | undefined
  #closing = false
  #drainWaiters: Array<() => void> = []
  #corked = 0
  #wroteCorked = false
  readonly #counts: WriteCounts

  constructor (target: Target, options: SenderOptions, counts: WriteCounts = { writes: 0, frames: 0 }) {
    this.#target = { host: target.host, port: target.port }
    this.address = addressOf(target)
    this.#o = options
    this.#counts = counts
  }

  get connected (): boolean { return this.#connected }
  /** acks this connection still waits for (timed-out ones included until they arrive) */
  get pendingAcks (): number { return this.#pending.length }
  /** the socket buffers more than its high-water mark: wait for {@link drained} */
  get needsDrain (): boolean { return this.#socket?.writableNeedDrain ?? false }

  drained (): Promise<void> {
    if (!this.needsDrain) return Promise.resolve()
    return new Promise((resolve) => this.#drainWaiters.push(resolve))
  }

  /** The member was just heard from: forget a failed connect, so the next send tries at once. */
  clearBackoff (): void {
    this.#backoffError = undefined
    this.#backoffUntil = 0
  }

  /** Hold what is written until the matching {@link uncork}; then it goes out as one write. Nests. */
  cork (): void {
    if (this.#corked++ === 0) this.#socket?.cork()
  }

  uncork (): void {
    if (this.#corked === 0) return
    if (--this.#corked > 0) return
    this.#socket?.uncork()
    if (this.#wroteCorked) { this.#wroteCorked = false; this.#counts.writes++ }
  }

  #write (s: net.Socket, frame: Wire, cb?: (err?: Error | null) => void): void {
    this.#counts.frames++
    if (this.#corked > 0) this.#wroteCorked = true
    else this.#counts.writes++
    if (Buffer.isBuffer(frame)) { s.write(frame, cb); return }
    const parts = frame as readonly Buffer[]
    const last = parts.length - 1
    // why: the parts of one frame leave in one writev even when the caller did not cork
    if (this.#corked === 0 && last > 0) s.cork()
    for (let i = 0; i < last; i++) s.write(parts[i]!)
    s.write(parts[last]!, cb)
    if (this.#corked === 0 && last > 0) s.uncork()
  }

  /** Write without waiting for an ack. Returns the error instead of writing when the member is unreachable. */
  sendAsync (frame: Wire): TribesError | undefined {
    const s = this.#ensure()
    if (!(s instanceof net.Socket)) return s
    this.#write(s, frame)
    return undefined
  }

  /** Write and wait for this message's ACK (rejects with a coded error). */
  sendAcked (frame: Wire, timeout: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const p: PendingAck = { frame, resolve, reject, timer: undefined, settled: false, retried: false }
      const s = this.#ensure()
      if (!(s instanceof net.Socket)) return settle(p, s)
      p.timer = setTimeout(() => settle(p, errors.sendTimeout(this.address, timeout)), timeout)
      this.#pending.push(p)
      this.#write(s, frame)
    })
  }

  /** Write and resolve once the bytes are handed to the kernel (heartbeats, the goodbye). */
  sendFlushed (frame: Wire): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const s = this.#ensure()
      if (!(s instanceof net.Socket)) return reject(s)
      const onClose = (): void => reject(errors.connect(this.address, this.#lastError))
      s.once('close', onClose)
      this.#write(s, frame, (err) => {
        s.off('close', onClose)
        if (err) reject(errors.connect(this.address, err))
        else resolve()
      })
    })
  }

  /** End the connection after what was written; waits up to `graceMs`. */
  async close (graceMs = 1000): Promise<void> {
    this.#closing = true
    const s = this.#socket
    if (s === undefined) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { s.destroy(); resolve() }, graceMs)
      s.once('close', () => { clearTimeout(timer); resolve() })
      if (this.#pending.length === 0) s.end()
      else {
        // why: give outstanding acks the grace period, then give up
        const check = setInterval(() => { if (this.#pending.every((p) => p.settled)) { clearInterval(check); s.end() } }, 10)
        s.once('close', () => clearInterval(check))
      }
    })
  }

  #ensure (): net.Socket | TribesError {
    if (this.#closing) return errors.closed(`sender to ${this.address}`)
    if (this.#socket !== undefined) return this.#socket
    if (this.#backoffError !== undefined && Date.now() < this.#backoffUntil) return this.#backoffError
    return this.#connect()
  }

  #connect (): net.Socket {
    // why: the stream option is passed on to the socket's Writable but missing from NetConnectOpts' type
    const opts: net.NetConnectOpts & { writableHighWaterMark: number } = { host: this.#target.host, port: this.#target.port, noDelay: true, writableHighWaterMark: WRITE_HIGH_WATER }
    const s = net.createConnection(opts)
    this.#socket = s
    // why: a connection made while the caller holds a cork is corked too, so uncork() releases it
    if (this.#corked > 0) s.cork()
    this.#connected = false
    this.#lastError = undefined
    const parser = new FrameParser({ maxFrameSize: 64 })
    const timer = setTimeout(() => s.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), this.#o.connectTimeout)
    s.once('connect', () => {
      clearTimeout(timer)
      this.#connected = true
      this.#backoffError = undefined
    })
    s.on('data', (chunk: Buffer) => this.#onAckData(s, parser, chunk))
    s.on('error', (err) => { this.#lastError = err })
    s.on('drain', () => this.#wakeDrain())
    s.once('close', () => { clearTimeout(timer); this.#onClose(s) })
    return s
  }

  #onAckData (s: net.Socket, parser: FrameParser, chunk: Buffer): void {
    let bodies: Buffer[]
    try {
      bodies = parser.push(chunk)
    } catch (err) {
      this.#protocolError(s, err)
      return
    }
    for (const body of bodies) {
      const p = this.#pending.shift()
      if (p === undefined || (!isAck(body) && !isFailAck(body))) {
        this.#protocolError(s, errors.frameMalformed(p === undefined ? 'ack frame with no message waiting for it' : 'reply frame is neither ACK nor FAIL_ACK'))
        return
      }
      settle(p, isAck(body) ? undefined : errors.remoteProcessing(this.address))
    }
  }

  #protocolError (s: net.Socket, err: unknown): void {
    const n = this.#o.counters.drop('bad-ack')
    if (worthLogging(n)) this.#o.logger.warn({ err, member: this.address, count: n }, 'closing connection: bad reply from member')
    s.destroy()
  }

  #wakeDrain (): void {
    const waiters = this.#drainWaiters
    this.#drainWaiters = []
    for (const w of waiters) w()
  }

  #onClose (s: net.Socket): void {
    if (this.#socket !== s) return
    this.#socket = undefined
    this.#wakeDrain()
    const wasConnected = this.#connected
    this.#connected = false
    const unsettled = this.#pending.filter((p) => !p.settled)
    this.#pending = []
    const cause = this.#lastError
    if (this.#closing) {
      for (const p of unsettled) settle(p, errors.closed(`sender to ${this.address}`))
      return
    }
    if (!wasConnected) {
      const err = errors.connect(this.address, cause)
      this.#backoffError = err
      this.#backoffUntil = Date.now() + (this.#o.reconnectDelay ?? 200)
      for (const p of unsettled) settle(p, err)
      this.#o.logger.debug({ member: this.address, err: cause }, 'connect to member failed')
      this.#o.onPeerFailure?.(this.address, err)
      return
    }
    if (cause !== undefined) this.#o.onPeerFailure?.(this.address, errors.connectionLost(this.address, cause))
    if (unsettled.length === 0) return
    const lost = errors.connectionLost(this.address, cause)
    const retry = unsettled.filter((p) => !p.retried)
    for (const p of unsettled) if (p.retried) settle(p, lost)
    if (retry.length === 0) return
    this.#o.logger.info({ member: this.address, messages: retry.length, err: cause }, 'connection to member broke before its acks; reconnecting and resending once')
    const s2 = this.#ensure()
    if (!(s2 instanceof net.Socket)) { for (const p of retry) settle(p, s2); return }
    this.cork()
    for (const p of retry) {
      p.retried = true
      this.#pending.push(p)
      this.#write(s2, p.frame)
    }
    this.uncork()
  }
}

/** One {@link MemberConnection} per member address. */
export class Sender {
  readonly #o: SenderOptions
  readonly #connections = new Map<string, MemberConnection>()
  readonly #counts: WriteCounts = { writes: 0, frames: 0 }
  #closed = false

  constructor (options: SenderOptions) {
    this.#o = options
  }

  get closed (): boolean { return this.#closed }
  /** writes handed to the sockets of every connection, and the frames in them, since start */
  get counts (): Readonly<WriteCounts> { return this.#counts }

  /** the connection to a member (created, not yet connected, on first use) */
  connection (target: Target): MemberConnection {
    const address = addressOf(target)
    let c = this.#connections.get(address)
    if (c === undefined) {
      c = new MemberConnection(target, this.#o, this.#counts)
      this.#connections.set(address, c)
    }
    return c
  }

  /** Close the connection to a departed member (after what was written). */
  async remove (target: Target): Promise<void> {
    const address = addressOf(target)
    const c = this.#connections.get(address)
    if (c === undefined) return
    this.#connections.delete(address)
    await c.close()
  }

  /** Close every connection gracefully; later sends fail with TRIBES_ERR_CLOSED. */
  async close (): Promise<void> {
    this.#closed = true
    const all = [...this.#connections.values()]
    this.#connections.clear()
    await Promise.all(all.map((c) => c.close()))
  }
}
