/**
 * One inbound connection of the receiver (receiver.ts): parses its frames, answers ACK / FAIL_ACK
 * on it, handles its messages strictly in order, and enforces the per-connection limits
 * (frameTimeout, firstFrameTimeout, its share of maxBufferedBytes). Whether a connection is
 * admitted at all, and which one makes room, is connection-slots.ts.
 */
import type net from 'node:net'
import type { Logger } from 'pino'
import type { TribesError } from '../errors.js'
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

/** What one connection needs of the receiver's options. */
export interface ConnectionOptions {
  maxFrameSize: number
  /** ms a frame may take from its first byte to its last; default DEFAULTS.frameTimeout */
  frameTimeout?: number
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
export class BufferBudget {
  used = 0
  constructor (readonly max: number) {}
}

export class InboundConnection implements InboundPeer {
  /** the remote address (the per-address limit's key) */
  readonly peer: string
  readonly #socket: net.Socket
  readonly #parser: FrameParser
  readonly #from: string
  readonly #o: ConnectionOptions
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

  constructor (socket: net.Socket, o: ConnectionOptions, budget: BufferBudget) {
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
