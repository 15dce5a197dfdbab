/**
 * createBalancer(): the client listener (raw node:http), one undici pool per worker, sticky
 * choice and failover, health checks, optional tribes discovery and the admin listener.
 */
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import pino, { type Logger } from 'pino'
import { combinedAccessLog, jsonAccessLog } from './access-log.js'
import { startAdmin } from './admin.js'
import { Chooser } from './choose.js'
import { onClientError, onIdleTimeout } from './client-errors.js'
import { createDiscovery, type Discovery } from './discovery.js'
import { HealthChecker } from './health-check.js'
import { BalancerOptionError } from './errors.js'
import { ActivationOverrides, diffOptions, RELOADABLE, RELOADABLE_CLIENT, type ReloadResult } from './reload.js'
import { resolveBalancerOptions, resolveWorker, type Activation, type BalancerOptions, type ResolvedOptions, type WorkerConfig } from './options.js'
import { proxyRequest, screen, type ProxyContext } from './proxy.js'
import { lingering, sendRawError } from './respond.js'
import { BalancerStats } from './stats.js'
import type { AdminView, BalancerStatus } from './status.js'
import { createRedirectServer, loadTls, TLS_MAX_VERSION, TLS_MIN_VERSION, type LoadedTls, type TlsFiles } from './tls.js'
import { proxyUpgrade } from './websocket.js'
import type { WorkerStatus } from './worker.js'
import { WorkerRegistry, type StateListener } from './worker-registry.js'

/**
 * How one process of `nodecat-balancer --workers n` uses its balancer (process-group.ts):
 * `owner` (the primary) holds the one truth of worker states: it runs the health checks, the
 * discovery and the admin listener but no client listener; `follower` (a serving process) takes
 * its states from the owner: no health checks, no discovery, no admin. Default: `single`, both.
 */
export interface BalancerRole {
  role?: 'single' | 'owner' | 'follower'
  /** owner: what the admin listener shows, given the owner's own view (sums over processes) */
  adminView?: (local: AdminView) => AdminView
  /** follower: where a gone route's sessions are served (the owner's discovery computes it) */
  adopterOf?: (route: string) => string | undefined
}

export interface ReloadScope {
  /** leave the worker table alone (a follower's comes from the owner); default false */
  keepWorkers?: boolean
}

export interface Balancer {
  /** listen (client and admin); resolves with the bound addresses */
  start (): Promise<{ address: AddressInfo, admin: AddressInfo | null }>
  /** stop listening, wait up to graceMs for requests in flight, then close every pool */
  stop (graceMs?: number): Promise<void>
  /** every worker's status */
  workers (): WorkerStatus[]
  /** the whole status (what GET /status shows) */
  status (): BalancerStatus
  /** change a worker's activation at run time; throws LB_ERR_UNKNOWN_WORKER */
  setActivation (route: string, activation: Activation): WorkerStatus
  /** add a static worker at run time; throws LB_ERR_INVALID_OPTION / LB_ERR_DUPLICATE_ROUTE */
  addWorker (worker: WorkerConfig | string): WorkerStatus
  removeWorker (route: string): boolean
  /** run one health check on a worker now (or all); resolves with the results by route */
  checkHealth (route?: string): Promise<Record<string, boolean>>
  /** called on every worker state change (after it is logged) */
  onStateChange (listener: StateListener): void
  /**
   * Read the TLS certificate and key again (the configured files, or `files`) and serve them to
   * new connections; open ones keep theirs. Throws LB_ERR_INVALID_OPTION (the old certificate
   * keeps serving) on a file that cannot be read or parsed, or a key not matching the certificate.
   */
  reloadTls (files?: TlsFiles): LoadedTls['summary']
  /**
   * Take a new configuration without a restart (SIGHUP): validated whole first, refused whole
   * (throws LB_ERR_INVALID_OPTION, the running configuration keeps serving) when anything is
   * wrong; see reload.ts for what is applied and how admin activation changes survive.
   */
  reload (options: BalancerOptions, scope?: ReloadScope): ReloadResult
  /** @internal the worker table (process-group.ts mirrors it between processes) */
  readonly registry: WorkerRegistry
  /** @internal the discovery, when a channel was given */
  readonly discovery: Discovery | null
  readonly address: AddressInfo | null
  readonly adminAddress: AddressInfo | null
  /** the plain-HTTP redirect listener's address (httpRedirect), or null */
  readonly redirectAddress: AddressInfo | null
  readonly options: ResolvedOptions
}

/**
 * Close at accept a connection whose client IP has `max` open already (counted). The address is
 * the TCP peer's, also behind a trusted proxy (X-Forwarded-For is a request header, read long after
 * accept, and names the proxy's clients, not who holds the connection).
 */
