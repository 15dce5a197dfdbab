/**
 * The load and the checks of the compound-fault tests (issue 11, "the suite must be able to catch
 * this"): N users through the balancer, each with its own session, each doing one request at a
 * time in a cycle (counter increment, cart add, read), with every request recorded: when it was
 * sent and answered, the route its cookie named, the status, the balancer's error code, the state
 * the answer showed. The transport is pluggable (fetch on 127.0.0.1, or a request agent inside a
 * network namespace), so the same load and checks serve both. Bounded in requests and time.
 *
 * The checks:
 * - staleAnswers: every 2xx answer shows the user's own session with everything acknowledged
 *   before that request was sent (counter not below the last acknowledged increment, no
 *   acknowledged cart item missing). A fresh session, another user's data or a stale copy is
 *   caught the moment it is served, whichever node served it, not only in a final read.
 * - unexpectedFailures: every failed request is one the balancer's retry rules allow (FailureRules).
 * - finalLoss: one more read of each session (through the balancer, or directly on a node) against
 *   what was acknowledged.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { sleep, type ShopState } from './cluster.js'

/** one answer as the load needs it */
export interface Reply {
  status: number
  /** the JSESSIONID the answer set ('' = cleared), or null when it set none */
  cookie: string | null
  state: ShopState | null
  /** the x-nodecat-error header (the balancer's code), or null */
  code: string | null
  error: string | null
}

export type Transport = (url: string, method: 'GET' | 'POST', cookie: string | null, form?: Record<string, string>) => Promise<Reply>

const isState = (body: unknown): body is ShopState => typeof body === 'object' && body !== null && 'jvmRoute' in body

/** HTTP from the test process itself (127.0.0.1); never throws */
export const fetchTransport: Transport = async (url, method, cookie, form) => {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (cookie !== null) headers.cookie = `JSESSIONID=${cookie}`
  let body: string | undefined
  if (form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded'
    body = new URLSearchParams(form).toString()
  }
  try {
    const res = await fetch(url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(20_000) })
    let next: string | null = null
    for (const c of res.headers.getSetCookie()) {
      const m = /^JSESSIONID=([^;]*)/.exec(c)
      if (m !== null) next = /max-age=0/i.test(c) ? '' : m[1]!
    }
    const text = await res.text()
    let parsed: unknown = null
    try { parsed = JSON.parse(text) } catch {}
    return { status: res.status, cookie: next, state: isState(parsed) ? parsed : null, code: res.headers.get('x-nodecat-error') ?? unprocessedCode(res.status, parsed), error: res.status >= 400 ? text.slice(0, 200).trim() : null }
  } catch (err) {
    return { status: 0, cookie: null, state: null, code: null, error: `${(err as Error).name}: ${(err as Error).message} ${String((err as any).cause?.code ?? '')}` }
  }
}

/** a node's own "not processed" 503 (WAS_ERR_SESSION_UNVERIFIED, WAS_ERR_STALLED, …): its JSON code */
function unprocessedCode (status: number, body: unknown): string | null {
  const code = (body as { code?: unknown } | null)?.code
  return status === 503 && typeof code === 'string' && code.startsWith('WAS_ERR_') ? code : null
}

/** answers of test/lib/ns-shop.ts nsRequest (an agent inside a namespace) as a Reply */
export function nsReply (a: { status: number, cookie: string | null, body: any, error: string | null, code?: string | null }): Reply {
  return { status: a.status, cookie: a.cookie, state: isState(a.body) ? a.body : null, code: a.code ?? unprocessedCode(a.status, a.body), error: a.status >= 400 ? String(typeof a.body === 'string' ? a.body : JSON.stringify(a.body)).slice(0, 200) : a.error }
}

export interface Sent {
  method: 'GET' | 'POST'
  path: string
  base: string
  /** the route the cookie named when sent (where a sticky balancer sends it) */
  route: string | null
  sentAt: number
  answeredAt: number
  status: number
  code: string | null
  error: string | null
  state: ShopState | null
}

