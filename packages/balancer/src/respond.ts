/** The balancer's own short answers: status, plain body, `x-nodecat-error` code; no internals. */
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { CLIENT_ERRORS, type ClientErrorCode } from './errors.js'

const BODIES = new Map<string, Buffer>()
for (const [code, { status, text }] of Object.entries(CLIENT_ERRORS)) BODIES.set(code, Buffer.from(`${status} ${text}\n`))

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
