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
import type { IncomingMessage } from 'node:http'
import { checkHostHeader, listenerHostNames } from '@nodecat/protocol'

export { hostName } from '@nodecat/protocol'

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

/**
 * The names a listener on `address` answers to (@nodecat/protocol listenerHostNames: its own
 * address, localhost on loopback or the machine's host name off it, every interface on a
 * wildcard), plus `configured` (names only, any port).
 */
export function ownHostNames (address: string, configured: readonly string[] = []): Set<string> {
  return listenerHostNames(address, configured)
}

/** Is the request's Host one of `names`? null when it is, else the refusal. */
export function checkHost (req: IncomingMessage, names: ReadonlySet<string>): AdminRefusal | null {
  const refusal = checkHostHeader(req.rawHeaders, req.headers.host, names)
  return refusal === null ? null : refusal === 'missing' ? 'LB_ERR_ADMIN_MISSING_HOST' : 'LB_ERR_ADMIN_BAD_HOST'
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
