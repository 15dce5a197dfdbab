/**
 * HTTP from inside a test network namespace (test/lib/netns.ts) for the fault tests: a shop user
 * whose requests run `ip netns exec <ns> node shop-request.mjs` (so a node cut off the bridge can
 * still be reached from its own namespace), and node status/replica readers.
 *
 *   const u = new NsShopUser(net, nsA, 'ann')
 *   await u.request(`http://${net.address(nsA)}:8080`, 'POST', '/login', { user: 'ann' })
 */
import path from 'node:path'
import http from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { TestNet } from './netns.js'

export const SHOP_REQUEST = path.join(path.dirname(fileURLToPath(import.meta.url)), 'shop-request.mjs')
const NS_AGENT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ns-agent.mjs')

/** request agents by namespace name (unix socket paths), once startAgents() ran */
const agents = new Map<string, string>()

/**
 * Start one request agent (test/lib/ns-agent.mjs) in each namespace: requests then go through it
 * instead of a new process each. Stopped with the test net; the socket directory at teardown.
 */
export async function startAgents (t: { teardown: (fn: () => void) => void }, net: TestNet, namespaces: readonly string[]): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-ns-agents-'))
  t.teardown(() => { for (const ns of namespaces) agents.delete(ns); rmSync(dir, { recursive: true, force: true }) })
  for (const [i, ns] of namespaces.entries()) {
    const socketPath = path.join(dir, `a${i}.sock`)
    const p = net.spawnIn(ns, process.execPath, [NS_AGENT, socketPath])
    await p.waitFor((l) => l.msg === 'ns-agent listening', 20_000, `ns-agent in ${ns}`)
    agents.set(ns, socketPath)
  }
}

async function viaAgent (socketPath: string, payload: unknown): Promise<NsAnswer> {
  const body = JSON.stringify(payload)
  return await new Promise((resolve) => {
    const req = http.request({ socketPath, path: '/', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 30_000 }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => { try { resolve(JSON.parse(text) as NsAnswer) } catch (err) { resolve({ status: 0, cookie: null, body: null, error: (err as Error).message }) } })
    })
    req.on('timeout', () => req.destroy(new Error('agent timeout')))
    req.on('error', (err) => resolve({ status: 0, cookie: null, body: null, error: err.message }))
    req.end(body)
  })
}

export interface NsAnswer { status: number, cookie: string | null, body: any, error: string | null, /** the balancer's x-nodecat-error header (agent requests only) */ code?: string | null }

/** One request from inside `ns`; never throws (status 0 and `error` on failure). */
export async function nsRequest (net: TestNet, ns: string, url: string, method: 'GET' | 'POST' = 'GET', cookie = '', form?: Record<string, string>): Promise<NsAnswer> {
  const agent = agents.get(ns)
  if (agent !== undefined) return await viaAgent(agent, { url, method, cookie, form })
  try {
    const out = await net.exec(ns, process.execPath, [SHOP_REQUEST, url, method, cookie, form === undefined ? '' : JSON.stringify(form)])
    return JSON.parse(out.trim().split('\n').pop()!) as NsAnswer
  } catch (err) {
    return { status: 0, cookie: null, body: null, error: (err as Error).message }
  }
}

/** A cookie-keeping shop user whose requests start in one namespace. */
export class NsShopUser {
  readonly name: string
  cookie = ''
  readonly failures: string[] = []
  readonly #net: TestNet
  ns: string

  constructor (net: TestNet, ns: string, name: string) {
    this.#net = net
    this.ns = ns
    this.name = name
  }

  /** route the cookie names */
  get route (): string { return this.cookie.slice(this.cookie.indexOf('.') + 1) }

  async request (base: string, method: 'GET' | 'POST', urlPath: string, form?: Record<string, string>): Promise<NsAnswer> {
    const a = await nsRequest(this.#net, this.ns, base + urlPath, method, this.cookie, form)
    if (a.cookie !== null) this.cookie = a.cookie
    if (a.status !== 200) this.failures.push(`${this.name}: ${method} ${base}${urlPath} -> ${a.status} ${a.error ?? JSON.stringify(a.body)}`)
    return a
  }

  async login (base: string): Promise<NsAnswer> { return await this.request(base, 'POST', '/login', { user: this.name }) }
  async add (base: string, item: string): Promise<NsAnswer> { return await this.request(base, 'POST', '/cart', { item }) }
  async logout (base: string): Promise<NsAnswer> { return await this.request(base, 'POST', '/logout') }
  async state (base: string): Promise<NsAnswer> { return await this.request(base, 'GET', '/api/state') }
}

/** A node's /_nodecat/status (with `?replicas=1`: its session references, stamps and digest), read from `ns`. */
export async function nsStatus (net: TestNet, ns: string, base: string, replicas = false): Promise<any> {
  const a = await nsRequest(net, ns, `${base}/_nodecat/status${replicas ? '?replicas=1' : ''}`)
  if (a.status !== 200) throw new Error(`status of ${base} from ${ns}: ${a.status} ${a.error ?? ''}`)
  return a.body
}
