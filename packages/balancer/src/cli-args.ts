/**
 * nodecat-balancer's command line: flags and/or a JSON config file become BalancerOptions plus
 * the discovery channel's options. Flags win over the file. Everything is validated later by
 * resolveBalancerOptions / createChannel, whose messages name the option.
 */
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { BalancerError } from './errors.js'
import type { BalancerOptions, WorkerConfig } from './options.js'
import { expandMemberList } from '@nodecat/tribes'
import { applyWorkersProperties, type WorkersPropertiesImport } from './workers-properties.js'

/** Bad usage: exit 2. */
export class UsageError extends BalancerError {
  constructor (message: string) {
    super('LB_ERR_USAGE', message, { statusCode: 500 })
    this.name = 'UsageError'
  }
}

export const USAGE = `Usage: nodecat-balancer [--config file.json] [flags]

  --listen HOST:PORT          client listener (default 127.0.0.1:8080)
  --workers N|auto            serving processes sharing the client listener (default 1; auto: one
                              per core). The primary runs the health checks, the discovery and the
                              admin listener (which sums the processes' counters) and tells every
                              process each worker state change; a process that dies is restarted.
                              Per-process limits: connection-limit, --max-conns-per-ip.
                              In the --config file: "processes": N or "auto"
  --worker ROUTE=URL[,lbfactor=N,activation=active|disabled|stopped,redirect=R,domain=D,connection-limit=N]
                              a static worker (repeat for more); URL http://host:port, or
                              ajp://host[:8009][,secret=S,packet-size=N] for a Tomcat AJP connector
  --mount /PREFIX             only these paths go to the cluster (repeat; default /)
  --method requests|busyness  how new sessions are spread (default requests)
  --sticky-force              503 instead of failover when a session's worker is unusable
  --no-sticky                 ignore session routes
  --session-cookie NAME       default JSESSIONID
  --recover-time MS           ERROR -> RECOVERING after this (default 10000)
  --health-path PATH          active check path (default /_nodecat/ready: 200 once the node serves with its sessions)
  --health-interval MS        0 turns active checks off (default 2000)
  --connect-timeout MS  --headers-timeout MS  --body-timeout MS
  --hedge-floor MS            a GET/HEAD/OPTIONS/PUT/DELETE (body buffered or none) whose worker
                              sends no response head at all for bound / requests in flight on it
                              (at least this) is sent once more to the session's next worker, first
                              answer wins; the bound is --hedge-factor x the worker's learned slow
                              head time, at least this, at most a quarter of --headers-timeout
                              (default 300; 0 turns hedging off). A slow request on a worker that
                              answers others is not hedged. A worker silent twice in a row (3 times
                              that, no answer between) goes ERROR at once
  --hedge-factor N            see --hedge-floor (default 2)
  --replay-buffer BYTES       bodies up to this size can be retried elsewhere (default 65536)
  --max-body BYTES            larger request bodies get 413 and the connection closes (default 0: no limit)
  --max-conns-per-ip N        connections at once from one client IP (the TCP peer, also behind a
                              trusted proxy); more are closed at accept (default 0: no limit)
  --tls-cert FILE             TLS on the client listener: PEM certificate chain (with --tls-key);
                              TLS 1.2 and 1.3, HTTP/1.1; both files are read again on SIGHUP
  --tls-key FILE              PEM private key
  --http-redirect HOST:PORT   plain HTTP listener answering 308 to https://<Host>:<--listen port><path>
  --admin HOST:PORT           admin listener (status page, /status, /metrics, activation)
  --admin-token TOKEN         bearer token for activation changes (or NODECAT_ADMIN_TOKEN)
  --admin-host NAME[,NAME]    more Host names the admin listener answers to (repeat; besides
                              its own address, and localhost on loopback)
  --access-log                one log line per request (pino JSON on stdout, component access)
  --access-log-format combined|json
                              combined: Apache/nginx combined format plus the worker route and the
                              upstream seconds (implies --access-log)
  --access-log-file PATH      append combined lines to this file instead of stdout (reopened on SIGHUP)
  --discover                  join the cluster and take its nodes as workers
  --static-members H:P,...    static membership instead of multicast (with --discover); H:4000-4003 lists a machine's workers
  --cluster-address IP        receiver address for the cluster channel
  --cluster-port PORT         receiver port (default 4000, autoBind)
  --multicast-bind IP         interface for multicast membership
  --domain NAME               cluster domain
  --key-file PATH             cluster key file
  --insecure                  allow plaintext cluster traffic off loopback
  --workers-properties FILE   mod_jk's workers.properties: the lb worker's members become workers
                              (ajp13: ajp://host:port) with their route, lbfactor, activation,
                              redirect and domain; sticky_session, sticky_session_force, method,
                              session_cookie, recover_time too. Below --config and the flags (a
                              --worker replaces the member of its route)
  --lb-worker NAME            which lb worker of the file (default: the only one)
  --jk-mount-file FILE        an httpd conf file whose JkMount lines give the mounts (/* is /)
  --prefer-http ajp+N|ajp-N|ROUTE=[HOST:]PORT,...
                              the members as HTTP workers: HTTP port = AJP port + or - N on the
                              member's host, or one per route (workers.properties knows AJP only)
  --print-config              print the options (and what --workers-properties took and ignored,
                              with why) as JSON and exit: 0 when they validate, 2 when not
  --log-level LEVEL           fatal|error|warn|info|debug|trace|silent (default info)
  --help

Signals: SIGTERM/SIGINT stop gracefully. SIGHUP reloads: the flags and --config file are read
again (workers, limits, activation, TLS files) without dropping a connection; a config that does
not validate is refused and logged, and the running one keeps serving.
`

