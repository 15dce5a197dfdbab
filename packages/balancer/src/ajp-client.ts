/**
 * The AJP/1.3 client of an ajp:// worker (a Tomcat AJP connector, or any AJP container): a pool of
 * kept-alive connections and, per request, the exchange state machine mod_jk runs, speaking to the
 * proxy through the same dispatch-handler calls undici makes (onRequestStart, onResponseStart,
 * onResponseData, onResponseEnd, onResponseError), so the request path, the tries and the retry
 * rules (proxy.ts, attempt.ts, retry.ts) are the HTTP path's, unchanged.
 *
 * One exchange on one connection (AJP has no pipelining):
 *   Forward Request → [first body packet, unasked, when Content-Length > 0]
 *   ← Get Body Chunk(n) → body packet of ≤ min(n, packetSize − 6) bytes (empty at the end), any time
 *   ← Send Headers → onResponseStart      (headersTimeout, as on HTTP, while the worker owes us)
 *   ← Send Body Chunk* → onResponseData   (bodyTimeout between packets; a zero-length chunk is a flush)
 *   ← End Response(reuse) → onResponseEnd, the connection back to the pool when reuse is 1 and
 *     nothing is left half-done on it (a body packet being read from the client, say), else closed.
 *
 * Errors carry the codes the retry rules know: a failed connect keeps the socket's (ECONNREFUSED …)
 * or UND_ERR_CONNECT_TIMEOUT (nothing was sent: another worker); UND_ERR_HEADERS_TIMEOUT and
 * UND_ERR_BODY_TIMEOUT as undici names them; a connection the worker closed mid-exchange
 * UND_ERR_SOCKET or the socket's code; a malformed or out-of-order packet LB_ERR_AJP_PROTOCOL
 * (logged with the codec's AJP_ERR_* cause; the connection is discarded).
 *
 * Reuse of an idle connection: mod_jk's default ping_mode is empty, so it sends no CPing before a
 * request; it only checks that the pooled socket is still connected. We do the same: an idle
 * connection the worker closed is dropped from the pool when its close arrives, and one idle longer
 * than poolKeepAliveTimeout is closed by us first. A CPing goes out only for health checks (ping()).
 */
import net from 'node:net'
import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import type { Logger } from 'pino'
import {
  AjpPacketReader, decodeContainerMessage, encodeCPing, encodeForwardRequest, encodeRequestBodyChunk, maxRequestBodyChunk,
  type AjpContainerMessage, type AjpForwardRequest
} from '@nodecat/protocol'
import { errors } from './errors.js'

export interface AjpPoolOptions {
  /** for log lines */
  route: string
  host: string
  port: number
  packetSize: number
  /** most connections at once (0: no limit); requests beyond it wait for one */
  connections: number
  connectTimeout: number
  headersTimeout: number
  bodyTimeout: number
  /** an idle pooled connection is closed after this many ms */
  idleTimeout: number
  logger?: Logger
}

/** One request for an ajp:// worker. */
export interface AjpDispatch {
  forward: AjpForwardRequest
  /** the whole body, a stream of it, or null when there is none */
  body: Buffer | AsyncIterable<Buffer> | null
  /** the declared body length (Content-Length), null when unknown (chunked) */
  bodyLength: number | null
}

type CodedError = Error & { code?: string }

function coded (message: string, code: string): CodedError {
  return Object.assign(new Error(message), { code })
}

/** Whoever uses a connection now: an exchange, or a health check's CPing. */
interface ConnectionUser {
  packet (payload: Buffer): void
  /** the connection broke (closed, reset, unreadable bytes) while in use */
  broken (err: CodedError): void
}

/** Waits for a connection from the pool. */
interface Waiter {
  attach (conn: AjpConnection): void
  connectFailed (err: CodedError): void
  /** gave up waiting (aborted): skip it */
  readonly gone: boolean
}

class AjpConnection {
  readonly socket: net.Socket
  readonly #pool: AjpPool
  readonly #reader: AjpPacketReader
  user: ConnectionUser | null = null
  #queue: Buffer[] = []
  #paused = false
  #closed = false
  #idleTimer: NodeJS.Timeout | null = null
  /** requests served, for tests and logs */
  served = 0

