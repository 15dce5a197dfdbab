/**
 * The one table of channel defaults, and `resolveChannelOptions`: every option validated once at
 * start-up, with messages naming the option (TRIBES_ERR_INVALID_OPTION, TRIBES_ERR_KEY_INVALID,
 * TRIBES_ERR_INSECURE).
 */
import os from 'node:os'
import net from 'node:net'
import pino, { type Logger } from 'pino'
import { JVM_ROUTE_PATTERN } from '@nodecat/protocol'
import { TribesOptionError, errors } from './errors.js'
import { validators } from './validate.js'
import { parseKey, readKeyFile } from './crypto/keyring.js'
import type { MemberMeta, MemberRole, SendMode } from './types.js'
import { validateMeta } from './codec/member-payload.js'

const v = validators((message) => new TribesOptionError(message))

/**
 * Defaults: Tomcat's where Tomcat has one. McastService: group 228.0.0.4:45564, a heartbeat every
 * 500 ms, a member dropped after 3000 ms of silence (Tomcat leaves the TTL unset; nodecat says 1,
 * one hop). NioReceiver: port 4000, autoBind 100 (ports 4000..4099). The sender: 3000 ms for one
 * send to every member. MessageDispatchInterceptor: channelSendOptions=8 (async) and a queue of at
 * most 64 MiB of message bodies.
 */
export const DEFAULTS = Object.freeze({
  /** receiver TCP port, and the first one tried */
  port: 4000,
  /** ports tried: port .. port+autoBind-1 */
  autoBind: 100,
  /** advertised domain; members of another domain are ignored */
  domain: '',
  membership: Object.freeze({
    type: 'multicast' as 'multicast' | 'static',
    address: '228.0.0.4',
    port: 45564,
    frequency: 500,
    dropTime: 3000,
    ttl: 1
  }),
  /** Tomcat's channelSendOptions=8 */
  sendMode: 'async' as SendMode,
  /** ms to wait for every ACK of one send */
  timeout: 3000,
  /** ms to wait for a TCP connect to a member */
  connectTimeout: 1000,
  /** largest frame body accepted (a larger length field closes the connection) */
  maxMessageSize: 32 * 1024 * 1024,
  /** concurrent inbound connections */
  maxConnections: 256,
  /** concurrent inbound connections from one remote address (one host cannot take them all) */
  maxConnectionsPerPeer: 32,
  /** ms within which a frame begun on a connection must be complete (slowloris guard) */
  frameTimeout: 60_000,
  /**
   * ms within which a new inbound connection must deliver a valid message (with a cluster key an
   * authentic one), or be closed: senders write as soon as they connect, so an idle stranger
   * cannot hold a connection slot
   */
  firstFrameTimeout: 5000,
  /** bytes held for unfinished frames over all inbound connections together */
  maxBufferedBytes: 64 * 1024 * 1024,
  /** async dispatch queue bounds (MessageDispatchInterceptor maxQueueSize = 64 MiB) */
  queueMaxBytes: 64 * 1024 * 1024,
  queueMaxMessages: 100_000,
  /** ms of clock difference and replay memory for keyed traffic */
  replayWindow: 60_000,
  replayStreams: 1024,
  insecure: false
})

export interface MembershipOptions {
  /** 'multicast' (UDP heartbeats to a group) or 'static' (a list of member receivers over TCP) */
  type?: 'multicast' | 'static'
  /** multicast group address */
  address?: string
  /** multicast group port */
  port?: number
  /** interface address to bind the multicast socket to (also the default receiver address) */
  bind?: string
  ttl?: number
  /** heartbeat interval, ms */
  frequency?: number
  /** a member silent this long is dropped, ms */
  dropTime?: number
  /** static membership: receivers as "host:port" (our own may be listed; it is skipped) */
  members?: string[] | string
}

export interface ChannelOptions {
  /** receiver address (never 0.0.0.0). Default: 127.0.0.1 for an all-loopback static list, the multicast bind address, else the first non-internal IPv4 */
  address?: string
  port?: number
  autoBind?: number
  domain?: string
  /** what this member advertises (protocol is filled in) */
  meta?: Partial<MemberMeta>
  membership?: MembershipOptions
  sendMode?: SendMode
  timeout?: number
  connectTimeout?: number
  maxMessageSize?: number
  maxConnections?: number
  maxConnectionsPerPeer?: number
  frameTimeout?: number
  firstFrameTimeout?: number
  maxBufferedBytes?: number
  queueMaxBytes?: number
  queueMaxMessages?: number
  /** cluster key: 32 bytes, or base64 of 32 bytes */
  key?: string | Uint8Array
  /** file holding the cluster key (base64 text or 32 raw bytes), or several keys one per line
   *  (current first, then the previous ones still accepted); re-read when it changes */
  keyFile?: string
  /** older keys still accepted (rotation), newest first */
  previousKeys?: Array<string | Uint8Array>
  replayWindow?: number
  /** sender id streams remembered for replay detection */
  replayStreams?: number
  /** allow plaintext cluster traffic on a non-loopback address (logs a loud warning) */
  insecure?: boolean
  logger?: Logger
}

