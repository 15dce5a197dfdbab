/**
 * The TCP receiver (NioReceiver): listens on one specific address, binding the first free port of
 * port .. port+autoBind-1, parses frames per connection and answers ACK / FAIL_ACK on the same
 * connection (reference/tomcat-cluster.md §2.3):
 *
 * - USE_ACK without SYNCHRONIZED_ACK: ACK is written before the message is handled.
 * - USE_ACK + SYNCHRONIZED_ACK: the handler is awaited; ACK when it settles fine, FAIL_ACK when it
 *   throws or rejects.
 * - no USE_ACK: nothing is written back.
 *
 * Messages of one connection are handled strictly in order: while a sync message's handler is
 * pending, the connection is paused and later frames wait. An oversized or garbled frame closes
 * that connection only (counted and logged); other connections go on.
 *
 * Limits that hold against a hostile peer (docs/LIMITS.md): at most `maxConnections` inbound
 * connections, at most `maxConnectionsPerPeer` of them from one remote address
 * ('peer-connection-limit'), a frame begun must be complete within `frameTimeout` ms
 * ('frame-timeout': a slowloris cannot hold a connection and its buffer forever; a connection
 * idle between frames is kept, as senders keep theirs alive), a connection buffers at most
 * one frame of `maxFrameSize` bytes, and all connections together at most `maxBufferedBytes`
 * ('buffer-limit': the connection whose read would pass it is closed).
 */
import net from 'node:net'
import type { Logger } from 'pino'
import { errors, type TribesError } from '../errors.js'
import { ACK_FRAME, FAIL_ACK_FRAME, FrameParser } from '../codec/frame.js'
import { decodeChannelData, type ChannelData } from '../codec/channel-data.js'
import { SEND_OPTIONS } from '../codec/send-options.js'
import { worthLogging, type TransportCounters } from './counters.js'
import { DEFAULTS } from '../options.js'

/**
 * Handles one received message. `body` is the whole frame body (for AAD), `cd` its decoded
 * ChannelData (views into `body`, valid during the call), `from` the peer's "host:port".
 * A returned promise is awaited before the next message of the connection when the message is
 * sync; a throw or rejection then becomes FAIL_ACK.
 */
export type InboundHandler = (body: Buffer, cd: ChannelData, from: string) => void | Promise<void>

export interface ReceiverOptions {
  /** a specific address (never the wildcard) */
  address: string
  /** first port tried; 0 = any free port */
  port: number
  autoBind: number
  maxFrameSize: number
  maxConnections: number
  /** inbound connections from one remote address; default DEFAULTS.maxConnectionsPerPeer */
  maxConnectionsPerPeer?: number
  /** ms a frame may take from its first byte to its last; default DEFAULTS.frameTimeout */
  frameTimeout?: number
  /** bytes of unfinished frames over every connection; default DEFAULTS.maxBufferedBytes */
  maxBufferedBytes?: number
  logger: Logger
  counters: TransportCounters
  onMessage: InboundHandler
}

const isPromise = (v: unknown): v is Promise<void> => typeof (v as Promise<void> | undefined)?.then === 'function'

/** bytes held for unfinished frames by every connection of one receiver */
class BufferBudget {
  used = 0
  constructor (readonly max: number) {}
}

class InboundConnection {
  readonly #socket: net.Socket
  readonly #parser: FrameParser
  readonly #from: string
  readonly #o: ReceiverOptions
  readonly #frameTimeout: number
  #queue: Buffer[] = []
  #busy = false
  /** the stream failed after some whole frames: close once they are handled */
  #closing = false
  /** closed by a limit (buffer-limit, frame-timeout), already counted */
  #closedForLimit = false
  /** fires when the frame in progress took too long; armed while the parser holds a partial frame */
  #frameTimer: NodeJS.Timeout | undefined

  readonly #budget: BufferBudget
  /** what this connection counts in the budget */
  #held = 0

