/**
 * The session manager's options: one DEFAULTS table (Tomcat DeltaManager defaults where Tomcat
 * has one), resolved and validated once in the constructor with messages naming the option.
 */
import type { Logger } from 'pino'
import type { Channel } from '@nodecat/tribes'
import { JVM_ROUTE_PATTERN, isValidRoute } from '@nodecat/protocol'
import { validators } from '@nodecat/tribes'
import { WasOptionError } from '../errors.js'
import type { Clock } from './clock.js'
export type { Clock } from './clock.js'

export interface SessionManagerOptions {
  /** this node's jvmRoute (the suffix of its session ids) */
  route: string
  /** the tribes channel to replicate over; omit for a single node without replication */
  channel?: Channel | null
  /** 'async' (Tomcat's channelSendOptions=8) or 'sync' (end() waits until every live peer applied the delta) */
  sendMode?: 'async' | 'sync'
  /** ms to wait for the initial state transfer; then carry on with what arrived (Tomcat: 60 s) */
  stateTransferTimeout?: number
  /** ms without any state-transfer data after which get-all is sent again (next member first) */
  transferRetry?: number
  /** sessions per all-data message of a state transfer (Tomcat sendAllSessionsSize) */
  transferChunkSessions?: number
  /** approximate bytes per all-data message */
  transferChunkBytes?: number
  /** sessions this node may hold (primary and backup); -1 = no limit */
  maxActiveSessions?: number
  /** encoded size limit of one session */
  maxSessionBytes?: number
  /** default maxInactiveInterval of a new session, seconds (<= 0: never expires) */
  maxInactiveInterval?: number
  /** stop() expires every session cluster-wide (default false: peers keep them) */
  expireSessionsOnShutdown?: boolean
  /** fire session and attribute listeners for changes that came from peers */
  notifyListenersOnReplication?: boolean
  /** ms between expiry sweeps; 0 = no timer (call processExpires() yourself) */
  processExpiresFrequency?: number
  /** a read-only request sends `accessed` once this fraction of maxInactiveInterval passed since the last message */
  accessReplicateFraction?: number
  /** ms a delta with a version gap is held before the whole session is requested */
  gapWait?: number
  /** ms to wait for a session-full before asking the next member */
  sessionRequestTimeout?: number
  /**
   * ms a request for a session this node lacks waits for the peers' copies before the app runs
   * (fetch on miss; tens of ms on a LAN). 0 turns fetching off.
   */
  sessionFetchTimeout?: number
  /** ms a removed session's id is remembered, so late messages cannot resurrect it */
  tombstoneTime?: number
  /** backup manager: ms a copy this node should no longer hold is kept before it is dropped */
  rebalanceGrace?: number
  /** backup manager: ms between checks of the copies while members do not change */
  rebalanceInterval?: number
  logger?: Logger
  clock?: Clock
}

export const DEFAULTS = Object.freeze({
  channel: null,
  sendMode: 'async' as const,
  stateTransferTimeout: 60_000,
  transferRetry: 3000,
  transferChunkSessions: 1000,
  transferChunkBytes: 4 * 1024 * 1024,
  maxActiveSessions: -1,
  maxSessionBytes: 256 * 1024,
  maxInactiveInterval: 1800,
  expireSessionsOnShutdown: false,
  notifyListenersOnReplication: true,
  processExpiresFrequency: 10_000,
  accessReplicateFraction: 0.5,
  gapWait: 100,
  sessionRequestTimeout: 5000,
  sessionFetchTimeout: 100,
  tombstoneTime: 120_000,
  rebalanceGrace: 10_000,
  rebalanceInterval: 5000
})

export interface ResolvedOptions extends Required<Omit<SessionManagerOptions, 'channel' | 'logger' | 'clock'>> {
  channel: Channel | null
}

const v = validators((message) => new WasOptionError(message))

export function resolveOptions (opts: SessionManagerOptions): ResolvedOptions {
  if (opts === null || typeof opts !== 'object') v.fail('session manager options', 'an object', opts)
  const o: Record<string, unknown> = { ...DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, x]) => x !== undefined)) }
  const route = v.string(o.route, 'route', JVM_ROUTE_PATTERN, '1-64 characters of A-Z a-z 0-9 _ -')
  if (!isValidRoute(route)) v.fail('route', 'a valid jvmRoute', route)
  return {
    route,
    channel: (o.channel ?? null) as Channel | null,
    sendMode: v.oneOf(o.sendMode, 'sendMode', ['async', 'sync'] as const),
    stateTransferTimeout: v.integer(o.stateTransferTimeout, 'stateTransferTimeout', 0, 3_600_000),
    transferRetry: v.integer(o.transferRetry, 'transferRetry', 50, 3_600_000),
    transferChunkSessions: v.integer(o.transferChunkSessions, 'transferChunkSessions', 1, 5000),
    transferChunkBytes: v.integer(o.transferChunkBytes, 'transferChunkBytes', 1024, 64 * 1024 * 1024),
    maxActiveSessions: v.integer(o.maxActiveSessions, 'maxActiveSessions', -1),
    maxSessionBytes: v.integer(o.maxSessionBytes, 'maxSessionBytes', 1024, 64 * 1024 * 1024),
    maxInactiveInterval: v.integer(o.maxInactiveInterval, 'maxInactiveInterval'),
    expireSessionsOnShutdown: v.boolean(o.expireSessionsOnShutdown, 'expireSessionsOnShutdown'),
    notifyListenersOnReplication: v.boolean(o.notifyListenersOnReplication, 'notifyListenersOnReplication'),
    processExpiresFrequency: v.integer(o.processExpiresFrequency, 'processExpiresFrequency', 0, 3_600_000),
    accessReplicateFraction: v.number(o.accessReplicateFraction, 'accessReplicateFraction', 0, 1),
    gapWait: v.integer(o.gapWait, 'gapWait', 0, 60_000),
    sessionRequestTimeout: v.integer(o.sessionRequestTimeout, 'sessionRequestTimeout', 10, 600_000),
    sessionFetchTimeout: v.integer(o.sessionFetchTimeout, 'sessionFetchTimeout', 0, 60_000),
    tombstoneTime: v.integer(o.tombstoneTime, 'tombstoneTime', 0, 86_400_000),
    rebalanceGrace: v.integer(o.rebalanceGrace, 'rebalanceGrace', 0, 3_600_000),
    rebalanceInterval: v.integer(o.rebalanceInterval, 'rebalanceInterval', 100, 3_600_000)
  }
}