export const routeOf = (cookie: string | null): string | null => {
  if (cookie === null) return null
  const i = cookie.indexOf('.')
  return i < 0 ? null : cookie.slice(i + 1)
}

export class CompoundUser {
  readonly name: string
  readonly base: string
  cookie: string | null = null
  readonly log: Sent[] = []
  loggedIn = false
  /** the highest counter a 2xx answer to an increment showed */
  ackedCount = 0
  countAttempts = 0
  /** cart items a 2xx answer to a cart add showed */
  readonly ackedItems = new Set<string>()
  /** items sent whose add got no 2xx (may or may not have been applied) */
  readonly doubtfulItems = new Set<string>()
  /** when set, the load also reads the session here (a node's own address) after each step, with this user's cookie */
  readAlso: string | null = null
  readonly #transport: Transport

  constructor (name: string, base: string, transport: Transport) {
    this.name = name
    this.base = base
    this.#transport = transport
  }

  get route (): string | null { return routeOf(this.cookie) }

  /** one request with this user's cookie (to the balancer, or to `base`); the answer's cookie is kept */
  async request (method: 'GET' | 'POST', path: string, form?: Record<string, string>, base = this.base): Promise<Sent> {
    const sentAt = Date.now()
    const route = this.route
    const r = await this.#transport(base + path, method, this.cookie, form)
    if (r.cookie !== null) this.cookie = r.cookie === '' ? null : r.cookie
    const sent: Sent = { method, path, base, route, sentAt, answeredAt: Date.now(), status: r.status, code: r.code, error: r.error, state: r.state }
    this.log.push(sent)
    return sent
  }

  async login (): Promise<boolean> {
    const a = await this.request('POST', '/login', { user: this.name })
    this.loggedIn = a.status === 200 && a.state?.user === this.name
    return this.loggedIn
  }

  /** one step of load: a counter increment, a cart add, a read, in turn */
  async step (k: number): Promise<void> {
    if (k % 3 === 0) {
      this.countAttempts++
      const a = await this.request('POST', '/count')
      if (a.status === 200 && a.state?.user === this.name) this.ackedCount = Math.max(this.ackedCount, a.state.count)
    } else if (k % 3 === 1) {
      const item = `${this.name}-${k}`
      const a = await this.request('POST', '/cart', { item })
      if (a.status === 200 && a.state?.user === this.name) for (const i of a.state.cart) this.ackedItems.add(i)
      else this.doubtfulItems.add(item)
    } else {
      await this.request('GET', '/api/state')
    }
  }
}

export interface CompoundLoad {
  users: CompoundUser[]
  /** resolves when every user has logged in (rejects if one could not) */
  loggedIn: Promise<void>
  /** resolves when every user has stopped */
  done: Promise<void>
  /** ask every user to stop after its current request */
  stop (): void
  /** requests made so far */
  requests (): number
}

/**
 * Start the users: each logs in, then steps until stop(), `durationMs` or `maxSteps`, whichever
 * comes first, pausing `pauseMs` between steps.
 */
export function startCompoundLoad (base: string, transport: Transport, { users = 8, durationMs = 60_000, maxSteps = 3000, pauseMs = 20, prefix = 'c' } = {}): CompoundLoad {
  const list = Array.from({ length: users }, (_, i) => new CompoundUser(`${prefix}${i + 1}`, base, transport))
  let stopped = false
  const until = Date.now() + durationMs
  const logins = list.map(async (u) => {
    if (!(await u.login())) throw new Error(`${u.name} could not log in: ${JSON.stringify(u.log.at(-1))}`)
  })
  // why: a user that cannot log in fails the test; the others must not run on for durationMs
  const loggedIn = Promise.all(logins).then(() => {}, (err: unknown) => { stopped = true; throw err })
  const done = Promise.all(list.map(async (u, i) => {
    try { await logins[i] } catch { return }
    for (let k = 0; k < maxSteps && !stopped && Date.now() < until; k++) {
      await u.step(k)
      if (u.readAlso !== null) await u.request('GET', '/api/state', undefined, u.readAlso)
      if (pauseMs > 0) await sleep(pauseMs)
    }
  })).then(() => {})
  return { users: list, loggedIn, done, stop: () => { stopped = true }, requests: () => list.reduce((n, u) => n + u.log.length, 0) }
}

