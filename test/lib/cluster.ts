/**
 * A whole cluster in processes on 127.0.0.1 for the failover tests: N `nodecat-was` nodes running
 * the example shop with static membership, and a balancer in front, all on ports from freePorts,
 * all stopped by PID at teardown. Plus ShopClient, a cookie-keeping HTTP client that logs in, adds
 * to the cart and reads /api/state, and records every request it made.
 *
 *   const c = await startCluster(t, { nodes: 2, mode: 'sync' })
 *   const user = new ShopClient(c.balancerUrl)
 *   await user.login('ann'); await user.addToCart('tea')
 *   c.node(user.route!).kill()
 */
import path from 'node:path'
import { startNode, repoRoot, type TestProcess } from './proc.js'
import { freePorts } from './ports.js'
import { sleep } from '@nodecat/testkit'

type Teardown = { teardown: (fn: () => Promise<void> | void) => void }

export const HOST = '127.0.0.1'
export const SHOP_APP = path.join(repoRoot, 'examples', 'shop', 'app.js')

export interface ClusterOptions {
  /** nodes to start (default 2) */
  nodes?: number
  /** replication send mode (default sync) */
  mode?: 'sync' | 'async'
  /** balancer finds its workers through the cluster (--discover with static members) instead of --worker flags */
  discover?: boolean
  /** extra flags for every node, or per node (by route) */
  nodeArgs?: string[] | ((route: string) => string[])
  /** extra flags for the balancer */
  balancerArgs?: string[]
  /** do not start the balancer */
  noBalancer?: boolean
}

export class ClusterNode {
  readonly route: string
  readonly httpPort: number
  readonly receiverPort: number
  readonly url: string
  proc: TestProcess | null = null
  /** how many times this node was started */
  starts = 0
  readonly #args: () => string[]
  readonly #t: Teardown

  constructor (t: Teardown, route: string, httpPort: number, receiverPort: number, args: () => string[]) {
    this.#t = t
    this.route = route
    this.httpPort = httpPort
    this.receiverPort = receiverPort
    this.url = `http://${HOST}:${httpPort}`
    this.#args = args
  }

  get up (): boolean {
    return this.proc !== null && this.proc.child.exitCode === null && this.proc.child.signalCode === null
  }

