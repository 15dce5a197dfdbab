/**
 * Where a session's copies live with the primary/backup manager (`--manager backup`, Tomcat's
 * BackupManager), as a rule every node and the balancer compute alike from the members they see.
 *
 * Buddy replication: a member backs up every session it serves on the same k buddies. The buddies
 * of a route are found on a ring that deals the members out host by host (the first member of
 * each host, in host order, then the second of each, and so on; each host's members in route
 * order), so each member is the first buddy of about one other and the backups spread evenly. From
 * the route's place on the ring, the walk takes members on other hosts first (a session must
 * survive the loss of a whole machine when another machine exists), then, if that leaves fewer
 * than k, members on the same host. The rule needs no coordination and names the same buddies
 * wherever it runs. The route itself need not be a live member: it is dealt onto the ring where
 * it was, so the balancer and the survivors agree on where a failed member's sessions are.
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
  if (k <= 0) return []
  const ring = ringOf([...members.filter((m) => m.route !== route), { route, host }])
  const at = ring.findIndex((m) => m.route === route)
  const walk = [...ring.slice(at + 1), ...ring.slice(0, at)]
  const away = walk.filter((m) => host === '' || m.host !== host)
  const near = walk.filter((m) => host !== '' && m.host === host)
  return [...away, ...near].slice(0, k)
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** the members dealt out host by host: the first of each host (hosts in order), then the second of each, … */
function ringOf (members: readonly PlacedMember[]): PlacedMember[] {
  const hosts = new Map<string, PlacedMember[]>()
  for (const m of members) {
    const list = hosts.get(m.host)
    if (list === undefined) hosts.set(m.host, [m])
    else if (!list.some((x) => x.route === m.route)) list.push(m)
  }
  const groups = [...hosts.keys()].sort(byText).map((h) => hosts.get(h)!.sort((a, b) => byText(a.route, b.route)))
  const ring: PlacedMember[] = []
  const depth = Math.max(0, ...groups.map((g) => g.length))
  for (let i = 0; i < depth; i++) for (const g of groups) if (i < g.length) ring.push(g[i]!)
  return ring
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
