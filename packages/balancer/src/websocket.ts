/**
 * WebSocket (and only WebSocket) upgrades, routed like any request: the upgrade request's
 * cookie or path parameter picks the worker. A connect failure moves to another worker; once the
 * worker answered, nothing is retried. After 101 the two sockets are spliced together.
 */
import http, { type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import { sessionRoutes } from '@nodecat/protocol'
import type { ProxyContext } from './proxy.js'
import { screen } from './proxy.js'
import { requestHeaders, responseHeaders } from './headers.js'
import type { ClientErrorCode } from './errors.js'
import { sendRawError } from './respond.js'
import type { Worker } from './worker.js'

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
  let exclude: Set<Worker> | null = null
  let attempts = 0

  const fail = (code: ClientErrorCode): void => {
    ctx.stats.count(code)
    sendRawError(client, code)
  }

  const attempt = (): void => {
    if (client.destroyed) return
    if (attempts >= o.maxAttempts) { fail('LB_ERR_NO_WORKER'); return }
    const choice = ctx.chooser.choose(routes, exclude)
    if (choice.error !== undefined) { fail(choice.error); return }
    attempts++
    const worker = choice.worker
    worker.inFlight++
    worker.requests++
    if (choice.sticky) worker.sessionsRouted++
    const startedAt = Date.now()
    let connected = false
    let finished = false
    const finish = (ok: boolean): void => {
      if (finished) return
      finished = true
      worker.inFlight--
      if (choice.probe) worker.health.releaseProbe()
      if (ok) worker.health.succeed(startedAt)
    }
    const url = new URL(worker.url)
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
      if (finished) return
      finish(false)
      const code = err.code ?? 'UNKNOWN'
      worker.recordError(code)
      worker.health.fail(code, true)
      if (!connected) {
        (exclude ??= new Set()).add(worker)
        ctx.stats.retries++
        attempt()
        return
      }
      fail(code === 'UND_ERR_HEADERS_TIMEOUT' ? 'LB_ERR_HEADERS_TIMEOUT' : 'LB_ERR_WORKER_FAILED')
    })
    // the worker refused the upgrade: pass its answer on, then close
    upstream.on('response', (wres) => {
      finish(true)
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
        finish(true)
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
    client.once('close', () => { if (!finished) upstream.destroy() })
    upstream.end()
  }
  attempt()
}
