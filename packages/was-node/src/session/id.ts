/**
 * Session ids: `<base>.<jvmRoute>`. The base is 18 random bytes (144 bits) in base64url, which has
 * no '.', so the route is whatever follows the first '.' (as mod_jk and JvmRouteBinderValve read it).
 * The manager keys sessions by base: the route is only the label of the node that owns it now.
 */
import { createHash, randomBytes } from 'node:crypto'

const BASE_RE = /^[A-Za-z0-9_-]{22,64}$/
const ROUTE_RE = /^[A-Za-z0-9_-]{1,64}$/

/** A fresh session id for this route. */
export function newSessionId (route: string): string {
  return `${randomBytes(18).toString('base64url')}.${route}`
}

/** Split an id into base and route; null when it is not one of ours (no fixation: never adopted). */
export function parseSessionId (id: unknown): { base: string, route: string } | null {
  if (typeof id !== 'string' || id.length > 130) return null
  const dot = id.indexOf('.')
  if (dot <= 0) return null
  const base = id.slice(0, dot)
  const route = id.slice(dot + 1)
  if (!BASE_RE.test(base) || !ROUTE_RE.test(route)) return null
  return { base, route }
}

export function isValidRoute (route: string): boolean {
  return ROUTE_RE.test(route)
}

export function isValidBase (base: unknown): base is string {
  return typeof base === 'string' && BASE_RE.test(base)
}

/**
 * What logs and error messages say instead of a session id: a session id is a credential (whoever
 * has it is logged in), so it never reaches a log. The reference is the first 12 hex digits of the
 * SHA-256 of the base, the same on every node and across renames, so lines about one session can
 * still be followed through the cluster.
 */
export function sessionRef (id: string): string {
  const dot = id.indexOf('.')
  const base = dot > 0 ? id.slice(0, dot) : id
  return 'sess:' + createHash('sha256').update(base).digest('hex').slice(0, 12)
}
