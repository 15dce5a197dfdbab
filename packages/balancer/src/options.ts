/**
 * The balancer's one table of defaults and the single place options are validated (at start-up,
 * with messages that name the option).
 */
import { isIP } from 'node:net'
import { AJP_DEFAULT_PACKET_SIZE, AJP_MAX_PACKET_SIZE, AJP_MIN_PACKET_SIZE, DEFAULT_SESSION_COOKIE, DEFAULT_SESSION_PATH_PARAM, HOST_NAME_PATTERN, WORKER_ROUTE_PATTERN, WORKER_ROUTE_RULE } from '@nodecat/protocol'
import { validators } from '@nodecat/tribes'
import type { Channel } from '@nodecat/tribes'
import type { Logger } from 'pino'
import { BalancerOptionError } from './errors.js'
import { parseWorkerSpec } from './worker-spec.js'
import { ACTIVATIONS, type Activation, type WorkerConfig } from './worker-config.js'
import { ACCESS_LOG_FORMATS, type AccessLogFormat } from './access-log.js'
import type { TlsFiles } from './tls.js'

export { ACTIVATIONS, type Activation, type WorkerConfig }

export type LbMethod = 'requests' | 'busyness'

export interface HealthCheckOptions {
  /** GET this path on each worker; 2xx/3xx is healthy */
  path: string
  /** ms between checks; 0 turns active checks off */
  interval: number
  /** ms a check may take */
  timeout: number
  /** consecutive good checks that bring an ERROR/RECOVERING worker back to OK */
  rise: number
  /** consecutive failed checks that put an OK worker into ERROR */
  fall: number
}

/** Limits against hostile or broken clients (node:http server settings plus our own URL cap). */
export interface ClientLimits {
  maxHeaderSize: number
  maxUrlLength: number
  headersTimeout: number
  requestTimeout: number
  keepAliveTimeout: number
  maxConnections: number
  /** how often node checks headersTimeout/requestTimeout */
  connectionsCheckingInterval: number
  /**
   * ms a connection may go without a byte read or written, whatever it is doing: waiting for a
   * worker (queued for a pooled connection), a client that reads nothing of its answer, an idle
   * kept-alive connection when keepAliveTimeout is 0. Answered where an answer can still be given
   * (504 LB_ERR_WORKER_TIMEOUT, or 408 while the body arrives), then closed. More than
   * headersTimeout and bodyTimeout, so a slow worker gets its own 504 first.
   */
  idleTimeout: number
}

export interface AdminOptions {
  host: string
  port: number
  /** bearer token for activation changes */
  token?: string
  /** default: true when a token is set or host is not loopback (127.0.0.1, ::1, localhost exactly) */
  requireToken?: boolean
  /** seconds between refreshes of the HTML status page */
  refresh: number
  /**
   * Host names the listener answers to besides its own address (and localhost on loopback): the
   * names people and tools use to reach it, e.g. a DNS name or an ssh tunnel's. Names only, any port.
   */
  allowedHosts: string[]
}

