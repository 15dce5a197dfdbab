/** Counters of one session manager, as stats() reports them. */
import type { MessageType } from './messages.js'
import { emptyFetchStats, type FetchStats } from './fetch.js'
import { emptyReconcileStats, type ReconcileStats } from './reconcile.js'
import { emptyRebalanceStats, type RebalanceStats } from './rebalance.js'

export interface SessionManagerStats {
  route: string
  ready: boolean
  sessions: number
  /** sessions last used by a request on this node */
  primary: number
  /** copies held for other nodes */
  backup: number
  /** messages sent, by type, counted once per member sent to */
  sent: Partial<Record<MessageType, number>>
  received: Partial<Record<MessageType, number>>
  deltasApplied: number
  /** deltas ignored because this node already had them */
  duplicates: number
  /** deltas held for a gap or an unknown session */
  held: number
  /** held deltas that were applied later because the missing one arrived (reordering) */
  reordered: number
  /** gaps closed by fetching the whole session */
  gapsRecovered: number
  /** gaps that no member could close (the session is gone everywhere) */
  gapsUnrecoverable: number
  /** losing concurrent writes (two nodes wrote one session), each one logged */
  conflicts: number
  /** messages dropped by reason (malformed, forged, oversized, …) */
  dropped: Record<string, number>
  /** messages for sessions removed a moment ago, ignored */
  ignoredRemoved: number
  sendFailures: number
  expired: number
  rejected: { tooLarge: number, tooMany: number, notSerializable: number }
  transfer: { state: 'idle' | 'running' | 'done' | 'incomplete' | 'timed-out', sessionsReceived: number, chunksReceived: number, sessionsSent: number, queuedDuringTransfer: number }
  /** sessions a request named that this node lacked, asked of the peers before the app ran (fetch.ts) */
  fetch: FetchStats
  /** digest exchanges with members not known at start (reconcile.ts) */
  reconcile: ReconcileStats
  /** the session manager in use: delta (every node holds every session) or backup */
  manager: string
  /** backup manager: copies moved to the members that should hold them (rebalance.ts) */
  rebalance: RebalanceStats
  /** ms between a delta's stamp time on its writer and its apply here (includes clock skew between nodes) */
  lag: { lastMs: number, maxMs: number }
  /** ms the last sync-mode send waited for its peers */
  lastSyncWaitMs: number
}

export function emptyStats (route: string): SessionManagerStats {
  return {
    route,
    ready: false,
    sessions: 0,
    primary: 0,
    backup: 0,
    sent: {},
    received: {},
    deltasApplied: 0,
    duplicates: 0,
    held: 0,
    reordered: 0,
    gapsRecovered: 0,
    gapsUnrecoverable: 0,
    conflicts: 0,
    dropped: {},
    ignoredRemoved: 0,
    sendFailures: 0,
    expired: 0,
    rejected: { tooLarge: 0, tooMany: 0, notSerializable: 0 },
    transfer: { state: 'idle', sessionsReceived: 0, chunksReceived: 0, sessionsSent: 0, queuedDuringTransfer: 0 },
    fetch: emptyFetchStats(),
    reconcile: emptyReconcileStats(),
    manager: 'delta',
    rebalance: emptyRebalanceStats(),
    lag: { lastMs: 0, maxMs: 0 },
    lastSyncWaitMs: 0
  }
}
