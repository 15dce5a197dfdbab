/**
 * `nodecat-balancer --workers-properties <file>`: take mod_jk's workers.properties (and the
 * JkMount lines of an httpd conf file) as they are and map the lb worker onto balancer options:
 * its members become workers (ajp13 → ajp://host:port, or http://host:port with --prefer-http),
 * sticky_session, sticky_session_force, method, session_cookie, session_path, recover_time and
 * the mounts. Everything else is listed as ignored, with why.
 *
 * The file is Java properties syntax (comments, `=`/`:`/space separators, backslash continuations
 * and escapes) read by our own strict parser; mod_jk's conventions on top: `worker.<name>.<attr>`,
 * `worker.list` and `balance_workers` may repeat (values add up), `reference` copies another
 * worker's attributes. Any other key given twice is an error. Errors name file:line and the key.
 *
 * --prefer-http SPEC says where each member's HTTP listener is, since workers.properties only
 * knows AJP ports: `ajp+N` / `ajp-N` (HTTP port = AJP port ± N, same host), or a per-route map
 * `tomcat1=8081,tomcat2=127.0.0.1:8082` (a bare port keeps the member's host).
 */
import { readFileSync } from 'node:fs'
import { errors } from './errors.js'
import type { WorkerConfig } from './worker-config.js'

/** one property, where it was */
export interface Property { key: string, value: string, line: number }

export interface TakenProperty { item: string, line: number, option: string, value: unknown, overriddenBy?: 'config' | 'flag' }
export interface IgnoredProperty { item: string, line: number, reason: string }

/** the balancer options mapped from the files (validated later with every other option) */
export interface ImportedBalancerOptions {
  workers: WorkerConfig[]
  mounts?: string[]
  stickySession?: boolean
  stickySessionForce?: boolean
  method?: 'requests' | 'busyness'
  sessionCookie?: string
  sessionPathParam?: string
  recoverTime?: number
  maintainInterval?: number
}

export interface WorkersPropertiesImport {
  file: string
  mountFile: string | null
  /** the lb worker whose members were taken */
  lbWorker: string
  options: ImportedBalancerOptions
  taken: TakenProperty[]
  ignored: IgnoredProperty[]
}

export interface WorkersPropertiesRequest {
  /** path of workers.properties */
  file: string
  /** which lb worker (default: the only one) */
  lbWorker?: string
  /** httpd conf file whose JkMount/JkUnMount lines give the mounts */
  mountFile?: string
  /** members as HTTP workers: "ajp+N", "ajp-N" or "route=[host:]port,..." */
  preferHttp?: string
}

/** most characters read from either file */
export const PROPERTIES_MAX_CHARS = 4 * 1024 * 1024
/** mod_jk's limit on `reference` chains */
const MAX_REFERENCE_DEPTH = 20
const WORKER_NAME = /^[A-Za-z0-9_-]{1,64}$/
/** keys whose repeated values add up (mod_jk's multi-valued properties) */
const ADDITIVE = /^worker\.(?:list|[A-Za-z0-9_-]+\.(?:balance_workers|balanced_workers))$/

type Fail = (line: number | null, message: string) => never

/** Read Java properties text: each key once, except the additive mod_jk keys. */
export function parseProperties (text: string, fail: Fail): Property[] {
  if (text.length > PROPERTIES_MAX_CHARS) fail(null, `the file is larger than ${PROPERTIES_MAX_CHARS} characters`)
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/)
  const out: Property[] = []
  const seen = new Map<string, Property>()
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1
    let logical = lines[i]!.replace(/^[ \t\f]+/, '')
    if (logical === '' || logical[0] === '#' || logical[0] === '!') continue
    // a line ending in an odd number of backslashes goes on on the next line
    while (/(?:^|[^\\])(?:\\\\)*\\$/.test(logical)) {
      if (i + 1 >= lines.length) fail(start, 'the last line ends with "\\" (a continuation to nothing)')
      logical = logical.slice(0, -1) + lines[++i]!.replace(/^[ \t\f]+/, '')
    }
    const { key, value } = splitProperty(logical, start, fail)
    if (key === '') fail(start, `a property without a key: ${JSON.stringify(logical.slice(0, 40))}`)
    const prior = seen.get(key)
    if (prior !== undefined) {
      if (!ADDITIVE.test(key)) fail(start, `${key} is given twice (first on line ${prior.line})`)
      prior.value = prior.value === '' ? value : `${prior.value},${value}`
      continue
    }
    const p = { key, value, line: start }
    seen.set(key, p)
    out.push(p)
  }
  return out
}

