import { DEFAULT_SESSION_PATH_PARAM } from './limits.js'

/**
 * The session path parameter, `/cart;jsessionid=<id>?q`: in the path only (the query is not the
 * path), the name exactly as configured (case-sensitive), the first occurrence; its value runs to
 * the next ';' or '/' or the end of the path.
 */

/** Where the path ends in a request target (query excluded). */
export function pathEnd (url: string): number {
  const q = url.indexOf('?')
  return q < 0 ? url.length : q
}

/** Where the parameter sits: [start of ';', start of value, end of value], or null. */
function locate (url: string, param: string): [number, number, number] | null {
  // why: the cheap check keeps the common request without parameters allocation-free
  if (!url.includes(';')) return null
  const end = pathEnd(url)
  const marker = `;${param}=`
  const at = url.indexOf(marker)
  if (at < 0 || at >= end) return null
  const start = at + marker.length
  let stop = start
  while (stop < end) {
    const c = url.charCodeAt(stop)
    if (c === 59 /* ; */ || c === 47 /* / */) break
    stop++
  }
  return [at, start, stop]
}

/** The raw value of the `;<param>=` path parameter (possibly empty); undefined when there is none. */
export function pathParamValue (url: string, param: string): string | undefined {
  const at = locate(url, param)
  return at === null ? undefined : url.slice(at[1], at[2])
}

/**
 * The URL without its `;<param>=...` path parameter, so the app routes `/cart;jsessionid=X` as
 * `/cart`. Other path parameters and the query are kept.
 */
export function stripSessionPathParam (url: string, param = DEFAULT_SESSION_PATH_PARAM): string {
  const at = locate(url, param)
  if (at === null) return url
  const stripped = url.slice(0, at[0]) + url.slice(at[2])
  return stripped === '' || stripped[0] === '?' ? '/' + stripped : stripped
}
