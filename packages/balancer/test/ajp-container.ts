/**
 * An in-process fake AJP/1.3 container (what a Tomcat AJP connector does on the wire), built on
 * the shared codec of @nodecat/protocol: it reads Forward Requests, pulls the body with Get Body
 * Chunk the way Tomcat does (the first packet unasked when Content-Length > 0), answers CPing,
 * and lets a test script the answer (headers, body chunks, End Response, or raw bytes).
 */
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import {
  AjpPacketReader, AJP_TYPE, decodeForwardRequest, decodeRequestBodyChunk, encodeCPong, encodeEndResponse, encodeGetBodyChunk,
  encodeSendBodyChunk, encodeSendHeaders, maxResponseBodyChunk, type AjpForwardRequest
} from '@nodecat/protocol'

export interface AjpCall {
  forward: AjpForwardRequest
  /** a request header's value (names compared case-insensitively) */
  header (name: string): string | undefined
  attribute (name: string): string | undefined
  /** read the whole body, asking for it chunk by chunk */
  body (): Promise<Buffer>
  headers (status: number, pairs?: Array<[string, string]>, message?: string): void
  chunk (data: Buffer | string): void
  end (reuse?: boolean): void
  /** bytes as they are (for malformed answers) */
  raw (bytes: Buffer): void
  /** close the connection now */
  destroy (): void
  /** bytes written but not yet taken by the balancer (its reading paused: backpressure) */
  backlog (): number
}

export type AjpHandler = (call: AjpCall, container: AjpContainer) => void | Promise<void>

export interface AjpContainer {
  route: string
  port: number
  /** ajp://127.0.0.1:port */
  url: string
  /** connections accepted so far */
  connections: number
  /** connections closed so far (by either side) */
  closed: number
  /** Forward Requests received so far */
  requests: number
  cpings: number
  /** answer CPing (default true) */
  answerCPing: boolean
  last: AjpForwardRequest | null
  close (): Promise<void>
}

/** The default answer: the body read whole, then 200 with the route as text. */
async function answerRoute (call: AjpCall, c: AjpContainer): Promise<void> {
  await call.body()
  call.headers(200, [['Content-Type', 'text/plain'], ['x-route', c.route]])
  call.chunk(c.route)
  call.end(true)
}

/** Packets of one connection, awaited one at a time. */
class PacketQueue {
  #packets: Buffer[] = []
  #waiter: ((p: Buffer | null) => void) | null = null
  #closed = false
  push (p: Buffer): void {
    if (this.#waiter !== null) { const w = this.#waiter; this.#waiter = null; w(p) } else this.#packets.push(p)
  }

  close (): void {
    this.#closed = true
    if (this.#waiter !== null) { const w = this.#waiter; this.#waiter = null; w(null) }
  }

  async next (): Promise<Buffer | null> {
    const p = this.#packets.shift()
    if (p !== undefined) return p
    if (this.#closed) return null
    return await new Promise((resolve) => { this.#waiter = resolve })
  }
}

/** `packetSize`: the container's packetSize (Tomcat's connector attribute), 8192 by default */
export async function startAjpContainer (t: { teardown: (fn: () => Promise<void> | void) => void }, route: string, handler: AjpHandler = answerRoute, packetSize = 8192): Promise<AjpContainer> {
  const sockets = new Set<net.Socket>()
  const container: AjpContainer = { route, port: 0, url: '', connections: 0, closed: 0, requests: 0, cpings: 0, answerCPing: true, last: null, close: async () => {} }
  const server = net.createServer((socket) => {
    container.connections++
    sockets.add(socket)
    const reader = new AjpPacketReader('to-container', packetSize)
    const queue = new PacketQueue()
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const p of reader.push(chunk)) queue.push(p)
      } catch { socket.destroy() }
    })
    socket.on('error', () => {})
    socket.on('close', () => { container.closed++; sockets.delete(socket); queue.close() })
    void (async () => {
      for (;;) {
        const p = await queue.next()
        if (p === null) return
        const type = p[0]
        if (type === AJP_TYPE.CPING) {
          container.cpings++
          if (container.answerCPing) socket.write(encodeCPong())
          continue
        }
        if (type !== AJP_TYPE.FORWARD_REQUEST) { socket.destroy(); return }
        const forward = decodeForwardRequest(p)
        container.requests++
        container.last = forward
        const find = (list: Array<[string, string]>, name: string): string | undefined => list.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1]
        const declared = find(forward.headers, 'content-length')
        let left = declared !== undefined ? Number(declared) : -1
        let first = left > 0
        let ended = left === 0
        let ask = true
        const call: AjpCall = {
          forward,
          header: (name) => find(forward.headers, name),
          attribute: (name) => find(forward.attributes, name),
          async body () {
            const parts: Buffer[] = []
            while (!ended) {
              // why: Tomcat asks for every packet but the first of a body of declared length
              if (!first && ask) socket.write(encodeGetBodyChunk(8186))
              first = false
              const packet = await queue.next()
              if (packet === null) throw new Error('connection closed while reading the body')
              const data = decodeRequestBodyChunk(packet)
              if (data.length === 0) { ended = true; break }
              parts.push(Buffer.from(data))
              if (left > 0) { left -= data.length; if (left <= 0) ended = true }
            }
            ask = false
            return Buffer.concat(parts)
          },
          headers (status, pairs = [], message = String(status)) { socket.write(encodeSendHeaders(status, message, pairs)) },
          chunk (data) {
            const buf = typeof data === 'string' ? Buffer.from(data) : data
            const max = maxResponseBodyChunk()
            for (let i = 0; i < buf.length; i += max) socket.write(encodeSendBodyChunk(buf.subarray(i, i + max)))
          },
          end (reuse = true) {
            socket.write(encodeEndResponse(reuse))
            if (!reuse) socket.end()
          },
          raw (bytes) { socket.write(bytes) },
          destroy () { socket.destroy() },
          backlog: () => socket.writableLength
        }
        try {
          await handler(call, container)
        } catch {
          socket.destroy()
          return
        }
        // why: Tomcat swallows an unread first body packet before the next request
        if (first) await queue.next()
        if (socket.destroyed) return
      }
    })()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  container.port = (server.address() as AddressInfo).port
  container.url = `ajp://127.0.0.1:${container.port}`
  container.close = async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(() => container.close())
  return container
}
