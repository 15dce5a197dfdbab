/**
 * Which session ids a request carries, in the order mod_jk's get_sessionid reads them: the
 * `;jsessionid=` path parameter first (path-param.ts), then EVERY cookie with the session cookie's
 * name, in header order (cookies.ts). Hostile input never throws: malformed pieces are skipped,
 * and both the length of one id and the number of candidates are bounded (limits.ts).
 *
 * Only values of the expected shape are candidates, so junk cookies of the same name cannot use
 * up the candidate limit ahead of the real one: a value of another shape is skipped without being
 * counted. The node expects its own ids (`isSessionId`); the balancer, which also fronts foreign
 * Tomcats, any id that names a route (`namesRoute`), and routes on those ids' routes.
 */
import { cookieHeaderText, eachCookieValue } from './cookies.js'
import { DEFAULT_SESSION_COOKIE, DEFAULT_SESSION_PATH_PARAM, pathParamFor, SESSION_ID_LIMITS } from './limits.js'
import { pathParamValue } from './path-param.js'
import { parseSessionId, routeOf } from './session-id.js'

/** Which values count as session ids. */
export type IdShape = (value: string) => boolean

/** a nodecat session id (`<base>.<jvmRoute>`, session-id.ts) */
export const isSessionId: IdShape = (value) => parseSessionId(value) !== null

/** any id with a route after its first '.' */
export const namesRoute: IdShape = (value) => routeOf(value) !== null

/** A request as far as session ids go. */
export interface SessionIdSource {
  /** the request target as received (before any rewriting) */
  url: string | undefined
  cookie: string | readonly string[] | undefined
}

/**
 * The value of the `;<param>=` path parameter (case-sensitive), cut at the first `?`, `;` or `/`;
 * null when absent, empty, too long or not of the shape.
 */
export function pathSessionId (url: string, param = DEFAULT_SESSION_PATH_PARAM, maxIdLength = SESSION_ID_LIMITS.maxIdLength, shape: IdShape = isSessionId): string | null {
  const value = pathParamValue(url, param)
  return value !== undefined && value !== '' && value.length <= maxIdLength && shape(value) ? value : null
}

/**
 * Every value of the cookie `name` of the shape, in order, duplicates kept, one pair of
 * surrounding double quotes removed, at most `maxCandidates` of them (values of another shape are
 * not counted).
 */
export function cookieSessionIds (header: string | readonly string[] | undefined, name: string, maxIdLength = SESSION_ID_LIMITS.maxIdLength, maxCandidates = SESSION_ID_LIMITS.maxCandidates, shape: IdShape = isSessionId): string[] {
  const ids: string[] = []
  if (maxCandidates <= 0) return ids
  eachCookieValue(cookieHeaderText(header), name, maxIdLength, (value) => {
    if (shape(value)) ids.push(value)
    return ids.length < maxCandidates
  })
  return ids
}

/** Candidate ids, path parameter first, then cookies; bounded in count. */
export function readSessionIds (source: SessionIdSource, cookieName = DEFAULT_SESSION_COOKIE, param = pathParamFor(cookieName), shape: IdShape = isSessionId): string[] {
  const ids: string[] = []
  const fromPath = typeof source.url === 'string' ? pathSessionId(source.url, param, SESSION_ID_LIMITS.maxIdLength, shape) : null
  if (fromPath !== null) ids.push(fromPath)
  const fromCookies = cookieSessionIds(source.cookie, cookieName, SESSION_ID_LIMITS.maxIdLength, SESSION_ID_LIMITS.maxCandidates - ids.length, shape)
  for (const id of fromCookies) ids.push(id)
  return ids
}

const NONE: readonly string[] = Object.freeze([])

/**
 * The routes a request names, best first (what the balancer is sticky to): the route of each
 * candidate that names one, path parameter first, then each cookie's; the same bounds as the
 * node's reading. An empty list means "no session": balance normally. Routes are matched exactly
 * (case-sensitive) by the caller; an unknown one is just a route string.
 */
export function sessionRoutes (url: string, cookie: string | readonly string[] | undefined, cookieName = DEFAULT_SESSION_COOKIE, pathParam = pathParamFor(cookieName)): readonly string[] {
  // why: no array for the common request without a session
  let out: string[] | undefined
  const fromPath = pathSessionId(url, pathParam, SESSION_ID_LIMITS.maxIdLength, namesRoute)
  if (fromPath !== null) (out ??= []).push(routeOf(fromPath)!)
  if (cookie !== undefined) {
    let room = SESSION_ID_LIMITS.maxCandidates - (out?.length ?? 0)
    eachCookieValue(cookieHeaderText(cookie), cookieName, SESSION_ID_LIMITS.maxIdLength, (value) => {
      const route = routeOf(value)
      if (route !== null) { (out ??= []).push(route); room-- }
      return room > 0
    })
  }
  return out ?? NONE
}