export interface BalancerOptions {
  host?: string
  port?: number
  workers?: Array<WorkerConfig | string>
  /** path prefixes that go to the cluster; others get 404 */
  mounts?: string[]
  sessionCookie?: string
  sessionPathParam?: string
  stickySession?: boolean
  stickySessionForce?: boolean
  method?: LbMethod
  /** different worker tries per request (a try a worker refused unprocessed, by a refused connection or a draining 503, is not counted) */
  maxAttempts?: number
  /** request bodies up to this many bytes are buffered and can be replayed on another worker */
  replayBufferSize?: number
  /** largest request body in bytes; a larger one gets 413 LB_ERR_PAYLOAD_TOO_LARGE and the connection closes (0: no limit, the default) */
  maxBody?: number
  /** client connections at once from one IP address (the TCP peer); more are closed at accept and counted (0: no limit, the default) */
  maxConnsPerIp?: number
  connectTimeout?: number
  /** ms from sending the request to the response headers */
  headersTimeout?: number
  /** ms a response body may stay idle */
  bodyTimeout?: number
  /**
   * least ms an idempotent request (body fully buffered or none) may wait in silence for its
   * worker's response head before it is sent once more to the next worker, first answer winning
   * (hedge.ts); the bound is learned from the worker's recent head times; 0 turns hedging off
   */
  hedgeFloor?: number
  /** the hedge bound is this many times the worker's estimated slow head time (at least hedgeFloor, at most headersTimeout / 4) */
  hedgeFactor?: number
  /** ms a worker stays ERROR before one live request may probe it */
  recoverTime?: number
  /** consecutive failures after a request reached a worker that put it into ERROR */
  failuresToError?: number
  /** ms between halvings of the request counters used for balancing */
  maintainInterval?: number
  /** pooled idle connections to a worker close after this (keep it below the worker's own) */
  poolKeepAliveTimeout?: number
  /** default in-flight limit per worker */
  connectionLimit?: number
  healthCheck?: Partial<HealthCheckOptions> | false
  client?: Partial<ClientLimits>
  /** keep X-Forwarded-For/Forwarded from the client and append to them (only behind another proxy) */
  trustForwarded?: boolean
  /** TLS on the client listener: PEM file paths, read at start and on reloadTls() (SIGHUP) */
  tls?: TlsFiles | false
  /** a plain-HTTP listener answering every request 308 to https://<host>:<port of the TLS listener><path>; needs tls */
  httpRedirect?: { host?: string, port: number } | false
  admin?: Partial<AdminOptions> | false
  accessLog?: boolean
  /** 'json' (default: pino lines on the logger, component access) or 'combined' (Apache/nginx combined + route + upstream seconds, to accessLogStream) */
  accessLogFormat?: AccessLogFormat
  /** where combined lines go (default: process.stdout); each line is one write() */
  accessLogStream?: { write: (text: string) => unknown }
  logger?: Logger
  /** a started or unstarted tribes channel: nodes with an HTTP address become workers */
  channel?: Channel
}

export interface ResolvedOptions {
  host: string
  port: number
  /** secret and packetSize are set on ajp:// workers only */
  workers: Array<Required<Omit<WorkerConfig, 'redirect' | 'domain' | 'secret' | 'packetSize'>> & Pick<WorkerConfig, 'redirect' | 'domain' | 'secret' | 'packetSize'>>
  mounts: string[]
  sessionCookie: string
  sessionPathParam: string
  stickySession: boolean
  stickySessionForce: boolean
  method: LbMethod
  maxAttempts: number
  replayBufferSize: number
  maxBody: number
  maxConnsPerIp: number
  connectTimeout: number
  headersTimeout: number
  bodyTimeout: number
  hedgeFloor: number
  hedgeFactor: number
  recoverTime: number
  failuresToError: number
  maintainInterval: number
  poolKeepAliveTimeout: number
  connectionLimit: number
  healthCheck: HealthCheckOptions | false
  client: ClientLimits
  trustForwarded: boolean
  tls: TlsFiles | false
  httpRedirect: { host: string, port: number } | false
  admin: (AdminOptions & { requireToken: boolean }) | false
  accessLog: boolean
  accessLogFormat: AccessLogFormat
  accessLogStream: { write: (text: string) => unknown } | undefined
  logger: Logger | undefined
  channel: Channel | undefined
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  mounts: ['/'],
  sessionCookie: DEFAULT_SESSION_COOKIE,
  sessionPathParam: DEFAULT_SESSION_PATH_PARAM,
  stickySession: true,
  stickySessionForce: false,
  method: 'requests' as LbMethod,
  maxAttempts: 3,
  replayBufferSize: 64 * 1024,
  maxBody: 0,
  maxConnsPerIp: 0,
  connectTimeout: 3000,
  headersTimeout: 30_000,
  bodyTimeout: 30_000,
  hedgeFloor: 300,
  hedgeFactor: 2,
  recoverTime: 10_000,
  failuresToError: 2,
  maintainInterval: 60_000,
  // why: Node's http.Server closes idle sockets after 5 s; ours must close first or reuse hits ECONNRESET
  poolKeepAliveTimeout: 4000,
  connectionLimit: 128,
  lbfactor: 1,
  activation: 'active' as Activation,
  /** an ajp:// worker's port when the URL names none (Tomcat's AJP connector, mod_jk's default) */
  ajpPort: 8009,
  /** an ajp:// worker's packet size (mod_jk max_packet_size, Tomcat packetSize) */
  ajpPacketSize: AJP_DEFAULT_PACKET_SIZE,
  healthCheck: { path: '/_nodecat/ready', interval: 2000, timeout: 1000, rise: 2, fall: 2 },
  client: {
    maxHeaderSize: 16 * 1024,
    maxUrlLength: 8 * 1024,
    headersTimeout: 10_000,
    requestTimeout: 120_000,
    keepAliveTimeout: 5000,
    maxConnections: 10_000,
    connectionsCheckingInterval: 1000,
    /** at least this; raised above headersTimeout and bodyTimeout when those are set higher */
    idleTimeout: 60_000
  },
  trustForwarded: false,
  admin: { host: '127.0.0.1', port: 8090, refresh: 5, allowedHosts: [] as string[] },
  accessLog: false,
  accessLogFormat: 'json' as AccessLogFormat
} as const

