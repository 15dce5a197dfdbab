/**
 * The soak's users: a fixed number of slots, each one user at a time who logs in, then adds to its
 * cart, increments its counter and reads its state in a seeded random mix, and sometimes logs out,
 * after which a new user takes the slot. Every user remembers what the server acknowledged (a 2xx
 * answer to its own write) and checks every later answer against it, so a lost session or a lost
 * acknowledged write is seen when it happens, not only at the end. Bounded by time and count.
 */
import http from 'node:http'
import { seededRandom, sleep } from '@nodecat/testkit'

export type Action = 'login' | 'count' | 'cart' | 'read' | 'logout'

export interface LoadOptions {
  url: string
  /** users at the same time */
  users: number
  /** pause between one user's requests, ms */
  thinkMs: number
  durationMs: number
  maxRequests: number
  /** chance that a step is a logout (then a new user takes over) */
  logoutChance: number
  seed: number
  /** per request */
  timeoutMs?: number
}

export interface Violation {
  /** ms since the load started */
  t: number
  user: string
  kind: 'lost session' | 'lost acknowledged count' | 'lost acknowledged cart item' | 'impossible'
  detail: string
}

/** `cause` as in LoadStats.failures: "POST /count 502" */
export interface FailedRequest { t: number, user: string, action: Action, cause: string }

export interface LoadStats {
  requests: number
  byAction: Record<Action, number>
  /** failed requests by cause: "POST /count 502", "GET /api/state ECONNRESET" */
  failures: Record<string, number>
  /** the first 500 failed requests, with their time */
  failureLog: FailedRequest[]
  failed: number
  usersStarted: number
  logins: number
  logouts: number
  /** writes a 2xx answer acknowledged */
  ackedWrites: number
  violations: Violation[]
}

interface Shown { user: string | null, count: number, cart: string[] }
interface Answer { status: number, state: Shown | null, cause: string | null }

class User {
  readonly name: string
  cookie: string | null = null
  loggedIn = false
  retired = false
  ackedCount = 0
  countAttempts = 0
  readonly ackedItems = new Set<string>()
  readonly sentItems = new Set<string>()
  readonly #lostItems = new Set<string>()
  #lostCount = 0
  constructor (name: string) { this.name = name }

  /** compare an answer with what was acknowledged before; returns the violations */
  check (s: Shown, t: number): Violation[] {
    const v: Violation[] = []
    const add = (kind: Violation['kind'], detail: string): void => { v.push({ t, user: this.name, kind, detail }) }
    if (s.user !== this.name) {
      add('lost session', `answer shows user ${JSON.stringify(s.user)} after ${this.ackedCount} acknowledged increments and ${this.ackedItems.size} cart items`)
      return v
    }
    if (s.count < this.ackedCount && this.#lostCount < this.ackedCount) {
      this.#lostCount = this.ackedCount
      add('lost acknowledged count', `count ${s.count} < acknowledged ${this.ackedCount}`)
    }
    if (s.count > this.countAttempts) add('impossible', `count ${s.count} > ${this.countAttempts} attempts`)
    const cart = new Set(s.cart)
    for (const item of this.ackedItems) {
      if (!cart.has(item) && !this.#lostItems.has(item)) { this.#lostItems.add(item); add('lost acknowledged cart item', item) }
    }
    for (const item of s.cart) if (!this.sentItems.has(item)) add('impossible', `cart item ${item} never sent`)
    return v
  }
}

export class SoakLoad {
  readonly stats: LoadStats = {
    requests: 0,
    byAction: { login: 0, count: 0, cart: 0, read: 0, logout: 0 },
    failures: {},
    failureLog: [],
    failed: 0,
    usersStarted: 0,
    logins: 0,
    logouts: 0,
    ackedWrites: 0,
    violations: []
  }

  /** resolves when every slot has stopped */
  readonly done: Promise<void>
  readonly #o: LoadOptions
  readonly #agent: http.Agent
  readonly #startedAt = Date.now()
  readonly #users = new Set<User>()
  #stopped = false

