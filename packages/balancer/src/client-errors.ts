/**
 * What happens on a client connection outside a request's normal course: node's HTTP parser
 * rejected bytes ('clientError': a malformed head, a broken body framing, requestTimeout) or the
 * connection sat idle for client.idleTimeout ('timeout'). Each ends with at most one answer from
 * us per request and a closed connection; none waits on anything that may never happen.
 */
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { ClientErrorCode } from './errors.js'
import { interruptRequest } from './proxy.js'
import { sendRawError } from './respond.js'
import type { BalancerStats } from './stats.js'

type ClientSocket = Socket & { _httpMessage?: ServerResponse | null }

/** Parser errors node reports on the client socket, mapped to our answers. */
export function clientErrorCode (code: string | undefined): ClientErrorCode {
  if (code === 'HPE_HEADER_OVERFLOW') return 'LB_ERR_HEADERS_TOO_LARGE'
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'LB_ERR_REQUEST_TIMEOUT'
  if (code === 'HPE_URI_TOO_LONG') return 'LB_ERR_URI_TOO_LONG'
  return 'LB_ERR_BAD_REQUEST'
}

/** sockets whose client error was handled: node reports one again for every later read */
const handled = new WeakSet<Socket>()

/** Close the connection once `res`, an answer already complete, has gone out. */
function closeAfter (res: ServerResponse, socket: Socket): void {
  if (res.writableFinished) { socket.end(); return }
  res.once('finish', () => socket.end())
  res.once('close', () => { if (!res.writableFinished) socket.destroy() })
}

/** The node:http server's 'clientError' listener. */
export function onClientError (stats: BalancerStats, err: Error & { code?: string }, socket: ClientSocket): void {
  // why: a broken request costs the workers nothing: answer it here and close
  if (err.code === 'ECONNRESET' || !socket.writable) { socket.destroy(); return }
  if (handled.has(socket)) return
  handled.add(socket)
  stats.clientErrors++
  const code = clientErrorCode(err.code)
  stats.count(code)
  const pending = socket._httpMessage
  if (pending != null && pending.req?.complete === false) {
    // The bytes that failed are the body of the request being answered (its chunk framing broke,
    // or requestTimeout ran out while it arrived): that request will never arrive whole, so it
    // gets its one answer now. Waiting for its response would wait forever: the response waits
    // for the body.
    if (!pending.writableEnded && interruptRequest(pending, code)) return
    // we answered it already (a refusal): that one answer, then the close
    closeAfter(pending, socket)
    return
  }
  // why: garbage pipelined behind a request still being answered must not cut that answer
  // (nor write into its body): the answer goes out whole, then the error, then the close
  if (pending != null && !pending.writableFinished) {
    const after = (): void => { if (socket.writable) sendRawError(socket, code); else socket.destroy() }
    pending.once('finish', after)
    pending.once('close', () => { if (!pending.writableFinished) socket.destroy() })
    return
  }
  sendRawError(socket, code)
}

/**
 * The node:http server's 'timeout' listener: the connection moved no byte for client.idleTimeout.
 * A request still waiting for its answer gets one (504 waiting for a worker, 408 while its body
 * arrives) and the connection closes after it; anything else (an answer a client does not read,
 * an idle connection, an answer that did not go out) is closed at once.
 */
export function onIdleTimeout (stats: BalancerStats, socket: ClientSocket): void {
  const pending = socket._httpMessage
  if (pending != null && !pending.headersSent && !pending.writableEnded) {
    const code: ClientErrorCode = pending.req?.complete === false ? 'LB_ERR_REQUEST_TIMEOUT' : 'LB_ERR_WORKER_TIMEOUT'
    if (interruptRequest(pending, code)) {
      stats.count(code)
      return
    }
  }
  socket.destroy()
}
