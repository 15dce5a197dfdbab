/**
 * Options of the nodecat-was service: ONE defaults table, named after Tomcat's where the concept is
 * the same (jvmRoute, channelSendOptions, membership frequency/dropTime, receiver autoBind,
 * DeltaManager's expireSessionsOnShutdown, stateTransferTimeout, ...). Resolved and validated once
 * at start; every message names the option. Unknown options are rejected (typos in config files).
 */
import os from 'node:os'
import path from 'node:path'
import { isIP } from 'node:net'
import { AJP_DEFAULT_PACKET_SIZE, AJP_MAX_PACKET_SIZE, AJP_MIN_PACKET_SIZE, HOST_NAME_PATTERN, JVM_ROUTE_PATTERN, JVM_ROUTE_RULE, routeFromName } from '@nodecat/protocol'
import { expandMemberList, isLoopback, validators, type SendMode } from '@nodecat/tribes'
import { WasOptionError } from '../errors.js'
import { resolveCookieOptions, COOKIE_DEFAULTS, type CookieOptions } from '../http/cookie-options.js'
import { DEFAULT_REPLICATION_FILTER, resolveTracking, type SessionTracking } from '../http/options.js'
import { compileTrustProxy, type TrustProxy } from '../http/trust-proxy.js'
import { defaultHostId, usableCores } from './host.js'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

/** Everything the service can be told, fully resolved. */
export interface ResolvedNodeOptions {
  /** this node's route: the suffix of its session ids (Tomcat Engine jvmRoute) */
  jvmRoute: string
  /** allowedHosts: more Host names the node's /_nodecat/* pages answer to (names only, any port) */
  http: { address: string, port: number, allowedHosts: string[] }
  /** path of the user's app module (fastify plugin or express/connect handler), or null */
  app: string | null
  membership: {
    type: 'multicast' | 'static'
    address: string
    port: number
    /** ms between heartbeats */
    frequency: number
    /** ms of silence before a member is dropped */
    dropTime: number
    /** interface address to bind the multicast socket to, or null */
    bind: string | null
    ttl: number
    domain: string
    /** static members, "host:port" of their receivers ("host:first-last" ranges expanded) */
    members: string[]
  }
  receiver: { address: string, port: number, autoBind: number }
  /** members this command runs on this machine, each with its own route, HTTP port and receiver (`auto`: usable cores) */
  workers: number
  /** this machine's identity in the cluster: members with the same one share a machine (default: machine id, else host name) */
  hostId: string
  /** 'delta' (Tomcat's DeltaManager): every change to every node; 'backup' (BackupManager): to each session's backups only */
  manager: 'delta' | 'backup'
  /** with manager 'backup': the members besides the primary that hold a copy of each session */
  backups: number
  /** the channel send mode for session deltas (Tomcat channelSendOptions 8 = async, 2 = ack, 6 = sync) */
  channelSendOptions: 'async' | 'sync'
  expireSessionsOnShutdown: boolean
  notifyListenersOnReplication: boolean
  /** regex source on the request path; matching requests are not replicated; null = replicate all */
  replicationFilter: string | null
  /** s to wait for the initial session transfer */
  stateTransferTimeout: number
  /** ms a request for a session this node lacks waits for its peers' copies (0: never fetch) */
  sessionFetchTimeout: number
  /** s of inactivity before a session expires (<= 0: never) */
  maxInactiveInterval: number
  /** most sessions this node holds; -1 = no limit */
  maxActiveSessions: number
  /** most bytes one encoded session may have */
  maxSessionBytes: number
  cookie: CookieOptions
  /** where a request's session id is read from: cookies (default), the `;jsessionid=` URL parameter, or both */
  sessionTracking: SessionTracking[]
  trustProxy: TrustProxy
  /** the cluster key (base64/hex, see tribes), or null */
  key: string | null
  keyFile: string | null
  /** accept plaintext cluster traffic on non-loopback addresses */
  insecure: boolean
  /** ms given to in-flight requests and the final deltas at shutdown */
  shutdownTimeout: number
  /** cluster deploy (deploy/): where this member keeps its app versions (default ./nodecat-deploy/<jvmRoute>) */
  deployDir: string
  /** most bytes of a deployed bundle (.tgz) */
  deployMaxBytes: number
  /** app versions kept in deployDir (the running one and the rollout history are never removed) */
  deployKeep: number
  /** a directory this member polls for app bundles (*.tgz) to roll out (FarmWarDeployer watchDir), or null (off) */
  deployWatchDir: string | null
  /**
   * the AJP/1.3 listener (service/ajp/) for an Apache httpd + mod_jk front: off while port is null;
   * secret: mod_jk's worker secret (required off loopback unless secretRequired is false, Tomcat's rule);
   * packetSize: mod_jk's max_packet_size, Tomcat's packetSize
   */
  ajp: { address: string, port: number | null, secret: string | null, secretRequired: boolean, packetSize: number }
  log: { level: LogLevel, pretty: boolean | 'auto' }
}

