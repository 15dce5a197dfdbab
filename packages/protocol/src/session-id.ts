/**
 * Session ids: `<base>.<route>`. The route is whatever follows the FIRST '.' (as mod_jk and
 * JvmRouteBinderValve read it). A nodecat id's base is 22..64 characters of base64url (which has
 * no '.'), its route a jvmRoute (route.ts); anything else is not one of ours and is never adopted
 * (no fixation). The balancer, which also fronts foreign Tomcats, needs only the route.
 */
import { JVM_ROUTE_PATTERN } from './route.js'
import { SESSION_ID_LIMITS } from './limits.js'

const BASE_PATTERN = /^[A-Za-z0-9_-]{22,64}$/

/** Split a nodecat id into base and route; null when it is not one of ours. */
export function parseSessionId (id: unknown): { base: string, route: string } | null {
  if (typeof id !== 'string' || id.length > SESSION_ID_LIMITS.maxIdLength) return null
  const dot = id.indexOf('.')
  if (dot <= 0) return null
  const base = id.slice(0, dot)
  const route = id.slice(dot + 1)
  if (!BASE_PATTERN.test(base) || !JVM_ROUTE_PATTERN.test(route)) return null
  return { base, route }
}

/** Is this the base of a nodecat id? */
export function isValidBase (base: unknown): base is string {
  return typeof base === 'string' && BASE_PATTERN.test(base)
}

/**
 * The route any session id names, the mod_jk way: what follows its first '.'; null when it has
 * no '.' or nothing after it. Any characters: the caller matches routes exactly.
 */
export function routeOf (id: string): string | null {
  const dot = id.indexOf('.')
  return dot < 0 || dot === id.length - 1 ? null : id.slice(dot + 1)
}
