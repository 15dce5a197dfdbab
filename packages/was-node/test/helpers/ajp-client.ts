/**
 * A minimal AJP/1.3 front end for tests, on the shared codec: it sends what mod_jk sends (the
 * Forward Request, the first body packet unasked when there is a Content-Length, then one packet
 * per GET_BODY_CHUNK, the empty packet at the end) and collects the container's answer.
 */
import net from 'node:net'
import {
  AjpPacketReader, decodeContainerMessage, encodeCPing, encodeForwardRequest, encodeRequestBodyChunk, maxRequestBodyChunk,
  type AjpContainerMessage, type AjpForwardRequest
} from '@nodecat/protocol'

export interface AjpReply {
  status: number
  message: string
  headers: Array<[string, string]>
  body: Buffer
  /** END_RESPONSE's reuse flag */
  reuse: boolean
  /** GET_BODY_CHUNKs the container sent */
  asked: number
  /** the largest SEND_BODY_CHUNK */
  largestChunk: number
}

export type AjpOutcome = { closed: false, reply: AjpReply } | { closed: true, headers: boolean }

export function forwardRequest (r: Partial<AjpForwardRequest> & { uri: string }): AjpForwardRequest {
  return {
    method: 'GET',
    protocol: 'HTTP/1.1',
    remoteAddr: '127.0.0.1',
    remoteHost: '127.0.0.1',
    serverName: 'www.example',
    serverPort: 80,
    isSsl: false,
    headers: [['host', 'www.example']],
    attributes: [],
    ...r
  }
}

export class AjpTestClient {
  readonly socket: net.Socket
  readonly #reader: AjpPacketReader
  readonly #messages: AjpContainerMessage[] = []
  #wake: (() => void) | null = null
  #closed = false
  readonly packetSize: number

  private constructor (socket: net.Socket, packetSize: number) {
    this.socket = socket
    this.packetSize = packetSize
    this.#reader = new AjpPacketReader('from-container', packetSize)
    socket.on('data', (chunk: Buffer) => {
      for (const p of this.#reader.push(chunk)) this.#messages.push(decodeContainerMessage(p))
      this.#wake?.()
    })
    socket.on('error', () => {})
    socket.on('close', () => { this.#closed = true; this.#wake?.() })
  }

  static async connect (port: number, packetSize = 8192): Promise<AjpTestClient> {
    const socket = net.connect({ host: '127.0.0.1', port })
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    return new AjpTestClient(socket, packetSize)
  }

  get closed (): boolean { return this.#closed }

  /** the next message, or null when the connection closed first (bounded wait) */
  async next (timeoutMs = 15000): Promise<AjpContainerMessage | null> {
    const deadline = Date.now() + timeoutMs
    while (this.#messages.length === 0) {
      if (this.#closed) return null
      if (Date.now() > deadline) throw new Error('no AJP message in time')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100)
        this.#wake = () => { clearTimeout(timer); resolve() }
      })
      this.#wake = null
    }
    return this.#messages.shift()!
  }

  async cping (): Promise<'cpong' | 'closed'> {
    this.socket.write(encodeCPing())
    const m = await this.next()
    if (m === null) return 'closed'
    if (m.type !== 'cpong') throw new Error(`expected CPONG, got ${m.type}`)
    return 'cpong'
  }

  /** One request; `body` goes with a Content-Length unless `chunked` (then the length is unknown, as for a chunked client body). */
  async request (fr: AjpForwardRequest, body?: Buffer, opts: { chunked?: boolean } = {}): Promise<AjpOutcome> {
    const max = maxRequestBodyChunk(this.packetSize)
    let sent = 0
    const headers = [...fr.headers]
    if (body !== undefined) headers.push(opts.chunked === true ? ['transfer-encoding', 'chunked'] : ['content-length', String(body.length)])
    this.socket.write(encodeForwardRequest({ ...fr, headers }, this.packetSize))
    if (body !== undefined && opts.chunked !== true && body.length > 0) {
      const first = body.subarray(0, max)
      this.socket.write(encodeRequestBodyChunk(first))
      sent = first.length
    }
    const reply: AjpReply = { status: 0, message: '', headers: [], body: Buffer.alloc(0), reuse: false, asked: 0, largestChunk: 0 }
    const parts: Buffer[] = []
    let gotHeaders = false
    for (;;) {
      const m = await this.next()
      if (m === null) return { closed: true, headers: gotHeaders }
      if (m.type === 'get-body-chunk') {
        reply.asked++
        const n = Math.min(m.size, max, (body?.length ?? 0) - sent)
        this.socket.write(encodeRequestBodyChunk(n > 0 ? body!.subarray(sent, sent + n) : Buffer.alloc(0)))
        if (n > 0) sent += n
      } else if (m.type === 'send-headers') {
        gotHeaders = true
        reply.status = m.status
        reply.message = m.message
        reply.headers = m.headers
      } else if (m.type === 'body-chunk') {
        parts.push(m.data)
        reply.largestChunk = Math.max(reply.largestChunk, m.data.length)
      } else if (m.type === 'end-response') {
        reply.reuse = m.reuse
        reply.body = Buffer.concat(parts)
        return { closed: false, reply }
      } else {
        throw new Error(`unexpected ${m.type} during a request`)
      }
    }
  }

  close (): void { this.socket.destroy() }
}

/** the reply, failing when the connection closed instead */
export function replied (o: AjpOutcome): AjpReply {
  if (o.closed) throw new Error(`the AJP connection closed ${o.headers ? 'after' : 'before'} the headers`)
  return o.reply
}

export function header (reply: AjpReply, name: string): string[] {
  return reply.headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v)
}