  /**
   * start (or restart) the process and wait for its `node-started` line; with `ready`, also for
   * `node-ready` (state transfer done); with `listening`, only until its HTTP server listens
   */
  async start ({ ready = true, listening = false, timeoutMs = 90_000 } = {}): Promise<void> {
    if (this.up) throw new Error(`${this.route} is already running`)
    this.starts++
    this.proc = startNode(this.#t, 'was-node', 'cli.js', this.#args())
    if (listening) {
      await this.proc.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening'), timeoutMs, `HTTP listening of ${this.route}`)
      return
    }
    await this.proc.waitFor((l) => l.event === 'node-started', timeoutMs, `node-started of ${this.route}`)
    if (ready) await this.proc.waitFor((l) => l.event === 'node-ready', timeoutMs, `node-ready of ${this.route}`)
  }

  /** send a signal (SIGKILL by default); resolves once the process is gone for SIGKILL/SIGTERM */
  async kill (sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc
    if (p === null) throw new Error(`${this.route} was never started`)
    p.signal(sig)
    if (sig === 'SIGKILL' || sig === 'SIGTERM') await p.exited
  }

  /** lines this node logged in its current run */
  lines (): Array<Record<string, any>> {
    return this.proc?.lines ?? []
  }
}

export interface Cluster {
  readonly nodes: ClusterNode[]
  readonly balancer: TestProcess | null
  readonly balancerUrl: string
  readonly adminUrl: string
  node (route: string): ClusterNode
  /** nodes other than the named one */
  others (route: string): ClusterNode[]
  /** the balancer's admin /status JSON */
  status (): Promise<any>
  /** wait until the balancer reports the worker in one of these states */
  waitWorkerState (route: string, states: string[], timeoutMs?: number): Promise<void>
  /** wait until every running node lists every other running node as a member */
  waitMembers (timeoutMs?: number): Promise<void>
}

export async function startCluster (t: Teardown, options: ClusterOptions = {}): Promise<Cluster> {
  const n = options.nodes ?? 2
  const mode = options.mode ?? 'sync'
  const ports = await freePorts(2 * n + 3)
  const balancerPort = ports[2 * n]!
  const adminPort = ports[2 * n + 1]!
  const lbClusterPort = ports[2 * n + 2]!
  const nodes: ClusterNode[] = []
  const receivers = (except?: ClusterNode): string[] => {
    const list = nodes.filter((o) => o !== except).map((o) => `${HOST}:${o.receiverPort}`)
    if (options.discover === true) list.push(`${HOST}:${lbClusterPort}`)
    return list
  }
  for (let i = 0; i < n; i++) {
    const route = `n${i + 1}`
    const node: ClusterNode = new ClusterNode(t, route, ports[2 * i]!, ports[2 * i + 1]!, () => [
      '--jvm-route', route, '--http', `${HOST}:${node.httpPort}`, '--receiver', `${HOST}:${node.receiverPort}`, '--auto-bind', '1',
      '--static', receivers(node).join(','), '--app', SHOP_APP, '--channel-send-options', mode,
      '--frequency', '500', '--drop-time', '3000', '--shutdown-timeout', '5000',
      ...(typeof options.nodeArgs === 'function' ? options.nodeArgs(route) : options.nodeArgs ?? [])
    ])
    nodes.push(node)
  }
  // one after the other: each new node takes the sessions from the ones already running
  for (const node of nodes) await node.start()

  let balancer: TestProcess | null = null
  if (options.noBalancer !== true) {
    const workers = options.discover === true
      ? ['--discover', '--static-members', receivers().filter((r) => !r.endsWith(`:${lbClusterPort}`)).join(','), '--cluster-address', HOST, '--cluster-port', String(lbClusterPort)]
      : nodes.flatMap((o) => ['--worker', `${o.route}=${o.url}`])
    balancer = startNode(t, 'balancer', 'cli.js', [
      '--listen', `${HOST}:${balancerPort}`, '--admin', `${HOST}:${adminPort}`, ...workers,
      '--health-interval', '500', '--connect-timeout', '1000', ...(options.balancerArgs ?? [])
    ])
    await balancer.waitFor((l) => l.msg === 'balancer started', 30_000, 'balancer started')
  }
  const adminUrl = `http://${HOST}:${adminPort}`
  const status = async (): Promise<any> => {
    const res = await fetch(`${adminUrl}/status`, { signal: AbortSignal.timeout(5000) })
    return await res.json()
  }
  const cluster: Cluster = {
    nodes,
    balancer,
    balancerUrl: `http://${HOST}:${balancerPort}`,
    adminUrl,
    node (route) {
      const found = nodes.find((o) => o.route === route)
      if (found === undefined) throw new Error(`no node ${route}`)
      return found
    },
    others: (route) => nodes.filter((o) => o.route !== route),
    status,
    async waitWorkerState (route, states, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs
      let last = '?'
      while (Date.now() < until) {
        try {
          const s = await status()
          last = s.workers.find((w: any) => w.route === route)?.state ?? 'absent'
          if (states.includes(last)) return
        } catch {}
        await sleep(100)
      }
      throw new Error(`worker ${route} not in ${states.join('|')} within ${timeoutMs} ms (last: ${last})`)
    },
    async waitMembers (timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs
      let last = ''
      while (Date.now() < until) {
        const up = nodes.filter((o) => o.up)
        let all = true
        for (const o of up) {
          try {
            const s = await (await fetch(`${o.url}/_nodecat/status`, { signal: AbortSignal.timeout(3000) })).json() as any
            const routes = new Set((s.members ?? []).map((m: any) => m.route ?? m.jvmRoute))
            const missing = up.filter((p) => p !== o && !routes.has(p.route))
            if (missing.length > 0) { all = false; last = `${o.route} misses ${missing.map((m) => m.route).join(',')} (has ${[...routes].join(',')})` }
          } catch (err) { all = false; last = `${o.route}: ${(err as Error).message}` }
        }
        if (all) return
        await sleep(200)
      }
      throw new Error(`members not complete within ${timeoutMs} ms: ${last}`)
    }
  }
  return cluster
}

/**
 * Restart every node in turn with SIGTERM: each must stop cleanly, and the next goes down only
 * once the restarted one has its sessions (node-ready), the balancer sees it OK and every node
 * lists every other as a member. `downMs`: how long it stays down (load goes on meanwhile).
 */
export async function rollingRestart (t: { same: (a: unknown, b: unknown, m: string) => unknown, pass: (m: string) => unknown }, c: Cluster, downMs = 500): Promise<void> {
  for (const node of c.nodes) {
    node.proc!.signal('SIGTERM')
    t.same(await node.proc!.exited, { code: 0, signal: null }, `${node.route} stopped cleanly`)
    await sleep(downMs)
    await node.start() // waits for node-started and node-ready (state transfer done)
    t.pass(`${node.route} restarted and received the sessions`)
    await c.waitWorkerState(node.route, ['OK'], 30_000)
    await c.waitMembers(30_000)
    await sleep(500)
  }
}

/** testkit's sleep, re-exported for the cluster tests that import it from here */
export { sleep }

export interface ShopState {
  jvmRoute: string
  sessionId: string | null
  user: string | null
  count: number
  cart: string[]
}

export interface Answer {
  method: string
  path: string
  /** HTTP status, or 0 when the request itself failed (connection error, timeout) */
  status: number
  /** the parsed JSON body when there was one */
  state: ShopState | null
  error: string | null
  /** where it went (balancer or a node) */
  base: string
}

/** A browser-like client: one JSESSIONID cookie jar, JSON answers, every request recorded. */
export class ShopClient {
  readonly base: string
  cookie: string | null = null
  readonly log: Answer[] = []
  timeoutMs: number

