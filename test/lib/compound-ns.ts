/**
 * A cluster with real multicast in network namespaces for the compound-fault tests (root only):
 * N `nodecat-was` nodes in namespaces of their own find each other on 228.0.0.4:45564 (keyed),
 * sync mode; a discovering balancer (health checks on /_nodecat/ready every 500 ms) and the users'
 * requests (a request agent, test/lib/ns-shop.ts) in one more namespace. Every process is stopped
 * by PID and the namespaces deleted at teardown (test/lib/netns.ts).
 *
 *   const c = await startNsCluster(t, { nodes: 3 })
 *   const load = startCompoundLoad(c.lbUrl, c.transport, { users: 6 })
 *   await c.net.cut(c.nodes[0].ns)
 */
import { createTestNet, type TestNet } from './netns.js'
import { clusterKeyFile, type TestProcess } from './proc.js'
import { SHOP_APP, sleep } from './cluster.js'
import { nsRequest, nsStatus, startAgents } from './ns-shop.js'
import { nsReply, type Transport } from './compound.js'

type Teardown = { teardown: (fn: () => Promise<void> | void) => void }

export interface NsNode {
  readonly route: string
  readonly ns: string
  readonly url: string
  /** the current process (replaced by start()) */
  proc: TestProcess
  /** start the node (again, after a stop or kill); resolves when its HTTP server listens */
  start (): Promise<void>
}

export interface NsCluster {
  readonly net: TestNet
  /** the balancer's and the users' namespace */
  readonly nsLb: string
  readonly nodes: NsNode[]
  readonly balancer: TestProcess
  /** the balancer's address, reachable from nsLb */
  readonly lbUrl: string
  /** requests from nsLb, for startCompoundLoad */
  readonly transport: Transport
  /** a node's /_nodecat/status read from nsLb (null when it does not answer) */
  status (n: NsNode, replicas?: boolean): Promise<any>
  /** routes of the node members a node lists ([] when it does not answer) */
  members (n: NsNode): Promise<string[]>
  /** GET /_nodecat/ready from nsLb is 200 */
  ready (n: NsNode): Promise<boolean>
}

export async function startNsCluster (t: Teardown, { nodes = 3, app = SHOP_APP, balancerArgs = [] as string[] } = {}): Promise<NsCluster> {
  const keyFile = clusterKeyFile(t, 'nodecat-compound-')

  const net = await createTestNet(t, { members: nodes + 1 })
  const [nsLb, ...nodeNs] = net.names as [string, ...string[]]
  await startAgents(t, net, [nsLb])
  const list: NsNode[] = nodeNs.map((ns, i) => {
    const addr = net.address(ns)
    const route = `x${i + 1}`
    const spawn = (): TestProcess => net.spawnNode(ns, 'was-node', 'cli.js', [
      '--jvm-route', route, '--http', `${addr}:8080`, '--receiver', `${addr}:4000`, '--bind', addr,
      '--key-file', keyFile, '--app', app, '--channel-send-options', 'sync', '--frequency', '500', '--drop-time', '3000'
    ])
    const node: NsNode = {
      route,
      ns,
      url: `http://${addr}:8080`,
      proc: null as unknown as TestProcess, // why: set by start() below, before anyone reads it
      start: async () => {
        node.proc = spawn()
        await node.proc.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening'), 90_000, `HTTP listening of ${route}`)
      }
    }
    return node
  })
  // one after the other: each new node takes the sessions from the ones already running
  for (const n of list) {
    await n.start()
    await n.proc.waitFor((l) => l.event === 'node-ready', 60_000, `node-ready of ${n.route}`)
  }
  const lbAddr = net.address(nsLb)
  const balancer = net.spawnNode(nsLb, 'balancer', 'cli.js', [
    '--listen', `${lbAddr}:8080`, '--admin', '127.0.0.1:8090', '--discover', '--multicast-bind', lbAddr,
    '--cluster-address', lbAddr, '--key-file', keyFile, '--health-interval', '500', '--connect-timeout', '1000', ...balancerArgs
  ])
  await balancer.waitFor((l) => l.msg === 'balancer started', 30_000, 'balancer started')
  for (const n of list) await balancer.waitFor((l) => l.msg === 'worker added' && l.route === n.route, 30_000, `balancer discovers ${n.route}`)
  const cluster: NsCluster = {
    net,
    nsLb,
    nodes: list,
    balancer,
    lbUrl: `http://${lbAddr}:8080`,
    transport: async (url, method, cookie, form) => nsReply(await nsRequest(net, nsLb, url, method, cookie ?? '', form)),
    status: async (n, replicas = false) => { try { return await nsStatus(net, nsLb, n.url, replicas) } catch { return null } },
    members: async (n) => ((await cluster.status(n))?.members as any[] ?? []).map((m) => m.route).filter((r) => r !== null).sort(),
    ready: async (n) => (await nsRequest(net, nsLb, `${n.url}/_nodecat/ready`)).status === 200
  }
  // every node ready and listing every other node, and every worker OK in the balancer (bounded)
  for (const n of list) {
    for (let i = 0; i < 300 && (!(await cluster.ready(n)) || (await cluster.members(n)).length < nodes - 1); i++) await sleep(100)
  }
  let states = ''
  for (let i = 0; i < 300; i++) {
    const workers = ((await nsRequest(net, nsLb, 'http://127.0.0.1:8090/status')).body?.workers ?? []) as Array<{ route: string, state: string }>
    states = workers.map((w) => `${w.route}:${w.state}`).join(' ')
    if (list.every((n) => workers.some((w) => w.route === n.route && w.state === 'OK'))) return cluster
    await sleep(100)
  }
  throw new Error(`the balancer's workers are not all OK within 30 s: ${states}`)
}