function limitConnectionsPerIp (server: http.Server, limit: () => number, stats: BalancerStats): void {
  const open = new Map<string, number>()
  server.on('connection', (socket: Socket) => {
    const max = limit()
    if (max === 0 && open.size === 0) return
    const raw = socket.remoteAddress
    if (raw === undefined) return
    const ip = raw.startsWith('::ffff:') ? raw.slice(7) : raw
    const n = open.get(ip) ?? 0
    if (max > 0 && n >= max) {
      stats.connectionsRefusedPerIp++
      socket.destroy()
      return
    }
    open.set(ip, n + 1)
    socket.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1
      if (left <= 0) open.delete(ip)
      else open.set(ip, left)
    })
  })
}

export function createBalancer (options: BalancerOptions = {}, role: BalancerRole = {}): Balancer {
  const serving = role.role !== 'owner'
  const o = resolveBalancerOptions(options)
  const logger: Logger = o.logger ?? pino({ level: 'silent' })
  const registry = new WorkerRegistry(o, logger)
  for (const w of o.workers) registry.add(w, true)
  const stats = new BalancerStats()
  const health = o.healthCheck === false || role.role === 'follower' ? null : new HealthChecker(registry, o.healthCheck)
  const discovery: Discovery | null = o.channel === undefined ? null : createDiscovery(o.channel, registry, { connectionLimit: o.connectionLimit, logger, healthChecked: health !== null })
  const chooser = new Chooser(registry, o, (route) => discovery !== null ? discovery.adopterOf(route) : role.adopterOf?.(route))
  const accessLog = !o.accessLog ? null : o.accessLogFormat === 'combined' ? combinedAccessLog(o.accessLogStream ?? process.stdout) : jsonAccessLog(logger.child({ component: 'access' }))
  const ctx: ProxyContext = { options: o, chooser, stats, logger, accessLog, tunnels: new Set() }

  const c = o.client
  const httpOptions = {
    maxHeaderSize: c.maxHeaderSize,
    headersTimeout: c.headersTimeout,
    requestTimeout: c.requestTimeout,
    keepAliveTimeout: c.keepAliveTimeout,
    connectionsCheckingInterval: c.connectionsCheckingInterval
  }
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => proxyRequest(ctx, req, res)
  let tlsFiles = o.tls
  const tlsLoaded = tlsFiles === false ? null : loadTls(tlsFiles)
  // why one code path: https.Server is node's http server on TLS sockets (same events and limits)
  const tlsServer = tlsLoaded === null
    ? null
    : https.createServer({ ...httpOptions, key: tlsLoaded.key, cert: tlsLoaded.cert, minVersion: TLS_MIN_VERSION, maxVersion: TLS_MAX_VERSION, ALPNProtocols: ['http/1.1'], handshakeTimeout: c.headersTimeout }, onRequest)
  const server = tlsServer !== null ? tlsServer as unknown as http.Server : http.createServer(httpOptions, onRequest)
  const redirect = o.httpRedirect === false ? null : createRedirectServer(() => address?.port ?? 443, c)
  let redirectAddress: AddressInfo | null = null
  server.maxConnections = c.maxConnections
  // why always installed: a reload may turn the cap on; 0 costs one comparison per connection
  limitConnectionsPerIp(server, () => o.maxConnsPerIp, stats)
  // why: node would say "100 Continue" to every Expect; a request we refuse must hear only the refusal
  server.on('checkContinue', (req, res) => {
    if (screen(req, o) === null && !lingering.has(req.socket)) res.writeContinue()
    proxyRequest(ctx, req, res)
  })
  // why: node would answer any other expectation 417 by itself, without our code, log or count
  server.on('checkExpectation', onRequest)
  server.on('upgrade', (req, socket, head) => {
    if (lingering.has(socket)) { socket.destroy(); return }
    proxyUpgrade(ctx, req, socket, head)
  })
  // why: node closes CONNECT requests silently without a listener; say why instead (we are no forward proxy)
  server.on('connect', (_req, socket: Socket) => {
    stats.requests++
    stats.count('LB_ERR_METHOD_NOT_ALLOWED')
    socket.on('error', () => socket.destroy())
    sendRawError(socket, 'LB_ERR_METHOD_NOT_ALLOWED')
  })
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => onClientError(stats, err, socket))
  // why: node's own timeouts leave states uncovered (a request queued for a worker's pooled
  // connection, an answer the client does not read, keepAliveTimeout 0): no byte for this long ends any
  server.setTimeout(c.idleTimeout)
  server.on('timeout', (socket: Socket) => onIdleTimeout(stats, socket))

  let address: AddressInfo | null = null
  let admin: { server: http.Server, address: AddressInfo } | null = null
  let maintain: NodeJS.Timeout | null = null

  const status = (): BalancerStatus => {
    const now = Date.now()
    const workers = registry.list().map((w) => w.status(now))
    return {
      balancer: {
        listen: address === null ? null : `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
        uptimeSeconds: (now - stats.startedAt) / 1000,
        method: o.method,
        stickySession: o.stickySession,
        stickySessionForce: o.stickySessionForce,
        requests: stats.requests,
        inFlight: stats.inFlight,
        retries: stats.retries,
        hedges: { sent: stats.hedgesSent, wonByHedge: stats.hedgesWonByHedge, wonByOriginal: stats.hedgesWonByOriginal },
        websockets: stats.websockets,
        clientErrors: stats.clientErrors,
        connectionsRefused: { perIp: stats.connectionsRefusedPerIp },
        answered: { ...stats.answered },
        adminRefused: { ...stats.adminRefused },
        workers: {
          total: workers.length,
          ok: workers.filter((w) => w.state === 'OK').length,
          error: workers.filter((w) => w.state === 'ERROR').length,
          recovering: workers.filter((w) => w.state === 'RECOVERING').length
        }
      },
      workers
    }
  }

  const overrides = new ActivationOverrides()
  /** routes the configuration (not the API, not discovery) defined: a reload manages these */
  let fileRoutes = new Set(o.workers.map((w) => w.route))
  const setActivation = (route: string, activation: Activation): WorkerStatus => {
    const status = registry.setActivation(route, activation).status()
    overrides.record(route, o.workers.find((w) => w.route === route)?.activation)
    return status
  }

  const reload = (options: BalancerOptions, scope: ReloadScope = {}): ReloadResult => {
    const next = resolveBalancerOptions(options)
    const { applied, restartNeeded } = diffOptions(o, next)
    if (scope.keepWorkers === true) {
      next.workers = o.workers
      if (applied.includes('workers')) applied.splice(applied.indexOf('workers'), 1)
    }
    // everything that can fail is checked before anything changes
    const loaded = tlsServer !== null && next.tls !== false ? loadTls(next.tls) : null
    for (const [i, w] of (scope.keepWorkers === true ? [] : next.workers).entries()) {
      const existing = registry.get(w.route)
      if (existing !== undefined && !existing.isStatic) throw new BalancerOptionError(`workers[${i}].route: ${w.route} is a discovered worker; a static worker of that route is taken only at start`)
    }
    const result: ReloadResult = { applied, restartNeeded, workers: { added: [], removed: [], changed: [], activationKept: [] } }
    const nextRoutes = scope.keepWorkers === true ? fileRoutes : new Set(next.workers.map((w) => w.route))
    for (const route of scope.keepWorkers === true ? [] : fileRoutes) {
      if (nextRoutes.has(route)) continue
      overrides.forget(route)
      if (registry.remove(route)) result.workers.removed.push(route)
    }
    for (const w of scope.keepWorkers === true ? [] : next.workers) {
      const existing = registry.get(w.route)
      if (existing === undefined) {
        registry.add(w, true)
        overrides.forget(w.route)
        result.workers.added.push(w.route)
        continue
      }
      let changed = false
      // why first: a worker that turns ajp:// must have its AJP settings when its new pool is made
      if (existing.secret !== w.secret || existing.packetSize !== (w.packetSize ?? existing.packetSize)) { existing.setAjpSettings(w.secret, w.packetSize); changed = true }
      if (existing.url !== w.url) { existing.setUrl(w.url); changed = true }
      if (existing.lbfactor !== w.lbfactor) { existing.setLbfactor(w.lbfactor); changed = true }
      if (existing.redirect !== w.redirect) { existing.redirect = w.redirect; changed = true }
      if (existing.domain !== w.domain) { existing.domain = w.domain; changed = true }
      if (existing.connectionLimit !== w.connectionLimit) { existing.setConnectionLimit(w.connectionLimit); changed = true }
      const { activation, kept } = overrides.resolve(w.route, w.activation, existing.activation)
      if (kept) result.workers.activationKept.push(w.route)
      if (existing.activation !== activation) { registry.setActivation(w.route, activation); changed = true }
      if (changed) result.workers.changed.push(w.route)
    }
    fileRoutes = nextRoutes
    const target = o as unknown as Record<string, unknown>
    for (const k of RELOADABLE) if (k !== 'tls' || !restartNeeded.includes('tls')) target[k] = next[k]
    for (const k of RELOADABLE_CLIENT) o.client[k] = next.client[k]
    server.headersTimeout = o.client.headersTimeout
    server.requestTimeout = o.client.requestTimeout
    server.keepAliveTimeout = o.client.keepAliveTimeout
    server.maxConnections = o.client.maxConnections
    server.setTimeout(o.client.idleTimeout)
    if (loaded !== null && next.tls !== false) {
      tlsServer!.setSecureContext({ key: loaded.key, cert: loaded.cert, minVersion: TLS_MIN_VERSION, maxVersion: TLS_MAX_VERSION })
      tlsFiles = next.tls
      logger.info({ cert: next.tls.cert, ...loaded.summary }, 'tls certificate loaded')
    }
    logger.info(result, 'config reloaded')
    if (restartNeeded.length > 0) logger.warn({ restartNeeded }, 'config reloaded: these options need a restart and keep their running values')
    return result
  }

  const balancer: Balancer = {
    options: o,
    get address () { return address },
    get adminAddress () { return admin?.address ?? null },
    get redirectAddress () { return redirectAddress },
    reloadTls (files) {
      if (tlsServer === null || tlsFiles === false) throw new BalancerOptionError('tls: the client listener was started without TLS (a restart is needed to add it)')
      const next = files ?? tlsFiles
      const loaded = loadTls(next)
      tlsServer.setSecureContext({ key: loaded.key, cert: loaded.cert, minVersion: TLS_MIN_VERSION, maxVersion: TLS_MAX_VERSION })
      tlsFiles = next
      logger.info({ cert: next.cert, ...loaded.summary }, 'tls certificate loaded')
      return loaded.summary
    },
    workers: () => registry.list().map((w) => w.status()),
    status,
    setActivation,
    reload,
    registry,
    discovery,
    addWorker (worker) {
      return registry.add(resolveWorker(worker, 'worker', o.connectionLimit), true).status()
    },
    removeWorker: (route) => registry.remove(route),
    async checkHealth (route) {
      const out: Record<string, boolean> = {}
      if (health === null) return out
      const list = registry.list().filter((w) => route === undefined || w.route === route)
      await Promise.all(list.map(async (w) => { out[w.route] = await health.check(w) }))
      return out
    },
    onStateChange: (listener) => registry.onStateChange(listener),

    async start () {
      if (serving) {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen(o.port, o.host, () => { server.off('error', reject); resolve() })
        })
        address = server.address() as AddressInfo
      }
      if (tlsLoaded !== null && tlsFiles !== false) logger.info({ cert: tlsFiles.cert, ...tlsLoaded.summary }, 'tls certificate loaded')
      if (serving && redirect !== null && o.httpRedirect !== false) {
        const r = o.httpRedirect
        try {
          await new Promise<void>((resolve, reject) => {
            redirect.once('error', reject)
            redirect.listen(r.port, r.host, () => { redirect.off('error', reject); resolve() })
          })
        } catch (err) {
          server.close()
          throw err
        }
        redirectAddress = redirect.address() as AddressInfo
      }
      if (o.admin !== false) {
        try {
          const local: AdminView = { status, setActivation, refused: (code) => stats.countAdminRefusal(code) }
          admin = await startAdmin(role.adminView !== undefined ? role.adminView(local) : local, { ...o.admin, logger })
        } catch (err) {
          server.close()
          redirect?.close()
          throw err
        }
      }
      discovery?.start()
      health?.start()
      maintain = setInterval(() => registry.decay(), o.maintainInterval)
      maintain.unref()
      logger.info({ listen: status().balancer.listen, tls: tlsServer !== null, redirect: redirectAddress === null ? null : `${redirectAddress.address}:${redirectAddress.port}`, admin: admin === null ? null : `${admin.address.address}:${admin.address.port}`, workers: registry.size, discovery: discovery !== null }, serving ? 'balancer started' : 'state owner started')
      // why the cast: only the owner (process-group.ts) starts without a client listener, and it reads admin only
      return { address: address as AddressInfo, admin: admin?.address ?? null }
    },

    async stop (graceMs = 5000) {
      health?.stop()
      discovery?.stop()
      if (maintain !== null) clearInterval(maintain)
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      if (redirect !== null) { redirect.close(); redirect.closeAllConnections() }
      server.closeIdleConnections()
      const timer = setTimeout(() => {
        server.closeAllConnections()
        for (const s of ctx.tunnels) s.destroy()
      }, graceMs)
      await closed
      clearTimeout(timer)
      if (admin !== null) {
        const a = admin.server
        await new Promise<void>((resolve) => { a.close(() => resolve()); a.closeAllConnections() })
        admin = null
      }
      await Promise.all(registry.list().map(async (w) => { await w.destroy() }))
      logger.info('balancer stopped')
    }
  }
  return balancer
}