  constructor (base: string, { timeoutMs = 20_000 } = {}) {
    this.base = base
    this.timeoutMs = timeoutMs
  }

  /** route named by the cookie (after the first '.') */
  get route (): string | null {
    if (this.cookie === null) return null
    const i = this.cookie.indexOf('.')
    return i < 0 ? null : this.cookie.slice(i + 1)
  }

  async request (method: 'GET' | 'POST', urlPath: string, form?: Record<string, string>, base = this.base): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.cookie !== null) headers.cookie = `JSESSIONID=${this.cookie}`
    let body: string | undefined
    if (form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(form).toString()
    }
    const answer: Answer = { method, path: urlPath, status: 0, state: null, error: null, base }
    try {
      const res = await fetch(base + urlPath, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) })
      answer.status = res.status
      for (const c of res.headers.getSetCookie()) this.#takeCookie(c)
      const text = await res.text()
      if ((res.headers.get('content-type') ?? '').includes('json')) {
        const parsed = JSON.parse(text)
        if (typeof parsed === 'object' && parsed !== null && 'jvmRoute' in parsed) answer.state = parsed as ShopState
        else if (res.status >= 400) answer.error = text.slice(0, 300)
      } else if (res.status >= 400) answer.error = text.slice(0, 300)
    } catch (err) {
      answer.error = `${(err as Error).name}: ${(err as Error).message} ${String((err as any).cause?.code ?? '')}`
    }
    this.log.push(answer)
    return answer
  }

  #takeCookie (setCookie: string): void {
    const [pair, ...attrs] = setCookie.split(';')
    const eq = pair!.indexOf('=')
    if (pair!.slice(0, eq).trim() !== 'JSESSIONID') return
    const value = pair!.slice(eq + 1).trim()
    const gone = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a)) || value === ''
    this.cookie = gone ? null : value
  }

  async login (user: string): Promise<Answer> { return await this.request('POST', '/login', { user }) }
  async addToCart (item: string): Promise<Answer> { return await this.request('POST', '/cart', { item }) }
  async count (): Promise<Answer> { return await this.request('POST', '/count') }
  async state (base?: string): Promise<Answer> { return await this.request('GET', '/api/state', undefined, base) }

  /** requests in the log that did not end in a 2xx */
  failures (): Answer[] { return this.log.filter((a) => a.status < 200 || a.status >= 300) }
}

/** "GET /api/state -> 502 (...)" for messages */
export function describe (a: Answer): string {
  return `${a.method} ${a.path} via ${a.base} -> ${a.status}${a.error !== null ? ` (${a.error.trim()})` : ''}`
}

/**
 * The failed requests of a load run during which `kills` nodes were SIGKILLed: a POST answered 502
 * was in flight on a killed node (the balancer may not replay a non-idempotent request), at most
 * one per user per kill; every other failure (`bad`) is one the rules say must not happen.
 */
export function failuresOf (users: LoadUser[], kills: number): { bad: string[], post502: number } {
  const bad: string[] = []
  let post502 = 0
  for (const u of users) {
    const failed = u.client.failures()
    const perUser = failed.filter((a) => a.method === 'POST' && a.status === 502).length
    post502 += perUser
    for (const a of failed) if (!(a.method === 'POST' && a.status === 502)) bad.push(`${u.name}: ${describe(a)}`)
    if (perUser > kills) bad.push(`${u.name}: ${perUser} POSTs answered 502 (at most one in flight per kill: ${kills})`)
  }
  return { bad, post502 }
}