  constructor (socket: net.Socket, o: ReceiverOptions, budget: BufferBudget) {
    this.#socket = socket
    this.#o = o
    this.#budget = budget
    this.#from = `${socket.remoteAddress}:${socket.remotePort}`
    this.#parser = new FrameParser({ maxFrameSize: o.maxFrameSize })
    this.#frameTimeout = o.frameTimeout ?? DEFAULTS.frameTimeout
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (err) => o.logger.debug({ err, from: this.#from }, 'inbound connection error'))
    socket.once('close', () => this.#onClose())
  }

  /** keep the shared budget equal to what the parser holds */
  #account (): void {
    const now = this.#socket.destroyed ? 0 : this.#parser.buffered
    this.#budget.used += now - this.#held
    this.#held = now
  }

  #onClose (): void {
    this.#disarm()
    const held = this.#parser.buffered
    this.#account()
    if (held === 0) return
    // why: a peer that hangs up inside a frame lost that message; say so (a clean close is silent)
    if (!this.#parser.failed && !this.#closedForLimit) {
      const n = this.#o.counters.drop('frame-truncated')
      if (worthLogging(n)) this.#o.logger.warn({ from: this.#from, buffered: held, count: n }, 'inbound connection closed inside a frame')
    }
  }

  #disarm (): void {
    if (this.#frameTimer !== undefined) clearTimeout(this.#frameTimer)
    this.#frameTimer = undefined
  }

  #badFrame (err: unknown): void {
    const code = (err as TribesError).code
    const n = this.#o.counters.drop(code === 'TRIBES_ERR_FRAME_TOO_LARGE' ? 'frame-too-large' : 'frame-malformed')
    if (worthLogging(n)) this.#o.logger.warn({ err, code, from: this.#from, count: n }, 'closing inbound connection: bad frame')
    this.#disarm()
  }