/**
 * Every 2xx answer after the login must show the user's own session with everything acknowledged
 * before the request was sent. What is acknowledged: the counter and cart a 2xx answer to a write
 * showed (sync mode: replicated to every live peer before the answer went out).
 */
export function staleAnswers (users: readonly CompoundUser[]): string[] {
  const bad: string[] = []
  for (const u of users) {
    let loggedIn = false
    let count = 0
    const items = new Set<string>()
    for (const a of u.log) {
      if (a.status < 200 || a.status >= 300 || a.state === null) continue
      const s = a.state
      if (a.path === '/login') { loggedIn ||= s.user === u.name; continue }
      if (!loggedIn) continue
      const where = `${a.method} ${a.path} via ${a.base} at ${a.sentAt} (cookie route ${a.route ?? '-'}, served by ${s.jvmRoute})`
      if (s.user !== u.name) {
        bad.push(`${u.name}: ${where} answered as user ${String(s.user)} (count ${s.count}): a fresh session or another user's`)
        continue
      }
      if (s.count < count) bad.push(`${u.name}: ${where} showed counter ${s.count} after ${count} was acknowledged: a stale copy`)
      const missing = [...items].filter((i) => !s.cart.includes(i))
      if (missing.length > 0) bad.push(`${u.name}: ${where} misses acknowledged cart items ${missing.join(',')}: a stale copy`)
      if (a.method === 'POST' && a.path === '/count') count = Math.max(count, s.count)
      if (a.method === 'POST' && a.path === '/cart') for (const i of s.cart) items.add(i)
    }
  }
  return bad
}

export interface FailureRules {
  /**
   * nodes SIGKILLed (at = just before the signal): a POST in flight on one is answered 502
   * LB_ERR_WORKER_FAILED (it reached the worker, which may have applied it: not replayed); at most
   * one per user per kill, and only one answered after a kill
   */
  kills: ReadonlyArray<{ route: string, at: number }>
  /**
   * nodes frozen (SIGSTOP) or cut off the network at `from`, until the balancer put them in ERROR
   * (`until`): a request in flight there at `from`, or sent there before `until`, gets no answer and
   * is answered 504 LB_ERR_HEADERS_TIMEOUT (it reached the worker: not replayed). Allowed for a
   * request sent before `until` and answered after `from` whose cookie named that node or a killed
   * one (the balancer moved it, and the frozen node still counted as usable); at most one per user
   * per freeze.
   */
  frozen?: ReadonlyArray<{ route: string, from: number, until: number }>
  /**
   * windows in which no node was ready: the balancer's own 503 LB_ERR_NO_WORKER (the request went
   * nowhere) is allowed for a request sent in [from, until)
   */
  noWorker?: ReadonlyArray<{ from: number, until: number }>
}

const describeSent = (u: CompoundUser, a: Sent): string =>
  `${u.name}: ${a.method} ${a.path} via ${a.base} sent at ${a.sentAt} (route ${a.route ?? '-'}) -> ${a.status} ${a.code ?? ''} ${a.error ?? ''}`.trim()

