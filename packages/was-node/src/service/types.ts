/**
 * What a node is built from, as types only: the session manager the service drives and what its
 * factory is given. node.ts (which drives the parts) and wiring.ts (which builds the real ones)
 * both read them here, so neither imports the other for a type.
 */
import type { Logger } from 'pino'
import type { Channel } from '@nodecat/tribes'
import type { SessionStore } from '../session/types.js'
import type { SessionManagerStats } from '../manager/stats.js'
import type { ResolvedNodeOptions } from './options.js'

/** What the service needs from the session manager beyond the SessionStore contract. */
export interface NodeSessionManager extends SessionStore {
  start (): Promise<void>
  stop (): Promise<void>
  stats (): SessionManagerStats
  /** see SessionManager.replicas() (optional for other stores) */
  replicas? (): unknown
  /** see SessionManager.suspect(): this node's copies may be stale for `ms` (optional for other stores) */
  suspect? (reason: string, ms: number): void
}

/** what a manager factory gets to build the node's session manager */
export interface ManagerFactoryOptions { options: ResolvedNodeOptions, channel: Channel, logger: Logger }
