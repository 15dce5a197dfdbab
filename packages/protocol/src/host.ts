/**
 * The Host header, as both the balancer's admin listener and a node's own pages check it against
 * DNS rebinding: a page on evil.example whose name is made to resolve to the listener's address
 * reaches it with `Host: evil.example`, so only names that are the listener's own are answered.
 * The port is not compared: a port forward (ssh -L, the demo's pipes) changes it, and a browser
 * sends the name it connected to, so the name is what rebinding forges.
 */
import os from 'node:os'
import { isIP } from 'node:net'

/** addresses that mean "every interface" */
const WILDCARDS = new Set(['0.0.0.0', '::', ''])

/** a host name as `allowedHosts` takes it: dot-separated labels, no port, no wildcard */
export const HOST_NAME_PATTERN = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/

/** "Name:port", "[v6]:port", "name" → the name, lower case, without brackets or a final dot; null if malformed. */
export function hostName (header: string): string | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(header.trim())
  if (m === null) return null
  if (m[1] !== undefined) return isIP(m[1]) === 6 ? m[1].toLowerCase() : null
  const name = m[2]!.toLowerCase().replace(/\.$/, '')
  return name === '' ? null : name
}

function isLoopback (address: string): boolean {
  return address === 'localhost' || address === '::1' || /^127\./.test(address)
}

/**
 * The names a listener on `address` answers to: the address itself; `localhost` (and the loopback
 * addresses) when it is on loopback, the machine's host name (a name no attacker controls) when it
 * is not; every interface address, `localhost` and the host name when it listens on every
 * interface; the host of `advertisedUrl` (a node's advertised URL); plus `configured` (names only,
 * any port).
 */
export function listenerHostNames (address: string, configured: readonly string[] = [], advertisedUrl: string | null = null): Set<string> {
  const names = new Set<string>()
  const a = address.toLowerCase().replace(/^\[|\]$/g, '')
  if (WILDCARDS.has(a)) {
    for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) names.add(i.address.toLowerCase())
    names.add('localhost')
    names.add(os.hostname().toLowerCase())
  } else {
    names.add(a)
    if (isLoopback(a)) names.add('localhost')
    else names.add(os.hostname().toLowerCase())
    if (a === 'localhost') { names.add('127.0.0.1'); names.add('::1') }
  }
  if (advertisedUrl !== null) {
    try {
      const advertised = hostName(new URL(advertisedUrl).host)
      if (advertised !== null) names.add(advertised)
    } catch {}
  }
  for (const c of configured) { const n = hostName(c); if (n !== null) names.add(n) }
  return names
}

/** Why a Host is refused: none, two, or one that does not parse (400); or it names another server (421). */
export type HostRefusal = 'missing' | 'foreign'

/** Is the request's one Host header one of `names`? null when it is, else why not. */
export function checkHostHeader (rawHeaders: readonly string[], host: string | undefined, names: ReadonlySet<string>): HostRefusal | null {
  let count = 0
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === 'host') count++
  const name = count === 1 && host !== undefined ? hostName(host) : null
  if (name === null) return 'missing'
  return names.has(name) ? null : 'foreign'
}