/** key, separator (=, : or whitespace), value, with the escapes decoded */
function splitProperty (line: string, lineNo: number, fail: Fail): { key: string, value: string } {
  let i = 0
  let rawKey = ''
  while (i < line.length) {
    const c = line[i]!
    if (c === '\\' && i + 1 < line.length) { rawKey += c + line[i + 1]; i += 2; continue }
    if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break
    rawKey += c
    i++
  }
  while (i < line.length && /[ \t\f]/.test(line[i]!)) i++
  if (line[i] === '=' || line[i] === ':') i++
  while (i < line.length && /[ \t\f]/.test(line[i]!)) i++
  return { key: unescape(rawKey, lineNo, fail), value: unescape(line.slice(i), lineNo, fail).replace(/[ \t\f]+$/, '') }
}

function unescape (text: string, line: number, fail: Fail): string {
  if (!text.includes('\\')) return text
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c !== '\\') { out += c; continue }
    const n = text[++i]
    if (n === undefined) break
    if (n === 'u') {
      const hex = text.slice(i + 1, i + 5)
      if (!/^[0-9A-Fa-f]{4}$/.test(hex)) fail(line, `"\\u" must be followed by 4 hex digits, got ${JSON.stringify('\\u' + hex)}`)
      out += String.fromCharCode(parseInt(hex, 16))
      i += 4
      continue
    }
    out += n === 't' ? '\t' : n === 'n' ? '\n' : n === 'r' ? '\r' : n === 'f' ? '\f' : n
  }
  return out
}

const NOT_PER_WORKER = 'the balancer has one setting for all workers'
/** member (AJP worker) attributes not taken, with why */
const MEMBER_REASONS: Record<string, string> = {
  socket_timeout: 'the balancer\'s --headers-timeout / --body-timeout apply to every worker',
  socket_connect_timeout: `${NOT_PER_WORKER}: --connect-timeout`,
  socket_keepalive: 'connections to workers are kept alive by the pool',
  connection_pool_size: 'per httpd process; the balancer\'s in-flight limit per worker is connection-limit (default 128)',
  connection_pool_minsize: 'the pool opens connections as requests need them',
  connection_pool_timeout: 'pooled idle connections close after poolKeepAliveTimeout',
  connection_acquire_timeout: 'a request waits for a pooled connection up to the client idle timeout',
  ping_mode: 'active health checks are --health-path / --health-interval',
  ping_timeout: 'active health checks are --health-path / --health-interval',
  prepost_timeout: 'active health checks are --health-path / --health-interval',
  connect_timeout: 'active health checks are --health-path / --health-interval',
  connection_ping_interval: 'active health checks are --health-path / --health-interval',
  reply_timeout: `${NOT_PER_WORKER}: --headers-timeout`,
  retries: 'a failed connect is retried on another worker (maxAttempts)',
  retry_interval: 'retries go to the next worker at once',
  recovery_options: 'the balancer retries only what is safe to retry (a refused connect, a draining node, an idempotent request without answer)',
  fail_on_status: 'no counterpart',
  busy_limit: 'the in-flight limit per worker is connection-limit',
  distance: 'no distance tiers',
  max_packet_size: 'AJP packet size is only used for ajp:// workers',
  lbfactor: '',
  mount: 'mounts come from --jk-mount-file or --mount',
  sticky_session: 'set on the lb worker'
}

