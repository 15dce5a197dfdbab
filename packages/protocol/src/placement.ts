/**
 * Where a session's copies live with the primary/backup manager (`--manager backup`, Tomcat's
 * BackupManager), as a rule every node and the balancer compute alike from the members they see.
 *
 * Buddy replication: a member backs up every session it serves on the same k buddies. The buddies
 * of a route are found on a ring of the members' routes in sorted order: walk the ring from the
 * route's place, take members on other hosts first (a session must survive the loss of a whole
 * machine when another machine exists), then, if that leaves fewer than k, members on the same
 * host. The rule needs no coordination and names the same buddies wherever it runs; the route
 * itself need not be a live member (its place on the ring is where it would sort), so the
 * balancer and the survivors agree on where a failed member's sessions are.
 *
 * When a session's primary is gone, its first buddy (the adopter) serves it: the balancer sends
 * its users there, and that node renames the session to its own route on the next request.
 */

export interface PlacedMember {
  /** jvmRoute */
  readonly route: string
  /** host identity (members of one machine share it); '' when unknown */
  readonly host: string
}

/**
 * The k buddies of `route` (on `host`) among `members` (the route itself, if listed, is skipped),
 * best first.
 */
export function buddiesOf (route: string, host: string, members: readonly PlacedMember[], k: number): PlacedMember[] {
  const ring = members.filter((m) => m.route !== route).sort((a, b) => (a.route < b.route ? -1 : a.route > b.route ? 1 : 0))
  if (ring.length === 0 || k <= 0) return []
  // first member whose route sorts after `route`: the walk starts there and wraps around
  let start = ring.findIndex((m) => m.route > route)
  if (start < 0) start = 0
  const walk = [...ring.slice(start), ...ring.slice(0, start)]
  const away = walk.filter((m) => host === '' || m.host !== host)
  const near = walk.filter((m) => host !== '' && m.host === host)
  return [...away, ...near].slice(0, k)
}

/**
 * Where a session of `route` lives now: its primary (the member with that route while it is live;
 * else its first buddy, which adopts it) and the primary's k buddies. Empty with no live member.
 * `hostOf` gives the host of a route that is not live (remembered from when it was).
 */
export function placementOf (route: string, members: readonly PlacedMember[], k: number, hostOf: (route: string) => string = () => ''): PlacedMember[] {
  const live = members.find((m) => m.route === route)
  const primary = live ?? buddiesOf(route, hostOf(route), members, 1)[0]
  if (primary === undefined) return []
  return [primary, ...buddiesOf(primary.route, primary.host, members, k)]
}
