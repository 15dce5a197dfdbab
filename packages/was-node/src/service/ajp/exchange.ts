/**
 * One AJP request as a real node:http request: an http.IncomingMessage and http.ServerResponse
 * pair on a socket of our own (ExchangeSocket), handed to the node's http.Server as a 'request'
 * event. So an AJP request goes through exactly the pipeline an HTTP request goes through (the
 * request screen, stall watch, drain, readiness, the app switch, the session middleware and the
 * jvmRoute binder, fastify's routes), and nothing of it is written twice.
 *
 * - The request: method, URL (req_uri + '?' + query_string), headers from the Forward Request;
 *   the socket says the remote address and port and `encrypted` (is_ssl) as the AJP front end
 *   told them, the way Tomcat believes its AJP front end.
 * - The request body is pulled: when the app reads, GET_BODY_CHUNK asks for the next packet
 *   (after the one mod_jk sends unasked when Content-Length > 0).
 * - The response: ServerResponse writes HTTP/1.1 bytes to the socket; they are read back here
 *   (status line and headers, then the body, de-chunked when node chunked it) and sent as
 *   SEND_HEADERS and SEND_BODY_CHUNKs of at most packetSize − 8 bytes. Writes complete when the
 *   AJP socket took the bytes, so ServerResponse's backpressure holds.
 * - A response carrying the node's "not processed" header (x-nodecat-draining: the drain,
 *   readiness, stall watch or an unverifiable session answered before the app ran) is not
 *   sent: the AJP connection is closed before any header, which mod_jk treats as "Tomcat is
 *   down or refused connection" and retries on another member (see docs/AJP.md).
 */
import http from 'node:http'
import { Duplex } from 'node:stream'
import { isIPv6 } from 'node:net'
import { encodeGetBodyChunk, encodeSendBodyChunk, encodeSendHeaders, maxRequestBodyChunk, maxResponseBodyChunk, type AjpForwardRequest } from '@nodecat/protocol'
import { NOT_PROCESSED_HEADER } from '../../http/errors.js'

/** What an exchange needs of its AJP connection. */
export interface ExchangeLink {
  readonly packetSize: number
  /** write one or more whole packets; calls `done` once the socket took them (backpressure) */
  send (packet: Buffer, done?: () => void): void
  /** one more body packet is owed to us by the front end (a GET_BODY_CHUNK went out, or the unasked first one) */
  expectBodyPacket (): void
  /** the response ended normally: END_RESPONSE, reuse unless `close` */
  finished (exchange: AjpExchange, close: boolean): void
  /** the node answered "not processed": close the connection before any header */
  notProcessed (exchange: AjpExchange, reason: string): void
  /** the response cannot be carried (its headers do not fit a packet...): abort the connection */
  failed (exchange: AjpExchange, err: unknown): void
}

/** Request properties an app may read: what mod_jk said about the request besides HTTP. */
export interface AjpRequestInfo {
  /** every Forward Request attribute except the secret, by name ('route', 'JK_LB_ACTIVATION', 'AJP_REMOTE_PORT', ...) */
  attributes: Record<string, string>
  /** mod_jk's activation of this member: ACT, DIS (draining: sticky requests only) or STP */
  activation: string | null
}

/** The node:http request of an AJP exchange carries `ajp`. */
export type AjpIncomingMessage = http.IncomingMessage & { ajp?: AjpRequestInfo }

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer'])

class ExchangeSocket extends Duplex {
  readonly remoteAddress: string
  readonly remotePort: number | undefined
  readonly remoteFamily: string
  readonly localAddress: string
  readonly localPort: number
  readonly encrypted: boolean
  constructor (private readonly exchange: AjpExchange, fr: AjpForwardRequest, remotePort: number | undefined, local: { address: string, port: number }) {
    super({ allowHalfOpen: true, decodeStrings: true })
    this.remoteAddress = fr.remoteAddr
    this.remotePort = remotePort
    this.remoteFamily = isIPv6(fr.remoteAddr) ? 'IPv6' : 'IPv4'
    this.localAddress = local.address
    this.localPort = local.port
    this.encrypted = fr.isSsl
  }

  override _read (): void {}
  override _write (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void { this.exchange.responseBytes(chunk, cb) }
  setTimeout (): this { return this }
  setNoDelay (): this { return this }
  setKeepAlive (): this { return this }
  address (): { address: string, port: number, family: string } { return { address: this.localAddress, port: this.localPort, family: isIPv6(this.localAddress) ? 'IPv6' : 'IPv4' } }
}

type ResponseState = 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'chunk-data-end' | 'trailers' | 'done'

export class AjpExchange {
  readonly req: AjpIncomingMessage
  readonly res: http.ServerResponse
  readonly socket: ExchangeSocket
  /** body bytes still to come; null: unknown length (chunked from the client), ends with an empty packet */
  #bodyLeft: number | null
  #bodyDone = false
  #bodyAsked = false
  /** the first body packet comes unasked (Content-Length > 0) */
  #awaitingFirst = false
  #wantBody = false
  #ended = false
  // response reading
  #state: ResponseState = 'head'
  #head = ''
  #chunked = false
  #chunkLeft = 0
  #line = ''
  #close = false
  #headersSent = false

