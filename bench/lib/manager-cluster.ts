/**
 * A benchmark cluster of session managers: n processes (workers/manager-node), each one
 * SessionManager over its own tribes channel, static membership on 127.0.0.1, split over two
 * "hosts" (first half A, second half B) through the members' advertised host id and the backup
 * strategy's own. Driven over stdin/stdout; every process is held by its PID and stopped at the end.
 */
import { startWorker, type Child } from './children.js'
import { freePorts } from './ports.js'
import { withTimeout } from './interleave.js'

export type ManagerName = 'delta' | 'backup'

export interface ManagerClusterOptions {
  manager: ManagerName
  size: number
  /** k: copies besides the primary (backup manager) */
  backups: number
  sendMode: 'async' | 'sync'
  /** membership heartbeat interval and drop time, ms */
  frequency: number
  dropTime: number
  key?: string
}

export interface ManagerNode {
  index: number
  route: string
  host: string
  child: Child
}

export interface ManagerCluster {
  options: ManagerClusterOptions
  nodes: ManagerNode[]
  /** one command to one node, answered by the first line with its id and one of `events` */
  ask (node: ManagerNode, cmd: Record<string, unknown>, events: string[], timeoutMs?: number): Promise<Record<string, any>>
  stop (): Promise<void>
}

/** host id of node i of n: the first half on host A, the second on host B */
export const hostOf = (i: number, n: number): string => (i < Math.ceil(n / 2) ? 'A' : 'B')

let commands = 0

export async function startManagerCluster (o: ManagerClusterOptions): Promise<ManagerCluster> {
  const ports = await freePorts(o.size)
  const members = ports.map((p) => `127.0.0.1:${p}`)
  const nodes: ManagerNode[] = []
  const cluster: ManagerCluster = {
    options: o,
    nodes,
    async ask (node, cmd, events, timeoutMs = 60_000) {
      const id = `c${++commands}`
      node.child.send({ ...cmd, id })
      const line = await node.child.waitFor((l) => l.id === id && (events.includes(String(l.event)) || l.event === 'error'), timeoutMs, `${String(cmd.cmd)} answer`)
      if (line.event === 'error') throw new Error(`${node.route}: ${String(line.message)}`)
      return line
    },
    stop: async () => { await Promise.all(nodes.map(async (n) => await n.child.stop(5000))) }
  }
  try {
    for (let i = 0; i < o.size; i++) {
      // why: routes sort in index order (node0 < node1 < …), so the placement ring follows the indexes
      const route = `node${i}`
      const host = hostOf(i, o.size)
      const config = { index: i, route, host, port: ports[i], members, manager: o.manager, backups: o.backups, sendMode: o.sendMode, frequency: o.frequency, dropTime: o.dropTime, ...(o.key ? { key: o.key } : {}) }
      const child = startWorker(`${o.manager} node ${i}/${o.size}`, 'manager-node.js', [JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] })
      nodes.push({ index: i, route, host, child })
    }
    await withTimeout(Promise.all(nodes.map(async (n) => {
      const r = await n.child.waitFor((l) => l.event === 'ready' || l.event === 'not-meshed', 60_000, 'ready')
      if (r.event !== 'ready') throw new Error(`${n.route} saw ${String(r.members)} of ${o.size - 1} peers after 30 s`)
    })), 90_000, `starting ${o.size} ${o.manager} nodes`)
  } catch (err) {
    await cluster.stop()
    throw err
  }
  return cluster
}
