/**
 * Reading the session ids a client sent, in the order the balancer reads routes (mod_jk
 * get_sessionid): the `;jsessionid=` path parameter first, then EVERY cookie with the session
 * cookie's name, in header order. Hostile input never throws: malformed pieces are skipped, and
 * both the length of one id and the number of candidates are bounded.
 *
 * Only values of a session id's shape (`<base>.<route>`, session/id.ts) are candidates, so junk
 * cookies of the same name cannot use up the candidate limit ahead of the real one: a value of
 * another shape can never name a session, and is skipped without being counted.
 */
import { parseSessionId } from '../session/id.js'

/** Bounds on what we accept from a client. */
export const SESSION_ID_LIMITS: Readonly<{ maxIdLength: number, maxCandidates: number }> = Object.freeze({
  /** ids longer than this are ignored: the longest well-formed id (64-character base, '.', 64-character route) */
  maxIdLength: 129,
  /** at most this many well-formed candidates are offered to the store */
  maxCandidates: 8
})

function acceptable (value: string, maxIdLength: number): boolean {
  return value.length > 0 && value.length <= maxIdLength && parseSessionId(value) !== null
}

/** Where the path ends in a request target (query excluded). */
function pathEnd (url: string): number {
  const q = url.indexOf('?')
  return q < 0 ? url.length : q
}

/**
 * The value of the `;<param>=` path parameter (case-sensitive), cut at the first `?`, `;` or `/`;
 * null when absent, empty or not of a session id's shape.
 */
export function pathSessionId (url: string, param = 'jsessionid', maxIdLength = SESSION_ID_LIMITS.maxIdLength): string | null {
  const end = pathEnd(url)
  const marker = `;${param}=`
  const at = url.indexOf(marker)
  if (at < 0 || at >= end) return null
  let stop = at + marker.length
  while (stop < end && url[stop] !== ';' && url[stop] !== '/') stop++
  const value = url.slice(at + marker.length, stop)
  return acceptable(value, maxIdLength) ? value : null
}

/**
 * The URL without its `;<param>=...` path parameter, so the app routes `/cart;jsessionid=X` as
 * `/cart`. Other path parameters and the query are kept.
 */
export function stripSessionPathParam (url: string, param = 'jsessionid'): string {
  const end = pathEnd(url)
  const marker = `;${param}=`
  const at = url.indexOf(marker)
  if (at < 0 || at >= end) return url
  let stop = at + marker.length
  while (stop < end && url[stop] !== ';' && url[stop] !== '/') stop++
  const stripped = url.slice(0, at) + url.slice(stop)
  return stripped === '' || stripped[0] === '?' ? '/' + stripped : stripped
}

/**
 * Every well-formed value of the cookie `name` in `header`, in order, duplicates kept, one pair of
 * surrounding double quotes removed, at most `maxCandidates` of them (malformed values are not
 * counted). Pairs are separated by `;` or `,` (old folded headers).
 */
export function cookieSessionIds (header: string | readonly string[] | undefined, name: string, maxIdLength = SESSION_ID_LIMITS.maxIdLength, maxCandidates = SESSION_ID_LIMITS.maxCandidates): string[] {
  if (header === undefined) return []
  const text = typeof header === 'string' ? header : Array.isArray(header) ? header.filter((h) => typeof h === 'string').join('; ') : ''
  const ids: string[] = []
  let start = 0
  while (start <= text.length && ids.length < maxCandidates) {
    // one pass per piece: find its end and its first '=' (no rescans, so hostile headers stay linear)
    let stop = start
    let eq = -1
    while (stop < text.length && text[stop] !== ';' && text[stop] !== ',') {
      if (eq < 0 && text[stop] === '=') eq = stop
      stop++
    }
    // why: a piece longer than any id plus its name cannot be ours; skip without slicing it
    if (eq >= 0 && stop - start <= maxIdLength + name.length + 8 && text.slice(start, eq).trim() === name) {
      let value = text.slice(eq + 1, stop).trim()
      if (value.length >= 2 && value[0] === '"' && value[value.length - 1] === '"') value = value.slice(1, -1)
      if (acceptable(value, maxIdLength)) ids.push(value)
    }
    start = stop + 1
  }
  return ids
}

/** A request as far as session ids go. */
export interface SessionIdSource {
  /** the request target as received (before any rewriting) */
  url: string | undefined
  cookie: string | readonly string[] | undefined
}

/** Candidate ids, path parameter first, then cookies; bounded in count. */
export function readSessionIds (source: SessionIdSource, cookieName = 'JSESSIONID', param = cookieName.toLowerCase()): string[] {
  const ids: string[] = []
  const fromPath = typeof source.url === 'string' ? pathSessionId(source.url, param) : null
  if (fromPath !== null) ids.push(fromPath)
  const fromCookies = cookieSessionIds(source.cookie, cookieName, SESSION_ID_LIMITS.maxIdLength, SESSION_ID_LIMITS.maxCandidates - ids.length)
  for (const id of fromCookies) ids.push(id)
  return ids
}
