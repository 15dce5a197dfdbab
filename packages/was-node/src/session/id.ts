/**
 * Session ids: `<base>.<jvmRoute>`. The base is 18 random bytes (144 bits) in base64url, which has
 * no '.', so the route is whatever follows the first '.' (as mod_jk and JvmRouteBinderValve read it).
 * The manager keys sessions by base: the route is only the label of the node that owns it now.
 */
import { randomBytes } from 'node:crypto'

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