/** One user of a load run: what the server acknowledged, and every request it made. */
export class LoadUser {
  readonly client: ShopClient
  readonly name: string
  /** when the login was acknowledged (ms since epoch), or null */
  loggedInAt: number | null = null
  /** the highest counter value a 2xx answer showed */
  ackedCount = 0
  /** counter increments attempted (acknowledged or not) */
  countAttempts = 0
  /** items a 2xx answer showed in the cart */
  readonly ackedItems = new Set<string>()
  /** items sent whose answer was not a 2xx (may or may not have been applied) */
  readonly doubtfulItems = new Set<string>()
  /** start times of requests, by index in client.log */
  readonly startedAt: number[] = []

  constructor (base: string, name: string) {
    this.client = new ShopClient(base)
    this.name = name
  }

  async #timed (fn: () => Promise<Answer>): Promise<Answer> {
    this.startedAt.push(Date.now())
    return await fn()
  }

  async login (): Promise<boolean> {
    const a = await this.#timed(async () => await this.client.login(this.name))
    if (a.status === 200 && a.state?.user === this.name) { this.loggedInAt = Date.now(); return true }
    return false
  }

  /** one step of load: alternately a counter increment, a cart add and a read */
  async step (k: number): Promise<void> {
    if (k % 3 === 0) {
      this.countAttempts++
      const a = await this.#timed(async () => await this.client.count())
      if (a.status === 200 && a.state !== null) this.ackedCount = Math.max(this.ackedCount, a.state.count)
    } else if (k % 3 === 1) {
      const item = `${this.name}-${k}`
      const a = await this.#timed(async () => await this.client.addToCart(item))
      if (a.status === 200 && a.state !== null) for (const i of a.state.cart) this.ackedItems.add(i)
      else this.doubtfulItems.add(item)
    } else {
      await this.#timed(async () => await this.client.state())
    }
  }
}

export interface LoadRun {
  users: LoadUser[]
  /** resolves when every user has stopped */
  done: Promise<void>
  /** ask every user to stop after its current request */
  stop (): void
}

/**
 * Start `clients` users against `base`: each logs in, then loops over step() until stop(), until
 * `durationMs` has passed, or after `maxSteps` steps, whichever comes first (bounded in count and time).
 * `pauseMs` between steps keeps the load light.
 */
export function startLoad (base: string, { clients = 6, durationMs = 4000, maxSteps = 2000, pauseMs = 0, prefix = 'u' } = {}): LoadRun {
  const users = Array.from({ length: clients }, (_, i) => new LoadUser(base, `${prefix}${i + 1}`))
  let stopped = false
  const until = Date.now() + durationMs
  const done = Promise.all(users.map(async (u) => {
    if (!(await u.login())) return
    for (let k = 0; k < maxSteps && !stopped && Date.now() < until; k++) {
      await u.step(k)
      if (pauseMs > 0) await sleep(pauseMs)
    }
  })).then(() => {})
  return { users, done, stop: () => { stopped = true } }
}

export interface LossReport {
  /** users whose session is gone (not logged in any more) */
  lostSessions: string[]
  /** users whose final counter is below what was acknowledged */
  lostCounts: Array<{ user: string, acked: number, final: number }>
  /** acknowledged cart items missing from the final cart */
  lostItems: Array<{ user: string, item: string }>
  /** final counters above the number of attempts (should never happen) */
  impossible: string[]
}

/** Read every user's final state through `base` (their own cookies) and compare with what was acknowledged. */
export async function lossReport (users: LoadUser[]): Promise<LossReport> {
  const r: LossReport = { lostSessions: [], lostCounts: [], lostItems: [], impossible: [] }
  for (const u of users) {
    if (u.loggedInAt === null) continue
    const a = await u.client.state()
    const s = a.state
    if (a.status !== 200 || s === null || s.user !== u.name) { r.lostSessions.push(u.name); continue }
    if (s.count < u.ackedCount) r.lostCounts.push({ user: u.name, acked: u.ackedCount, final: s.count })
    if (s.count > u.countAttempts) r.impossible.push(`${u.name}: count ${s.count} > ${u.countAttempts} attempts`)
    const cart = new Set(s.cart)
    for (const item of u.ackedItems) if (!cart.has(item)) r.lostItems.push({ user: u.name, item })
    for (const item of s.cart) if (!u.ackedItems.has(item) && !u.doubtfulItems.has(item)) r.impossible.push(`${u.name}: item ${item} never sent`)
  }
  return r
}
