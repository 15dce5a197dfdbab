/**
 * Every node of one cluster must run the same session manager: a delta node sends every change to
 * every node, a backup node only to a session's buddies, and a fetch or a failover that crosses the
 * two would miss copies. Members advertise theirs (meta.props.manager, .backups; a member without
 * one is a delta node of an older build).
 */
import type { Member, MemberMeta } from '@nodecat/tribes'
import type { ResolvedNodeOptions } from './options.js'
import { serviceErrors } from './errors.js'

/** "delta", or "backup (--backups k)" */
export function managerOf (meta: Pick<MemberMeta, 'props'> | null): string {
  const manager = meta?.props?.manager ?? 'delta'
  return manager === 'backup' ? `backup (--backups ${meta?.props?.backups ?? '1'})` : manager
}

export function ownManager (o: ResolvedNodeOptions): string {
  return managerOf({ props: { manager: o.manager, backups: String(o.backups) } })
}

/** a node member whose manager differs from this node's, or null */
export function managerClash (members: Member[], o: ResolvedNodeOptions): { member: string, theirs: string } | null {
  const mine = ownManager(o)
  for (const m of members) {
    if (m.meta?.role !== 'node') continue
    const theirs = managerOf(m.meta)
    if (theirs !== mine) return { member: `${m.meta.route ?? '?'} (${m.id})`, theirs }
  }
  return null
}

/** throws WAS_ERR_MANAGER_MISMATCH naming both members when one of `members` runs another manager */
export function refuseManagerClash (members: Member[], o: ResolvedNodeOptions): void {
  const clash = managerClash(members, o)
  if (clash !== null) throw serviceErrors.managerMismatch(ownManager(o), o.jvmRoute, clash.member, clash.theirs)
}
