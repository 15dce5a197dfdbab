/**
 * The static member list as people write it: "host:port" receivers, and "host:first-last" for the
 * consecutive receivers of one machine's per-core workers (pi2:4000-4003 is pi2:4000 … pi2:4003).
 * One reader for every command that takes such a list (nodecat-was --static, nodecat-balancer
 * --static-members), so they accept the same text.
 */

/** most ports one `host:first-last` entry may stand for (a machine's workers, not a port scan) */
export const MEMBER_RANGE_MAX = 256

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/
const HOST_PORT_RANGE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})-(\d{1,5})$/

/**
 * Expand `entries` in order, duplicates dropped. `fail(expected, entry)` is called (and must
 * throw) for an entry that is not "host:port" or a valid range: a port outside 1..65535, a reversed
 * range, or one of more than MEMBER_RANGE_MAX ports.
 */
export function expandMemberList (entries: readonly string[], fail: (expected: string, entry: string) => never): string[] {
  const out: string[] = []
  const add = (member: string): void => { if (!out.includes(member)) out.push(member) }
  for (const entry of entries) {
    const single = HOST_PORT.exec(entry)
    if (single !== null) {
      if (Number(single[2]) < 1 || Number(single[2]) > 65535) fail('ports between 1 and 65535', entry)
      add(entry)
      continue
    }
    const range = HOST_PORT_RANGE.exec(entry)
    if (range === null) fail('a list of "host:port" receiver addresses (or "host:first-last" for consecutive ports)', entry)
    const [, host, a, b] = range!
    const first = Number(a)
    const last = Number(b)
    if (first < 1 || last > 65535) fail('ports between 1 and 65535 in "host:first-last"', entry)
    if (last < first) fail('a port range whose first port is not above its last ("host:4000-4003")', entry)
    if (last - first + 1 > MEMBER_RANGE_MAX) fail(`a port range of at most ${MEMBER_RANGE_MAX} ports`, entry)
    for (let port = first; port <= last; port++) add(`${host!}:${port}`)
  }
  return out
}