  constructor (pool: AjpPool, socket: net.Socket, packetSize: number) {
    this.#pool = pool
    this.socket = socket
    this.#reader = new AjpPacketReader('from-container', packetSize)
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => { this.#data(chunk) })
    socket.on('error', (err: CodedError) => { this.#lost(err) })
    socket.on('end', () => { this.#lost(coded('the worker closed the AJP connection', 'UND_ERR_SOCKET')) })
    socket.on('close', () => { this.#lost(coded('the AJP connection closed', 'UND_ERR_SOCKET')) })
  }

  get closed (): boolean { return this.#closed }

  #data (chunk: Buffer): void {
    let payloads: Buffer[]
    try {
      payloads = this.#reader.push(chunk)
    } catch (err) {
      this.#unreadable(err as CodedError)
      return
    }
    for (const p of payloads) this.#queue.push(p)
    this.#deliver()
  }

  #deliver (): void {
    while (!this.#paused && !this.#closed && this.#queue.length > 0) {
      const user = this.user
      const payload = this.#queue.shift()!
      if (user === null) {
        // why: between exchanges a container has nothing to say; whatever it says puts us out of step
        this.#unreadable(errors.ajpProtocol('an AJP packet arrived on an idle connection'))
        return
      }
      user.packet(payload)
    }
  }

  #unreadable (err: CodedError): void {
    const user = this.user
    this.destroy()
    if (user !== null) user.broken(err)
    else this.#pool.logProtocolError(err)
  }

  #lost (err: CodedError): void {
    if (this.#closed) return
    const user = this.user
    this.destroy()
    user?.broken(err)
  }

  /** packets still queued after the user finished (a container saying more than its exchange) */
  get pending (): number { return this.#queue.length + (this.#reader.buffered > 0 ? 1 : 0) }

  write (packet: Buffer): boolean { return this.socket.write(packet) }

  /** resolves when the socket can take more, or is gone */
  async drained (): Promise<void> {
    if (!this.socket.writableNeedDrain || this.#closed) return
    await new Promise<void>((resolve) => {
      const done = (): void => { this.socket.off('drain', done); this.socket.off('close', done); resolve() }
      this.socket.on('drain', done)
      this.socket.on('close', done)
    })
  }

  pause (): void {
    this.#paused = true
    this.socket.pause()
  }

  resume (): void {
    this.#paused = false
    this.socket.resume()
    this.#deliver()
  }

  /** back to idle: `ms` later it closes unless taken again */
  idle (ms: number, onTimeout: () => void): void {
    this.user = null
    this.#paused = false
    this.socket.resume()
    this.#idleTimer = setTimeout(onTimeout, ms)
    this.#idleTimer.unref()
  }

  take (user: ConnectionUser): void {
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer)
    this.#idleTimer = null
    this.user = user
  }

  destroy (): void {
    if (this.#closed) return
    this.#closed = true
    this.user = null
    this.#queue = []
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer)
    this.socket.destroy()
    this.#pool.forget(this)
  }
}

/** Reads the request body in AJP-sized pieces, from a buffer or a stream. */
class BodyFeeder {
  readonly #whole: Buffer | null
  readonly #iterator: AsyncIterator<Buffer> | null
  #offset = 0
  #left: Buffer | null = null
  #ended = false

  constructor (body: Buffer | AsyncIterable<Buffer> | null) {
    this.#whole = Buffer.isBuffer(body) ? body : null
    this.#iterator = body !== null && !Buffer.isBuffer(body) ? body[Symbol.asyncIterator]() : null
    if (body === null) this.#ended = true
  }

  /** up to `max` bytes; an empty buffer at the end of the body */
  async read (max: number): Promise<Buffer> {
    if (this.#whole !== null) {
      const out = this.#whole.subarray(this.#offset, this.#offset + max)
      this.#offset += out.length
      return out
    }
    if (this.#ended || this.#iterator === null) return Buffer.alloc(0)
    while (this.#left === null || this.#left.length === 0) {
      const r = await this.#iterator.next()
      if (r.done === true) { this.#ended = true; return Buffer.alloc(0) }
      this.#left = r.value
    }
    const out = this.#left.subarray(0, max)
    this.#left = this.#left.subarray(out.length)
    return out
  }
}

type Phase = 'waiting-connection' | 'request' | 'response' | 'done'

/** One request's exchange on one connection; the dispatch controller the handler sees. */
class AjpExchange implements Dispatcher.DispatchController, ConnectionUser, Waiter {
  readonly #pool: AjpPool
  readonly #handler: Dispatcher.DispatchHandler
  readonly #dispatch: AjpDispatch
  readonly #options: AjpPoolOptions
  readonly #maxChunk: number
  #forward: Buffer | null = null
  #conn: AjpConnection | null = null
  #phase: Phase = 'waiting-connection'
  #aborted = false
  #paused = false
  #reason: Error | null = null
  #timer: NodeJS.Timeout | null = null
  #feeder: BodyFeeder
  /** body packets owed to the container (its Get Body Chunk asks, and the first unasked one) */
  #bodyChain: Promise<void> = Promise.resolve()
  #bodyBusy = 0

  constructor (pool: AjpPool, dispatch: AjpDispatch, handler: Dispatcher.DispatchHandler, options: AjpPoolOptions) {
    this.#pool = pool
    this.#dispatch = dispatch
    this.#handler = handler
    this.#options = options
    this.#maxChunk = maxRequestBodyChunk(options.packetSize)
    this.#feeder = new BodyFeeder(dispatch.body)
  }

  // ---- DispatchController ----
  get aborted (): boolean { return this.#aborted }
  get paused (): boolean { return this.#paused }
  get reason (): Error | null { return this.#reason }

  abort (reason: Error): void {
    if (this.#phase === 'done') return
    this.#aborted = true
    this.#reason = reason
    this.#fail(reason)
  }

  pause (): void {
    if (this.#paused || this.#phase === 'done') return
    this.#paused = true
    // why: a client that reads slowly is not the worker's fault: no body timeout meanwhile
    if (this.#phase === 'response') this.#clearTimer()
    this.#conn?.pause()
  }

  resume (): void {
    if (!this.#paused || this.#phase === 'done') return
    this.#paused = false
    if (this.#phase === 'response') this.#arm('body')
    this.#conn?.resume()
  }

  get gone (): boolean { return this.#phase === 'done' }

  // ---- the exchange ----
  start (): void {
    try {
      this.#forward = encodeForwardRequest(this.#dispatch.forward, this.#options.packetSize)
    } catch (err) {
      const code = (err as CodedError).code
      this.#fail(code === 'AJP_ERR_MESSAGE_TOO_LARGE' ? errors.ajpHeadersTooLarge(this.#options.packetSize, err) : errors.ajpNotEncodable(err))
      return
    }
    this.#pool.acquire(this)
  }

  connectFailed (err: CodedError): void {
    this.#fail(err)
  }

  attach (conn: AjpConnection): void {
    if (this.#phase !== 'waiting-connection') { this.#pool.release(conn, true); return }
    conn.take(this)
    this.#conn = conn
    this.#phase = 'request'
    this.#handler.onRequestStart?.(this, {})
    if (this.#phase !== 'request') return
    conn.served++
    conn.write(this.#forward!)
    this.#forward = null
    const length = this.#dispatch.bodyLength
    // why: with a declared length the container expects the first body packet unasked (mod_jk, Tomcat)
    if (length !== null && length > 0 && this.#dispatch.body !== null) this.#queueBody(Math.min(length, this.#maxChunk))
    else this.#arm('headers')
  }

  #queueBody (size: number): void {
    this.#bodyBusy++
    // why: while we read the client's body the worker waits for us, not we for it
    this.#clearTimer()
    this.#bodyChain = this.#bodyChain.then(async () => { await this.#sendBody(size) })
  }

  get #over (): boolean { return this.#phase === 'done' }

  async #sendBody (size: number): Promise<void> {
    const conn = this.#conn
    if (this.#over || conn === null) return
    let data: Buffer
    try {
      await conn.drained()
      data = await this.#feeder.read(Math.min(size, this.#maxChunk))
    } catch (err) {
      // the client's upload failed (it went away, or its body broke): the proxy tells which
      this.#fail(err as Error)
      return
    }
    if (this.#over) return
    conn.write(encodeRequestBodyChunk(data))
    this.#bodyBusy--
    // the worker owes us again: its headers (or, answering already, its next body packet)
    if (this.#bodyBusy === 0) this.#arm(this.#phase === 'request' ? 'headers' : 'body')
  }

  packet (payload: Buffer): void {
    if (this.#phase === 'done') return
    let msg: AjpContainerMessage
    try {
      msg = decodeContainerMessage(payload)
    } catch (err) {
      this.#protocolError(err as CodedError)
      return
    }
    switch (msg.type) {
      case 'get-body-chunk':
        this.#queueBody(msg.size)
        return
      case 'send-headers':
        this.#headers(msg.status, msg.message, msg.headers)
        return
      case 'body-chunk':
        if (this.#phase !== 'response') { this.#protocolError(errors.ajpProtocol('Send Body Chunk before Send Headers')); return }
        this.#arm('body')
        // a zero-length chunk is a flush (Tomcat's ajpFlush): nothing to pass on
        if (msg.data.length > 0) this.#handler.onResponseData?.(this, msg.data)
        return
      case 'end-response':
        this.#end(msg.reuse)
        return
      case 'cpong':
        this.#protocolError(errors.ajpProtocol('CPong during a request'))
    }
  }

  #headers (status: number, message: string, pairs: Array<[string, string]>): void {
    if (this.#phase === 'response') { this.#protocolError(errors.ajpProtocol('a second Send Headers')); return }
    if (status < 100 || status > 999) { this.#protocolError(errors.ajpProtocol(`status ${status}`)); return }
    const headers: Record<string, string | string[]> = {}
    for (const [rawName, value] of pairs) {
      const name = rawName.toLowerCase()
      const prior = headers[name]
      if (prior === undefined) headers[name] = value
      else if (Array.isArray(prior)) prior.push(value)
      else headers[name] = [prior, value]
    }
    // why 1xx is passed and skipped: the proxy ignores informational answers (node answered Expect itself)
    if (status >= 200) {
      this.#phase = 'response'
      this.#arm('body')
    }
    // why drop a reason that is the number: Tomcat sends "200" as the reason of 200 (bug 45026)
    const reason = message === '' || message === String(status) ? undefined : message
    this.#handler.onResponseStart?.(this, status, headers as IncomingHttpHeaders, reason)
  }

  #end (reuse: boolean): void {
    if (this.#phase !== 'response') { this.#protocolError(errors.ajpProtocol('End Response before Send Headers')); return }
    this.#phase = 'done'
    this.#clearTimer()
    const conn = this.#conn!
    this.#conn = null
    // why: a body packet still being read would be written into the next request's exchange
    const clean = reuse && this.#bodyBusy === 0 && conn.pending === 0
    this.#pool.release(conn, clean)
    this.#handler.onResponseEnd?.(this, {})
  }

  broken (err: CodedError): void {
    if (err.code?.startsWith('AJP_ERR_') === true) this.#protocolError(err)
    else this.#fail(err)
  }

  #protocolError (err: CodedError): void {
    this.#pool.logProtocolError(err)
    this.#fail(err.code === 'LB_ERR_AJP_PROTOCOL' ? err : errors.ajpProtocol(err.message, err))
  }

  #fail (err: Error): void {
    if (this.#phase === 'done') return
    const waiting = this.#phase === 'waiting-connection'
    this.#phase = 'done'
    this.#clearTimer()
    const conn = this.#conn
    this.#conn = null
    // why destroy: the exchange stopped half-way, so the connection is out of step
    conn?.destroy()
    if (waiting) this.#pool.unwait(this)
    this.#handler.onResponseError?.(this, err)
  }

  #timerKind: 'headers' | 'body' | null = null

  #arm (kind: 'headers' | 'body'): void {
    this.#clearTimer()
    if (kind === 'body' && this.#paused) return
    const ms = kind === 'headers' ? this.#options.headersTimeout : this.#options.bodyTimeout
    this.#timerKind = kind
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#fail(kind === 'headers'
        ? coded(`no AJP response headers within ${ms} ms`, 'UND_ERR_HEADERS_TIMEOUT')
        : coded(`the AJP response body stalled for ${ms} ms`, 'UND_ERR_BODY_TIMEOUT'))
    }, ms)
  }

  #clearTimer (): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#timerKind = null
  }
}

/** A health check's CPing on one connection. */
class AjpPing implements ConnectionUser, Waiter {
  readonly #pool: AjpPool
  readonly #timeoutMs: number
  readonly #resolve: () => void
  readonly #reject: (err: Error) => void
  #conn: AjpConnection | null = null
  #timer: NodeJS.Timeout | null = null
  #done = false

  constructor (pool: AjpPool, timeoutMs: number, resolve: () => void, reject: (err: Error) => void) {
    this.#pool = pool
    this.#timeoutMs = timeoutMs
    this.#resolve = resolve
    this.#reject = reject
    this.#timer = setTimeout(() => { this.#finish(coded(`no CPong within ${timeoutMs} ms`, 'AJP_CPING_TIMEOUT')) }, timeoutMs)
  }

  get gone (): boolean { return this.#done }

  attach (conn: AjpConnection): void {
    if (this.#done) { this.#pool.release(conn, true); return }
    conn.take(this)
    this.#conn = conn
    conn.write(encodeCPing())
  }

  connectFailed (err: CodedError): void { this.#finish(err) }

  packet (payload: Buffer): void {
    let msg: AjpContainerMessage | null = null
    try { msg = decodeContainerMessage(payload) } catch (err) {
      this.#pool.logProtocolError(err as CodedError)
    }
    if (msg?.type === 'cpong') { this.#finish(null); return }
    if (msg !== null) this.#pool.logProtocolError(errors.ajpProtocol(`${msg.type} instead of CPong`))
    this.#finish(errors.ajpProtocol('no CPong'))
  }

  broken (err: CodedError): void {
    if (err.code?.startsWith('AJP_ERR_') === true) this.#pool.logProtocolError(err)
    this.#finish(err)
  }

  #finish (err: CodedError | null): void {
    if (this.#done) return
    this.#done = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    const conn = this.#conn
    this.#conn = null
    if (conn !== null) {
      if (err === null) this.#pool.release(conn, true)
      else conn.destroy()
    }
    if (err === null) this.#resolve()
    else this.#reject(err)
  }
}

/** The kept-alive AJP connections of one worker. */
export class AjpPool {
  readonly #options: AjpPoolOptions
  readonly #all = new Set<AjpConnection>()
  /** idle connections, the most recently used last (taken first: the others may time out) */
  #idle: AjpConnection[] = []
  #connecting = 0
  #waiting: Waiter[] = []
  #closing = false
  #onEmpty: (() => void) | null = null
  /** connections opened so far */
  connectionsOpened = 0

  constructor (options: AjpPoolOptions) {
    this.#options = options
  }

  get options (): Readonly<AjpPoolOptions> { return this.#options }
  /** open connections (idle and busy) */
  get connections (): number { return this.#all.size }
  get idle (): number { return this.#idle.length }

  /** Send one request; `handler` hears of it as an undici dispatch handler would. */
  dispatch (d: AjpDispatch, handler: Dispatcher.DispatchHandler): void {
    new AjpExchange(this, d, handler, this.#options).start()
  }

  /** CPing on a pooled (or new) connection; resolves on CPong within timeoutMs, rejects otherwise. */
  async ping (timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const ping = new AjpPing(this, timeoutMs, resolve, reject)
      if (this.#closing) { ping.connectFailed(coded('the AJP pool is closed', 'UND_ERR_CLOSED')); return }
      const conn = this.#takeIdle()
      // why past the limit: a check must not wait behind requests (the extra connection closes after)
      if (conn !== null) ping.attach(conn)
      else this.#connect(ping)
    })
  }

  acquire (w: Waiter): void {
    if (this.#closing) { w.connectFailed(coded('the AJP pool is closed', 'UND_ERR_CLOSED')); return }
    const conn = this.#takeIdle()
    if (conn !== null) { w.attach(conn); return }
    const limit = this.#options.connections
    if (limit === 0 || this.#all.size + this.#connecting < limit) this.#connect(w)
    else this.#waiting.push(w)
  }

  unwait (w: Waiter): void {
    const i = this.#waiting.indexOf(w)
    if (i >= 0) this.#waiting.splice(i, 1)
  }

  #takeIdle (): AjpConnection | null {
    for (;;) {
      const conn = this.#idle.pop()
      if (conn === undefined) return null
      if (!conn.closed) return conn
    }
  }

  #connect (w: Waiter): void {
    this.#connecting++
    this.connectionsOpened++
    const { host, port, connectTimeout, packetSize } = this.#options
    const socket = net.connect({ host: host.replace(/^\[(.*)\]$/, '$1'), port })
    let settled = false
    const timer = setTimeout(() => { fail(coded(`AJP connect to ${host}:${port} timed out after ${connectTimeout} ms`, 'UND_ERR_CONNECT_TIMEOUT')) }, connectTimeout)
    const fail = (err: CodedError): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      this.#connecting--
      socket.destroy()
      w.connectFailed(err)
      this.#serveWaiting()
    }
    socket.once('error', fail)
    socket.once('connect', () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.off('error', fail)
      this.#connecting--
      const conn = new AjpConnection(this, socket, packetSize)
      this.#all.add(conn)
      if (this.#closing) { conn.destroy(); w.connectFailed(coded('the AJP pool is closed', 'UND_ERR_CLOSED')); return }
      if (w.gone) this.release(conn, true)
      else w.attach(conn)
    })
  }

  /** an exchange (or CPing) is done with `conn`: to the next waiter, or idle; `reuse` false closes it */
  release (conn: AjpConnection, reuse: boolean): void {
    const limit = this.#options.connections
    if (!reuse || conn.closed || this.#closing || (limit !== 0 && this.#all.size > limit)) {
      conn.destroy()
      return
    }
    for (;;) {
      const w = this.#waiting.shift()
      if (w === undefined) break
      if (w.gone) continue
      w.attach(conn)
      return
    }
    conn.idle(this.#options.idleTimeout, () => { conn.destroy() })
    this.#idle.push(conn)
  }

  /** `conn` closed: out of the pool (a waiter may now get a new connection) */
  forget (conn: AjpConnection): void {
    if (!this.#all.delete(conn)) return
    const i = this.#idle.indexOf(conn)
    if (i >= 0) this.#idle.splice(i, 1)
    this.#serveWaiting()
    if (this.#all.size === 0 && this.#onEmpty !== null) this.#onEmpty()
  }

  #serveWaiting (): void {
    if (this.#closing) return
    this.#waiting = this.#waiting.filter((w) => !w.gone)
    const limit = this.#options.connections
    while (this.#waiting.length > 0 && (limit === 0 || this.#all.size + this.#connecting < limit)) this.#connect(this.#waiting.shift()!)
  }

  logProtocolError (err: CodedError): void {
    const cause = (err as { cause?: CodedError }).cause
    this.#options.logger?.warn({ route: this.#options.route, code: cause?.code ?? err.code, err: err.message }, 'ajp protocol error')
  }

  /** stop taking requests; idle connections close now, busy ones when their exchange ends */
  async close (): Promise<void> {
    this.#closing = true
    for (const w of this.#waiting.splice(0)) if (!w.gone) w.connectFailed(coded('the AJP pool is closed', 'UND_ERR_CLOSED'))
    for (const conn of this.#idle.splice(0)) conn.destroy()
    if (this.#all.size === 0) return
    await new Promise<void>((resolve) => { this.#onEmpty = resolve })
  }

  /** close every connection now (requests on them fail) */
  async destroy (): Promise<void> {
    this.#closing = true
    for (const w of this.#waiting.splice(0)) if (!w.gone) w.connectFailed(coded('the AJP pool is closed', 'UND_ERR_CLOSED'))
    for (const conn of [...this.#all]) {
      const user = conn.user
      conn.destroy()
      user?.broken(coded('the AJP pool was destroyed', 'UND_ERR_DESTROYED'))
    }
  }
}