/** the failed requests the retry rules do not allow, and the allowed ones counted by kind */
export function unexpectedFailures (users: readonly CompoundUser[], rules: FailureRules): { bad: string[], allowed: Record<string, number>, failed: number } {
  const bad: string[] = []
  const allowed: Record<string, number> = {}
  let failed = 0
  const killed = new Set(rules.kills.map((k) => k.route))
  for (const u of users) {
    let post502 = 0
    let frozen504 = 0
    for (const a of u.log) {
      if (a.status >= 200 && a.status < 300) continue
      failed++
      let kind: string | null = null
      if (a.status === 502 && a.method === 'POST' && a.code === 'LB_ERR_WORKER_FAILED' && rules.kills.some((k) => a.sentAt <= k.at + 5000 && a.answeredAt >= k.at)) {
        kind = 'POST in flight on a killed node (502)'
        post502++
      } else if (a.status === 504 && a.code === 'LB_ERR_HEADERS_TIMEOUT' && (rules.frozen ?? []).some((f) => a.answeredAt >= f.from && a.sentAt < f.until && (a.route === f.route || (a.route !== null && killed.has(a.route))))) {
        kind = 'in flight on, or sent to, a frozen or cut-off node before it was put in ERROR (504)'
        frozen504++
      } else if (a.status === 503 && a.code === 'LB_ERR_NO_WORKER' && (rules.noWorker ?? []).some((w) => a.sentAt >= w.from && a.sentAt < w.until)) {
        kind = 'no ready node: sent nowhere (503)'
      } else if (a.status === 503 && (a.code === 'WAS_ERR_SESSION_UNVERIFIED' || a.code === 'WAS_ERR_STALLED')) {
        // a node whose copies may be stale refused to serve one no peer had confirmed yet: not
        // processed (a balancer sends such a request elsewhere; a direct read just gets the 503)
        kind = 'refused unprocessed by a node whose copies were not yet confirmed (503)'
      }
      if (kind === null) bad.push(describeSent(u, a))
      else allowed[kind] = (allowed[kind] ?? 0) + 1
    }
    if (post502 > rules.kills.length) bad.push(`${u.name}: ${post502} POSTs answered 502 for ${rules.kills.length} kill(s)`)
    if (frozen504 > (rules.frozen ?? []).length) bad.push(`${u.name}: ${frozen504} requests answered 504 for ${(rules.frozen ?? []).length} freeze(s)`)
  }
  return { bad, allowed, failed }
}

export interface FinalLoss {
  /** users whose session is gone (the read shows another user or none) */
  lostSessions: string[]
  /** acknowledged increments missing */
  lostCounts: string[]
  /** acknowledged cart items missing */
  lostItems: string[]
  /** counters above the increments sent, items never sent */
  impossible: string[]
}

/**
 * Read each user's session once more through `base` (the balancer by default, or a node's own
 * address: then the node takes the session over, as after a failover) and compare with what was
 * acknowledged.
 */
export async function finalLoss (users: readonly CompoundUser[], base?: string): Promise<FinalLoss> {
  const r: FinalLoss = { lostSessions: [], lostCounts: [], lostItems: [], impossible: [] }
  for (const u of users) {
    if (!u.loggedIn) continue
    let a = await u.request('GET', '/api/state', undefined, base ?? u.base)
    // a node still checking its copies with its peers (after a heal or a stall) answers "not
    // processed" until one confirms them: read again, bounded (20 × 500 ms), before judging
    for (let i = 0; i < 20 && a.status === 503 && (a.code === 'WAS_ERR_SESSION_UNVERIFIED' || a.code === 'WAS_ERR_STALLED'); i++) {
      await sleep(500)
      a = await u.request('GET', '/api/state', undefined, base ?? u.base)
    }
    const s = a.state
    const where = `${a.base}${s !== null ? ` (served by ${s.jvmRoute})` : ''}`
    if (a.status !== 200 || s === null || s.user !== u.name) { r.lostSessions.push(`${u.name} via ${where}: ${a.status} ${a.code ?? ''} user ${String(s?.user)}`); continue }
    if (s.count < u.ackedCount) r.lostCounts.push(`${u.name} via ${where}: counter ${s.count}, acknowledged ${u.ackedCount}`)
    if (s.count > u.countAttempts) r.impossible.push(`${u.name}: counter ${s.count} > ${u.countAttempts} increments sent`)
    for (const item of u.ackedItems) if (!s.cart.includes(item)) r.lostItems.push(`${u.name} via ${where}: ${item}`)
    for (const item of s.cart) if (!u.ackedItems.has(item) && !u.doubtfulItems.has(item)) r.impossible.push(`${u.name}: item ${item} never sent`)
  }
  return r
}