  /** after a bad frame: flush what was written (ACKs), then close; a peer that never reads is cut off */
  #closeAfterDrain (): void {
    const s = this.#socket
    if (s.destroyed) return
    s.end()
    setTimeout(() => s.destroy(), 1000).unref()
  }

  #onFrameTimeout (): void {
    this.#frameTimer = undefined
    if (this.#socket.destroyed || this.#parser.buffered === 0) return
    if (this.#busy) {
      // why: paused while our own sync handler runs; the peer is not the slow one
      this.#frameTimer = setTimeout(() => this.#onFrameTimeout(), this.#frameTimeout)
      this.#frameTimer.unref()
      return
    }
    this.#closedForLimit = true
    const n = this.#o.counters.drop('frame-timeout')
    if (worthLogging(n)) this.#o.logger.warn({ from: this.#from, buffered: this.#parser.buffered, frameTimeout: this.#frameTimeout, count: n }, 'closing inbound connection: frame not complete in time')
    this.#socket.destroy()
  }

  #onData (chunk: Buffer): void {
    this.#o.counters.bytesReceived += chunk.length
    let bodies: Buffer[]
    try {
      bodies = this.#parser.push(chunk)
    } catch (err) {
      this.#badFrame(err)
      this.#socket.destroy()
      return
    }
    if (this.#parser.error !== null) {
      // why: the whole frames before the bad bytes are handled (and acked), then the connection ends
      this.#badFrame(this.#parser.error)
      this.#closing = true
      this.#socket.pause()
    }
    this.#account()
    if (this.#budget.used > this.#budget.max && this.#parser.buffered > 0) {
      // why: many connections each holding a part of a big frame must not add up to all memory
      this.#closedForLimit = true
      const n = this.#o.counters.drop('buffer-limit')
      if (worthLogging(n)) this.#o.logger.warn({ from: this.#from, buffered: this.#parser.buffered, total: this.#budget.used, maxBufferedBytes: this.#budget.max, count: n }, 'closing inbound connection: receive buffers full')
      this.#disarm()
      this.#socket.destroy()
      this.#account()
      return
    }
    // why: the clock runs from a frame's first byte to its last, not between reads (a drip resets nothing)
    if (this.#parser.buffered === 0) this.#disarm()
    else if (this.#frameTimer === undefined || bodies.length > 0) {
      this.#disarm()
      this.#frameTimer = setTimeout(() => this.#onFrameTimeout(), this.#frameTimeout)
      this.#frameTimer.unref()
    }
    if (bodies.length === 0) return
    if (this.#busy) {
      // why: bodies are views into this chunk; they stay valid since chunks are never reused
      for (const b of bodies) this.#queue.push(b)
      return
    }
    this.#queue = bodies.length === 1 ? bodies : bodies.slice()
    this.#drain()
  }

  #drain (): void {
    const s = this.#socket
    s.cork() // why: one write (writev) for all the ACKs of this batch
    try {
      while (this.#queue.length > 0) {
        const body = this.#queue.shift()!
        const pending = this.#handle(body)
        if (pending !== undefined) {
          this.#busy = true
          s.pause()
          void pending.then(() => {
            this.#busy = false
            if (s.destroyed) return
            if (!this.#closing) s.resume()
            this.#drain()
          })
          return
        }
      }
    } finally {
      s.uncork()
    }
    if (this.#closing) this.#closeAfterDrain()
  }

  /** returns a promise only when the connection must wait for it (a sync message) */
  #handle (body: Buffer): Promise<void> | undefined {
    const o = this.#o
    let cd: ChannelData
    try {
      cd = decodeChannelData(body)
    } catch (err) {
      const n = o.counters.drop('malformed')
      if (worthLogging(n)) o.logger.warn({ err, from: this.#from, count: n }, 'channel data dropped')
      // why: a sender waiting for an ack should hear at once that this one failed
      if (body.length >= 4 && (body.readInt32BE(0) & SEND_OPTIONS.USE_ACK) !== 0) this.#write(FAIL_ACK_FRAME)
      return undefined
    }
    const ack = (cd.options & SEND_OPTIONS.USE_ACK) !== 0
    const sync = ack && (cd.options & SEND_OPTIONS.SYNCHRONIZED_ACK) !== 0
    if (ack && !sync) this.#write(ACK_FRAME)
    let result: void | Promise<void>
    try {
      result = o.onMessage(body, cd, this.#from)
    } catch (err) {
      if (sync) this.#write(FAIL_ACK_FRAME)
      else this.#logHandlerError(err)
      return undefined
    }
    if (!isPromise(result)) {
      if (sync) this.#write(ACK_FRAME)
      return undefined
    }
    if (!sync) {
      result.then(undefined, (err) => this.#logHandlerError(err))
      return undefined
    }
    return result.then(() => this.#write(ACK_FRAME), () => this.#write(FAIL_ACK_FRAME))
  }

  #write (frame: Buffer): void {
    if (!this.#socket.destroyed && this.#socket.writable) this.#socket.write(frame)
  }

  #logHandlerError (err: unknown): void {
    this.#o.logger.debug({ err, from: this.#from }, 'message handler failed (no ack requested)')
  }
}

export class Receiver {
  readonly #o: ReceiverOptions
  #server: net.Server | undefined
  #port = 0
  readonly #sockets = new Set<net.Socket>()
  readonly #budget: BufferBudget
  /** open inbound connections by remote address */
  readonly #perPeer = new Map<string, number>()

  constructor (options: ReceiverOptions) {
    this.#o = options
    this.#budget = new BufferBudget(options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes)
  }

  /** the bound port (after start) */
  get port (): number { return this.#port }
  get address (): string { return this.#o.address }
  /** open inbound connections */
  get connections (): number { return this.#sockets.size }
  /** bytes held, over every connection, for frames not yet complete */
  get buffered (): number { return this.#budget.used }

  /** Bind the first free port of port .. port+autoBind-1; resolves with it. TRIBES_ERR_BIND if none. */
  async start (): Promise<number> {
    const { address, port, autoBind } = this.#o
    const last = port === 0 ? 0 : Math.min(65535, port + autoBind - 1)
    let lastErr: unknown
    for (let p = port; p <= last; p++) {
      const server = this.#createServer()
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen({ host: address, port: p, exclusive: true }, () => { server.off('error', reject); resolve() })
        })
        this.#server = server
        this.#port = (server.address() as net.AddressInfo).port
        server.on('error', (err) => this.#o.logger.error({ err }, 'receiver error'))
        return this.#port
      } catch (err) {
        lastErr = err
        const code = (err as NodeJS.ErrnoException).code
        if (code !== 'EADDRINUSE' && code !== 'EACCES') break
      }
    }
    throw errors.bind(address, port, last, lastErr)
  }

  #createServer (): net.Server {
    const server = net.createServer({ noDelay: true })
    server.maxConnections = this.#o.maxConnections
    const perPeerMax = this.#o.maxConnectionsPerPeer ?? DEFAULTS.maxConnectionsPerPeer
    server.on('connection', (socket) => {
      const peer = socket.remoteAddress ?? ''
      const open = this.#perPeer.get(peer) ?? 0
      if (open >= perPeerMax) {
        const n = this.#o.counters.drop('peer-connection-limit')
        if (worthLogging(n)) this.#o.logger.warn({ from: `${peer}:${socket.remotePort}`, maxConnectionsPerPeer: perPeerMax, count: n }, 'inbound connection refused: per-address connection limit reached')
        socket.on('error', () => {})
        socket.destroy()
        return
      }
      this.#perPeer.set(peer, open + 1)
      this.#sockets.add(socket)
      new InboundConnection(socket, this.#o, this.#budget) // eslint-disable-line no-new
      socket.once('close', () => {
        this.#sockets.delete(socket)
        const left = (this.#perPeer.get(peer) ?? 1) - 1
        if (left > 0) this.#perPeer.set(peer, left)
        else this.#perPeer.delete(peer)
      })
    })
    server.on('drop', (data) => {
      const n = this.#o.counters.drop('connection-limit')
      if (worthLogging(n)) this.#o.logger.warn({ from: `${data?.remoteAddress}:${data?.remotePort}`, maxConnections: this.#o.maxConnections, count: n }, 'inbound connection refused: connection limit reached')
    })
    return server
  }

  /** Stop listening and close every inbound connection. */
  async stop (): Promise<void> {
    const server = this.#server
    this.#server = undefined
    if (server === undefined) return
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const s of this.#sockets) s.destroy()
    await closed
  }
}