  constructor (o: LoadOptions) {
    this.#o = o
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: o.users })
    this.done = Promise.all(Array.from({ length: o.users }, async (_, i) => await this.#slot(i))).then(() => {})
  }

  /** users still logged in */
  get active (): number { let n = 0; for (const u of this.#users) if (u.loggedIn && !u.retired) n++; return n }

  /** ask every slot to stop after its current request */
  stop (): void { this.#stopped = true }

  #more (): boolean {
    return !this.#stopped && Date.now() - this.#startedAt < this.#o.durationMs && this.stats.requests < this.#o.maxRequests
  }

  async #slot (slot: number): Promise<void> {
    const random = seededRandom(this.#o.seed * 1000 + slot)
    for (let generation = 1; this.#more(); generation++) {
      const u = new User(`s${slot}g${generation}`)
      this.stats.usersStarted++
      this.#users.add(u)
      for (let tries = 0; tries < 3 && !u.loggedIn && this.#more(); tries++) {
        if (tries > 0) await this.#pause()
        const a = await this.#send(u, 'login', { user: u.name })
        if (a.status === 200 && a.state?.user === u.name) { u.loggedIn = true; this.stats.logins++; this.stats.ackedWrites++ }
      }
      if (!u.loggedIn) { this.#users.delete(u); await this.#pause(); continue }
      for (let k = 0; this.#more() && !u.retired; k++) {
        await this.#pause()
        const r = random()
        if (r < this.#o.logoutChance) {
          const a = await this.#send(u, 'logout')
          u.retired = true
          if (a.status === 200) { this.stats.logouts++; this.stats.ackedWrites++ }
          this.#users.delete(u)
        } else if (r < 0.35) {
          u.countAttempts++
          const a = await this.#send(u, 'count')
          if (a.status === 200 && a.state !== null && a.state.user === u.name) { u.ackedCount = Math.max(u.ackedCount, a.state.count); this.stats.ackedWrites++ }
        } else if (r < 0.65) {
          const item = `${u.name}i${k}`
          u.sentItems.add(item)
          const a = await this.#send(u, 'cart', { item })
          if (a.status === 200 && a.state !== null && a.state.user === u.name) { for (const i of a.state.cart) u.ackedItems.add(i); this.stats.ackedWrites++ }
        } else {
          await this.#send(u, 'read')
        }
      }
      await this.#pause()
    }
  }

  async #pause (): Promise<void> {
    if (this.#o.thinkMs > 0) await sleep(this.#o.thinkMs)
  }

  /** one request for a user; a 2xx answer of a logged-in user is checked against what it acknowledged */
  async #send (u: User, action: Action, form?: Record<string, string>): Promise<Answer> {
    const path = action === 'read' ? '/api/state' : `/${action}`
    const method = action === 'read' ? 'GET' : 'POST'
    this.stats.requests++
    this.stats.byAction[action]++
    const a = await this.#request(u, method, path, form)
    const t = Date.now() - this.#startedAt
    if (a.cause !== null) {
      this.stats.failed++
      const cause = `${method} ${path} ${a.cause}`
      this.stats.failures[cause] = (this.stats.failures[cause] ?? 0) + 1
      if (this.stats.failureLog.length < 500) this.stats.failureLog.push({ t, user: u.name, action, cause })
    } else if (a.state !== null && u.loggedIn && action !== 'logout') {
      const v = u.check(a.state, t)
      this.stats.violations.push(...v)
      if (v.some((x) => x.kind === 'lost session')) { u.retired = true; this.#users.delete(u) }
    }
    return a
  }

  async #request (u: User, method: string, path: string, form?: Record<string, string>): Promise<Answer> {
    const body = form === undefined ? '' : new URLSearchParams(form).toString()
    const headers: Record<string, string | number> = { accept: 'application/json', 'content-length': Buffer.byteLength(body) }
    if (form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded'
    if (u.cookie !== null) headers.cookie = `JSESSIONID=${u.cookie}`
    return await new Promise((resolve) => {
      const req = http.request(new URL(path, this.#o.url), { method, headers, agent: this.#agent, timeout: this.#o.timeoutMs ?? 20_000 }, (res) => {
        for (const c of res.headers['set-cookie'] ?? []) {
          const m = /^JSESSIONID=([^;]*)/.exec(c)
          if (m !== null) u.cookie = m[1] === '' || /max-age=0/i.test(c) ? null : m[1]!
        }
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { text += c })
        res.on('error', (err) => resolve({ status: 0, state: null, cause: (err as NodeJS.ErrnoException).code ?? err.message }))
        res.on('end', () => {
          const status = res.statusCode ?? 0
          let state: Shown | null = null
          try {
            const j = JSON.parse(text) as Partial<Shown> & { jvmRoute?: string }
            if (typeof j.jvmRoute === 'string' && typeof j.count === 'number' && Array.isArray(j.cart)) state = { user: j.user ?? null, count: j.count, cart: j.cart }
          } catch {}
          const ok = status >= 200 && status < 300 && state !== null
          resolve({ status, state, cause: ok ? null : String(status) + (state === null && status === 200 ? ' (no state in the answer)' : '') })
        })
      })
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })))
      req.on('error', (err) => resolve({ status: 0, state: null, cause: (err as NodeJS.ErrnoException).code ?? err.message }))
      req.end(body)
    })
  }

  /**
   * After the load: read every user still logged in (through the balancer, with its own cookie)
   * and check it once more: how many were read, and how many could not be (the read failed).
   */
  async finalCheck (): Promise<{ read: number, unverified: number }> {
    const r = { read: 0, unverified: 0 }
    for (const u of [...this.#users]) {
      if (!u.loggedIn || u.retired) continue
      const a = await this.#send(u, 'read')
      if (a.cause === null) r.read++
      else r.unverified++
    }
    return r
  }

  /** close the kept-alive connections to the balancer */
  close (): void { this.#agent.destroy() }
}
