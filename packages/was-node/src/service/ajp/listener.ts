/**
 * The node's AJP/1.3 listener (`nodecat-was --ajp host:port`), so an unchanged Apache httpd +
 * mod_jk (or mod_proxy_ajp) can front nodecat as it fronted Tomcat. Each connection runs one
 * request at a time: IDLE → (CPing: CPong) | (Forward Request: the secret check, then the
 * request through the node's own HTTP pipeline, exchange.ts) → END_RESPONSE reuse → IDLE.
 *
 * - Secret (Tomcat's `secret`/`secretRequired`, Ghostcat): with a secret set, a request whose
 *   0x0C attribute is missing or wrong gets 403 (WAS_ERR_AJP_SECRET), END_RESPONSE reuse=0 and
 *   the connection closes; the app never sees it; the refusal is counted. Options refuse to start
 *   without a secret on a non-loopback address unless secretRequired is false.
 * - Malformed or oversized packets, and message types that have no place (SHUTDOWN, PING, an
 *   unknown type), close that connection; counted by AJP_ERR_* code and logged with
 *   WAS_ERR_AJP_PROTOCOL.
 * - Not ready, stalled or draining: a Forward Request's connection is closed before any header
 *   (mod_jk retries another member: "Tomcat is down or refused connection ... recoverable"), a
 *   CPing's connection is closed instead of answered (what a paused Tomcat does), so mod_jk's
 *   ping_mode finds the member unusable before it sends the request.
 */
import net, { type AddressInfo } from 'node:net'
import type http from 'node:http'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Logger } from 'pino'
import {
  AJP_TYPE, AjpError, AjpPacketReader, decodeForwardRequest, decodeRequestBodyChunk, encodeCPong, encodeEndResponse,
  encodeSendBodyChunk, encodeSendHeaders
} from '@nodecat/protocol'
import { ajpErrors } from './errors.js'
import { AjpExchange, type ExchangeLink } from './exchange.js'

export interface AjpListenerOptions {
  address: string
  port: number
  /** the shared secret mod_jk sends (worker.X.secret), or null for none */
  secret: string | null
  packetSize: number
  logger: Logger
  /** the node's HTTP server: every AJP request is one of its 'request' events */
  server: () => http.Server
  /** false while the node is starting, paused or draining: CPings are then answered by closing */
  ready: () => boolean
}

export interface AjpStats {
  /** open AJP connections */
  connections: number
  /** Forward Requests received (refused ones included) */
  requests: number
  /** CPings answered with CPong */
  cpongs: number
  /** CPings answered by closing (the node was not ready) */
  cpingsRefused: number
  /** requests refused for a missing or wrong secret (403) */
  secretRefused: number
  /** requests not processed (not ready, stalled, draining): their connection was closed before any header */
  notProcessed: number
  /** connections closed for an error, by code (AJP_ERR_* for what the front end sent, WAS_ERR_AJP_RESPONSE for a response AJP cannot carry) */
  errors: Record<string, number>
}

/** open AJP connections at most; more are closed at accept (Tomcat's maxConnections is 8192, httpd's default pool 150) */
export const AJP_MAX_CONNECTIONS = 1024

/** the first ones at warn, then debug: a hostile peer must not flood the log */
const LOUD_ERRORS = 20

const SECRET_ERROR = ajpErrors.secret()
const FORBIDDEN_BODY = Buffer.from(JSON.stringify({ statusCode: 403, code: SECRET_ERROR.code, error: 'Forbidden', message: SECRET_ERROR.message }))

function digest (s: string): Buffer { return createHash('sha256').update(s, 'latin1').digest() }

export class AjpListener {
  readonly #o: AjpListenerOptions
  readonly #server: net.Server
  readonly #conns = new Set<AjpConnection>()
  readonly #secret: Buffer | null
  #draining = false
  #loud = 0
  readonly stats: AjpStats = { connections: 0, requests: 0, cpongs: 0, cpingsRefused: 0, secretRefused: 0, notProcessed: 0, errors: {} }

  constructor (options: AjpListenerOptions) {
    this.#o = options
    this.#secret = options.secret === null ? null : digest(options.secret)
    this.#server = net.createServer((socket) => this.#accept(socket))
    // why a bound: a front end pools at most its worker threads' worth (httpd: MaxRequestWorkers)
    this.#server.maxConnections = AJP_MAX_CONNECTIONS
  }