const LB_REASONS: Record<string, string> = {
  retries: 'a request tries up to maxAttempts (3) different workers',
  lb_retries: 'a request tries up to maxAttempts (3) different workers',
  retry_interval: 'retries go to the next worker at once',
  lock: 'one process chooses without shared memory locks',
  max_reply_timeouts: 'no reply-timeout counting',
  error_escalation_time: 'a worker goes to ERROR after failuresToError failures',
  set_session_cookie: 'no route-only cookie: nodecat nodes set the session cookie with the route',
  session_cookie_path: 'no route-only cookie: nodecat nodes set the session cookie with the route',
  mount: 'mounts come from --jk-mount-file or --mount',
  secret: ''
}

function bool (value: string): boolean | null {
  const v = value.trim().toLowerCase()
  if (['true', 'on', 'yes', '1'].includes(v)) return true
  if (['false', 'off', 'no', '0'].includes(v)) return false
  return null
}

class Importer {
  readonly file: string
  readonly taken: TakenProperty[] = []
  readonly ignored: IgnoredProperty[] = []
  /** worker name → attribute → property */
  readonly workers = new Map<string, Map<string, Property>>()
  readonly globals: Property[] = []

  constructor (file: string) { this.file = file }

  readonly fail: Fail = (line, message) => {
    throw errors.workersProperties(this.file, line, message)
  }

  failProp (p: Property, expected: string): never {
    return this.fail(p.line, `${p.key}=${JSON.stringify(p.value)}: ${p.key.slice(p.key.lastIndexOf('.') + 1)} must be ${expected}`)
  }

  take (p: Property, option: string, value: unknown): void {
    this.taken.push({ item: `${p.key}=${p.value}`, line: p.line, option, value })
  }

  ignore (p: Property, reason: string): void {
    this.ignored.push({ item: /secret/i.test(p.key) ? `${p.key}=[hidden]` : `${p.key}=${p.value}`, line: p.line, reason })
  }

  int (p: Property, min: number, max: number): number {
    const t = p.value.trim()
    if (!/^-?\d{1,10}$/.test(t) || Number(t) < min || Number(t) > max) this.failProp(p, `${min}-${max}`)
    return Number(t)
  }

  bool (p: Property): boolean {
    const b = bool(p.value)
    if (b === null) this.failProp(p, 'true or false (or on/off, yes/no, 1/0)')
    return b
  }

  read (props: Property[]): void {
    for (const p of props) {
      const m = /^worker\.([^.]+)\.(.+)$/.exec(p.key)
      if (p.key === 'worker.list' || p.key === 'worker.maintain' || !p.key.startsWith('worker.')) { this.globals.push(p); continue }
      if (m === null) this.fail(p.line, `${p.key}: a worker property is worker.<name>.<attribute>`)
      if (!WORKER_NAME.test(m[1]!)) this.fail(p.line, `${p.key}: a worker name has only letters, digits, "_" and "-"`)
      let attrs = this.workers.get(m[1]!)
      if (attrs === undefined) this.workers.set(m[1]!, attrs = new Map())
      attrs.set(m[2]!, p)
    }
    // why after reading all: a reference may name a worker defined further down
    for (const name of this.workers.keys()) this.resolveReference(name, 0, [])
  }

  /** `worker.X.reference=worker.Y`: X gets each attribute of Y it does not set itself */
  resolveReference (name: string, depth: number, chain: string[]): Map<string, Property> {
    const attrs = this.workers.get(name)!
    const ref = attrs.get('reference')
    if (ref === undefined) return attrs
    const target = /^worker\.([A-Za-z0-9_-]+)$/.exec(ref.value.trim())?.[1]
    if (target === undefined || !this.workers.has(target)) this.failProp(ref, 'worker.<name> of a worker defined in this file')
    if (chain.includes(target) || target === name) this.failProp(ref, `a reference without a cycle (${[...chain, name, target].join(' → ')})`)
    if (depth >= MAX_REFERENCE_DEPTH) this.failProp(ref, `at most ${MAX_REFERENCE_DEPTH} references deep`)
    const inherited = this.resolveReference(target, depth + 1, [...chain, name])
    for (const [k, v] of inherited) if (!attrs.has(k) && k !== 'reference') attrs.set(k, v)
    attrs.delete('reference')
    this.ignored.push({ item: `${ref.key}=${ref.value}`, line: ref.line, reason: `applied: ${name} takes the attributes of ${target} it does not set` })
    return attrs
  }

