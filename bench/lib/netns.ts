/**
 * A private test network for emulated nodes: @nodecat/testkit's lab network (one namespace per
 * node on a bridge, addresses that exist only inside them) with every link TBF-shaped to the
 * profile's rate, deleted at the end of the benchmark (also on Ctrl-C) by the clean-up registry.
 */
import { createLabNet } from '@nodecat/testkit'
import { onCleanup } from './cleanup.js'

export interface NodeNet {
  /** namespace name */
  ns: string
  /** this node's address on the private network */
  address: string
  /** prefix that runs a command in this namespace */
  wrap: string[]
}

/** Create `count` node namespaces on a shaped bridge network. rate = tc rate ("1gbit") or null for unshaped. */
export function createNodeNetwork (count: number, rate: string | null): NodeNet[] {
  const net = createLabNet({ hosts: count, prefix: 'ncb', rate })
  onCleanup(`delete the namespaces of ${net.bridge}`, () => net.destroy())
  return net.hosts.map((h) => ({ ns: h.ns, address: h.address, wrap: h.exec }))
}
