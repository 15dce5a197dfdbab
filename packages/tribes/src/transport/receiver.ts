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
 * connections ('connection-limit'), at most `maxConnectionsPerPeer` of them from one remote
 * address ('peer-connection-limit'), a frame begun must be complete within `frameTimeout` ms
 * ('frame-timeout': a slowloris cannot hold a connection and its buffer forever; a connection
 * idle between frames is kept, as senders keep theirs alive), a connection buffers at most
 * one frame of `maxFrameSize` bytes, and all connections together at most `maxBufferedBytes`
 * ('buffer-limit': the connection whose read would pass it is closed).
 *
 * Strangers cannot hold the slots a member needs. A connection is *proven* once it delivered a
 * message that counts (`proof`: any frame whose ChannelData decodes, or only what the handler
 * accepts with `conn.prove()`, which the channel does for an envelope that opens, with a cluster
 * key an authentic one). One that is not proven within `firstFrameTimeout` ms is closed
 * ('first-frame-timeout'; a first frame whose header is in by then is given its frameTimeout and
 * judged once handled). When a limit is reached, the oldest unproven connection in its scope (that
 * address, or all) is closed to make room ('connection-evicted'; those that sent nothing go
 * first); only when every one in scope is proven is the new connection refused.
 */
import net from 'node:net'
import type { Logger } from 'pino'
import { errors, type TribesError } from '../errors.js'
import { ACK_FRAME, FAIL_ACK_FRAME, FRAME_HEADER, FrameParser } from '../codec/frame.js'
import { decodeChannelData, type ChannelData } from '../codec/channel-data.js'
import { SEND_OPTIONS } from '../codec/send-options.js'
import { worthLogging, type TransportCounters } from './counters.js'
import { DEFAULTS } from '../options.js'

/** What a handler may say about the connection a message came on. */
export interface InboundPeer {
  /** a message on this connection counted as proof: it is a member's, never evicted for a stranger */
  readonly proven: boolean
  /** this message proves the connection (with `proof: 'handler'`) */
  prove (): void
  /**
   * close this connection, counted as a drop of `reason`: later frames are not handled; what was
   * already answered (ACK / FAIL_ACK) is flushed first
   */
  refuse (reason: string): void
}

/**
 * Handles one received message. `body` is the whole frame body (for AAD), `cd` its decoded
 * ChannelData (views into `body`, valid during the call), `from` the peer's "host:port", `conn`
 * the connection it came on. A returned promise is awaited before the next message of the
 * connection when the message is sync; a throw or rejection then becomes FAIL_ACK.
 */
export type InboundHandler = (body: Buffer, cd: ChannelData, from: string, conn: InboundPeer) => void | Promise<void>

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
  /** ms a new connection has to become proven; default DEFAULTS.firstFrameTimeout */
  firstFrameTimeout?: number
  /**
   * what proves a connection: 'frame' (the default) any frame whose ChannelData decodes;
   * 'handler' only a message the handler accepts with `conn.prove()`
   */
  proof?: 'frame' | 'handler'
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

class InboundConnection implements InboundPeer {
  /** the remote address (the per-address limit's key) */
  readonly peer: string
  readonly #socket: net.Socket
  readonly #parser: FrameParser
  readonly #from: string
  readonly #o: ReceiverOptions
  readonly #frameTimeout: number
  readonly #firstFrameTimeout: number
  #queue: Buffer[] = []
  #busy = false
  /** inside #drain's loop: a close asked for now waits until the loop's answers are written */
  #draining = false
  /** the stream failed after some whole frames: close once they are handled */
  #closing = false
  /** closed by a limit (buffer-limit, frame-timeout, …), already counted */
  #closedForLimit = false
  /** refused by the handler: nothing more is read or handled */
  #refused = false
  /** fires when the frame in progress took too long; armed while the parser holds a partial frame */
  #frameTimer: NodeJS.Timeout | undefined

  #proven = false
  /** bytes received so far (an unproven connection that sent nothing is evicted first) */
  #received = 0
  /** firstFrameTimeout has passed without proof: close as soon as no first frame is under way */
  #firstDeadlinePassed = false
  #firstTimer: NodeJS.Timeout | undefined

