/**
 * What every part of a session manager shares: its options, log and counters, the session table,
 * the listeners and the replicator. Built once by the manager (session-manager.ts) and handed to
 * each part, so a second manager reuses the parts with another replication strategy.
 */
import type { Logger } from 'pino'
import type { ResolvedOptions } from './defaults.js'
import type { SessionManagerStats } from './stats.js'
import type { SessionTable } from './session-table.js'
import type { SessionListeners } from './listeners.js'
import type { Replicator } from './replicator.js'

export interface ManagerContext {
  /** this node's jvmRoute */
  readonly route: string
  readonly opts: ResolvedOptions
  readonly log: Logger
  readonly stats: SessionManagerStats
  readonly table: SessionTable
  readonly listeners: SessionListeners
  readonly replicator: Replicator
  /** this node's never-stepping clock: idle times, tombstones, lost members (clock.ts) */
  mono (): number
  /** the wall clock: a change's stamp time, a session's creation time */
  now (): number
  /** between start() and stop() */
  running (): boolean
}