export interface ResolvedMembership {
  type: 'multicast' | 'static'
  address: string
  port: number
  bind: string | undefined
  ttl: number
  frequency: number
  dropTime: number
  members: Array<{ host: string, port: number }>
}

export interface ResolvedChannelOptions {
  address: string
  /** how the address was chosen, for the start-up log */
  addressSource: 'option' | 'loopback-static' | 'multicast-bind' | 'first-interface' | 'no-interface'
  port: number
  autoBind: number
  domain: string
  meta: MemberMeta
  membership: ResolvedMembership
  sendMode: SendMode
  timeout: number
  connectTimeout: number
  maxMessageSize: number
  maxConnections: number
  maxConnectionsPerPeer: number
  frameTimeout: number
  firstFrameTimeout: number
  maxBufferedBytes: number
  queueMaxBytes: number
  queueMaxMessages: number
  key: Buffer | undefined
  /** where key came from, re-read by the keyring when it changes */
  keyFile: string | undefined
  previousKeys: Buffer[]
  replayWindow: number
  replayStreams: number
  insecure: boolean
  logger: Logger
}

export const PROTOCOL_VERSION = 1
const ROLES: readonly MemberRole[] = ['node', 'balancer', 'tool']

export function isLoopback (address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) || address === '::1'
}

function ipAddress (value: unknown, name: string): string {
  const s = v.string(value, name)
  if (net.isIP(s) === 0) v.fail(name, 'an IP address', value)
  if (s === '0.0.0.0' || s === '::') v.fail(name, 'a specific address (not the wildcard; peers must be able to reach it)', value)
  return s
}

function hostPort (value: string, name: string): { host: string, port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(value.trim())
  if (!m) v.fail(name, 'a list of "host:port"', value)
  return { host: ipAddress(m![1], name), port: v.integer(Number(m![2]), name, 1, 65535) }
}

function firstExternalIPv4 (): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return undefined
}

