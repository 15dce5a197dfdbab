/**
 * WebSocket (and only WebSocket) upgrades, routed like any request: the upgrade request's
 * cookie or path parameter picks the worker, and its tries follow the same rules as any GET
 * (attempt.ts, retry.ts): a connect failure moves to another worker, a worker that took the
 * upgrade and dropped it is tried once more, and the client hears the last real failure; once the
 * worker answered, nothing is retried. After 101 the two sockets are spliced together. A request
 * routed to an ajp:// worker gets 501 LB_ERR_AJP_NO_UPGRADE: AJP/1.3 cannot carry an upgrade.
 */
import http, { type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import { loggablePath, sessionRoutes } from '@nodecat/protocol'
import { Tries } from './attempt.js'
import type { ProxyContext } from './proxy.js'
import { screen } from './proxy.js'
import { requestHeaders, responseHeaders } from './headers.js'
import type { ClientErrorCode } from './errors.js'
import { sendRawError } from './respond.js'

function isWebSocket (req: IncomingMessage): boolean {
  return req.method === 'GET' && typeof req.headers.upgrade === 'string' && req.headers.upgrade.toLowerCase() === 'websocket'
}

function headText (status: number, message: string, headers: Record<string, string | string[]>): string {
  let text = `HTTP/1.1 ${status} ${message}\r\n`
  for (const name in headers) {
    const value = headers[name]!
    if (Array.isArray(value)) for (const v of value) text += `${name}: ${v}\r\n`
    else text += `${name}: ${value}\r\n`
  }
  return text
}

/** Handle one 'upgrade' event of the client server. */
export function proxyUpgrade (ctx: ProxyContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const client = socket as Socket
  ctx.stats.requests++
  client.on('error', () => client.destroy())
  const refused = screen(req, ctx.options) ?? (isWebSocket(req) ? null : 'LB_ERR_BAD_REQUEST')
  if (refused !== null) {
    ctx.stats.count(refused)
    sendRawError(client, refused)
    return
  }
  const o = ctx.options
  const routes = sessionRoutes(req.url!, req.headers.cookie, o.sessionCookie, o.sessionPathParam)
  const headers = requestHeaders(req, o.trustForwarded, true)
  const tries = new Tries(ctx.chooser, ctx.stats, o.maxAttempts, routes, req.method)

  const fail = (code: ClientErrorCode): void => {
    ctx.stats.count(code)
    sendRawError(client, code)
  }

  const attempt = (): void => {
    if (client.destroyed) return
    const t = tries.next()
    if (typeof t === 'string') { fail(t); return }
    if (t.worker.ajp !== null) {
      // why 501 and no failover: AJP/1.3 cannot carry an upgraded connection, and the route is this worker's
      t.end(false)
      ctx.logger.warn({ route: t.worker.route, path: loggablePath(req.url!, o.sessionPathParam) }, 'websocket refused: ajp worker')
      fail('LB_ERR_AJP_NO_UPGRADE')
      return
    }
    let connected = false
    const url = new URL(t.worker.url)
    const upstream = http.request({
      host: url.hostname,
      port: url.port,
      method: 'GET',
      path: req.url,
      headers,
      agent: false,
      timeout: o.connectTimeout
    })
    upstream.on('socket', (s: Socket) => {
      s.once('connect', () => {
        connected = true
        upstream.setTimeout(o.headersTimeout)
      })
    })
    upstream.on('timeout', () => upstream.destroy(Object.assign(new Error('timeout'), { code: connected ? 'UND_ERR_HEADERS_TIMEOUT' : 'UND_ERR_CONNECT_TIMEOUT' })))
    upstream.on('error', (err: Error & { code?: string }) => {
      if (t.ended) return
      t.end(false)
      // why: the client went away (its close destroyed this request): not the worker's doing
      if (client.destroyed) return
      // an upgrade request has no body: it can always be sent again
      const decision = tries.failed(t, err.code ?? 'UNKNOWN', { reached: connected, responded: false, replayable: true })
      if (decision.action === 'retry') attempt()
      else if (decision.action === 'cut') client.destroy()
      else fail(decision.code)
    })
    // the worker refused the upgrade: pass its answer on, then close
    upstream.on('response', (wres) => {
      t.end(true)
      client.write(headText(wres.statusCode ?? 502, wres.statusMessage ?? '', { ...responseHeaders(wres.headers as Record<string, string | string[]>), connection: 'close' }) + '\r\n')
      wres.pipe(client)
    })
    upstream.on('upgrade', (wres, wsocket: Socket, whead: Buffer) => {
      ctx.stats.websockets++
      const h = responseHeaders(wres.headers as Record<string, string | string[]>)
      h.connection = 'Upgrade'
      if (wres.headers.upgrade !== undefined) h.upgrade = wres.headers.upgrade
      client.write(headText(101, wres.statusMessage ?? 'Switching Protocols', h) + '\r\n')
      if (whead.length > 0) client.write(whead)
      if (head.length > 0) wsocket.write(head)
      wsocket.setTimeout(0)
      wsocket.setNoDelay(true)
      client.setNoDelay(true)
      ctx.tunnels.add(client)
      const close = (): void => {
        ctx.tunnels.delete(client)
        t.end(true)
        wsocket.destroy()
        client.destroy()
      }
      wsocket.on('error', close)
      client.on('error', close)
      wsocket.on('close', close)
      client.on('close', close)
      wsocket.pipe(client)
      client.pipe(wsocket)
    })
    client.once('close', () => { if (!t.ended) upstream.destroy() })
    upstream.end()
  }
  attempt()
}