const v = validators((message) => new BalancerOptionError(message))

const TOKEN_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/

/** Only these names count as loopback for the admin token rule; 127.0.0.2 and friends do not. */
export function isLoopbackHost (host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost'
}

function host (value: unknown, name: string): string {
  const h = v.string(value, name)
  if (h !== 'localhost' && isIP(h) === 0 && !/^[A-Za-z0-9.-]{1,253}$/.test(h)) v.fail(name, 'an IP address or host name', value)
  return h
}

/** Host names (no port, no wildcard): what a browser puts in Host when it reaches the listener by that name. */
function allowedHosts (value: unknown, name: string): string[] {
  const list = v.stringList(value, name)
  return list.map((h, i) => {
    const bare = h.replace(/^\[(.*)\]$/, '$1')
    if (isIP(bare) !== 0) return bare.toLowerCase()
    if (!HOST_NAME_PATTERN.test(h)) v.fail(`${name}[${i}]`, 'a host name or IP address without a port (the port is never compared)', h)
    return h.toLowerCase().replace(/\.$/, '')
  })
}

function known (obj: Record<string, unknown>, name: string, keys: readonly string[]): void {
  for (const k of Object.keys(obj)) if (!keys.includes(k)) v.fail(`${name}${name ? '.' : ''}${k}`, `one of the known options (${keys.join(', ')})`, 'unknown option')
}

/** Validate one worker definition (object or "route=url,lbfactor=2" text). */
export function resolveWorker (raw: WorkerConfig | string, name: string, connectionLimit: number): ResolvedOptions['workers'][number] {
  const w = typeof raw === 'string' ? parseWorkerSpec(raw, name) : raw
  if (w === null || typeof w !== 'object') v.fail(name, 'a worker object or "route=http://host:port" text', raw)
  known(w as unknown as Record<string, unknown>, name, ['route', 'url', 'lbfactor', 'activation', 'redirect', 'domain', 'connectionLimit', 'secret', 'packetSize'])
  const route = v.string(w.route, `${name}.route`, WORKER_ROUTE_PATTERN, `a route of ${WORKER_ROUTE_RULE}`)
  const url = v.string(w.url, `${name}.url`)
  let parsed: URL
  try { parsed = new URL(url) } catch { return v.fail(`${name}.url`, 'an http:// or ajp:// URL', url) }
  const ajp = parsed.protocol === 'ajp:'
  if ((parsed.protocol !== 'http:' && !ajp) || (parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search !== '' || parsed.hash !== '' || parsed.username !== '' || parsed.password !== '' || parsed.hostname === '') v.fail(`${name}.url`, 'an http://host:port or ajp://host:port URL without path, query or credentials', url)
  // why not an option of http workers: nothing would use it, and a typo should not pass silently
  if (!ajp && w.secret !== undefined) v.fail(`${name}.secret`, 'set only on an ajp:// worker', '[hidden]')
  if (!ajp && w.packetSize !== undefined) v.fail(`${name}.packetSize`, 'set only on an ajp:// worker', w.packetSize)
  // why never echoed: the AJP secret guards the connector (CVE-2020-1938)
  if (w.secret !== undefined && (typeof w.secret !== 'string' || (w.secret.length < 1 || w.secret.length > 1024 || [...w.secret].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)))) v.fail(`${name}.secret`, 'a secret of 1-1024 characters without control characters', '[hidden]')
  const domain = w.domain !== undefined ? v.string(w.domain, `${name}.domain`, WORKER_ROUTE_PATTERN, `a domain of ${WORKER_ROUTE_RULE}`) : route.includes('.') ? route.slice(0, route.indexOf('.')) : undefined
  return {
    route,
    // why not origin: a URL of a scheme node does not know (ajp:) has the origin "null"
    url: ajp ? `ajp://${parsed.hostname}:${parsed.port === '' ? DEFAULTS.ajpPort : parsed.port}` : parsed.origin,
    lbfactor: v.integer(w.lbfactor ?? DEFAULTS.lbfactor, `${name}.lbfactor`, 1, 100),
    activation: v.oneOf(w.activation ?? DEFAULTS.activation, `${name}.activation`, ACTIVATIONS),
    redirect: w.redirect !== undefined ? v.string(w.redirect, `${name}.redirect`, WORKER_ROUTE_PATTERN, 'a route') : undefined,
    domain,
    connectionLimit: v.integer(w.connectionLimit ?? connectionLimit, `${name}.connectionLimit`, 0, 100_000),
    ...(ajp ? { secret: w.secret, packetSize: v.integer(w.packetSize ?? DEFAULTS.ajpPacketSize, `${name}.packetSize`, AJP_MIN_PACKET_SIZE, AJP_MAX_PACKET_SIZE) } : {})
  }
}