/** a one-line summary of a load run for t.comment */
export function loadSummary (users: readonly CompoundUser[]): string {
  const requests = users.reduce((n, u) => n + u.log.length, 0)
  const acked = users.reduce((n, u) => n + u.ackedCount + u.ackedItems.size, 0)
  const byStatus = new Map<string, number>()
  for (const u of users) for (const a of u.log) if (a.status < 200 || a.status >= 300) byStatus.set(`${a.status}${a.code !== null ? ` ${a.code}` : ''}`, (byStatus.get(`${a.status}${a.code !== null ? ` ${a.code}` : ''}`) ?? 0) + 1)
  const served = new Map<string, number>()
  for (const u of users) for (const a of u.log) if (a.state !== null) served.set(a.state.jvmRoute, (served.get(a.state.jvmRoute) ?? 0) + 1)
  return `${users.length} users, ${requests} requests, ${acked} acknowledged writes (increments + cart items), ` +
    `served by ${[...served].sort().map(([r, n]) => `${r}:${n}`).join(' ')}, failed: ${[...byStatus].map(([s, n]) => `${s}×${n}`).join(', ') || 'none'}`
}

/** "+12.3 s: what" lines from one start time, for the test's comments and a failure's timeline */
export function timeline (comment: (line: string) => void): { t0: number, mark: (what: string) => number } {
  const t0 = Date.now()
  return {
    t0,
    mark: (what) => {
      const now = Date.now()
      comment(`+${((now - t0) / 1000).toFixed(2)} s: ${what}`)
      return now
    }
  }
}

// ---- nodes on 127.0.0.1 ---------------------------------------------------------------------

/** a node's /_nodecat/status (with `replicas`: session references, stamps and digest), or null when it does not answer */
export async function nodeStatus (url: string, replicas = false): Promise<any> {
  try {
    const res = await fetch(`${url}/_nodecat/status${replicas ? '?replicas=1' : ''}`, { signal: AbortSignal.timeout(10_000) })
    return res.status === 200 ? await res.json() : null
  } catch { return null }
}