  get options (): AjpListenerOptions { return this.#o }
  get draining (): boolean { return this.#draining }

  async listen (): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen({ host: this.#o.address, port: this.#o.port }, () => { this.#server.off('error', reject); resolve() })
    })
    return this.#server.address() as AddressInfo
  }

  address (): AddressInfo | null { return this.#server.address() as AddressInfo | null }

  #accept (socket: net.Socket): void {
    if (this.#draining) { socket.destroy(); return }
    socket.setNoDelay(true)
    const conn = new AjpConnection(this, socket)
    this.#conns.add(conn)
    this.stats.connections = this.#conns.size
    socket.once('close', () => {
      this.#conns.delete(conn)
      this.stats.connections = this.#conns.size
    })
  }

  /** constant time, on digests so that the length leaks nothing either */
  secretMatches (given: string | undefined): boolean {
    if (this.#secret === null) return true
    return given !== undefined && timingSafeEqual(this.#secret, digest(given))
  }

  countError (code: string, err: unknown, peer: string): void {
    this.stats.errors[code] = (this.stats.errors[code] ?? 0) + 1
    const level = this.#loud++ < LOUD_ERRORS ? 'warn' : 'debug'
    this.#o.logger[level]({ event: 'ajp-error', code: code.startsWith('AJP_ERR_') ? 'WAS_ERR_AJP_PROTOCOL' : code, ajpCode: code, peer, err: err instanceof Error ? err.message : String(err) },
      `AJP connection from ${peer} closed: ${err instanceof Error ? err.message : String(err)}`)
  }

  secretRefused (peer: string): void {
    this.stats.secretRefused++
    const level = this.#loud++ < LOUD_ERRORS ? 'warn' : 'debug'
    this.#o.logger[level]({ event: 'ajp-secret-refused', code: SECRET_ERROR.code, peer }, `AJP request from ${peer} refused: missing or wrong secret`)
  }

  /**
   * Stop taking connections, close the idle ones, let the busy ones finish their request (their
   * END_RESPONSE then says reuse=0); resolves when none is left, or after maxMs (the rest are cut).
   */
  async drain (maxMs: number): Promise<void> {
    this.#draining = true
    this.#server.close()
    for (const c of this.#conns) c.drainIdle()
    const deadline = Date.now() + maxMs
    while (this.#conns.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    this.close()
  }

  /** Close everything now. */
  close (): void {
    this.#draining = true
    this.#server.close()
    for (const c of this.#conns) c.destroy()
  }
}

/** How long a closing connection may wait for its peer to close before it is cut. */
const CLOSE_WAIT_MS = 5000

class AjpConnection implements ExchangeLink {
  readonly #l: AjpListener
  readonly #socket: net.Socket
  readonly #reader: AjpPacketReader
  readonly #peer: string
  #exchange: AjpExchange | null = null
  /** body packets the front end still owes (asked for, or the unasked first one) */
  #bodyOwed = 0
  /** messages that arrived while a request was in progress (mod_jk sends none; kept in order) */
  readonly #queue: Buffer[] = []
  #closing = false
  #corked = false

  constructor (listener: AjpListener, socket: net.Socket) {
    this.#l = listener
    this.#socket = socket
    this.#peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    this.#reader = new AjpPacketReader('to-container', listener.options.packetSize)
    socket.on('data', (chunk: Buffer) => this.#data(chunk))
    socket.on('error', () => {}) // 'close' follows
    socket.once('close', () => {
      this.#closing = true
      this.#exchange?.close()
      this.#exchange = null
    })
  }

  get packetSize (): number { return this.#l.options.packetSize }

  #data (chunk: Buffer): void {
    if (this.#closing) return
    let payloads: Buffer[]
    try { payloads = this.#reader.push(chunk) } catch (err) { this.#protocolError(err); return }
    for (const p of payloads) {
      if (this.#closing) return
      this.#payload(p)
    }
  }

  #payload (p: Buffer): void {
    // why: what waits in the queue goes first, in order
    if (this.#queue.length > 0) { this.#queue.push(p); this.#socket.pause(); return }
    this.#dispatch(p)
  }

  #dispatch (p: Buffer): void {
    if (this.#bodyOwed > 0) {
      this.#bodyOwed--
      let data: Buffer
      try { data = decodeRequestBodyChunk(p) } catch (err) { this.#protocolError(err); return }
      this.#exchange?.bodyPacket(data)
      return
    }
    if (this.#exchange !== null) {
      // why queue and pause: one request at a time; what comes early waits (bounded: one read)
      this.#queue.push(p)
      this.#socket.pause()
      return
    }
    this.#message(p)
  }

  #message (p: Buffer): void {
    const type = p[0]
    if (type === AJP_TYPE.CPING) {
      if (!this.#l.options.ready() || this.#l.draining) {
        this.#l.stats.cpingsRefused++
        this.#close()
        return
      }
      this.#l.stats.cpongs++
      this.send(encodeCPong())
      return
    }
    if (type !== AJP_TYPE.FORWARD_REQUEST) {
      this.#protocolError(p.length === 0 ? ajpErrors.emptyPacket() : ajpErrors.unexpectedType(type!))
      return
    }
    let fr
    try { fr = decodeForwardRequest(p) } catch (err) { this.#protocolError(err); return }
    this.#l.stats.requests++
    if (!this.#l.secretMatches(fr.attributes.find(([n]) => n === 'secret')?.[1])) {
      this.#l.secretRefused(this.#peer)
      this.send(encodeSendHeaders(403, 'Forbidden', [['Content-Type', 'application/json; charset=utf-8'], ['Content-Length', String(FORBIDDEN_BODY.length)]], this.packetSize))
      this.send(encodeSendBodyChunk(FORBIDDEN_BODY))
      this.send(encodeEndResponse(false))
      this.#close()
      return
    }
    if (this.#l.draining) { this.#l.stats.notProcessed++; this.#close(); return }
    const exchange = new AjpExchange(this, fr, { address: this.#socket.localAddress ?? '', port: this.#socket.localPort ?? 0 })
    this.#exchange = exchange
    try {
      this.#l.options.server().emit('request', exchange.req, exchange.res)
    } catch (err) {
      this.failed(exchange, err)
    }
  }

  send (packet: Buffer, done?: () => void): void {
    if (this.#socket.destroyed) { done?.(); return }
    // why corked until setImmediate: SEND_HEADERS, the body chunks and END_RESPONSE of a response
    // come over a few ticks and microtasks (the session's end, ServerResponse's 'finish'); one
    // write each cost one syscall each (half the node's CPU per request in a profile); gathered,
    // they leave in one writev
    if (!this.#corked) {
      this.#corked = true
      this.#socket.cork()
      setImmediate(() => { this.#corked = false; this.#socket.uncork() })
    }
    const ok = this.#socket.write(packet)
    if (done === undefined) return
    if (ok) done()
    else this.#socket.once('drain', done)
  }

  expectBodyPacket (): void {
    this.#bodyOwed++
    // a body packet may already wait in the queue (a peer that sent ahead): deliver it, not now
    // (the exchange is still being set up) but before anything else runs
    if (this.#queue.length > 0) queueMicrotask(() => this.#drainQueue())
  }

  /** what arrived early: body packets owed to the exchange, or the next message once idle; reading resumes when all is taken */
  #drainQueue (): void {
    while (this.#queue.length > 0 && !this.#closing && (this.#bodyOwed > 0 || this.#exchange === null)) {
      this.#dispatch(this.#queue.shift()!)
    }
    if (this.#queue.length === 0 && !this.#closing) this.#socket.resume()
  }

  finished (exchange: AjpExchange, close: boolean): void {
    if (exchange !== this.#exchange) return
    const reuse = !close && !this.#l.draining
    this.send(encodeEndResponse(reuse))
    this.#exchange = null
    exchange.close()
    if (!reuse) { this.#close(); return }
    // the next request, if one came early
    this.#drainQueue()
  }

  notProcessed (exchange: AjpExchange, reason: string): void {
    if (exchange !== this.#exchange) return
    this.#l.stats.notProcessed++
    this.#l.options.logger.debug({ event: 'ajp-not-processed', reason, peer: this.#peer }, `AJP request not processed (${reason}): connection closed before any header, so the front end retries another member`)
    this.#exchange = null
    exchange.close()
    this.#close()
  }

  failed (exchange: AjpExchange, err: unknown): void {
    if (exchange !== this.#exchange) return
    const coded = ajpErrors.response(err instanceof Error ? err.message : String(err))
    this.#l.countError(coded.code, coded, this.#peer)
    this.#exchange = null
    exchange.close()
    this.destroy()
  }

  #protocolError (err: unknown): void {
    this.#l.countError(err instanceof AjpError ? err.code : 'AJP_ERR_MALFORMED', err, this.#peer)
    this.destroy()
  }

  /** a graceful close: what was written goes out, then FIN; cut if the peer keeps it open */
  #close (): void {
    if (this.#closing) return
    this.#closing = true
    this.#socket.end()
    setTimeout(() => this.#socket.destroy(), CLOSE_WAIT_MS).unref()
  }

  /** the drain: an idle connection closes now, a busy one after its response */
  drainIdle (): void {
    if (this.#exchange === null) this.#close()
  }

  destroy (): void {
    this.#closing = true
    this.#exchange?.close()
    this.#exchange = null
    this.#socket.destroy()
  }
}