/** What callers pass: any subset, nested objects partial too. */
export type NodeOptions = {
  [K in keyof ResolvedNodeOptions]?: ResolvedNodeOptions[K] extends string[] ? string[] | string
    : ResolvedNodeOptions[K] extends Record<string, unknown> ? Partial<ResolvedNodeOptions[K]> : ResolvedNodeOptions[K] | string | number | null
}

function defaultRoute (): string {
  // why: zero-config on a LAN; machines have distinct host names (set jvmRoute when they do not)
  const name = routeFromName(os.hostname().split('.')[0]!)
  return name === '' ? 'node1' : name
}

/** The one defaults table. jvmRoute's default is computed from the host name at resolve time. */
export const NODE_DEFAULTS = Object.freeze({
  jvmRoute: null as string | null,
  http: Object.freeze({ address: '127.0.0.1', port: 8080, allowedHosts: Object.freeze([]) as readonly string[] }),
  app: null as string | null,
  membership: Object.freeze({
    type: 'multicast' as const,
    address: '228.0.0.4',
    port: 45564,
    frequency: 500,
    dropTime: 3000,
    bind: null as string | null,
    ttl: 1,
    domain: '',
    members: Object.freeze([]) as readonly string[]
  }),
  // why 'auto': like Tomcat's receiver address="auto", the first non-internal IPv4 of this host
  receiver: Object.freeze({ address: 'auto', port: 4000, autoBind: 100 }),
  workers: 1 as number | 'auto',
  hostId: null as string | null,
  manager: 'delta' as 'delta' | 'backup',
  backups: 1,
  channelSendOptions: 8 as number | string,
  expireSessionsOnShutdown: false,
  notifyListenersOnReplication: true,
  replicationFilter: DEFAULT_REPLICATION_FILTER.source as string | null,
  stateTransferTimeout: 60,
  sessionFetchTimeout: 100,
  maxInactiveInterval: 1800,
  maxActiveSessions: -1,
  maxSessionBytes: 256 * 1024,
  cookie: COOKIE_DEFAULTS,
  sessionTracking: Object.freeze(['cookie']) as readonly SessionTracking[] | string,
  trustProxy: false as TrustProxy,
  key: null as string | null,
  keyFile: null as string | null,
  insecure: false,
  shutdownTimeout: 10000,
  deployDir: null as string | null,
  // why 16 MiB: one bundle travels as one cluster message (tribes maxMessageSize 32 MiB)
  deployMaxBytes: 16 * 1024 * 1024,
  deployKeep: 5,
  deployWatchDir: null as string | null,
  // why loopback and a required secret: Tomcat 9's AJP defaults since Ghostcat (CVE-2020-1938)
  ajp: Object.freeze({ address: '127.0.0.1', port: null as number | null, secret: null as string | null, secretRequired: true, packetSize: AJP_DEFAULT_PACKET_SIZE }),
  log: Object.freeze({ level: 'info' as LogLevel, pretty: 'auto' as boolean | 'auto' })
})

const v = validators((message) => new WasOptionError(message))