  constructor (private readonly link: ExchangeLink, fr: AjpForwardRequest, local: { address: string, port: number }) {
    const attributes: Record<string, string> = {}
    let query = ''
    for (const [name, value] of fr.attributes) {
      if (name === 'secret') continue
      if (name === 'query_string') query = value
      attributes[name] = value
    }
    const port = Number(attributes.AJP_REMOTE_PORT)
    this.socket = new ExchangeSocket(this, fr, Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined, local)
    const req = new http.IncomingMessage(this.socket as never) as AjpIncomingMessage
    req.method = fr.method
    req.url = query === '' ? fr.uri : `${fr.uri}?${query}`
    const version = /^HTTP\/(\d)\.(\d)$/.exec(fr.protocol)
    req.httpVersionMajor = version === null ? 1 : Number(version[1])
    req.httpVersionMinor = version === null ? 1 : Number(version[2])
    req.httpVersion = `${req.httpVersionMajor}.${req.httpVersionMinor}`
    const raw: string[] = []
    const headers: http.IncomingHttpHeaders = {}
    let contentLength: number | null = null
    let chunked = false
    for (const [name, value] of fr.headers) {
      raw.push(name, value)
      // why node's own rule: duplicates are joined or dropped exactly as for an HTTP request
      ;(req as unknown as { _addHeaderLine: (n: string, v: string, d: object) => void })._addHeaderLine(name, value, headers)
      const lower = name.toLowerCase()
      if (lower === 'content-length' && /^\d{1,15}$/.test(value.trim())) contentLength = Number(value.trim())
      if (lower === 'transfer-encoding' && /chunked/i.test(value)) chunked = true
    }
    req.rawHeaders = raw
    req.headers = headers
    req.ajp = { attributes, activation: attributes.JK_LB_ACTIVATION ?? null }
    this.#bodyLeft = contentLength ?? (chunked ? null : 0)
    if (this.#bodyLeft === 0) {
      this.#bodyDone = true
      req.push(null)
      req.complete = true
    } else if (contentLength !== null) {
      // mod_jk sends the first body packet right after the Forward Request, unasked
      this.#awaitingFirst = true
      link.expectBodyPacket()
    }
    // why: the body is pulled from the front end only when the app reads it
    req._read = () => { this.#wantBody = true; this.#askBody() }
    this.req = req
    this.res = new http.ServerResponse(req)
    // why: the hop to the front end is AJP, not the client's HTTP version: an HTTP/1.0 client
    // must not make the node close the pooled AJP connection; a "Connection: close" in the head
    // then means the pipeline or the app asked for it
    this.res.shouldKeepAlive = true
    this.res.useChunkedEncodingByDefault = true
    this.res.assignSocket(this.socket as never)
    this.res.once('finish', () => this.#finish())
    // why: ServerResponse learns of drained writes only from the server's socket wiring
    this.socket.on('drain', () => { if (this.res.writableNeedDrain) this.res.emit('drain') })
  }

  /** A body packet for this exchange (data empty: the end of the body). */
  bodyPacket (data: Buffer): void {
    this.#bodyAsked = false
    this.#awaitingFirst = false
    if (this.#bodyDone) return
    if (data.length === 0) { this.#endBody(); return }
    if (this.#bodyLeft !== null) {
      if (data.length > this.#bodyLeft) { this.link.failed(this, new Error(`request body longer than its Content-Length (${data.length} bytes with ${this.#bodyLeft} left)`)); return }
      this.#bodyLeft -= data.length
    }
    this.#wantBody = this.req.push(data)
    if (this.#bodyLeft === 0) this.#endBody()
    else this.#askBody()
  }

  #endBody (): void {
    this.#bodyDone = true
    this.req.complete = true
    this.req.push(null)
  }

  #askBody (): void {
    if (!this.#wantBody || this.#bodyAsked || this.#awaitingFirst || this.#bodyDone || this.#ended) return
    this.#bodyAsked = true
    this.link.expectBodyPacket()
    const max = maxRequestBodyChunk(this.link.packetSize)
    this.link.send(encodeGetBodyChunk(this.#bodyLeft === null ? max : Math.min(max, this.#bodyLeft)))
  }

  /** ServerResponse's bytes (HTTP/1.1 head, then the body, chunked or not). */
  responseBytes (chunk: Buffer, cb: (err?: Error | null) => void): void {
    if (this.#ended) { cb(); return }
    const packets: Buffer[] = []
    let i = 0
    const emit = (data: Buffer) => {
      const max = maxResponseBodyChunk(this.link.packetSize)
      for (let at = 0; at < data.length; at += max) packets.push(encodeSendBodyChunk(data.subarray(at, at + max)))
    }
    while (i < chunk.length && !this.#ended) {
      switch (this.#state) {
        case 'head': {
          const before = this.#head.length
          this.#head += chunk.toString('latin1', i)
          const end = this.#head.indexOf('\r\n\r\n', Math.max(0, before - 3))
          if (end < 0) {
            i = chunk.length
            if (this.#head.length > 1 << 20) this.link.failed(this, new Error('response head too large'))
            break
          }
          i += end + 4 - before
          this.#head = this.#head.slice(0, end + 4)
          this.#headDone()
          break
        }
        case 'body':
          emit(chunk.subarray(i))
          i = chunk.length
          break
        case 'chunk-size':
        case 'chunk-data-end':
        case 'trailers': {
          const nl = chunk.indexOf(10, i)
          const stop = nl < 0 ? chunk.length : nl + 1
          this.#line += chunk.toString('latin1', i, stop)
          i = stop
          if (nl >= 0) { this.#chunkLine(this.#line.replace(/\r?\n$/, '')); this.#line = '' }
          break
        }
        case 'chunk-data': {
          const n = Math.min(this.#chunkLeft, chunk.length - i)
          emit(chunk.subarray(i, i + n))
          i += n
          this.#chunkLeft -= n
          if (this.#chunkLeft === 0) this.#state = 'chunk-data-end'
          break
        }
        case 'done':
          i = chunk.length
          break
      }
    }
    // why one callback per write: the write completes when the AJP socket took all its packets
    if (packets.length === 0 || this.#ended) { cb(); return }
    this.link.send(packets.length === 1 ? packets[0]! : Buffer.concat(packets), () => cb())
  }

  #chunkLine (line: string): void {
    if (this.#state === 'chunk-size') {
      const size = parseInt(line.split(';')[0]!.trim(), 16)
      if (!Number.isFinite(size) || size < 0) { this.link.failed(this, new Error(`bad chunk size line ${JSON.stringify(line.slice(0, 40))}`)); return }
      if (size === 0) this.#state = 'trailers'
      else { this.#chunkLeft = size; this.#state = 'chunk-data' }
    } else if (this.#state === 'chunk-data-end') {
      this.#state = 'chunk-size'
    } else if (line === '') {
      this.#state = 'done'
    }
  }

  #headDone (): void {
    const lines = this.#head.split('\r\n')
    this.#head = ''
    const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '')
    if (m === null) { this.link.failed(this, new Error(`unreadable status line ${JSON.stringify(lines[0]?.slice(0, 60))}`)); return }
    const status = Number(m[1])
    // 1xx (100 Continue, 103 Early Hints): AJP has no interim responses
    if (status < 200) return
    const headers: Array<[string, string]> = []
    let notProcessed: string | null = null
    for (const line of lines.slice(1)) {
      if (line === '') continue
      const colon = line.indexOf(':')
      if (colon <= 0) continue
      const name = line.slice(0, colon)
      const value = line.slice(colon + 1).trim()
      const lower = name.toLowerCase()
      if (lower === 'transfer-encoding' && /chunked/i.test(value)) this.#chunked = true
      if (lower === 'connection' && /\bclose\b/i.test(value)) this.#close = true
      if (lower === NOT_PROCESSED_HEADER) notProcessed = value
      if (HOP_BY_HOP.has(lower)) continue
      headers.push([name, value])
    }
    if (notProcessed !== null && status === 503 && !this.#headersSent) {
      this.#ended = true
      this.link.notProcessed(this, notProcessed)
      return
    }
    let packet: Buffer
    try {
      packet = encodeSendHeaders(status, m[2] ?? '', headers, this.link.packetSize)
    } catch (err) {
      this.link.failed(this, err)
      return
    }
    this.#headersSent = true
    this.link.send(packet)
    this.#state = this.#chunked ? 'chunk-size' : 'body'
  }

  #finish (): void {
    if (this.#ended) return
    this.#ended = true
    this.link.finished(this, this.#close)
  }

  get ended (): boolean { return this.#ended }
  get headersSent (): boolean { return this.#headersSent }

  /** The AJP connection is gone (or this exchange is over): release the request and response. */
  close (): void {
    this.#ended = true
    if (!this.req.complete) this.req.destroy()
    // why destroy: the socket's 'close' makes ServerResponse emit 'close', as after an HTTP response;
    // why not at once: the stream still runs the callback of the write that ended the response, and a
    // socket destroyed under it errors its pending callbacks (an error object, a stack, per request)
    setImmediate(() => this.socket.destroy())
  }
}
