/**
 * Session id → route, the mod_jk way: the `;jsessionid=` path parameter first, then every session
 * cookie in order; the route is what follows the FIRST '.' of the id. Values without a '.', or
 * with nothing after it, name no route. Never throws: a broken cookie is just no route.
 */

const NONE: readonly string[] = Object.freeze([])

function pushRoute (id: string, out: string[]): void {
  const dot = id.indexOf('.')
  if (dot < 0 || dot === id.length - 1) return
  out.push(id.slice(dot + 1))
}

/** The `;<name>=` path parameter of the path (query excluded), cut at '?', ';' or '/'. */
function pathParamValue (url: string, name: string): string | undefined {
  const q = url.indexOf('?')
  const path = q < 0 ? url : url.slice(0, q)
  const marker = ';' + name + '='
  const i = path.indexOf(marker)
  if (i < 0) return undefined
  const start = i + marker.length
  let end = start
  while (end < path.length) {
    const c = path.charCodeAt(end)
    if (c === 59 /* ; */ || c === 47 /* / */) break
    end++
  }
  return path.slice(start, end)
}

function isSeparator (c: number): boolean {
  return c === 59 /* ; */ || c === 44 /* , */ || c === 32 || c === 9
}

/** Every value of cookie `name` in a (possibly joined) Cookie header, one pair of quotes stripped. */
function cookieValues (header: string, name: string, out: string[]): void {
  let from = 0
  for (;;) {
    const i = header.indexOf(name, from)
    if (i < 0) return
    from = i + name.length
    if (i > 0 && !isSeparator(header.charCodeAt(i - 1))) continue
    let j = from
    while (j < header.length && (header.charCodeAt(j) === 32 || header.charCodeAt(j) === 9)) j++
    if (header.charCodeAt(j) !== 61 /* = */) continue
    let end = ++j
    while (end < header.length && header.charCodeAt(end) !== 59 && header.charCodeAt(end) !== 44) end++
    let value = header.slice(j, end).trim()
    if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) value = value.slice(1, -1)
    from = end
    if (value !== '') pushRoute(value, out)
  }
}

/**
 * The routes a request names, best first: the path parameter's, then each cookie's. An empty
 * list means "no session": balance normally. The caller matches routes exactly (case-sensitive).
 */
export function sessionRoutes (url: string, cookie: string | string[] | undefined, cookieName: string, pathParam: string): readonly string[] {
  let out: string[] | undefined
  // why: the cheap indexOf checks keep the common no-session request allocation-free
  if (url.includes(';')) {
    const value = pathParamValue(url, pathParam)
    if (value !== undefined && value !== '') pushRoute(value, (out ??= []))
  }
  if (cookie !== undefined) {
    const header = typeof cookie === 'string' ? cookie : Array.isArray(cookie) ? cookie.join('; ') : ''
    if (header.includes(cookieName)) cookieValues(header, cookieName, (out ??= []))
  }
  return out === undefined || out.length === 0 ? NONE : out
}

const hex = (ch: string): string => '%' + ch.charCodeAt(0).toString(16).padStart(2, '0')

/** `text` as a pattern that also takes any of its characters percent-encoded, in either case (used with the i flag) */
function spelledAnyWay (text: string): string {
  let out = ''
  for (const ch of text) {
    const forms = new Set([ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), hex(ch.toLowerCase()), hex(ch.toUpperCase())])
    out += `(?:${[...forms].join('|')})`
  }
  return out
}

const redactors = new Map<string, RegExp>()

/**
 * The session path parameter in every spelling a client may use, whether or not the node reads
 * it: ';' or '%3B', the name in any case or percent-encoded, '=' or '%3D'; its value runs to the
 * next ';', '/' (or their %-forms) or the end.
 */
function redactor (pathParam: string): RegExp {
  let re = redactors.get(pathParam)
  if (re === undefined) {
    re = new RegExp(`(?:;|%3b)${spelledAnyWay(pathParam)}(?:=|%3d)(?:(?!%3b|%2f)[^;/])*`, 'gi')
    redactors.set(pathParam, re)
  }
  return re
}

/** The path with session path parameters removed, for logs (no session ids in logs). */
export function loggablePath (url: string, pathParam: string): string {
  const q = url.indexOf('?')
  const path = q < 0 ? url : url.slice(0, q)
  if (!path.includes(';') && !path.includes('%')) return path
  return path.replace(redactor(pathParam), '')
}