const HOST = /^[A-Za-z0-9.:_-]{1,255}$/
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** 'cookie', 'url', 'cookie,url' (flags, env) or a list (config files) */
function trackingList (value: unknown): SessionTracking[] {
  const t = resolveTracking(value as readonly string[] | string)
  return [...(t.cookie ? ['cookie' as const] : []), ...(t.url ? ['url' as const] : [])]
}

/** Tomcat channelSendOptions (number bit flags or names) to a tribes send mode. */
/** where this member keeps its deploy versions: <deployDir>/<jvmRoute> (one machine's members share deployDir) */
export function memberDeployDir (o: Pick<ResolvedNodeOptions, 'deployDir' | 'jvmRoute'>): string {
  return path.join(o.deployDir, o.jvmRoute)
}

export function sendModeOf (value: unknown, name = 'channelSendOptions'): SendMode {
  if (typeof value === 'string' && /^\d+$/.test(value.trim())) value = Number(value)
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) {
    if ((value & 8) !== 0) return 'async' // ASYNCHRONOUS
    if ((value & 4) !== 0) return 'sync' // SYNCHRONIZED_ACK
    if ((value & 2) !== 0) return 'ack' // USE_ACK
  }
  if (typeof value === 'string') {
    const words = value.toLowerCase().split(/[,\s|]+/).filter(Boolean)
    if (words.includes('async') || words.includes('asynchronous')) return 'async'
    if (words.includes('sync') || words.includes('synchronized_ack')) return 'sync'
    if (words.includes('ack') || words.includes('use_ack')) return 'ack'
  }
  return v.fail(name, '8 or "async", 2 or "ack" (use_ack), 6 or "sync" (use_ack,sync)', value)
}

/** a count of at least 1, or 'auto' (the cores this process may use) */
function workerCount (value: unknown): number {
  if (value === 'auto') return usableCores()
  return v.integer(value, 'workers', 1, 256)
}

/** The session manager replicates asynchronously (8) or waits until peers applied it (6). */
function sessionSendMode (value: unknown): 'async' | 'sync' {
  const mode = sendModeOf(value)
  if (mode === 'ack') v.fail('channelSendOptions', '8 or "async", or 6 or "sync" (2/use_ack alone is not offered for sessions)', value)
  return mode as 'async' | 'sync'
}

function section (value: unknown, name: string, allowed: readonly string[]): Record<string, unknown> {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) v.fail(name, 'an object', value)
  for (const key of Object.keys(value as object)) {
    if (!allowed.includes(key)) v.fail(`${name}.${key}`, `one of the known options (${allowed.join(', ')})`, key)
  }
  return value as Record<string, unknown>
}

/** Host names (no port, no wildcard): what a browser or a tool puts in Host when it reaches the node by that name. */
function allowedHosts (value: unknown, name: string): string[] {
  return v.stringList(value, name).map((h, i) => {
    const bare = h.replace(/^\[(.*)\]$/, '$1')
    if (isIP(bare) !== 0) return bare.toLowerCase()
    if (!HOST_NAME_PATTERN.test(h)) v.fail(`${name}[${i}]`, 'a host name or IP address without a port (the port is never compared)', h)
    return h.toLowerCase().replace(/\.$/, '')
  })
}

/** membership.members: "host:port" and "host:first-last" entries, expanded (tribes' expandMemberList) */
function staticMembers (value: unknown): string[] {
  return expandMemberList(v.stringList(value, 'membership.members'), (expected, entry) => v.fail('membership.members', expected, entry))
}

function orDefault<T> (value: unknown, fallback: T): unknown {
  return value === undefined ? fallback : value
}

function nullableString (value: unknown, name: string, pattern?: RegExp, hint?: string): string | null {
  if (value === null || value === undefined || value === '') return null
  return v.string(value, name, pattern, hint)
}

