/**
 * Which peers may tell us, through `X-Forwarded-Proto`, that the client connected over HTTPS:
 * `true` (any), `false` (none), or a list of addresses and CIDRs ("127.0.0.1", "10.0.0.0/8", "::1").
 */
import net from 'node:net'

export type TrustProxy = boolean | string | readonly string[]

/** A predicate on the remote address of a connection. */
export type TrustTest = (remoteAddress: string | undefined) => boolean

/** Parse one entry; returns an error text instead of throwing, so option validation names it. */
function addEntry (list: net.BlockList, entry: string): string | null {
  const [address, bits, extra] = entry.trim().split('/')
  if (extra !== undefined || address === undefined) return 'an address or CIDR'
  const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : null
  if (family === null) return 'an IP address or CIDR'
  if (bits === undefined) { list.addAddress(address, family); return null }
  const prefix = Number(bits)
  if (!/^\d{1,3}$/.test(bits) || prefix > (family === 'ipv4' ? 32 : 128)) return 'a CIDR with a valid prefix length'
  list.addSubnet(address, prefix, family)
  return null
}

/** Compile the option; `fail(expected, entry)` is called for a bad entry and must throw. */
export function compileTrustProxy (value: TrustProxy, fail: (expected: string, got: unknown) => never): TrustTest {
  if (value === true) return () => true
  if (value === false) return () => false
  const entries = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value
  if (!Array.isArray(entries)) return fail('true, false or a list of addresses/CIDRs', value)
  const list = new net.BlockList()
  for (const entry of entries) {
    if (typeof entry !== 'string') return fail('a list of addresses/CIDRs', entry)
    const problem = addEntry(list, entry)
    if (problem !== null) return fail(problem, entry)
  }
  return (remote) => {
    if (typeof remote !== 'string') return false
    // why: a dual-stack server reports IPv4 peers as ::ffff:a.b.c.d
    const v4 = remote.startsWith('::ffff:') && net.isIPv4(remote.slice(7)) ? remote.slice(7) : null
    if (v4 !== null) return list.check(v4, 'ipv4') || list.check(remote, 'ipv6')
    return net.isIPv4(remote) ? list.check(remote, 'ipv4') : net.isIPv6(remote) ? list.check(remote, 'ipv6') : false
  }
}