  type (name: string): string {
    return this.workers.get(name)?.get('type')?.value.trim() ?? 'ajp13'
  }

  chooseLb (wanted: string | undefined): string {
    const lbs = [...this.workers.keys()].filter((n) => this.type(n) === 'lb')
    if (wanted !== undefined) {
      if (!this.workers.has(wanted)) this.fail(null, `--lb-worker ${wanted}: no worker.${wanted}.* in the file (lb workers: ${lbs.join(', ') || 'none'})`)
      if (this.type(wanted) !== 'lb') this.fail(this.workers.get(wanted)!.get('type')?.line ?? null, `--lb-worker ${wanted}: worker.${wanted}.type is ${this.type(wanted)}, not lb`)
      return wanted
    }
    const listed = (this.globals.find((p) => p.key === 'worker.list')?.value ?? '').split(',').map((s) => s.trim()).filter(Boolean)
    const listedLbs = lbs.filter((n) => listed.includes(n))
    const candidates = listedLbs.length > 0 ? listedLbs : lbs
    if (candidates.length === 0) this.fail(null, 'no lb worker (worker.<name>.type=lb): the balancer takes an lb worker\'s members as its workers')
    if (candidates.length > 1) this.fail(null, `several lb workers (${candidates.join(', ')}): choose one with --lb-worker`)
    return candidates[0]!
  }

  globalsMap (lb: string, options: ImportedBalancerOptions): void {
    for (const p of this.globals) {
      if (p.key === 'worker.list') {
        const other = p.value.split(',').map((s) => s.trim()).filter((n) => n !== '' && n !== lb)
        this.ignored.push({ item: `${p.key}=${p.value}`, line: p.line, reason: other.length === 0 ? `names the lb worker ${lb}, which is imported` : `only the lb worker ${lb} is imported (not ${other.join(', ')})` })
      } else if (p.key === 'worker.maintain') {
        options.maintainInterval = this.int(p, 1, 86400) * 1000
        this.take(p, 'maintainInterval', options.maintainInterval)
      } else {
        this.ignore(p, 'not a worker property')
      }
    }
  }

