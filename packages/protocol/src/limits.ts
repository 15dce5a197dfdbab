/**
 * The bounds both the balancer and the node put on the session ids a client sends, and the
 * default names. One table: the balancer routes on exactly the candidates a node would read.
 */

/** Bounds on what we accept from a client. */
export const SESSION_ID_LIMITS: Readonly<{ maxIdLength: number, maxCandidates: number }> = Object.freeze({
  /** ids longer than this are ignored: the longest well-formed id (64-character base, '.', 64-character route) */
  maxIdLength: 129,
  /** at most this many well-formed candidates are read from one request (path parameter and cookies together) */
  maxCandidates: 8
})

/** the session cookie's default name (Tomcat's sessionCookieName) */
export const DEFAULT_SESSION_COOKIE = 'JSESSIONID'

/** the path parameter a cookie name goes with: the name in lower case (JSESSIONID → jsessionid) */
export function pathParamFor (cookieName: string): string {
  return cookieName.toLowerCase()
}

/** the session path parameter's default name */
export const DEFAULT_SESSION_PATH_PARAM = pathParamFor(DEFAULT_SESSION_COOKIE)
