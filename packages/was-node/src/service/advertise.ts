/**
 * The HTTP URL a node advertises to the cluster (the balancer sends users there). A node that
 * listens on every interface (0.0.0.0 / ::) must advertise an address others can reach: its
 * receiver address when set, else the first non-internal IPv4 (as tribes chooses for 'auto').
 */
import os from 'node:os'
import type { AddressInfo } from 'node:net'
import type { ResolvedNodeOptions } from './options.js'

function firstExternalIPv4 (): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return undefined
}

export function advertisedHttpUrl (bound: AddressInfo, options: ResolvedNodeOptions): string {
  let host = bound.address
  if (host === '0.0.0.0' || host === '::') {
    host = options.receiver.address !== 'auto' ? options.receiver.address : firstExternalIPv4() ?? '127.0.0.1'
  }
  return `http://${host.includes(':') ? `[${host}]` : host}:${bound.port}`
}