  lbWorker (lb: string, options: ImportedBalancerOptions): { members: Array<{ name: string, line: number }>, secret: Property | undefined } {
    const attrs = this.workers.get(lb)!
    const balance = attrs.get('balance_workers') ?? attrs.get('balanced_workers')
    if (balance === undefined) this.fail(attrs.get('type')!.line, `worker.${lb}.balance_workers is missing (an lb worker lists its members)`)
    const members: Array<{ name: string, line: number }> = []
    for (const name of balance.value.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!WORKER_NAME.test(name)) this.failProp(balance, `a comma-separated list of worker names (${JSON.stringify(name)} is not one)`)
      if (!this.workers.has(name)) this.failProp(balance, `a list of workers defined in this file (no worker.${name}.*)`)
      if (members.some((m) => m.name === name)) this.failProp(balance, `a list without repeats (${name} twice)`)
      members.push({ name, line: balance.line })
    }
    if (members.length === 0) this.failProp(balance, 'at least one worker name')
    this.take(balance, 'workers', members.map((m) => m.name))
    let secret: Property | undefined
    for (const [attr, p] of attrs) {
      if (attr === 'type' || attr === 'balance_workers' || attr === 'balanced_workers') continue
      if (attr === 'sticky_session') { options.stickySession = this.bool(p); this.take(p, 'stickySession', options.stickySession); continue }
      if (attr === 'sticky_session_force') { options.stickySessionForce = this.bool(p); this.take(p, 'stickySessionForce', options.stickySessionForce); continue }
      if (attr === 'method') {
        const c = p.value.trim().charAt(0).toUpperCase()
        if (c === 'R' || c === '0') { options.method = 'requests'; this.take(p, 'method', 'requests'); continue }
        if (c === 'B' || c === '2') { options.method = 'busyness'; this.take(p, 'method', 'busyness'); continue }
        if (!['T', 'S', 'N', '1', '3', '4'].includes(c)) this.failProp(p, 'Request, Traffic, Busyness, Sessions or Next')
        this.ignore(p, 'no counterpart: the balancer spreads new sessions by requests (default) or busyness')
        continue
      }
      if (attr === 'session_cookie') {
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/.test(p.value.trim())) this.failProp(p, 'a cookie name')
        options.sessionCookie = p.value.trim()
        this.take(p, 'sessionCookie', options.sessionCookie)
        continue
      }
      if (attr === 'session_path') {
        const name = p.value.trim().replace(/^;/, '')
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/.test(name)) this.failProp(p, 'a path parameter name such as ;jsessionid')
        options.sessionPathParam = name
        this.take(p, 'sessionPathParam', name)
        continue
      }
      if (attr === 'recover_time') { options.recoverTime = this.int(p, 0, 86400) * 1000; this.take(p, 'recoverTime', options.recoverTime); continue }
      if (attr === 'secret') { secret = p; continue }
      this.ignore(p, LB_REASONS[attr] || 'no counterpart in the balancer')
    }
    return { members, secret }
  }

  member (name: string, lbSecret: Property | undefined, http: HttpPlan | null, routes: Map<string, string>): WorkerConfig {
    const attrs = this.workers.get(name)!
    const typeProp = attrs.get('type')
    const type = this.type(name)
    if (type !== 'ajp13') {
      const p = typeProp!
      this.failProp(p, `ajp13 for a member of the lb worker (${type} has no counterpart)`)
    }
    if (typeProp !== undefined) this.ignored.push({ item: `${typeProp.key}=${typeProp.value}`, line: typeProp.line, reason: http === null ? 'AJP/1.3: the worker is ajp://host:port' : 'AJP/1.3, but --prefer-http makes the worker http://host:port' })
    const hostProp = attrs.get('host')
    const host = hostProp?.value.trim() ?? 'localhost'
    if (!/^(?:[A-Za-z0-9.-]{1,253}|\[?[0-9A-Fa-f:.]+\]?)$/.test(host)) this.failProp(hostProp!, 'a host name or IP address')
    const portProp = attrs.get('port')
    const port = portProp === undefined ? 8009 : this.int(portProp, 0, 65535)
    const routeProp = attrs.get('route') ?? attrs.get('jvm_route')
    const route = routeProp?.value.trim() ?? name
    if (routeProp !== undefined) this.take(routeProp, `workers[${name}].route`, route)
    const bare = host.replace(/^\[|\]$/g, '')
    const hostPart = bare.includes(':') ? `[${bare}]` : bare
    const w: Record<string, unknown> = { route }
    if (http === null) {
      w.url = `ajp://${hostPart}:${port === 0 ? 8009 : port}`
      const secret = attrs.get('secret') ?? lbSecret
      if (secret !== undefined) {
        w.secret = secret.value
        this.taken.push({ item: `${secret.key}=[hidden]`, line: secret.line, option: `workers[${route}].secret`, value: '[hidden]' })
      }
    } else {
      w.url = http.url(route, hostPart, port, (portProp ?? hostProp ?? typeProp)?.line ?? null)
      const secret = attrs.get('secret')
      if (secret !== undefined) this.ignore(secret, 'HTTP workers get no AJP secret (--prefer-http)')
    }
    for (const p of [hostProp, portProp]) if (p !== undefined) this.take(p, `workers[${route}].url`, w.url)
    if (port === 0) {
      w.activation = 'stopped'
      this.take(portProp!, `workers[${route}].activation`, 'stopped')
    }
    for (const [attr, p] of attrs) {
      if (['type', 'host', 'port', 'route', 'jvm_route', 'secret'].includes(attr)) continue
      if (attr === 'lbfactor') { w.lbfactor = this.int(p, 1, 100); this.take(p, `workers[${route}].lbfactor`, w.lbfactor); continue }
      if (attr === 'activation') {
        const c = p.value.trim().charAt(0).toUpperCase()
        const a = c === 'A' || c === '0' ? 'active' : c === 'D' || c === '1' ? 'disabled' : c === 'S' || c === '2' ? 'stopped' : null
        if (a === null) this.failProp(p, 'Active, Disabled or Stopped')
        if (port !== 0) w.activation = a
        this.take(p, `workers[${route}].activation`, a)
        continue
      }
      if (attr === 'disabled' || attr === 'stopped') {
        if (this.bool(p) && w.activation !== 'stopped') w.activation = attr
        this.take(p, `workers[${route}].activation`, w.activation ?? 'active')
        continue
      }
      if (attr === 'redirect') {
        const target = p.value.trim()
        // why: mod_jk's redirect names a route; a worker name is turned into its route
        w.redirect = routes.get(target) ?? target
        this.take(p, `workers[${route}].redirect`, w.redirect)
        continue
      }
      if (attr === 'domain') { w.domain = p.value.trim(); this.take(p, `workers[${route}].domain`, w.domain); continue }
      if (attr === 'max_packet_size' && http === null) {
        // mod_jk rounds up to a multiple of 1024 and keeps it within 8192..65536
        const n = this.int(p, 1, 1 << 20)
        w.packetSize = Math.min(65536, Math.max(8192, Math.ceil(n / 1024) * 1024))
        this.take(p, `workers[${route}].packetSize`, w.packetSize)
        continue
      }
      this.ignore(p, MEMBER_REASONS[attr] || 'no counterpart in the balancer')
    }
    return w as unknown as WorkerConfig
  }
}

