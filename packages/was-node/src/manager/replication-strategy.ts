/**
 * What differs between session managers, in one place: who receives each change, where a session
 * this node lacks is fetched from, and which members should hold a session at all. Everything else
 * (the session table, the request commit, the conflict rules, expiry, listeners, state transfer,
 * partition heal) is shared.
 *
 * - `deltaStrategy` (Tomcat's DeltaManager): every change to every node peer; every node holds
 *   every session; a missing session is asked of every node peer.
 * - `backupStrategy` (Tomcat's BackupManager, `--manager backup`): each session lives on its
 *   primary and k buddies chosen by the placement rule of @nodecat/protocol (other hosts first), so
 *   a change costs k sends however large the cluster is. A missing session is still asked of every
 *   node peer (holders first): a copy must be found wherever it is.
 */
import { placementOf, routeOf, type PlacedMember } from '@nodecat/protocol'
import type { Member } from '@nodecat/tribes'
import type { MessageType } from './messages.js'

/** one change to one session, about to be replicated */
export interface SessionChange {
  /** the session's id (for a rename: the new id) */
  id: string
  type: MessageType
}

/** who should hold a session: this node or not, and which peers */
export interface Placement {
  mine: boolean
  others: Member[]
}

export interface ReplicationStrategy {
  /** 'delta', 'backup' (what status pages and metrics show) */
  readonly name: string
  /**
   * true: copies live on a few members, so each record's holders are tracked, a member that lacks
   * a session gets the whole of it, and copies are moved when members come and go (rebalance.ts)
   */
  readonly placed: boolean
  /** the members that receive this change, chosen from the live node peers (longest-running first) */
  targets (change: SessionChange, peers: Member[]): Member[]
  /** the members asked for a session this node lacks, chosen from the live node peers */
  fetchFrom (id: string, peers: Member[]): Member[]
  /** who should hold a session of `route` among this node and `peers` */
  placement (route: string, peers: Member[]): Placement
}

/** every change to every node peer; a missing session is asked of every node peer */
export const deltaStrategy: ReplicationStrategy = Object.freeze({
  name: 'delta' as const,
  placed: false,
  targets: (_change: SessionChange, peers: Member[]) => peers,
  fetchFrom: (_id: string, peers: Member[]) => peers,
  placement: (_route: string, peers: Member[]) => ({ mine: true, others: peers })
})

const MAX_REMEMBERED_HOSTS = 4096

/**
 * Primary/backup: `self` is this node's route and host id, `backups` the k copies besides the
 * primary. The hosts of routes seen are remembered, so the sessions of a member that is gone are
 * placed where the rule put them while it was there.
 */
export function backupStrategy (self: PlacedMember, backups: number): ReplicationStrategy {
  const hosts = new Map<string, string>([[self.route, self.host]])
  const placedOf = (m: Member): PlacedMember | null => {
    const route = m.meta?.route
    if (route === undefined) return null
    const host = m.meta?.host ?? ''
    if (hosts.get(route) !== host) {
      hosts.delete(route)
      hosts.set(route, host)
      if (hosts.size > MAX_REMEMBERED_HOSTS) hosts.delete(hosts.keys().next().value!)
    }
    return { route, host }
  }
  const compute = (route: string, peers: Member[]): Placement => {
    const byRoute = new Map<string, Member>()
    const members: PlacedMember[] = [self]
    for (const m of peers) {
      const p = placedOf(m)
      if (p === null || p.route === self.route || byRoute.has(p.route)) continue
      byRoute.set(p.route, m)
      members.push(p)
    }
    const placed = placementOf(route, members, backups, (r) => hosts.get(r) ?? '')
    const others: Member[] = []
    let mine = false
    for (const p of placed) {
      if (p.route === self.route) mine = true
      else others.push(byRoute.get(p.route)!)
    }
    // frozen: the answer is shared by every caller until the members change
    return Object.freeze({ mine, others: Object.freeze(others) as Member[] })
  }
  // why: a rebalance pass asks once per session and every request once; the answer depends only on
  // the route and the members, so it is kept per route until the member list changes
  let signature = ''
  const memo = new Map<string, Placement>()
  const placement = (route: string, peers: Member[]): Placement => {
    let sig = ''
    for (const m of peers) sig += m.id + ' '
    if (sig !== signature) { signature = sig; memo.clear() }
    let p = memo.get(route)
    if (p === undefined) {
      if (memo.size >= MAX_REMEMBERED_HOSTS) memo.clear()
      p = compute(route, peers)
      memo.set(route, p)
    }
    return p
  }
  return Object.freeze({
    name: 'backup' as const,
    placed: true,
    targets: (change: SessionChange, peers: Member[]) => placement(routeOf(change.id) ?? self.route, peers).others,
    fetchFrom: (id: string, peers: Member[]) => {
      const holders = placement(routeOf(id) ?? self.route, peers).others
      return [...holders, ...peers.filter((m) => !holders.includes(m))]
    },
    placement
  })
}
