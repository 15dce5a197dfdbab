/**
 * The service's Tomcat-named options mapped onto the tribes channel's options (whose own table and
 * validation live in @nodecat/tribes; nothing is validated twice here).
 */
import type { Logger } from 'pino'
import type { MemberMeta, SendMode } from '@nodecat/tribes'
import type { ResolvedNodeOptions } from './options.js'

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
    meta: { role: 'node', route: o.jvmRoute, http: httpUrl },
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
