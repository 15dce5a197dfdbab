/**
 * Real nodecat-was services (packages/was-node/dist/cli.js) on 127.0.0.1 or, with a placement,
 * in emulated Pi namespaces: the example shop app or the bench app (bench/app/bench-app.js),
 * static membership. Reported "not available" while the service is not built.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startChild, type Child } from './children.js'
import { freePorts } from './ports.js'
import type { NodeSlot } from './placement.js'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const wasCli = path.join(repo, 'packages', 'was-node', 'dist', 'cli.js')
export const shopApp = path.join(repo, 'examples', 'shop', 'app.js')
export const benchApp = path.join(repo, 'bench', 'app', 'bench-app.js')

export interface WasNode {
  route: string
  /** where the node's HTTP listens, as the bench reaches it */
  url: string
  httpPort: number
  /** host:port of its cluster receiver */
  receiver: string
  child: Child
  /** Date.now() just before the process was spawned */
  spawnedAt: number
}

export function wasAvailable (): string | null {
  if (!existsSync(wasCli)) return 'packages/was-node/dist/cli.js is not built (run pnpm build)'
  if (!existsSync(shopApp)) return 'examples/shop/app.js is missing'
  return null
}

export interface WasNodeOptions {
  route: string
  /** address the node binds (127.0.0.1, or its namespace address) */
  address: string
  httpPort: number
  receiver: string
  /** every member's receiver (this node's own is filtered out by nodecat-was) */
  members: string[]
  key: string
  mode?: 'async' | 'sync'
  app?: string
  /** run inside this slot (namespace + CPU cgroup) */
  slot?: NodeSlot
  extraArgs?: string[]
}

/** Start one node; resolves at once (wait for its 'node-ready' log line yourself). */
export function startWasNode (o: WasNodeOptions): WasNode {
  const args = [wasCli, '--jvm-route', o.route, '--http', `${o.address}:${o.httpPort}`, '--app', o.app ?? shopApp,
    '--static', o.members.join(','), '--receiver', o.receiver, '--auto-bind', '1', '--key', o.key,
    '--channel-send-options', o.mode ?? 'async', '--log-level', 'info', ...(o.extraArgs ?? [])]
  const wrap = o.slot?.wrap ?? []
  const argv = [...wrap, process.execPath, ...args]
  const spawnedAt = Date.now()
  // why: `ip netns exec` execs in place, so the PID is the node's own and the cgroup can adopt it
  const child = startChild(`nodecat-was ${o.route}`, argv[0]!, argv.slice(1), { env: { ...process.env, NODE_OPTIONS: '' } })
  o.slot?.adopt(child)
  return { route: o.route, url: `http://${o.address}:${o.httpPort}`, httpPort: o.httpPort, receiver: o.receiver, child, spawnedAt }
}

export interface WasClusterOptions {
  mode?: 'async' | 'sync'
  app?: string
  /** member slots in the static list beyond the started nodes (for nodes that join later) */
  spare?: number
  /** one per node (and spare), from placeNodes(); default: all on 127.0.0.1 */
  slots?: NodeSlot[]
}

export interface WasCluster {
  nodes: WasNode[]
  /** static members list, spare slots included */
  members: string[]
  /** start the node for spare slot `i` (0-based among the spares) */
  startSpare (i: number, route: string): Promise<WasNode>
}

/** `mode`: the nodes' channelSendOptions (async = 8, the default; sync = 6, responses wait for every peer). */
export async function startWasCluster (size: number, key: string, mode: 'async' | 'sync' = 'async', options: WasClusterOptions = {}): Promise<WasNode[]> {
  return (await startWasClusterWithSpares(size, key, { ...options, mode })).nodes
}

export async function startWasClusterWithSpares (size: number, key: string, options: WasClusterOptions = {}): Promise<WasCluster> {
  const total = size + (options.spare ?? 0)
  const slots = options.slots
  const hostPorts = await freePorts(total * 2)
  // why: in namespaces every node has its own address, so fixed ports are fine there
  const addressOf = (i: number): string => slots?.[i]?.address ?? '127.0.0.1'
  const receivers = Array.from({ length: total }, (_, i) => `${addressOf(i)}:${slots ? 4000 : hostPorts[total + i]}`)
  const httpPortOf = async (i: number): Promise<number> => (slots ? 8080 : i < size ? hostPorts[i]! : (await freePorts(1))[0]!)
  const start = async (i: number, route: string): Promise<WasNode> =>
    startWasNode({ route, address: addressOf(i), httpPort: await httpPortOf(i), receiver: receivers[i]!, members: receivers, key, mode: options.mode, app: options.app, slot: slots?.[i] })
  const nodes: WasNode[] = []
  for (let i = 0; i < size; i++) nodes.push(await start(i, `node${i + 1}`))
  // why: a node is ready after the initial state transfer, which may take up to its 60 s timeout
  await Promise.all(nodes.map((n) => n.child.waitFor((l) => l.event === 'node-ready', 75_000)))
  return { nodes, members: receivers, startSpare: async (i, route) => await start(size + i, route) }
}
