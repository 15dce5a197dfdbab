/**
 * Workers from tribes: every nodecat member with role "node", a route and an HTTP address is a
 * worker. Static and discovered workers mix: a member whose route is configured statically keeps
 * its configuration and only lends its liveness. A member tribes reports gone is marked ERROR at
 * once, and removed if it was discovered only.
 */
import type { Logger } from 'pino'
import pino from 'pino'
import type { Channel, Member } from '@nodecat/tribes'
import { DEFAULTS, resolveWorker } from './options.js'
import type { WorkerRegistry } from './worker-registry.js'

export interface DiscoveryOptions {
  /** in-flight limit for discovered workers */
  connectionLimit?: number
  logger?: Logger
}

export interface Discovery {
  /** listen to the channel and take in the members it already has */
  start (): void
  /** stop listening (workers stay) */
  stop (): void
  /** members ignored because their metadata did not make a usable worker */
  readonly ignored: number
}

export function createDiscovery (channel: Channel, workers: WorkerRegistry, options: DiscoveryOptions = {}): Discovery {
  const logger = options.logger ?? pino({ level: 'silent' })
  const connectionLimit = options.connectionLimit ?? DEFAULTS.connectionLimit
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
      workers.add(config, false, member.id)
      return
    }
    // a known route: a restarted node (new uniqueId), a moved one, or a static worker's member
    existing.memberId = member.id
    if (!existing.isStatic) existing.setUrl(config.url)
    existing.health.announced()
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

  const onGone = (member: Member): void => gone(member)
  return {
    start () {
      channel.on('memberAdded', added)
      channel.on('memberDisappeared', onGone)
      for (const m of channel.members()) added(m)
    },
    stop () {
      channel.off('memberAdded', added)
      channel.off('memberDisappeared', onGone)
    },
    get ignored () { return ignored }
  }
}