/** where --prefer-http puts each member's HTTP listener */
interface HttpPlan { url: (route: string, host: string, ajpPort: number, line: number | null) => string }

function httpPlan (spec: string, fail: Fail, routes: readonly string[]): HttpPlan {
  const offset = /^ajp([+-])(\d{1,5})$/.exec(spec.trim())
  if (offset !== null) {
    const delta = (offset[1] === '-' ? -1 : 1) * Number(offset[2])
    return {
      url: (route, host, ajpPort) => {
        const port = ajpPort + delta
        if (port < 1 || port > 65535) fail(null, `--prefer-http ${spec}: worker ${route}'s AJP port ${ajpPort} ${offset[1]} ${offset[2]} is ${port}, not a port`)
        return `http://${host}:${port}`
      }
    }
  }
  const map = new Map<string, { host?: string, port: number }>()
  for (const entry of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_.-]+)=(?:(\[[^\]]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(entry)
    if (m === null || Number(m[3]) < 1 || Number(m[3]) > 65535) fail(null, `--prefer-http must be "ajp+N", "ajp-N" or "route=[host:]port,...", got ${JSON.stringify(entry)}`)
    if (!routes.includes(m[1]!)) fail(null, `--prefer-http ${entry}: no member with route ${m[1]} (routes: ${routes.join(', ')})`)
    map.set(m[1]!, { ...(m[2] !== undefined ? { host: m[2] } : {}), port: Number(m[3]) })
  }
  if (map.size === 0) fail(null, '--prefer-http must be "ajp+N", "ajp-N" or "route=[host:]port,..."')
  return {
    url: (route, host) => {
      const at = map.get(route)
      if (at === undefined) fail(null, `--prefer-http names no HTTP port for route ${route}`)
      return `http://${at.host ?? host}:${at.port}`
    }
  }
}

