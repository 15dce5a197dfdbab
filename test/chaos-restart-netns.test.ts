/**
 * Issue 11's scenario with real multicast discovery (root only): 3 nodes in network namespaces of
 * their own find each other on 228.0.0.4:45564 (keyed), the balancer in a fourth namespace
 * discovers them (no worker list; default health checks on /_nodecat/ready, every 500 ms), and
 * 8 clients in the balancer's namespace each increment their own counter one request at a time
 * while a random node is SIGKILLed every 3 s and started again 1.5 s later.
 *
 * Asserted as for static membership (chaos-restart.test.ts): zero acknowledged increments lost,
 * no regression, every failed request one the retry rules allow.
 */
import t from 'tap'
import { createTestNet, netnsSkipReason } from './lib/netns.js'
import { clusterKeyFile, type TestProcess } from './lib/proc.js'
import { SHOP_APP } from './lib/cluster.js'
import { nsRequest, startAgents } from './lib/ns-shop.js'
import { runCounterChaos, assertChaos, type ChaosNode } from './lib/counter-chaos.js'
import { sleep } from '@nodecat/testkit'

const skip = netnsSkipReason()
const RUNS = Number(process.env.NODECAT_CHAOS_NETNS_RUNS ?? 2)
const DURATION = Number(process.env.NODECAT_CHAOS_MS ?? 15_000)
const SEED = Number(process.env.NODECAT_CHAOS_SEED ?? Date.now() % 100_000)
// why: each run starts a cluster and loads it for DURATION; the file's default budget is 180 s
t.setTimeout(RUNS * (DURATION + 90_000) + 60_000)

for (let run = 1; run <= RUNS; run++) {
  t.test(`chaos run ${run}/${RUNS}: kill and restart under load, multicast in namespaces, sync mode (seed ${SEED + run})`, { skip }, async (t) => {
    const keyFile = clusterKeyFile(t, 'nodecat-chaos-')

    const net = await createTestNet(t, { members: 4 })
    const [nsLb, ...nodeNs] = net.names as [string, ...string[]]
    await startAgents(t, net, [nsLb])
    const nodes: ChaosNode[] = nodeNs.map((ns, i) => {
      const addr = net.address(ns)
      const route = `c${i + 1}`
      let proc: TestProcess | null = null
      return {
        route,
        get up () { return proc !== null && proc.child.exitCode === null && proc.child.signalCode === null },
        start: async () => {
          proc = net.spawnNode(ns, 'was-node', 'cli.js', [
            '--jvm-route', route, '--http', `${addr}:8080`, '--receiver', `${addr}:4000`, '--bind', addr,
            '--key-file', keyFile, '--app', SHOP_APP, '--channel-send-options', 'sync', '--frequency', '500', '--drop-time', '3000'
          ])
          await proc.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening'), 90_000, `HTTP listening of ${route}`)
        },
        kill: async () => { proc!.signal('SIGKILL'); await proc!.exited },
        ready: async () => (await nsRequest(net, nsLb, `http://${addr}:8080/_nodecat/ready`)).status === 200
      }
    })
    for (const n of nodes) await n.start()
    const lbAddr = net.address(nsLb)
    const balancer = net.spawnNode(nsLb, 'balancer', 'cli.js', [
      '--listen', `${lbAddr}:8080`, '--admin', '127.0.0.1:8090', '--discover', '--multicast-bind', lbAddr,
      '--cluster-address', lbAddr, '--key-file', keyFile, '--health-interval', '500', '--connect-timeout', '1000'
    ])
    await balancer.waitFor((l) => l.msg === 'balancer started', 30_000, 'balancer started')
    for (const n of nodes) await balancer.waitFor((l) => l.msg === 'worker added' && l.route === n.route, 30_000, `balancer discovers ${n.route}`)
    for (const n of nodes) {
      for (let i = 0; i < 300 && !(await n.ready()); i++) await sleep(100)
    }

    const report = await runCounterChaos({
      nodes,
      request: async (method, urlPath, cookie, form) => {
        const a = await nsRequest(net, nsLb, `http://${lbAddr}:8080${urlPath}`, method, cookie ?? '', form)
        const code = a.code ?? null
        return { status: a.status, cookie: a.cookie, body: typeof a.body === 'object' ? a.body : null, error: a.status >= 400 ? (code ?? String(a.body ?? a.error)) : a.error }
      },
      // the scenario is runCounterChaos's default: 8 clients, a kill every 3 s, restart 1.5 s later
      durationMs: DURATION,
      seed: SEED + run,
      log: (line) => t.comment(line)
    })
    assertChaos(t, report)
  })
}