function mount (value: unknown, name: string): string {
  return v.string(value, name, /^\/[^\s?#;]*$/, 'a path prefix starting with "/"')
}

/** Validate everything once; throws BalancerOptionError naming the bad option. */
export function resolveBalancerOptions (options: BalancerOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object') v.fail('options', 'an object', options)
  known(options as Record<string, unknown>, '', ['host', 'port', 'workers', 'mounts', 'sessionCookie', 'sessionPathParam', 'stickySession', 'stickySessionForce', 'method', 'maxAttempts', 'replayBufferSize', 'maxBody', 'maxConnsPerIp', 'connectTimeout', 'headersTimeout', 'bodyTimeout', 'hedgeFloor', 'hedgeFactor', 'recoverTime', 'failuresToError', 'maintainInterval', 'poolKeepAliveTimeout', 'connectionLimit', 'healthCheck', 'client', 'trustForwarded', 'tls', 'httpRedirect', 'admin', 'accessLog', 'accessLogFormat', 'accessLogStream', 'logger', 'channel'])
  const o = options
  const connectionLimit = v.integer(o.connectionLimit ?? DEFAULTS.connectionLimit, 'connectionLimit', 0, 100_000)
  const rawWorkers = o.workers ?? []
  if (!Array.isArray(rawWorkers)) v.fail('workers', 'a list of workers', rawWorkers)
  const workers = rawWorkers.map((w, i) => resolveWorker(w, `workers[${i}]`, connectionLimit))
  const seen = new Set<string>()
  for (const [i, w] of workers.entries()) {
    if (seen.has(w.route)) v.fail(`workers[${i}].route`, 'unique (two workers have this route)', w.route)
    seen.add(w.route)
  }
  const mounts = o.mounts === undefined ? [...DEFAULTS.mounts] : v.stringList(o.mounts, 'mounts').map((m, i) => mount(m, `mounts[${i}]`))
  if (mounts.length === 0) v.fail('mounts', 'at least one path prefix', o.mounts)

  let healthCheck: HealthCheckOptions | false = false
  if (o.healthCheck !== false) {
    const h = o.healthCheck ?? {}
    if (typeof h !== 'object' || h === null) v.fail('healthCheck', 'an object or false', h)
    known(h as Record<string, unknown>, 'healthCheck', ['path', 'interval', 'timeout', 'rise', 'fall'])
    const d = DEFAULTS.healthCheck
    healthCheck = {
      path: v.string(h.path ?? d.path, 'healthCheck.path', /^\/\S*$/, 'a path starting with "/"'),
      interval: v.integer(h.interval ?? d.interval, 'healthCheck.interval', 0, 3_600_000),
      timeout: v.integer(h.timeout ?? d.timeout, 'healthCheck.timeout', 1, 600_000),
      rise: v.integer(h.rise ?? d.rise, 'healthCheck.rise', 1, 100),
      fall: v.integer(h.fall ?? d.fall, 'healthCheck.fall', 1, 100)
    }
    if (healthCheck.interval === 0) healthCheck = false
  }

  const headersTimeout = v.integer(o.headersTimeout ?? DEFAULTS.headersTimeout, 'headersTimeout', 10, 3_600_000)
  const bodyTimeout = v.integer(o.bodyTimeout ?? DEFAULTS.bodyTimeout, 'bodyTimeout', 10, 3_600_000)
  const workerWait = Math.max(headersTimeout, bodyTimeout)

  const c = o.client ?? {}
  if (typeof c !== 'object' || c === null) v.fail('client', 'an object', c)
  known(c as Record<string, unknown>, 'client', Object.keys(DEFAULTS.client))
  const dc = DEFAULTS.client
  const client: ClientLimits = {
    maxHeaderSize: v.integer(c.maxHeaderSize ?? dc.maxHeaderSize, 'client.maxHeaderSize', 1024, 1024 * 1024),
    maxUrlLength: v.integer(c.maxUrlLength ?? dc.maxUrlLength, 'client.maxUrlLength', 16, 1024 * 1024),
    headersTimeout: v.integer(c.headersTimeout ?? dc.headersTimeout, 'client.headersTimeout', 100, 3_600_000),
    // why not 0 (node's "no limit"): a body that trickles in forever would hold its connection
    requestTimeout: v.integer(c.requestTimeout ?? dc.requestTimeout, 'client.requestTimeout', 100, 86_400_000),
    keepAliveTimeout: v.integer(c.keepAliveTimeout ?? dc.keepAliveTimeout, 'client.keepAliveTimeout', 0, 3_600_000),
    maxConnections: v.integer(c.maxConnections ?? dc.maxConnections, 'client.maxConnections', 1, 10_000_000),
    connectionsCheckingInterval: v.integer(c.connectionsCheckingInterval ?? dc.connectionsCheckingInterval, 'client.connectionsCheckingInterval', 10, 60_000),
    idleTimeout: c.idleTimeout === undefined ? Math.max(dc.idleTimeout, workerWait + 1000) : v.integer(c.idleTimeout, 'client.idleTimeout', 100, 86_400_000)
  }
  if (client.idleTimeout <= workerWait) v.fail('client.idleTimeout', `more than headersTimeout and bodyTimeout (${workerWait}), so a slow worker is answered 504 by its own timeout first`, client.idleTimeout)
  // why: node rejects headersTimeout > requestTimeout when requestTimeout is set
  if (client.requestTimeout !== 0 && client.headersTimeout > client.requestTimeout) v.fail('client.headersTimeout', `at most client.requestTimeout (${client.requestTimeout})`, client.headersTimeout)

  let admin: ResolvedOptions['admin'] = false
  if (o.admin !== undefined && o.admin !== false) {
    const a = o.admin
    if (typeof a !== 'object' || a === null) v.fail('admin', 'an object or false', a)
    known(a as Record<string, unknown>, 'admin', ['host', 'port', 'token', 'requireToken', 'refresh', 'allowedHosts'])
    const ahost = host(a.host ?? DEFAULTS.admin.host, 'admin.host')
    // why: never echo a secret, not even a wrong one, in an error message
    if (a.token !== undefined && (typeof a.token !== 'string' || !/^[\x21-\x7e]{16,256}$/.test(a.token))) v.fail('admin.token', 'a token of 16-256 printable characters', '[hidden]')
    const token = a.token
    // why: a token the operator set is meant to be used, on loopback too (other local users)
    const requireToken = a.requireToken !== undefined ? v.boolean(a.requireToken, 'admin.requireToken') : token !== undefined || !isLoopbackHost(ahost)
    if (requireToken && token === undefined) v.fail('admin.token', `set when the admin listener is not on loopback (admin.host ${ahost}) or admin.requireToken is true`, undefined)
    admin = {
      host: ahost,
      port: v.integer(a.port ?? DEFAULTS.admin.port, 'admin.port', 0, 65535),
      token,
      requireToken,
      refresh: v.integer(a.refresh ?? DEFAULTS.admin.refresh, 'admin.refresh', 1, 3600),
      allowedHosts: allowedHosts(a.allowedHosts ?? DEFAULTS.admin.allowedHosts, 'admin.allowedHosts')
    }
  }

  let tls: TlsFiles | false = false
  if (o.tls !== undefined && o.tls !== false) {
    if (typeof o.tls !== 'object' || o.tls === null) v.fail('tls', 'an object { cert, key } of PEM file paths, or false', o.tls)
    known(o.tls as unknown as Record<string, unknown>, 'tls', ['cert', 'key'])
    tls = { cert: v.string(o.tls.cert, 'tls.cert', /^.+$/, 'a PEM certificate file path'), key: v.string(o.tls.key, 'tls.key', /^.+$/, 'a PEM private key file path') }
  }
  let httpRedirect: ResolvedOptions['httpRedirect'] = false
  if (o.httpRedirect !== undefined && o.httpRedirect !== false) {
    const r = o.httpRedirect
    if (typeof r !== 'object' || r === null) v.fail('httpRedirect', 'an object { host, port } or false', r)
    known(r as Record<string, unknown>, 'httpRedirect', ['host', 'port'])
    if (tls === false) v.fail('httpRedirect', 'set only with tls (it redirects to the TLS listener)', 'no tls')
    httpRedirect = { host: host(r.host ?? o.host ?? DEFAULTS.host, 'httpRedirect.host'), port: v.integer(r.port, 'httpRedirect.port', 0, 65535) }
  }

  const channel = o.channel
  if (channel !== undefined && (typeof channel !== 'object' || channel === null || typeof channel.members !== 'function' || typeof channel.on !== 'function')) v.fail('channel', 'a tribes Channel', '[not a channel]')
  const logger = o.logger
  const accessLogStream = o.accessLogStream
  if (accessLogStream !== undefined && (typeof accessLogStream !== 'object' || accessLogStream === null || typeof accessLogStream.write !== 'function')) v.fail('accessLogStream', 'a writable stream (an object with write())', '[not a stream]')
  if (logger !== undefined && (typeof logger !== 'object' || logger === null || typeof logger.info !== 'function')) v.fail('logger', 'a pino logger', '[not a logger]')

  return {
    host: host(o.host ?? DEFAULTS.host, 'host'),
    port: v.integer(o.port ?? DEFAULTS.port, 'port', 0, 65535),
    workers,
    mounts,
    sessionCookie: v.string(o.sessionCookie ?? DEFAULTS.sessionCookie, 'sessionCookie', TOKEN_PATTERN, 'a cookie name'),
    sessionPathParam: v.string(o.sessionPathParam ?? DEFAULTS.sessionPathParam, 'sessionPathParam', TOKEN_PATTERN, 'a path parameter name'),
    stickySession: v.boolean(o.stickySession ?? DEFAULTS.stickySession, 'stickySession'),
    stickySessionForce: v.boolean(o.stickySessionForce ?? DEFAULTS.stickySessionForce, 'stickySessionForce'),
    method: v.oneOf(o.method ?? DEFAULTS.method, 'method', ['requests', 'busyness'] as const),
    maxAttempts: v.integer(o.maxAttempts ?? DEFAULTS.maxAttempts, 'maxAttempts', 1, 20),
    replayBufferSize: v.integer(o.replayBufferSize ?? DEFAULTS.replayBufferSize, 'replayBufferSize', 0, 64 * 1024 * 1024),
    maxBody: v.integer(o.maxBody ?? DEFAULTS.maxBody, 'maxBody', 0, Number.MAX_SAFE_INTEGER),
    maxConnsPerIp: v.integer(o.maxConnsPerIp ?? DEFAULTS.maxConnsPerIp, 'maxConnsPerIp', 0, 10_000_000),
    connectTimeout: v.integer(o.connectTimeout ?? DEFAULTS.connectTimeout, 'connectTimeout', 10, 600_000),
    headersTimeout,
    bodyTimeout,
    hedgeFloor: v.integer(o.hedgeFloor ?? DEFAULTS.hedgeFloor, 'hedgeFloor', 0, 600_000),
    hedgeFactor: v.number(o.hedgeFactor ?? DEFAULTS.hedgeFactor, 'hedgeFactor', 1, 100),
    recoverTime: v.integer(o.recoverTime ?? DEFAULTS.recoverTime, 'recoverTime', 0, 86_400_000),
    failuresToError: v.integer(o.failuresToError ?? DEFAULTS.failuresToError, 'failuresToError', 1, 1000),
    maintainInterval: v.integer(o.maintainInterval ?? DEFAULTS.maintainInterval, 'maintainInterval', 100, 86_400_000),
    poolKeepAliveTimeout: v.integer(o.poolKeepAliveTimeout ?? DEFAULTS.poolKeepAliveTimeout, 'poolKeepAliveTimeout', 100, 3_600_000),
    connectionLimit,
    healthCheck,
    client,
    trustForwarded: v.boolean(o.trustForwarded ?? DEFAULTS.trustForwarded, 'trustForwarded'),
    tls,
    httpRedirect,
    admin,
    accessLog: v.boolean(o.accessLog ?? DEFAULTS.accessLog, 'accessLog'),
    accessLogFormat: v.oneOf(o.accessLogFormat ?? DEFAULTS.accessLogFormat, 'accessLogFormat', ACCESS_LOG_FORMATS),
    accessLogStream,
    logger,
    channel
  }
}
