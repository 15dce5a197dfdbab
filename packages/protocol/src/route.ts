/**
 * Routes: the name of the node a session lives on, what follows the FIRST '.' of a session id
 * (mod_jk and Tomcat's JvmRouteBinderValve read it so).
 *
 * Two patterns, one place:
 * - a nodecat node's jvmRoute has no '.' (a node's own ids must split back into base and route
 *   the same way everywhere): 1 to 64 letters, digits, '_' or '-';
 * - a balancer worker's route may also hold '.': the balancer fronts unchanged Tomcats, whose
 *   jvmRoute may be dotted, and whose ids then carry that whole dotted route after the first '.'
 *   (mod_jk's `domain.route` form; the part before the first '.' is the worker's domain).
 * Every jvmRoute is a worker route.
 */

/** a nodecat node's jvmRoute (and the route in a nodecat session id) */
export const JVM_ROUTE_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

/** what JVM_ROUTE_PATTERN asks for, in words, for option errors */
export const JVM_ROUTE_RULE = '1 to 64 letters, digits, "-" or "_" (no dots: the route follows the first dot of a session id)'

/** a balancer worker's route (or domain): a jvmRoute, or a foreign Tomcat's dotted one */
export const WORKER_ROUTE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/

/** what WORKER_ROUTE_PATTERN asks for, in words */
export const WORKER_ROUTE_RULE = '1-64 letters, digits, "_", "-" or "."'

/** Is this a nodecat jvmRoute? */
export function isValidRoute (route: unknown): route is string {
  return typeof route === 'string' && JVM_ROUTE_PATTERN.test(route)
}

/** Is this a route a balancer worker may have? */
export function isWorkerRoute (route: unknown): route is string {
  return typeof route === 'string' && WORKER_ROUTE_PATTERN.test(route)
}

/** A jvmRoute made of any name (a machine's host name): other characters become '-', at most 64 of them ('' stays ''). */
export function routeFromName (name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64)
}