/** GET /_nodecat/ready is 200 */
export async function isReady (url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/_nodecat/ready`, { signal: AbortSignal.timeout(2000) })
    await res.body?.cancel()
    return res.status === 200
  } catch { return false }
}

/** poll until every node answers /_nodecat/ready with 200 (bounded); the ones still not ready */
export async function waitReady (urls: readonly string[], timeoutMs = 90_000): Promise<string[]> {
  const until = Date.now() + timeoutMs
  let notReady: string[] = [...urls]
  while (Date.now() < until) {
    notReady = []
    for (const u of urls) if (!(await isReady(u))) notReady.push(u)
    if (notReady.length === 0) return []
    await sleep(100)
  }
  return notReady
}

/**
 * Make `count` sessions of `kb` KB each on a node (test/lib/fill-app.mjs POST /fill), `parallel`
 * at a time, so that a later state transfer takes a while. Returns their cookies.
 */
export async function fillSessions (url: string, count: number, kb: number, parallel = 8): Promise<string[]> {
  const cookies: string[] = []
  let next = 0
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) {
      next++
      const r = await fetchTransport(`${url}/fill?kb=${kb}`, 'POST', null)
      if (r.status !== 200 || r.cookie === null || r.cookie === '') throw new Error(`POST /fill on ${url}: ${r.status} ${r.code ?? ''} ${r.error ?? ''}`)
      cookies.push(r.cookie)
    }
  }))
  return cookies
}

/**
 * Poll a starting node's status as fast as it answers until its state transfer is under way
 * (state 'running' and some sessions received), as test/readiness.test.ts does. Null if the node
 * became ready first or `maxPolls` / `timeoutMs` ran out.
 */
export async function waitTransferUnderWay (url: string, { maxPolls = 20_000, timeoutMs = 60_000 } = {}): Promise<any> {
  const until = Date.now() + timeoutMs
  for (let i = 0; i < maxPolls && Date.now() < until; i++) {
    const s = await nodeStatus(url)
    if (s?.stateTransfer?.state === 'running' && s.stateTransfer.sessionsReceived > 0) return s
    if (s?.ready === true) return null
  }
  return null
}

/** poll until the nodes' replica digests agree (bounded); the last digests read */
export async function waitSameReplicas (urls: readonly string[], timeoutMs = 20_000): Promise<{ same: boolean, replicas: any[] }> {
  const until = Date.now() + timeoutMs
  let replicas: any[] = []
  for (;;) {
    replicas = await Promise.all(urls.map(async (u) => (await nodeStatus(u, true))?.replicas ?? null))
    const same = replicas.every((r) => r !== null && r.digest === replicas[0].digest)
    if (same || Date.now() > until) return { same, replicas }
    await sleep(250)
  }
}

/** the sessions two replica documents disagree on, "ref: a=stamp b=stamp", at most `max` */
export function replicaDiff (a: any, b: any, max = 10): string[] {
  const refs = new Set([...Object.keys(a?.sessions ?? {}), ...Object.keys(b?.sessions ?? {})])
  const diff: string[] = []
  for (const r of refs) {
    const x = a?.sessions?.[r] ?? '-'
    const y = b?.sessions?.[r] ?? '-'
    if (x !== y) diff.push(`${r}: ${x} vs ${y}`)
    if (diff.length >= max) break
  }
  return diff
}

/**
 * With NODECAT_COMPOUND_DUMP=<dir>, write every user's requests and every process's log lines
 * there (one JSON line each), to rebuild the timeline of a failed run.
 */
export function dumpRun (users: readonly CompoundUser[], logs: Record<string, ReadonlyArray<Record<string, unknown>>>): void {
  const dir = process.env.NODECAT_COMPOUND_DUMP
  if (dir === undefined || dir === '') return
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, 'users.jsonl'), users.flatMap((u) => u.log.map((a) => JSON.stringify({ user: u.name, ...a }))).join('\n') + '\n')
  for (const [name, lines] of Object.entries(logs)) writeFileSync(path.join(dir, `${name}.jsonl`), lines.map((l) => JSON.stringify(l)).join('\n') + '\n')
}

/** what every compound test asserts once its load stopped, for nodes reachable from the test process */
export interface Asserter {
  ok: (v: unknown, m: string) => void
  same: (a: unknown, b: unknown, m: string) => void
  comment: (m: string) => void
}

/**
 * No stale, fresh or foreign answer; every failure one the rules allow; zero acknowledged writes
 * lost through the balancer and directly on each node; identical copies everywhere (on a
 * difference, `compare` names the two nodes whose copies are shown).
 */
export async function assertNothingLost (t: Asserter, users: readonly CompoundUser[], rules: FailureRules, nodes: ReadonlyArray<{ route: string, url: string }>, compare: [number, number] = [0, 1]): Promise<void> {
  t.same(staleAnswers(users), [], 'no answer showed a fresh session, another user\'s data or a stale copy')
  const failures = unexpectedFailures(users, rules)
  t.comment(`failed requests ${failures.failed}, allowed: ${JSON.stringify(failures.allowed)}`)
  t.same(failures.bad, [], 'every failed request is one the retry rules allow')
  const none = { lostSessions: [], lostCounts: [], lostItems: [], impossible: [] }
  t.same(await finalLoss(users), none, 'zero acknowledged writes lost (read through the balancer)')
  for (const n of nodes) t.same(await finalLoss(users, n.url), none, `${n.route} serves every user's newest data`)
  const { same, replicas } = await waitSameReplicas(nodes.map((n) => n.url))
  t.ok(same, `the three nodes hold identical copies (${replicas.map((r, i) => `${nodes[i]!.route}=${String(r?.count)}`).join(' ')})`)
  const [a, b] = compare
  if (!same) t.comment(`${nodes[a]!.route} vs ${nodes[b]!.route}: ${replicaDiff(replicas[a], replicas[b]).join('; ')}`)
}
