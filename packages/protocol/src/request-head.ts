/**
 * What node's HTTP parser lets through although HTTP/1.1 forbids it, refused by the balancer and
 * by a node before anything else sees the request:
 * - more than one Host field: RFC 9112 3.2 says 400 (node keeps the first and drops the rest, so
 *   an app and a proxy in front may disagree about which site was asked for);
 * - a request line of another major version than 1 (node parses `HTTP/2.0` and `HTTP/0.9` as if
 *   they were 1.x): 505, both speak HTTP/1.x only.
 */

/** Why a request head is refused. */
export type HeadRefusal = 'http-version' | 'duplicate-host'

/** More than one Host field, in any case? */
export function duplicateHost (rawHeaders: readonly string[]): boolean {
  let seen = false
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    if (name.length === 4 && name.toLowerCase() === 'host') {
      if (seen) return true
      seen = true
    }
  }
  return false
}

/** Why this request head must be refused (the version first), or null. */
export function screenHead (req: { httpVersionMajor: number, rawHeaders: readonly string[] }): HeadRefusal | null {
  if (req.httpVersionMajor !== 1) return 'http-version'
  return duplicateHost(req.rawHeaders) ? 'duplicate-host' : null
}
