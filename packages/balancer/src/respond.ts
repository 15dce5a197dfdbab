/** The balancer's own short answers: status, plain body, `x-nodecat-error` code; no internals. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { CLIENT_ERRORS, type ClientErrorCode } from './errors.js'

const BODIES = new Map<string, Buffer>()
for (const [code, { status, text }] of Object.entries(CLIENT_ERRORS)) BODIES.set(code, Buffer.from(`${status} ${text}\n`))

/** bytes of the body the balancer answers `code` with (for the access log) */
export function errorBodyLength (code: ClientErrorCode): number {
  return BODIES.get(code)!.length
}

/** Answer with the code's status; if the response already started, cut the connection instead. */
export function sendError (res: ServerResponse, code: ClientErrorCode): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = BODIES.get(code)!
  res.writeHead(CLIENT_ERRORS[code].status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': body.length,
    'cache-control': 'no-store',
    'x-nodecat-error': code
  })
  res.end(body)
}

/** The same answer on a raw socket (upgrade requests, client errors node reports). */
export function sendRawError (socket: Socket, code: ClientErrorCode): void {
  if (!socket.writable) { socket.destroy(); return }
  const body = BODIES.get(code)!
  const { status, text } = CLIENT_ERRORS[code]
  socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\ncache-control: no-store\r\nx-nodecat-error: ${code}\r\nconnection: close\r\n\r\n${body.toString()}`)
}

/** how long a connection closed with its request body unread keeps discarding what the client still sends */
export const LINGER_MS = 2000

/**
 * Connections closing after a refused body. Node's parser still reads them, and what follows the
 * refused body's announced length would parse as a next request: such a request is never proxied.
 */
export const lingering = new WeakSet<object>()

/**
 * Close the connection after this answer without resetting it (RFC 9112 §9.6, Apache's and
 * nginx's "lingering close"): the answer goes out, our side half-closes, and whatever the client
 * still sends of the body we refused is read and thrown away until it closes its side, at most
 * LINGER_MS. Closing at once with unread bytes makes the kernel send a reset, and a client still
 * uploading would often lose the answer to it. Nothing is forwarded: node's parser takes the rest
 * as the refused request's body, which is discarded.
 */
export function lingerClose (req: IncomingMessage, res: ServerResponse): void {
  const socket = res.socket
  if (socket == null) return
  lingering.add(socket)
  // why override: node's server calls destroySoon() once a "Connection: close" answer is written
  socket.destroySoon = function (this: typeof socket) {
    if (this.writable) this.end()
    const timer = setTimeout(() => this.destroy(), LINGER_MS)
    timer.unref()
    this.once('close', () => clearTimeout(timer))
    this.once('end', () => this.destroy())
    req.resume()
    this.resume()
  }
}
