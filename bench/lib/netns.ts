/**
 * A private test network for emulated nodes: one network namespace per node, each joined by a
 * veth pair to a Linux bridge in a namespace of its own, both veth ends TBF-shaped to the
 * profile's link rate. Names are unique per run; everything is deleted at the end (also on
 * Ctrl-C). Addresses are 10.x.y.z inside these namespaces only, never on the host.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { onCleanup } from './cleanup.js'

export interface NodeNet {
  /** namespace name */
  ns: string
  /** this node's address on the private network */
  address: string
  /** prefix that runs a command in this namespace */
  wrap: string[]
}

function ip (...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function tc (ns: string, ...args: string[]): void {
  execFileSync('ip', ['netns', 'exec', ns, 'tc', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
}

/** Create `count` node namespaces on a shaped bridge network. rate = tc rate ("1gbit") or null for unshaped. */
export function createNodeNetwork (count: number, rate: string | null): NodeNet[] {
  const id = randomBytes(3).toString('hex') // why: unique names, so a crashed run cannot collide with the next
  const subnet = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]!}`
  const bridgeNs = `ncb${id}br`
  ip('netns', 'add', bridgeNs)
  onCleanup(`delete netns ${bridgeNs}`, () => { try { ip('netns', 'del', bridgeNs) } catch {} })
  ip('-n', bridgeNs, 'link', 'set', 'lo', 'up')
  ip('-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge')
  ip('-n', bridgeNs, 'link', 'set', 'br0', 'up')
  const nodes: NodeNet[] = []
  for (let i = 0; i < count; i++) {
    const ns = `ncb${id}n${i}`
    const inner = `nc${id}n${i}a`
    const outer = `nc${id}n${i}b`
    ip('netns', 'add', ns)
    onCleanup(`delete netns ${ns}`, () => { try { ip('netns', 'del', ns) } catch {} })
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    ip('link', 'add', inner, 'netns', ns, 'type', 'veth', 'peer', 'name', outer, 'netns', bridgeNs)
    const address = `${subnet}.${i + 1}`
    ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', inner)
    ip('-n', ns, 'link', 'set', inner, 'up')
    ip('-n', bridgeNs, 'link', 'set', outer, 'master', 'br0')
    ip('-n', bridgeNs, 'link', 'set', outer, 'up')
    if (rate) {
      // why: shape both directions of this node's link, like a NIC of that speed
      tc(ns, 'qdisc', 'add', 'dev', inner, 'root', 'tbf', 'rate', rate, 'burst', '64kb', 'latency', '20ms')
      tc(bridgeNs, 'qdisc', 'add', 'dev', outer, 'root', 'tbf', 'rate', rate, 'burst', '64kb', 'latency', '20ms')
    }
    nodes.push({ ns, address, wrap: ['ip', 'netns', 'exec', ns] })
  }
  return nodes
}
