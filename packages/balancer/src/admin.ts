/**
 * The admin listener: GET / (status page), GET /status (JSON), GET /metrics (Prometheus), and
 * POST /workers/<route>/activation (body "active|disabled|stopped" or {"activation": ...}).
 * Activation changes need `Authorization: Bearer <token>` when requireToken is set (the default
 * when a token is set or the listener is not on 127.0.0.1, ::1 or localhost); the token is
 * compared in constant time. Every request must name this listener in its Host, and every
 * activation change must be one a web page cannot forge (see admin-guard.ts), token or not.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import { BalancerError } from './errors.js'
import { ADMIN_HEADER, ADMIN_REFUSALS, checkHost, checkStateChange, ownHostNames, type AdminRefusal } from './admin-guard.js'
import { ACTIVATIONS, type Activation } from './options.js'
import { renderMetrics } from './metrics.js'
import { renderStatusPage } from './status-page.js'
import type { AdminView } from './status.js'

export interface AdminHandlerOptions {
  requireToken: boolean
  token?: string | undefined
  /** seconds between refreshes of the status page */
  refresh?: number
  logger?: Logger | undefined
  /** the address the listener is on: its Host names follow from it (default 127.0.0.1) */
  host?: string
  /** more Host names it answers to (names only, any port) */
  allowedHosts?: readonly string[]
}

const MAX_BODY = 1024

function digest (text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/** constant-time check of "Bearer <token>" (hashing first makes the lengths equal) */
export function tokenMatches (header: string | undefined, token: string | undefined): boolean {
  if (token === undefined || header === undefined) return false
  const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(header)
  const given = m?.[1] ?? ''
  return timingSafeEqual(digest(given), digest(token)) && given.length > 0
}

function send (res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...extra })
  res.end(body)
}

function json (res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value, null, 2) + '\n')
}

async function readBody (req: IncomingMessage): Promise<string | null> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY) return null
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function parseActivation (body: string): Activation | null {
  let text = body.trim()
  if (text.startsWith('{') || text.startsWith('"')) {
    try {
      const v: unknown = JSON.parse(text)
      text = typeof v === 'string' ? v : typeof v === 'object' && v !== null ? String((v as { activation?: unknown }).activation) : ''
    } catch { return null }
  }
  return (ACTIVATIONS as readonly string[]).includes(text) ? text as Activation : null
}

/** The admin request handler, separate from any server so tests can drive it directly. */
export function createAdminHandler (view: AdminView, options: AdminHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const refresh = options.refresh ?? 5
  const names = ownHostNames(options.host ?? '127.0.0.1', options.allowedHosts)
  const refuse = (req: IncomingMessage, res: ServerResponse, code: AdminRefusal): void => {
    view.refused?.(code)
    options.logger?.warn({ remote: req.socket.remoteAddress, code, host: req.headers.host ?? null, origin: req.headers.origin ?? null }, 'admin: request refused')
    const message = code === 'LB_ERR_ADMIN_BAD_HOST'
      ? 'the Host header does not name this admin listener (add the name with admin.allowedHosts / --admin-host)'
      : code === 'LB_ERR_ADMIN_MISSING_HOST'
        ? 'exactly one valid Host header is required'
        : code === 'LB_ERR_ADMIN_SIMPLE_REQUEST'
          ? `a change needs Content-Type: application/json or the ${ADMIN_HEADER} header`
          : 'a change from another origin is refused'
    // why close: a request refused before its body was read must not leave that body on the connection
    res.setHeader('connection', 'close')
    json(res, ADMIN_REFUSALS[code], { error: code, message })
  }
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const bad = checkHost(req, names)
    if (bad !== null) return refuse(req, res, bad)
    const url = new URL(req.url ?? '/', 'http://admin')
    const path = url.pathname
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '/') return send(res, 200, 'text/html; charset=utf-8', renderStatusPage(await view.status(), refresh))
      if (path === '/status') return json(res, 200, await view.status())
      if (path === '/metrics') return send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', renderMetrics(await view.status()))
    }
    const m = /^\/workers\/([^/]+)\/activation$/.exec(path)
    if (m !== null) {
      if (req.method !== 'POST' && req.method !== 'PUT') return send(res, 405, 'text/plain', 'use POST\n', { allow: 'POST, PUT' })
      const forged = checkStateChange(req)
      if (forged !== null) return refuse(req, res, forged)
      if (options.requireToken && !tokenMatches(req.headers.authorization, options.token)) {
        options.logger?.warn({ remote: req.socket.remoteAddress }, 'admin: activation change refused (no valid token)')
        return send(res, 401, 'text/plain', 'a valid admin token is required\n', { 'www-authenticate': 'Bearer realm="nodecat-balancer"', 'x-nodecat-error': 'LB_ERR_UNAUTHORIZED' })
      }
      const body = await readBody(req)
      const activation = body === null ? null : parseActivation(body)
      if (activation === null) return json(res, 400, { error: 'LB_ERR_BAD_ACTIVATION', message: 'body must be active, disabled or stopped (text, or JSON {"activation": ...})' })
      let route: string
      try { route = decodeURIComponent(m[1]!) } catch { return json(res, 400, { error: 'LB_ERR_BAD_REQUEST', message: 'bad route in path' }) }
      try {
        const worker = view.setActivation(route, activation)
        options.logger?.info({ route, activation }, 'admin: activation changed')
        return json(res, 200, worker)
      } catch (err) {
        if (err instanceof BalancerError) return json(res, err.statusCode, { error: err.code, message: err.message })
        throw err
      }
    }
    if (path === '/' || path === '/status' || path === '/metrics') return send(res, 405, 'text/plain', 'use GET\n', { allow: 'GET, HEAD' })
    send(res, 404, 'text/plain', 'not found\n')
  }
  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      options.logger?.error({ err }, 'admin: request failed')
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n')
      else res.destroy()
    })
  }
}

/** Start the admin listener; resolves with its server and address. */
export async function startAdmin (view: AdminView, options: AdminHandlerOptions & { host: string, port: number }): Promise<{ server: http.Server, address: AddressInfo }> {
  const server = http.createServer({ requestTimeout: 10_000, headersTimeout: 5000 }, createAdminHandler(view, options))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => { server.off('error', reject); resolve() })
  })
  return { server, address: server.address() as AddressInfo }
}
