/**
 * The soak's cluster: N nodecat-was services (the example shop, static membership on 127.0.0.1,
 * a cluster key, sync or async replication) behind nodecat's balancer, every process started with
 * the process probe (heap after GC and active handles on fd 3) so that it can be watched over
 * time, and every node restartable on the same ports. How processes are started is the caller's
 * (the benchmark registers them for its clean-up, the test for its teardown); all are held by PID.
 */
import path from 'node:path'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { freePorts, probeNodeArgs, probeEnv, probeStdio, readProbe, type JsonLines, type WatchedOptions, type WatchedProcess, sleep } from '@nodecat/testkit'

const HOST = '127.0.0.1'
// why: this file runs from bench/lib (sources, as the test runs them) and from bench/dist/lib (built)
let repo = path.dirname(fileURLToPath(import.meta.url))
while (!existsSync(path.join(repo, 'pnpm-workspace.yaml')) && path.dirname(repo) !== repo) repo = path.dirname(repo)
export const soakPaths = {
  wasCli: path.join(repo, 'packages', 'was-node', 'dist', 'cli.js'),
  balancerCli: path.join(repo, 'packages', 'balancer', 'dist', 'cli.js'),
  shopApp: path.join(repo, 'examples', 'shop', 'app.js')
}

/** starts one process; the caller owns its clean-up */
export type Spawn = (name: string, command: string, args: string[], options: WatchedOptions) => WatchedProcess

/** one run of one process (a node restarted is a new instance) */
export interface Instance {
  /** "balancer", "n1#2" (second start of n1) */
  name: string
  role: 'balancer' | 'node'
  proc: WatchedProcess
  probe: JsonLines
  /** Date.now() when it was started */
  startedAt: number
  /** a node's HTTP address (its status page is /_nodecat/status) */
  url?: string
}

export interface SoakClusterOptions {
  nodes: number
  mode: 'sync' | 'async'
  spawn: Spawn
  /** probe sample interval, ms */
  probeMs: number
  /** ms to wait for a node's state transfer */
  readyTimeoutMs?: number
}

export class SoakNode {
  readonly route: string
  readonly url: string
  readonly receiver: string
  current: Instance | null = null
  starts = 0
  readonly #args: string[]
  readonly #o: SoakClusterOptions
  readonly #onStart: (i: Instance) => void

  constructor (route: string, httpPort: number, receiver: string, peers: string[], key: string, o: SoakClusterOptions, onStart: (i: Instance) => void) {
    this.route = route
    this.url = `http://${HOST}:${httpPort}`
    this.receiver = receiver
    this.#o = o
    this.#onStart = onStart
    this.#args = ['--jvm-route', route, '--http', `${HOST}:${httpPort}`, '--receiver', receiver, '--auto-bind', '1',
      '--static', peers.join(','), '--app', soakPaths.shopApp, '--key', key, '--channel-send-options', o.mode,
      '--frequency', '500', '--drop-time', '3000', '--shutdown-timeout', '5000', '--log-level', 'info']
  }

  get up (): boolean { return this.current?.proc.running() ?? false }

  /** start (again) and wait until its state transfer is done (`node-ready`); returns ms to ready */
  async start (): Promise<number> {
    if (this.up) throw new Error(`${this.route} is already running`)
    this.starts++
    const instance = { ...startInstance(this.#o, `${this.route}#${this.starts}`, 'node', soakPaths.wasCli, this.#args), url: this.url }
    this.current = instance
    this.#onStart(instance)
    await instance.proc.waitFor((l) => l.event === 'node-ready', this.#o.readyTimeoutMs ?? 90_000, `node-ready of ${instance.name}`)
    return Date.now() - instance.startedAt
  }

  /** send a signal; resolves once the process is gone */
  async stop (sig: 'SIGKILL' | 'SIGTERM'): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
    const p = this.current?.proc
    if (p === undefined || !p.running()) throw new Error(`${this.route} is not running`)
    p.signal(sig)
    return await p.exited
  }
}

function startInstance (o: SoakClusterOptions, name: string, role: Instance['role'], cli: string, args: string[]): Instance {
  const proc = o.spawn(name, process.execPath, [...probeNodeArgs(), cli, ...args], {
    stdio: probeStdio,
    env: { ...process.env, NODE_OPTIONS: '', ...probeEnv(o.probeMs) },
    // why: a node logs a few lines per fault; keep the newest, a long soak must not grow the parent
    maxLines: 2000
  })
  return { name, role, proc, probe: readProbe(proc.child), startedAt: Date.now() }
}

export interface SoakCluster {
  nodes: SoakNode[]
  balancer: Instance
  balancerUrl: string
  /** every instance ever started, in order */
  instances: Instance[]
  /** the balancer's view of a worker ("OK", "ERROR", ...) */
  workerState (route: string): Promise<string>
  /** wait until the balancer reports the worker OK */
  waitWorkerOk (route: string, timeoutMs?: number): Promise<void>
  /** stop everything still running (SIGTERM, then SIGKILL) */
  stop (): Promise<void>
}

export async function startSoakCluster (o: SoakClusterOptions): Promise<SoakCluster> {
  const ports = await freePorts(2 * o.nodes + 2)
  const receivers = Array.from({ length: o.nodes }, (_, i) => `${HOST}:${ports[o.nodes + i]}`)
  const key = randomBytes(32).toString('base64')
  const instances: Instance[] = []
  const nodes = receivers.map((r, i) => new SoakNode(`n${i + 1}`, ports[i]!, r, receivers.filter((x) => x !== r), key, o, (inst) => instances.push(inst)))
  // one after the other: each new node takes the sessions from the ones already running
  for (const n of nodes) await n.start()
  const [port, adminPort] = ports.slice(2 * o.nodes)
  const balancer = startInstance(o, 'balancer', 'balancer', soakPaths.balancerCli, [
    '--listen', `${HOST}:${port}`, '--admin', `${HOST}:${adminPort}`, ...nodes.flatMap((n) => ['--worker', `${n.route}=${n.url}`]),
    '--health-interval', '500', '--connect-timeout', '1000', '--log-level', 'warn'
  ])
  instances.push(balancer)
  const adminUrl = `http://${HOST}:${adminPort}`
  const workerState = async (route: string): Promise<string> => {
    const res = await fetch(`${adminUrl}/status`, { signal: AbortSignal.timeout(5000) })
    const doc = await res.json() as { workers: Array<{ route: string, state: string }> }
    return doc.workers.find((w) => w.route === route)?.state ?? 'absent'
  }
  const cluster: SoakCluster = {
    nodes,
    balancer,
    balancerUrl: `http://${HOST}:${port}`,
    instances,
    workerState,
    async waitWorkerOk (route, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs
      let last = '?'
      while (Date.now() < until) {
        try { last = await workerState(route) } catch (err) { last = (err as Error).message }
        if (last === 'OK') return
        await sleep(200)
      }
      throw new Error(`the balancer did not see ${route} OK within ${timeoutMs} ms (last: ${last})`)
    },
    async stop () { await Promise.all(instances.map((i) => i.proc.stop())) }
  }
  for (const n of nodes) await cluster.waitWorkerOk(n.route)
  return cluster
}