/** JkMount / JkUnMount lines of an httpd conf file, for one lb worker */
function readMounts (text: string, file: string, lb: string, taken: TakenProperty[], ignored: IgnoredProperty[]): string[] {
  const fail: Fail = (line, message) => { throw errors.workersProperties(file, line, message) }
  if (text.length > PROPERTIES_MAX_CHARS) fail(null, `the file is larger than ${PROPERTIES_MAX_CHARS} characters`)
  const mounts: string[] = []
  let location: string | null = null
  const lines = text.split(/\r\n|\r|\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1
    const raw = lines[i]!.trim()
    if (raw === '' || raw.startsWith('#')) continue
    const loc = /^<Location\s+"?([^">]*)"?\s*>$/i.exec(raw)
    if (loc !== null) { location = loc[1]!.trim(); continue }
    if (/^<\/Location\s*>$/i.test(raw)) { location = null; continue }
    const words = raw.split(/\s+/)
    const directive = words[0]!.toLowerCase()
    if (!directive.startsWith('jk')) continue
    const item = raw
    if (directive === 'jkmount' || directive === 'jkunmount') {
      const args = words.slice(1)
      let pattern: string
      let target: string
      if (args.length === 2) [pattern, target] = args as [string, string]
      else if (args.length === 1 && location !== null) { pattern = location; target = args[0]! } else fail(line, `${words[0]} takes a URL pattern and a worker name (or a worker name inside <Location>), got ${JSON.stringify(raw)}`)
      const [worker, ...extensions] = target.split(';')
      if (extensions.length > 0) ignored.push({ item, line, reason: `mount extensions (${extensions.join(';')}) have no counterpart` })
      if (worker !== lb) { ignored.push({ item, line, reason: `mounts worker ${worker}, not the imported lb worker ${lb}` }); continue }
      if (directive === 'jkunmount') { ignored.push({ item, line, reason: 'the balancer has no unmount: every path under a mount goes to the cluster (narrow the mounts instead)' }); continue }
      const prefix = mountPrefix(pattern)
      if (prefix === null) { ignored.push({ item, line, reason: 'the balancer mounts path prefixes: a wildcard inside or at the start of the pattern (*.jsp, /a/*.do, ?) has no counterpart' }); continue }
      if (!pattern.endsWith('*') && !pattern.includes('|')) ignored.push({ item, line, reason: `exact mount ${pattern}: the balancer mounts it as a prefix (${prefix} and below)` })
      if (!mounts.includes(prefix)) mounts.push(prefix)
      taken.push({ item, line, option: 'mounts', value: prefix })
      continue
    }
    ignored.push({ item, line, reason: directive === 'jkworkersfile' ? 'the workers file is --workers-properties' : 'an httpd-side mod_jk setting: no counterpart' })
  }
  return mounts
}

/** "/*" → "/", "/app/*" → "/app", "/app|/*" → "/app", "/app" → "/app"; null when not a prefix */
function mountPrefix (pattern: string): string | null {
  let p = pattern
  if (p.endsWith('|/*')) p = p.slice(0, -3)
  else if (p.endsWith('/*')) p = p.slice(0, -2)
  else if (p.endsWith('*') && !p.slice(0, -1).includes('*')) p = p.slice(0, -1)
  if (p === '') p = '/'
  if (!p.startsWith('/') || /[*?|\s]/.test(p)) return null
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p
}

