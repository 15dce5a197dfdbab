/**
 * A cluster of real nodecat-was services (packages/was-node/dist/cli.js) serving the example
 * shop app, static membership on 127.0.0.1, for the failover benchmark. Reported "not
 * available" while the service is not built.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startChild, type Child } from './children.js'
import { freePorts } from './ports.js'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const wasCli = path.join(repo, 'packages', 'was-node', 'dist', 'cli.js')
export const shopApp = path.join(repo, 'examples', 'shop', 'app.js')

export interface WasNode { route: string, httpPort: number, child: Child }

export function wasAvailable (): string | null {
  if (!existsSync(wasCli)) return 'packages/was-node/dist/cli.js is not built (run pnpm build)'
  if (!existsSync(shopApp)) return 'examples/shop/app.js is missing'
  return null
}

/** `mode`: the nodes' channelSendOptions (async = 8, the default; sync = 6, responses wait for every peer). */
export async function startWasCluster (size: number, key: string, mode: 'async' | 'sync' = 'async'): Promise<WasNode[]> {
  const ports = await freePorts(size * 2)
  const receivers = ports.slice(size).map((p) => `127.0.0.1:${p}`)
  const nodes: WasNode[] = []
  for (let i = 0; i < size; i++) {
    const route = `node${i + 1}`
    const args = [wasCli, '--jvm-route', route, '--http', `127.0.0.1:${ports[i]}`, '--app', shopApp,
      '--static', receivers.join(','), '--receiver', receivers[i]!, '--auto-bind', '1', '--key', key, '--channel-send-options', mode, '--log-level', 'info']
    const child = startChild(`nodecat-was ${route}`, process.execPath, args, { env: { ...process.env, NODE_OPTIONS: '' } })
    nodes.push({ route, httpPort: ports[i]!, child })
  }
  // why: a node is ready after the initial state transfer, which may take up to its 60 s timeout
  await Promise.all(nodes.map((n) => n.child.waitFor((l) => l.event === 'node-ready', 75_000)))
  return nodes
}
