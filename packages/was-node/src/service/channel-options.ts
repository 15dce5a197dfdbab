/**
 * The service's Tomcat-named options mapped onto the tribes channel's options (whose own table and
 * validation live in @nodecat/tribes; nothing here re-implements them), and the check that runs
 * tribes' validation before the node listens on anything.
 */
import type { Logger } from 'pino'
import { resolveChannelOptions, type MemberMeta, type SendMode } from '@nodecat/tribes'
import type { ResolvedNodeOptions } from './options.js'
import { advertisedHttpUrl } from './advertise.js'

/** The subset of tribes' ChannelOptions the service sets. */
export interface ServiceChannelOptions {
  address?: string
  port: number
  autoBind: number
  domain: string
  meta: Partial<MemberMeta>
  membership: {
    type: 'multicast' | 'static'
    address: string
    port: number
    bind?: string
    ttl: number
    frequency: number
    dropTime: number
    members: string[]
  }
  sendMode: SendMode
  key?: string
  keyFile?: string
  insecure: boolean
  logger: Logger
}

export function channelOptionsOf (o: ResolvedNodeOptions, httpUrl: string, logger: Logger): ServiceChannelOptions {
  const m = o.membership
  return {
    // why 'auto' maps to unset: tribes picks loopback for an all-loopback static list, else the LAN address
    ...(o.receiver.address === 'auto' ? {} : { address: o.receiver.address }),
    port: o.receiver.port,
    autoBind: o.receiver.autoBind,
    domain: m.domain,
    meta: { role: 'node', route: o.jvmRoute, http: httpUrl, host: o.hostId, props: { manager: o.manager, ...(o.manager === 'backup' ? { backups: String(o.backups) } : {}) } },
    membership: {
      type: m.type,
      address: m.address,
      port: m.port,
      ...(m.bind === null ? {} : { bind: m.bind }),
      ttl: m.ttl,
      frequency: m.frequency,
      dropTime: m.dropTime,
      members: m.members
    },
    sendMode: o.channelSendOptions,
    ...(o.key === null ? {} : { key: o.key }),
    ...(o.keyFile === null ? {} : { keyFile: o.keyFile }),
    insecure: o.insecure,
    logger
  }
}

/**
 * Validate the channel options this node will start with, before anything listens: an insecure
 * receiver address, a bad key or key file, a bad route throw tribes' coded error here instead of
 * after the HTTP server is up. The HTTP URL the node advertises is known only once it listens
 * (port 0 picks one); a URL of the same form, from the configured address and port, stands in.
 */
export function checkChannelOptions (o: ResolvedNodeOptions, logger: Logger): void {
  const provisional = advertisedHttpUrl({ address: o.http.address, family: o.http.address.includes(':') ? 'IPv6' : 'IPv4', port: o.http.port }, o)
  resolveChannelOptions(channelOptionsOf(o, provisional, logger))
}
