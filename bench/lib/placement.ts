/**
 * Where each node of a benchmark runs: on the host's 127.0.0.1 (default), or, with
 * --profile pi3|pi4|pi5, each in its own shaped network namespace and CPU-quota cgroup.
 * The profile needs root; without it we refuse clearly instead of measuring something else.
 */
import { createCpuCgroup, type CpuCgroup } from './cgroup.js'
import { createNodeNetwork } from './netns.js'
import { piProfile, CFS_PERIOD_US, type PiProfile } from './pi-profiles.js'
import { isRoot } from './tools.js'
import type { Child } from './children.js'
import type { Placement } from './baselines.js'

export interface NodeSlot {
  address: string
  wrap: string[]
  cgroup?: CpuCgroup
  /** put a started process under this node's CPU quota */
  adopt (child: Child): void
}

export interface NodePlacement {
  profile: PiProfile | null
  nodes: NodeSlot[]
  /** a two-node placement for the baselines: server on node 1, client on node 0 */
  pair (): Placement
}

export function placeNodes (count: number, profileName: string | undefined): NodePlacement {
  if (!profileName || profileName === 'host') {
    const nodes = Array.from({ length: count }, (): NodeSlot => ({ address: '127.0.0.1', wrap: [], adopt () {} }))
    return { profile: null, nodes, pair: () => ({ address: '127.0.0.1' }) }
  }
  const profile = piProfile(profileName)
  if (!isRoot()) throw new Error(`--profile ${profileName} needs root (network namespaces, tc and cgroups); run as root or leave out --profile`)
  const net = createNodeNetwork(Math.max(2, count), profile.linkRate)
  const nodes = net.map((n, i): NodeSlot => {
    const cgroup = createCpuCgroup(`${n.ns}cpu${i}`, profile.cpuFraction, CFS_PERIOD_US)
    return { address: n.address, wrap: n.wrap, cgroup, adopt: (c) => cgroup.add(c.pid) }
  })
  return {
    profile,
    nodes,
    pair: () => ({
      address: nodes[1]!.address,
      serverWrap: nodes[1]!.wrap,
      clientWrap: nodes[0]!.wrap,
      onStart: (c, role) => (role === 'server' ? nodes[1]! : nodes[0]!).adopt(c)
    })
  }
}
