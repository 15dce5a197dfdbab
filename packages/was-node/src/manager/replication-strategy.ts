/**
 * What differs between session managers, in one place: who receives each change, and where a
 * session this node lacks is fetched from. Everything else (the session table, the request commit,
 * the conflict rules, expiry, listeners, state transfer, partition heal) is shared.
 *
 * The delta manager (Tomcat's DeltaManager) copies every change to every node peer and asks them
 * all for a missing session: `deltaStrategy`. A primary/backup manager (Tomcat's BackupManager)
 * would send each session's changes to the few members chosen as its backups and ask those.
 */
import type { Member } from '@nodecat/tribes'
import type { MessageType } from './messages.js'

/** one change to one session, about to be replicated */
export interface SessionChange {
  /** the session's id (for a rename: the new id) */
  id: string
  type: MessageType
}

export interface ReplicationStrategy {
  readonly name: string
  /** the members that receive this change, chosen from the live node peers (longest-running first) */
  targets (change: SessionChange, peers: Member[]): Member[]
  /** the members asked for a session this node lacks, chosen from the live node peers */
  fetchFrom (id: string, peers: Member[]): Member[]
}

/** every change to every node peer; a missing session is asked of every node peer */
export const deltaStrategy: ReplicationStrategy = Object.freeze({
  name: 'delta',
  targets: (_change: SessionChange, peers: Member[]) => peers,
  fetchFrom: (_id: string, peers: Member[]) => peers
})