/** Map workers.properties text (and JkMount lines) to balancer options. Throws LB_ERR_WORKERS_PROPERTIES. */
export function importWorkersProperties (text: string, request: WorkersPropertiesRequest, mountText?: string): WorkersPropertiesImport {
  const importer = new Importer(request.file)
  importer.read(parseProperties(text, importer.fail))
  const lb = importer.chooseLb(request.lbWorker)
  const options: ImportedBalancerOptions = { workers: [] }
  importer.globalsMap(lb, options)
  const { members, secret } = importer.lbWorker(lb, options)
  const routes = new Map(members.map((m) => [m.name, importer.workers.get(m.name)!.get('route')?.value.trim() ?? importer.workers.get(m.name)!.get('jvm_route')?.value.trim() ?? m.name]))
  const plan = request.preferHttp === undefined ? null : httpPlan(request.preferHttp, importer.fail, [...routes.values()])
  options.workers = members.map((m) => importer.member(m.name, secret, plan, routes))
  if (secret !== undefined && plan !== null) importer.ignore(secret, 'HTTP workers get no AJP secret (--prefer-http)')
  for (const [name] of importer.workers) {
    if (name !== lb && !routes.has(name)) importer.ignored.push({ item: `worker.${name}.*`, line: importer.workers.get(name)!.values().next().value!.line, reason: `not a member of ${lb}` })
  }
  if (mountText !== undefined) {
    const mounts = readMounts(mountText, request.mountFile ?? 'httpd.conf', lb, importer.taken, importer.ignored)
    if (mounts.length > 0) options.mounts = mounts
  }
  return { file: request.file, mountFile: request.mountFile ?? null, lbWorker: lb, options, taken: importer.taken, ignored: importer.ignored }
}

function readText (file: string): string {
  try { return readFileSync(file, 'utf8') } catch (err) {
    throw errors.workersProperties(file, null, `cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}

/** Read the files and map them. Throws LB_ERR_WORKERS_PROPERTIES naming file:line. */
export function readWorkersProperties (request: WorkersPropertiesRequest): WorkersPropertiesImport {
  return importWorkersProperties(readText(request.file), request, request.mountFile === undefined ? undefined : readText(request.mountFile))
}

/**
 * The command line's part: read --workers-properties (with --lb-worker, --jk-mount-file,
 * --prefer-http) into `b`, the options from --config, under them: a key the config file sets
 * keeps its value, and a --worker flag replaces the imported worker of the same route. The other
 * flags are applied to `b` afterwards and so win. Returns the import, or null without the flag.
 */
export function applyWorkersProperties (values: Record<string, unknown>, b: Record<string, unknown>): WorkersPropertiesImport | null {
  const file = values['workers-properties'] as string | undefined
  if (file === undefined) {
    const stray = ['lb-worker', 'jk-mount-file', 'prefer-http'].find((f) => values[f] !== undefined)
    if (stray !== undefined) throw errors.workersProperties(`--${stray}`, null, 'needs --workers-properties')
    return null
  }
  const str = (k: string): string | undefined => values[k] as string | undefined
  const imported = readWorkersProperties({
    file,
    ...(str('lb-worker') !== undefined ? { lbWorker: str('lb-worker') } : {}),
    ...(str('jk-mount-file') !== undefined ? { mountFile: str('jk-mount-file') } : {}),
    ...(str('prefer-http') !== undefined ? { preferHttp: str('prefer-http') } : {})
  })
  const flagRoutes = ((values.worker as string[] | undefined) ?? []).map((s) => s.slice(0, s.indexOf('=')))
  // which source wins over each taken item, for the report
  const FLAG_OF: Record<string, string> = { stickySession: 'no-sticky', stickySessionForce: 'sticky-force', method: 'method', sessionCookie: 'session-cookie', recoverTime: 'recover-time', mounts: 'mount' }
  for (const item of imported.taken) {
    const worker = /^workers\[([^\]]+)\]/.exec(item.option)?.[1]
    const key = worker !== undefined ? 'workers' : item.option
    if (b[key] !== undefined) item.overriddenBy = 'config'
    else if (worker !== undefined ? flagRoutes.includes(worker) : values[FLAG_OF[key] ?? ''] !== undefined) item.overriddenBy = 'flag'
  }
  for (const [key, value] of Object.entries(imported.options)) {
    if (key !== 'workers' && b[key] === undefined) b[key] = value
  }
  if (b.workers === undefined) b.workers = imported.options.workers.filter((w) => !flagRoutes.includes(w.route))
  return imported
}