/** Validate every option once; throws a coded error naming the first bad one. */
export function resolveChannelOptions (input: ChannelOptions = {}): ResolvedChannelOptions {
  if (input === null || typeof input !== 'object') v.fail('options', 'an object', input)
  const o = input
  const mIn = o.membership ?? {}
  const md = DEFAULTS.membership
  const type = v.oneOf(mIn.type ?? md.type, 'membership.type', ['multicast', 'static'] as const)
  const frequency = v.integer(mIn.frequency ?? md.frequency, 'membership.frequency', 10, 60_000)
  const membership: ResolvedMembership = {
    type,
    address: ipAddress(mIn.address ?? md.address, 'membership.address'),
    port: v.integer(mIn.port ?? md.port, 'membership.port', 1, 65535),
    bind: mIn.bind === undefined ? undefined : ipAddress(mIn.bind, 'membership.bind'),
    ttl: v.integer(mIn.ttl ?? md.ttl, 'membership.ttl', 0, 255),
    frequency,
    dropTime: v.integer(mIn.dropTime ?? md.dropTime, 'membership.dropTime', 2 * frequency, 600_000),
    members: v.stringList(mIn.members ?? [], 'membership.members').map((s) => hostPort(s, 'membership.members'))
  }
  if (type === 'static' && mIn.members === undefined) v.fail('membership.members', 'a list of "host:port" for static membership', undefined)

  let address: string
  let addressSource: ResolvedChannelOptions['addressSource']
  if (o.address !== undefined) {
    address = ipAddress(o.address, 'address'); addressSource = 'option'
  } else if (type === 'static' && membership.members.every((m) => isLoopback(m.host))) {
    address = '127.0.0.1'; addressSource = 'loopback-static'
  } else if (type === 'multicast' && membership.bind !== undefined) {
    address = membership.bind; addressSource = 'multicast-bind'
  } else {
    const found = firstExternalIPv4()
    address = found ?? '127.0.0.1'; addressSource = found ? 'first-interface' : 'no-interface'
  }

  const metaIn = o.meta ?? {}
  const meta: MemberMeta = { protocol: PROTOCOL_VERSION, role: v.oneOf(metaIn.role ?? 'node', 'meta.role', ROLES) }
  if (metaIn.route !== undefined) meta.route = v.string(metaIn.route, 'meta.route', JVM_ROUTE_PATTERN, 'letters, digits, "_" or "-" (1-64)')
  if (metaIn.http !== undefined) meta.http = v.string(metaIn.http, 'meta.http', /^https?:\/\/\S+$/, 'an http(s) URL')
  if (metaIn.host !== undefined) meta.host = v.string(metaIn.host, 'meta.host', /^[\x21-\x7e]{1,255}$/, '1..255 printable characters without spaces')
  if (metaIn.props !== undefined) {
    try { meta.props = validateMeta({ protocol: 0, role: 'node', props: metaIn.props }).props! } catch (err) { v.fail('meta.props', (err as Error).message.replace(/^.*?: /, ''), metaIn.props) }
  }

  if (o.key !== undefined && o.keyFile !== undefined) v.fail('keyFile', 'unset when key is set (give one of them)', o.keyFile)
  const key = o.key !== undefined ? parseKey(o.key, 'key') : o.keyFile !== undefined ? readKeyFile(v.string(o.keyFile, 'keyFile')) : undefined
  const previous = o.previousKeys ?? []
  if (!Array.isArray(previous)) v.fail('previousKeys', 'a list of keys', previous)
  if (key === undefined && previous.length > 0) v.fail('previousKeys', 'empty when no key is set', previous)
  const insecure = v.boolean(o.insecure ?? DEFAULTS.insecure, 'insecure')
  const resolved: ResolvedChannelOptions = {
    address,
    addressSource,
    port: v.integer(o.port ?? DEFAULTS.port, 'port', 0, 65535),
    autoBind: Math.max(1, v.integer(o.autoBind ?? DEFAULTS.autoBind, 'autoBind', 0, 65535)),
    domain: v.string(o.domain ?? DEFAULTS.domain, 'domain', /^[\x20-\x7e]{0,255}$/, 'printable ASCII, at most 255 characters'),
    meta,
    membership,
    sendMode: v.oneOf(o.sendMode ?? DEFAULTS.sendMode, 'sendMode', ['async', 'ack', 'sync'] as const),
    timeout: v.integer(o.timeout ?? DEFAULTS.timeout, 'timeout', 1, 3_600_000),
    connectTimeout: v.integer(o.connectTimeout ?? DEFAULTS.connectTimeout, 'connectTimeout', 1, 600_000),
    maxMessageSize: v.integer(o.maxMessageSize ?? DEFAULTS.maxMessageSize, 'maxMessageSize', 1024, 2 ** 31 - 1),
    maxConnections: v.integer(o.maxConnections ?? DEFAULTS.maxConnections, 'maxConnections', 1, 65535),
    maxConnectionsPerPeer: v.integer(o.maxConnectionsPerPeer ?? DEFAULTS.maxConnectionsPerPeer, 'maxConnectionsPerPeer', 1, 65535),
    frameTimeout: v.integer(o.frameTimeout ?? DEFAULTS.frameTimeout, 'frameTimeout', 100, 3_600_000),
    firstFrameTimeout: v.integer(o.firstFrameTimeout ?? DEFAULTS.firstFrameTimeout, 'firstFrameTimeout', 100, 3_600_000),
    maxBufferedBytes: v.integer(o.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes, 'maxBufferedBytes', 1024, 2 ** 40),
    queueMaxBytes: v.integer(o.queueMaxBytes ?? DEFAULTS.queueMaxBytes, 'queueMaxBytes', 1),
    queueMaxMessages: v.integer(o.queueMaxMessages ?? DEFAULTS.queueMaxMessages, 'queueMaxMessages', 1),
    key,
    keyFile: key !== undefined && o.key === undefined ? o.keyFile : undefined,
    previousKeys: previous.map((k, i) => parseKey(k, `previousKeys[${i}]`)),
    replayWindow: v.integer(o.replayWindow ?? DEFAULTS.replayWindow, 'replayWindow', 1000, 86_400_000),
    replayStreams: v.integer(o.replayStreams ?? DEFAULTS.replayStreams, 'replayStreams', 16, 1_000_000),
    insecure,
    logger: o.logger ?? pino({ level: 'silent' })
  }
  // why: one frame of maxMessageSize must always be receivable
  if (resolved.maxBufferedBytes < resolved.maxMessageSize + 18) v.fail('maxBufferedBytes', `at least maxMessageSize + 18 (${resolved.maxMessageSize + 18})`, resolved.maxBufferedBytes)
  // last, so a bad option is reported by name before the address question comes up
  if (key === undefined && !insecure && !isLoopback(address)) throw errors.insecure(address)
  return resolved
}
