/**
 * What a web page in a browser on this machine (or the LAN) must not do to the admin listener:
 * - read it by DNS rebinding: a page on evil.example whose name is made to resolve to 127.0.0.1
 *   reaches the listener with `Host: evil.example`. Only Host names that are the listener's own
 *   address (or configured names) are answered: 421 otherwise, 400 for a missing or doubled Host.
 * - change it by CSRF: a page may send a "simple" cross-site POST (a form, text/plain, no content
 *   type) without asking anyone. A state change needs what a page cannot send cross-site without a
 *   CORS preflight (which this listener never grants): `Content-Type: application/json` or the
 *   `x-nodecat-admin` header; and no sign of a cross-site sender (an `Origin` other than the
 *   listener's own, `Sec-Fetch-Site` other than same-origin or none). A client that sends no
 *   Origin (curl, scripts) is not a browser page and is fine.
 * The Host's port is not compared: a port forward (ssh -L, the demo's pipes) changes it, and a
 * browser sends the name it connected to, so the name is what rebinding forges.
 */
import os from 'node:os'
import { isIP } from 'node:net'
import type { IncomingMessage } from 'node:http'

export const ADMIN_HEADER = 'x-nodecat-admin'

export const ADMIN_REFUSALS = {
  /** Host names another server (DNS rebinding) */
  LB_ERR_ADMIN_BAD_HOST: 421,
  /** no Host, two Host headers, or one that does not parse */
  LB_ERR_ADMIN_MISSING_HOST: 400,
  /** a state change sent as a simple request (a page can forge those cross-site) */
  LB_ERR_ADMIN_SIMPLE_REQUEST: 403,
  /** a state change from another origin (Origin or Sec-Fetch-Site says so) */
  LB_ERR_ADMIN_CROSS_SITE: 403
} as const

export type AdminRefusal = keyof typeof ADMIN_REFUSALS

const WILDCARDS = new Set(['0.0.0.0', '::', ''])

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
 * interface; plus `configured` (names only, any port).
 */
export function ownHostNames (address: string, configured: readonly string[] = []): Set<string> {
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
  for (const c of configured) { const n = hostName(c); if (n !== null) names.add(n) }
  return names
}

/** Is the request's Host one of `names`? null when it is, else the refusal. */
export function checkHost (req: IncomingMessage, names: ReadonlySet<string>): AdminRefusal | null {
  let count = 0
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === 'host') count++
  const header = req.headers.host
  if (count !== 1 || header === undefined) return 'LB_ERR_ADMIN_MISSING_HOST'
  const name = hostName(header)
  if (name === null) return 'LB_ERR_ADMIN_MISSING_HOST'
  return names.has(name) ? null : 'LB_ERR_ADMIN_BAD_HOST'
}

/** May this request change state? null when it may, else the refusal. Call after checkHost. */
export function checkStateChange (req: IncomingMessage): AdminRefusal | null {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  const custom = req.headers[ADMIN_HEADER]
  // why these two only: a page can send any CORS-safelisted type (and none at all) cross-site
  // without a preflight; JSON or a custom header need one, and this listener grants none
  if (type !== 'application/json' && (typeof custom !== 'string' || custom === '')) return 'LB_ERR_ADMIN_SIMPLE_REQUEST'
  const site = req.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return 'LB_ERR_ADMIN_CROSS_SITE'
  const origin = req.headers.origin
  if (origin !== undefined && !sameOrigin(origin, req.headers.host ?? '')) return 'LB_ERR_ADMIN_CROSS_SITE'
  return null
}

/** Does an Origin header (any scheme: a TLS proxy may front the listener) name this Host, port included? */
function sameOrigin (origin: string, host: string): boolean {
  try {
    const o = new URL(origin)
    if (o.protocol !== 'http:' && o.protocol !== 'https:') return false
    const h = new URL(`${o.protocol}//${host}`)
    return o.host === h.host
  } catch { return false }
}