export interface CliConfig {
  balancer: BalancerOptions
  /** options for createChannel, when discovery is on */
  discovery: Record<string, unknown> | null
  logLevel: string
  /** combined access lines go to this file (opened by the command, reopened on SIGHUP) */
  accessLogFile?: string
  /** serving processes (--workers, config "processes"); 1 = one process, as before */
  processes: number
  /** --print-config: print the options as JSON and exit */
  printConfig?: boolean
  /** what --workers-properties took and ignored */
  imported?: WorkersPropertiesImport
}

/** the most serving processes --workers takes */
export const MAX_PROCESSES = 256

/** "N" or "auto" (one per core) → a process count; names the flag on failure */
export function parseProcesses (value: unknown, name: string): number {
  if (value === 'auto') return availableParallelism()
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(n) || n < 1 || n > MAX_PROCESSES) throw new UsageError(`${name} must be a whole number 1-${MAX_PROCESSES} or "auto", got ${JSON.stringify(value)}`)
  return n
}

const FLAGS = {
  config: { type: 'string' },
  'workers-properties': { type: 'string' },
  'lb-worker': { type: 'string' },
  'jk-mount-file': { type: 'string' },
  'prefer-http': { type: 'string' },
  'print-config': { type: 'boolean' },
  listen: { type: 'string' },
  workers: { type: 'string' },
  worker: { type: 'string', multiple: true },
  mount: { type: 'string', multiple: true },
  method: { type: 'string' },
  'sticky-force': { type: 'boolean' },
  'no-sticky': { type: 'boolean' },
  'session-cookie': { type: 'string' },
  'recover-time': { type: 'string' },
  'health-path': { type: 'string' },
  'health-interval': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'body-timeout': { type: 'string' },
  'hedge-floor': { type: 'string' },
  'hedge-factor': { type: 'string' },
  'replay-buffer': { type: 'string' },
  'max-body': { type: 'string' },
  'max-conns-per-ip': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'http-redirect': { type: 'string' },
  admin: { type: 'string' },
  'admin-token': { type: 'string' },
  'admin-host': { type: 'string', multiple: true },
  'access-log': { type: 'boolean' },
  'access-log-format': { type: 'string' },
  'access-log-file': { type: 'string' },
  discover: { type: 'boolean' },
  'static-members': { type: 'string' },
  'cluster-address': { type: 'string' },
  'cluster-port': { type: 'string' },
  'multicast-bind': { type: 'string' },
  domain: { type: 'string' },
  'key-file': { type: 'string' },
  insecure: { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' }
} as const

/** "host:port" or "[v6]:port" → parts; names the flag on failure */
export function parseHostPort (text: string, flag: string): { host: string, port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(text)
  if (m === null || m[1] === '' || Number(m[2]) > 65535) throw new UsageError(`--${flag} must be HOST:PORT, got ${JSON.stringify(text)}`)
  return { host: m[1]!, port: Number(m[2]) }
}

function readConfig (file: string): { balancer: Record<string, unknown>, discovery: Record<string, unknown> | null, logLevel?: string, processes?: unknown } {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new UsageError(`--config ${JSON.stringify(file)}: ${(err as Error).message}`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`--config ${JSON.stringify(file)} must hold a JSON object`)
  const { discovery, logLevel, processes, ...balancer } = parsed as Record<string, unknown>
  if (discovery !== undefined && discovery !== false && (discovery === null || typeof discovery !== 'object')) throw new UsageError('config discovery must be an object (createChannel options) or false')
  if (logLevel !== undefined && typeof logLevel !== 'string') throw new UsageError('config logLevel must be a string')
  return { balancer, discovery: discovery === undefined || discovery === false ? null : discovery as Record<string, unknown>, ...(logLevel !== undefined ? { logLevel } : {}), ...(processes !== undefined ? { processes } : {}) }
}

/** argv (without node and script) → config; throws UsageError naming the flag. null = --help. */
export function parseCli (argv: string[], env: NodeJS.ProcessEnv = process.env): CliConfig | null {
  let values: Record<string, string | boolean | string[] | undefined>
  try {
    ({ values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }))
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!)
  }
  if (values.help === true) return null
  const str = (k: string): string | undefined => values[k] as string | undefined
  const file: ReturnType<typeof readConfig> = str('config') !== undefined ? readConfig(str('config')!) : { balancer: {}, discovery: null }
  const processes = str('workers') !== undefined ? parseProcesses(str('workers'), '--workers') : file.processes !== undefined ? parseProcesses(file.processes, 'config processes') : 1
  const b = file.balancer as BalancerOptions & Record<string, unknown>
  // why here: under the config file's keys, and under every flag applied below
  const imported = applyWorkersProperties(values, b)
  if (str('listen') !== undefined) Object.assign(b, parseHostPort(str('listen')!, 'listen'))
  if (values.worker !== undefined) b.workers = [...(b.workers ?? []), ...(values.worker as string[])] as Array<WorkerConfig | string>
  if (values.mount !== undefined) b.mounts = values.mount as string[]
  if (str('method') !== undefined) b.method = str('method') as BalancerOptions['method']
  if (values['sticky-force'] === true) b.stickySessionForce = true
  if (values['no-sticky'] === true) b.stickySession = false
  if (str('session-cookie') !== undefined) b.sessionCookie = str('session-cookie')
  const num = (flag: string, set: (n: number) => void): void => {
    const text = str(flag)
    if (text === undefined) return
    if (!/^\d+$/.test(text)) throw new UsageError(`--${flag} must be a whole number, got ${JSON.stringify(text)}`)
    set(Number(text))
  }
  num('recover-time', (n) => { b.recoverTime = n })
  num('connect-timeout', (n) => { b.connectTimeout = n })
  num('headers-timeout', (n) => { b.headersTimeout = n })
  num('body-timeout', (n) => { b.bodyTimeout = n })
  num('hedge-floor', (n) => { b.hedgeFloor = n })
  if (str('hedge-factor') !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(str('hedge-factor')!)) throw new UsageError(`--hedge-factor must be a number, got ${JSON.stringify(str('hedge-factor'))}`)
    b.hedgeFactor = Number(str('hedge-factor'))
  }
  num('replay-buffer', (n) => { b.replayBufferSize = n })
  num('max-body', (n) => { b.maxBody = n })
  num('max-conns-per-ip', (n) => { b.maxConnsPerIp = n })
  const health = (b.healthCheck === false ? { interval: 0 } : { ...(b.healthCheck ?? {}) })
  if (str('health-path') !== undefined) health.path = str('health-path')
  num('health-interval', (n) => { health.interval = n })
  if (health.interval === 0) b.healthCheck = false
  else if (Object.keys(health).length > 0) b.healthCheck = health
  if (str('tls-cert') !== undefined || str('tls-key') !== undefined) {
    const prior = b.tls !== undefined && b.tls !== false ? b.tls : undefined
    const cert = str('tls-cert') ?? prior?.cert
    const key = str('tls-key') ?? prior?.key
    if (cert === undefined || key === undefined) throw new UsageError('--tls-cert and --tls-key go together')
    b.tls = { cert, key }
  }
  if (str('http-redirect') !== undefined) b.httpRedirect = parseHostPort(str('http-redirect')!, 'http-redirect')
  const adminHosts = (values['admin-host'] as string[] | undefined)?.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)
  if (str('admin') !== undefined || str('admin-token') !== undefined || adminHosts !== undefined) {
    const admin = b.admin === false || b.admin === undefined ? {} : { ...b.admin }
    if (str('admin') !== undefined) Object.assign(admin, parseHostPort(str('admin')!, 'admin'))
    if (str('admin-token') !== undefined) admin.token = str('admin-token')
    if (adminHosts !== undefined) admin.allowedHosts = adminHosts
    b.admin = admin
  }
  if (b.admin !== undefined && b.admin !== false && b.admin.token === undefined && env.NODECAT_ADMIN_TOKEN !== undefined && env.NODECAT_ADMIN_TOKEN !== '') b.admin = { ...b.admin, token: env.NODECAT_ADMIN_TOKEN }
  if (values['access-log'] === true) b.accessLog = true
  if (str('access-log-format') !== undefined) {
    b.accessLog = true
    b.accessLogFormat = str('access-log-format') as BalancerOptions['accessLogFormat']
  }
  const accessLogFile = str('access-log-file') ?? (typeof file.balancer.accessLogFile === 'string' ? file.balancer.accessLogFile : undefined)
  delete b.accessLogFile
  if (accessLogFile !== undefined && (b.accessLog !== true || b.accessLogFormat !== 'combined')) throw new UsageError('--access-log-file needs --access-log-format combined (JSON lines go with the other logs)')

  let discovery = file.discovery
  const clusterFlags = ['static-members', 'cluster-address', 'cluster-port', 'multicast-bind', 'domain', 'key-file', 'insecure']
  if (values.discover === true) discovery ??= {}
  if (discovery === null) {
    const stray = clusterFlags.find((f) => values[f] !== undefined)
    if (stray !== undefined) throw new UsageError(`--${stray} needs --discover`)
  } else {
    const d: Record<string, unknown> = { ...discovery, meta: { role: 'balancer' } }
    const membership: Record<string, unknown> = { ...(d.membership as Record<string, unknown> | undefined) }
    if (str('static-members') !== undefined) {
      membership.type = 'static'
      const listed = str('static-members')!.split(',').map((s) => s.trim()).filter(Boolean)
      membership.members = expandMemberList(listed, (expected, entry) => { throw new UsageError(`--static-members: ${expected}, got ${JSON.stringify(entry)}`) })
    }
    if (str('multicast-bind') !== undefined) membership.bind = str('multicast-bind')
    if (Object.keys(membership).length > 0) d.membership = membership
    if (str('cluster-address') !== undefined) d.address = str('cluster-address')
    num('cluster-port', (n) => { d.port = n })
    if (str('domain') !== undefined) d.domain = str('domain')
    if (str('key-file') !== undefined) d.keyFile = str('key-file')
    if (values.insecure === true) d.insecure = true
    discovery = d
  }
  return { balancer: b, discovery, logLevel: str('log-level') ?? file.logLevel ?? 'info', processes, ...(accessLogFile !== undefined ? { accessLogFile } : {}), ...(imported !== null ? { imported } : {}), ...(values['print-config'] === true ? { printConfig: true } : {}) }
}
