/**
 * Workers from tribes: every nodecat member with role "node", a route and an HTTP address is a
 * worker. Static and discovered workers mix: a member whose route is configured statically keeps
 * its configuration and only lends its liveness. A member tribes reports gone is marked ERROR at
 * once, and removed if it was discovered only. With active health checks, a member that appears (a
 * new node, or a restarted one under a known route) takes no traffic until its checks pass: it
 * may still be receiving its sessions.
 */
import type { Logger } from 'pino'
import pino from 'pino'
import type { Channel, Member } from '@nodecat/tribes'
import { buddiesOf, type PlacedMember } from '@nodecat/protocol'
import { DEFAULTS, resolveWorker } from './options.js'
import type { WorkerRegistry } from './worker-registry.js'

export interface DiscoveryOptions {
  /** in-flight limit for discovered workers */
  connectionLimit?: number
  /**
   * Active health checks run (on the nodes' readiness page): a member that appears is not used
   * until they pass, since a node that just started may still be receiving its sessions.
   */
  healthChecked?: boolean
  logger?: Logger
}

export interface Discovery {
  /** listen to the channel and take in the members it already has */
  start (): void
  /**
   * Where the sessions of `route` are served when its member is gone, for members that run the
   * backup manager (`--manager backup`): the route's first buddy by the placement rule of
   * @nodecat/protocol, computed from the members seen, as the nodes compute it. Undefined for
   * delta-manager members (every node holds every session) and unknown routes.
   */
  adopterOf (route: string): string | undefined
  /** adopterOf for every backup-manager route seen (what `--workers n` hands to the serving processes) */
  adopters (): Record<string, string>
  /** stop listening (workers stay) */
  stop (): void
  /** members ignored because their metadata did not make a usable worker */
  readonly ignored: number
}

export function createDiscovery (channel: Channel, workers: WorkerRegistry, options: DiscoveryOptions = {}): Discovery {
  const logger = options.logger ?? pino({ level: 'silent' })
  const connectionLimit = options.connectionLimit ?? DEFAULTS.connectionLimit
  const healthChecked = options.healthChecked ?? false
  let ignored = 0

  const added = (member: Member): void => {
    const meta = member.meta
    if (meta === null || meta.role !== 'node' || meta.route === undefined || meta.http === undefined) return
    let config
    try {
      config = resolveWorker({ route: meta.route, url: meta.http }, `member ${member.id}`, connectionLimit)
    } catch (err) {
      ignored++
      logger.warn({ member: member.id, err: (err as Error).message }, 'discovery: member ignored')
      return
    }
    const existing = workers.get(config.route)
    if (existing === undefined) {
      const worker = workers.add(config, false, member.id)
      if (healthChecked) worker.health.awaitCheck('discovered: waiting for its health check')
      return
    }
    // a known route: a restarted node (new uniqueId), a moved one, or a static worker's member
    existing.memberId = member.id
    if (!existing.isStatic) existing.setUrl(config.url)
    if (healthChecked) existing.health.awaitCheck('member announced: waiting for its health check')
    else existing.health.announced()
    logger.info({ route: config.route, address: existing.url }, 'discovery: member announced for known worker')
  }

  const gone = (member: Member): void => {
    const route = member.meta?.route
    if (route === undefined) return
    const worker = workers.get(route)
    // why: a newer member may own the route now (restart before the old one timed out)
    if (worker === undefined || worker.memberId !== member.id) return
    worker.health.gone()
    worker.memberId = null
    if (!worker.isStatic) workers.remove(route)
  }

  // routes seen with the backup manager: their host and backup count (bounded, oldest forgotten)
  const placed = new Map<string, { host: string }>()
  const notePlacement = (member: Member): void => {
    const meta = member.meta
    if (meta?.role !== 'node' || meta.route === undefined || meta.props?.manager !== 'backup') return
    placed.delete(meta.route)
    placed.set(meta.route, { host: meta.host ?? '' })
    if (placed.size > 4096) placed.delete(placed.keys().next().value!)
  }
  const adopterOf = (route: string): string | undefined => {
    const seen = placed.get(route)
    if (seen === undefined) return undefined
    const live: PlacedMember[] = []
    for (const m of channel.members()) {
      if (m.meta?.role === 'node' && m.meta.route !== undefined && m.meta.route !== route && m.meta.props?.manager === 'backup') live.push({ route: m.meta.route, host: m.meta.host ?? '' })
    }
    return buddiesOf(route, seen.host, live, 1)[0]?.route
  }

  const onGone = (member: Member): void => gone(member)
  const onAdded = (member: Member): void => { notePlacement(member); added(member) }
  return {
    start () {
      channel.on('memberAdded', onAdded)
      channel.on('memberDisappeared', onGone)
      for (const m of channel.members()) onAdded(m)
    },
    stop () {
      channel.off('memberAdded', onAdded)
      channel.off('memberDisappeared', onGone)
    },
    adopterOf,
    adopters () {
      const out: Record<string, string> = {}
      for (const route of placed.keys()) {
        const a = adopterOf(route)
        if (a !== undefined) out[route] = a
      }
      return out
    },
    get ignored () { return ignored }
  }
}