/** The AJP listener's options; Tomcat's rule: no secret off loopback unless secretRequired is false. */
function resolveAjp (ajp: Record<string, unknown>): ResolvedNodeOptions['ajp'] {
  const D = NODE_DEFAULTS.ajp
  const address = v.string(orDefault(ajp.address, D.address), 'ajp.address', HOST, 'an IP address or host name')
  const port = ajp.port === null || ajp.port === undefined ? null : v.integer(ajp.port, 'ajp.port', 0, 65535)
  const secret = nullableString(ajp.secret, 'ajp.secret')
  const secretRequired = v.boolean(orDefault(ajp.secretRequired, D.secretRequired), 'ajp.secretRequired')
  const packetSize = v.integer(orDefault(ajp.packetSize, D.packetSize), 'ajp.packetSize', AJP_MIN_PACKET_SIZE, AJP_MAX_PACKET_SIZE)
  if (port !== null && secret === null && secretRequired && !(address === 'localhost' || isLoopback(address))) {
    v.fail('ajp.secret', `a secret (--ajp-secret, mod_jk's worker secret) for an AJP listener on ${address}, which is not loopback; or ajp.secretRequired false (--ajp-secret-required false) on a network only the front end can reach`, null)
  }
  return { address, port, secret, secretRequired, packetSize }
}