  readonly #budget: BufferBudget
  /** what this connection counts in the budget */
  #held = 0

  constructor (socket: net.Socket, o: ReceiverOptions, budget: BufferBudget) {
    this.#socket = socket
    this.#o = o
    this.#budget = budget
    this.peer = socket.remoteAddress ?? ''
    this.#from = `${socket.remoteAddress}:${socket.remotePort}`
    this.#parser = new FrameParser({ maxFrameSize: o.maxFrameSize })
    this.#frameTimeout = o.frameTimeout ?? DEFAULTS.frameTimeout
    this.#firstFrameTimeout = o.firstFrameTimeout ?? DEFAULTS.firstFrameTimeout
    this.#firstTimer = setTimeout(() => this.#onFirstFrameTimeout(), this.#firstFrameTimeout)
    this.#firstTimer.unref()
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (err) => o.logger.debug({ err, from: this.#from }, 'inbound connection error'))
    socket.once('close', () => this.#onClose())
  }

  get proven (): boolean { return this.#proven }
  /** nothing at all arrived on this connection yet */
  get silent (): boolean { return this.#received === 0 }

  prove (): void {
    if (this.#proven) return
    this.#proven = true
    clearTimeout(this.#firstTimer)
    this.#firstTimer = undefined
  }

  refuse (reason: string): void {
    if (this.#refused || this.#socket.destroyed) return
    this.#refused = true
    this.#closedForLimit = true
    const n = this.#o.counters.drop(reason)
    if (worthLogging(n)) this.#o.logger.warn({ from: this.#from, reason, count: n }, 'closing inbound connection: refused by the channel')
    this.#stopTimers()
    this.#closing = true
    this.#queue = []
    this.#socket.pause()
    if (!this.#draining && !this.#busy) this.#closeAfterDrain()
  }

  /** closed to make room for a new connection (the receiver counts it) */
  evict (): void {
    this.#closedForLimit = true
    this.close()
  }

  close (): void {
    this.#stopTimers()
    this.#socket.destroy()
  }

  /** keep the shared budget equal to what the parser holds */
  #account (): void {
    const now = this.#socket.destroyed ? 0 : this.#parser.buffered
    this.#budget.used += now - this.#held
    this.#held = now
  }

  #onClose (): void {
    this.#stopTimers()
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

  #stopTimers (): void {
    this.#disarm()
    clearTimeout(this.#firstTimer)
    this.#firstTimer = undefined
  }

  #badFrame (err: unknown): void {
    const code = (err as TribesError).code
    const n = this.#o.counters.drop(code === 'TRIBES_ERR_FRAME_TOO_LARGE' ? 'frame-too-large' : 'frame-malformed')
    if (worthLogging(n)) this.#o.logger.warn({ err, code, from: this.#from, count: n }, 'closing inbound connection: bad frame')
    this.#stopTimers()
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
    this.#stopTimers()
    this.#socket.destroy()
  }

  #onFirstFrameTimeout (): void {
    this.#firstTimer = undefined
    this.#firstDeadlinePassed = true
    this.#enforceFirstFrame()
  }

  /** past the first-frame deadline and still unproven: close, unless a first frame is under way */
  #enforceFirstFrame (): void {
    if (!this.#firstDeadlinePassed || this.#proven || this.#closing || this.#socket.destroyed) return
    // why: a member's first message may be big; once its header is in, frameTimeout bounds it and
    // it is judged when handled (a stranger that only ever starts frames still holds no slot a
    // member needs: unproven connections are evicted first)
    if (this.#busy || this.#parser.buffered >= FRAME_HEADER) return
    this.#closedForLimit = true
    const n = this.#o.counters.drop('first-frame-timeout')
    if (worthLogging(n)) this.#o.logger.warn({ from: this.#from, received: this.#received, firstFrameTimeout: this.#firstFrameTimeout, count: n }, 'closing inbound connection: no valid first frame in time')
    this.#stopTimers()
    this.#socket.destroy()
  }

  #onData (chunk: Buffer): void {
    this.#o.counters.bytesReceived += chunk.length
    this.#received += chunk.length
    if (this.#refused) return
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
      this.#stopTimers()
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
    this.#draining = true
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
      this.#draining = false
      s.uncork()
    }
    if (this.#closing) this.#closeAfterDrain()
    else this.#enforceFirstFrame()
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
    if (o.proof !== 'handler') this.prove()
    const ack = (cd.options & SEND_OPTIONS.USE_ACK) !== 0
    const sync = ack && (cd.options & SEND_OPTIONS.SYNCHRONIZED_ACK) !== 0
    if (ack && !sync) this.#write(ACK_FRAME)
    let result: void | Promise<void>
    try {
      result = o.onMessage(body, cd, this.#from, this)
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
  /** open inbound connections, oldest first */
  readonly #open = new Set<InboundConnection>()
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
  get connections (): number { return this.#open.size }
  /** open inbound connections that proved themselves (see ReceiverOptions.proof) */
  get provenConnections (): number {
    let n = 0
    for (const c of this.#open) if (c.proven) n++
    return n
  }
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
    const perPeerMax = this.#o.maxConnectionsPerPeer ?? DEFAULTS.maxConnectionsPerPeer
    server.on('connection', (socket) => {
      const peer = socket.remoteAddress ?? ''
      const from = `${peer}:${socket.remotePort}`
      // why evict rather than refuse: a member reconnecting must not be locked out by strangers
      // that hold the slots without ever sending a message that counts
      if ((this.#perPeer.get(peer) ?? 0) >= perPeerMax && !this.#evict(peer, from)) {
        this.#refuse(socket, 'peer-connection-limit', { from, maxConnectionsPerPeer: perPeerMax }, 'inbound connection refused: per-address connection limit reached, every connection proven')
        return
      }
      if (this.#open.size >= this.#o.maxConnections && !this.#evict(undefined, from)) {
        this.#refuse(socket, 'connection-limit', { from, maxConnections: this.#o.maxConnections }, 'inbound connection refused: connection limit reached, every connection proven')
        return
      }
      const conn = new InboundConnection(socket, this.#o, this.#budget)
      this.#open.add(conn)
      this.#perPeer.set(peer, (this.#perPeer.get(peer) ?? 0) + 1)
      socket.once('close', () => this.#release(conn))
    })
    return server
  }

  #refuse (socket: net.Socket, reason: string, detail: Record<string, unknown>, msg: string): void {
    const n = this.#o.counters.drop(reason)
    if (worthLogging(n)) this.#o.logger.warn({ ...detail, count: n }, msg)
    socket.on('error', () => {})
    socket.destroy()
  }

  /**
   * Close the oldest unproven connection (from `peer` when given), those that sent nothing first;
   * false when every connection in scope is proven.
   */
  #evict (peer: string | undefined, newcomer: string): boolean {
    let victim: InboundConnection | undefined
    for (const c of this.#open) {
      if (c.proven || (peer !== undefined && c.peer !== peer)) continue
      if (c.silent) { victim = c; break }
      victim ??= c
    }
    if (victim === undefined) return false
    const n = this.#o.counters.drop('connection-evicted')
    if (worthLogging(n)) this.#o.logger.warn({ from: victim.peer, newcomer, scope: peer === undefined ? 'maxConnections' : 'maxConnectionsPerPeer', count: n }, 'inbound connection closed to make room: it never proved itself')
    victim.evict()
    this.#release(victim)
    return true
  }

  /** forget a connection (idempotent: an evicted one is released at once and again on close) */
  #release (conn: InboundConnection): void {
    if (!this.#open.delete(conn)) return
    const left = (this.#perPeer.get(conn.peer) ?? 1) - 1
    if (left > 0) this.#perPeer.set(conn.peer, left)
    else this.#perPeer.delete(conn.peer)
  }

  /** Stop listening and close every inbound connection. */
  async stop (): Promise<void> {
    const server = this.#server
    this.#server = undefined
    if (server === undefined) return
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const c of this.#open) c.close()
    await closed
  }
}