/** Resolve and validate. Throws WasOptionError naming the first bad option. */
export function resolveNodeOptions (input: NodeOptions = {}): ResolvedNodeOptions {
  const top = section(input, 'options', Object.keys(NODE_DEFAULTS))
  const D = NODE_DEFAULTS
  const http = section(top.http, 'http', Object.keys(D.http))
  const mem = section(top.membership, 'membership', Object.keys(D.membership))
  const rcv = section(top.receiver, 'receiver', Object.keys(D.receiver))
  const log = section(top.log, 'log', Object.keys(D.log))
  const ajp = section(top.ajp, 'ajp', Object.keys(D.ajp))

  const members = staticMembers(orDefault(mem.members, [...D.membership.members]))
  const frequency = v.integer(orDefault(mem.frequency, D.membership.frequency), 'membership.frequency', 50, 60000)
  const dropTime = v.integer(orDefault(mem.dropTime, D.membership.dropTime), 'membership.dropTime', 100, 600000)
  if (dropTime <= frequency) v.fail('membership.dropTime', `more than membership.frequency (${frequency} ms)`, dropTime)

  const key = nullableString(top.key, 'key')
  const keyFile = nullableString(top.keyFile, 'keyFile')
  if (key !== null && keyFile !== null) v.fail('keyFile', 'unset when key is set (give one of key, keyFile)', keyFile)

  const filter = top.replicationFilter === undefined ? D.replicationFilter : top.replicationFilter
  if (filter !== null && filter !== '') {
    if (typeof filter !== 'string') v.fail('replicationFilter', 'a regular expression (string) or null', filter)
    try { new RegExp(filter as string) } catch { v.fail('replicationFilter', 'a valid regular expression', filter) } // eslint-disable-line no-new
  }
  const rawTrust = orDefault(top.trustProxy, D.trustProxy)
  // why: env and flags give text
  const trustProxy = (rawTrust === 'true' ? true : rawTrust === 'false' ? false : rawTrust) as TrustProxy
  compileTrustProxy(trustProxy, (expected, got) => v.fail('trustProxy', expected, got))

  const pretty = orDefault(log.pretty, D.log.pretty)
  const jvmRoute = v.string(orDefault(top.jvmRoute, null) ?? defaultRoute(), 'jvmRoute', JVM_ROUTE_PATTERN, JVM_ROUTE_RULE)
  return {
    jvmRoute,
    http: {
      address: v.string(orDefault(http.address, D.http.address), 'http.address', HOST, 'an IP address or host name'),
      port: v.integer(orDefault(http.port, D.http.port), 'http.port', 0, 65535),
      allowedHosts: allowedHosts(orDefault(http.allowedHosts, [...D.http.allowedHosts]), 'http.allowedHosts')
    },
    app: nullableString(top.app, 'app'),
    membership: {
      type: v.oneOf(orDefault(mem.type, members.length > 0 && mem.type === undefined ? 'static' : D.membership.type), 'membership.type', ['multicast', 'static'] as const),
      address: v.string(orDefault(mem.address, D.membership.address), 'membership.address', HOST, 'a multicast group address'),
      port: v.integer(orDefault(mem.port, D.membership.port), 'membership.port', 1, 65535),
      frequency,
      dropTime,
      bind: nullableString(mem.bind, 'membership.bind', HOST, 'an interface address'),
      ttl: v.integer(orDefault(mem.ttl, D.membership.ttl), 'membership.ttl', 0, 255),
      domain: v.string(orDefault(mem.domain, D.membership.domain), 'membership.domain', /^[\x20-\x7e]{0,64}$/, 'printable text of at most 64 characters'),
      members
    },
    receiver: {
      address: v.string(orDefault(rcv.address, D.receiver.address), 'receiver.address', HOST, '"auto" or an IP address'),
      port: v.integer(orDefault(rcv.port, D.receiver.port), 'receiver.port', 0, 65535),
      autoBind: v.integer(orDefault(rcv.autoBind, D.receiver.autoBind), 'receiver.autoBind', 1, 1000)
    },
    workers: workerCount(orDefault(top.workers, D.workers)),
    hostId: v.string(orDefault(top.hostId, null) ?? defaultHostId(), 'hostId', /^[\x21-\x7e]{1,255}$/, '1..255 printable characters without spaces'),
    manager: v.oneOf(orDefault(top.manager, D.manager), 'manager', ['delta', 'backup'] as const),
    backups: v.integer(orDefault(top.backups, D.backups), 'backups', 1, 8),
    channelSendOptions: sessionSendMode(orDefault(top.channelSendOptions, D.channelSendOptions)),
    expireSessionsOnShutdown: v.boolean(orDefault(top.expireSessionsOnShutdown, D.expireSessionsOnShutdown), 'expireSessionsOnShutdown'),
    notifyListenersOnReplication: v.boolean(orDefault(top.notifyListenersOnReplication, D.notifyListenersOnReplication), 'notifyListenersOnReplication'),
    replicationFilter: filter === '' ? null : filter as string | null,
    stateTransferTimeout: v.integer(orDefault(top.stateTransferTimeout, D.stateTransferTimeout), 'stateTransferTimeout', 1, 3600),
    sessionFetchTimeout: v.integer(orDefault(top.sessionFetchTimeout, D.sessionFetchTimeout), 'sessionFetchTimeout', 0, 60_000),
    maxInactiveInterval: v.integer(orDefault(top.maxInactiveInterval, D.maxInactiveInterval), 'maxInactiveInterval', -1, 10 * 365 * 86400),
    maxActiveSessions: v.integer(orDefault(top.maxActiveSessions, D.maxActiveSessions), 'maxActiveSessions', -1),
    maxSessionBytes: v.integer(orDefault(top.maxSessionBytes, D.maxSessionBytes), 'maxSessionBytes', 1024, 64 * 1024 * 1024),
    cookie: resolveCookieOptions(top.cookie as Partial<CookieOptions> | undefined, v),
    sessionTracking: trackingList(orDefault(top.sessionTracking, D.sessionTracking)),
    trustProxy,
    key,
    keyFile,
    insecure: v.boolean(orDefault(top.insecure, D.insecure), 'insecure'),
    shutdownTimeout: v.integer(orDefault(top.shutdownTimeout, D.shutdownTimeout), 'shutdownTimeout', 0, 600000),
    // each member uses <deployDir>/<jvmRoute> (node.ts): the members of one machine share the setting
    deployDir: nullableString(top.deployDir, 'deployDir') ?? path.join(process.cwd(), 'nodecat-deploy'),
    deployMaxBytes: v.integer(orDefault(top.deployMaxBytes, D.deployMaxBytes), 'deployMaxBytes', 1024, 30 * 1024 * 1024),
    deployKeep: v.integer(orDefault(top.deployKeep, D.deployKeep), 'deployKeep', 2, 100),
    deployWatchDir: nullableString(top.deployWatchDir, 'deployWatchDir'),
    ajp: resolveAjp(ajp),
    log: {
      level: v.oneOf(orDefault(log.level, D.log.level), 'log.level', LEVELS),
      pretty: pretty === 'auto' ? 'auto' : v.boolean(pretty, 'log.pretty')
    }
  }
}
