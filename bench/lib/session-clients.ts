/**
 * Simulated users for the failover benchmark: each keeps one session (cookie) and POSTs
 * /count of the example shop in a loop, checking that the counter goes up by exactly one; with
 * `requests: 'get'` each POSTs /count once (its session) and then reads GET /api/state in a loop
 * (an idempotent request the balancer may hedge), checking that the counter is still there.
 * Every request is logged with its time, outcome, route and counter. Bounded by time and count.
 */
import http from 'node:http'
import { sleep } from '@nodecat/testkit'

export interface RequestLog {
  user: number
  /** ms since the clients started */
  t: number
  latencyMs: number
  ok: boolean
  status: number
  route?: string
  count?: number
  error?: string
  /** GET /api/state (a read) or POST /count (an increment); absent: POST */
  method?: 'GET' | 'POST'
}

export interface ClientsOptions {
  url: string
  users: number
  /** pause between one user's requests, ms */
  thinkMs: number
  durationMs: number
  maxRequests: number
  /** 'post' (default): every request increments; 'get': one increment, then reads */
  requests?: 'post' | 'get'
}

export interface RunningClients {
  /** grows while the clients run */
  logs: RequestLog[]
  /** performance.now() when they started; RequestLog.t is relative to it */
  startedAt: number
  done: Promise<void>
}

export function startSessionClients (o: ClientsOptions, onTick?: (elapsedMs: number) => void): RunningClients {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.users })
  const logs: RequestLog[] = []
  const startedAt = performance.now()
  const end = startedAt + o.durationMs
  const target = new URL('/count', o.url)
  const read = new URL('/api/state', o.url)
  const one = (user: number, cookie: string | undefined): Promise<{ log: RequestLog, cookie: string | undefined }> => new Promise((resolve) => {
    const t0 = performance.now()
    const method = o.requests === 'get' && cookie !== undefined ? 'GET' : 'POST'
    const finish = (log: Omit<RequestLog, 'user' | 't' | 'latencyMs'>, c = cookie): void =>
      resolve({ log: { user, t: t0 - startedAt, latencyMs: performance.now() - t0, method, ...log }, cookie: c })
    const req = http.request(method === 'GET' ? read : target, { method, agent, timeout: 5000, headers: { accept: 'application/json', ...(method === 'POST' ? { 'content-length': '0' } : {}), ...(cookie ? { cookie } : {}) } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => {
        const set = res.headers['set-cookie']?.find((c) => c.startsWith('JSESSIONID='))
        const next = set ? set.split(';')[0] : cookie
        try {
          const j = JSON.parse(body) as { jvmRoute: string, count: number }
          finish({ ok: res.statusCode === 200, status: res.statusCode ?? 0, route: j.jvmRoute, count: j.count }, next)
        } catch { finish({ ok: false, status: res.statusCode ?? 0, error: 'body is not JSON' }, next) }
      })
      res.on('error', (err) => finish({ ok: false, status: 0, error: err.message }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (err) => finish({ ok: false, status: 0, error: err.message }))
    req.end()
  })
  const user = async (u: number): Promise<void> => {
    let cookie: string | undefined
    while (performance.now() < end && logs.length < o.maxRequests) {
      const r = await one(u, cookie)
      cookie = r.cookie
      logs.push(r.log)
      await sleep(o.thinkMs)
    }
  }
  const ticker = onTick ? setInterval(() => onTick(performance.now() - startedAt), 1000) : undefined
  const done = Promise.all(Array.from({ length: o.users }, (_, u) => user(u))).then(() => {
    if (ticker) clearInterval(ticker)
    agent.destroy()
  })
  return { logs, startedAt, done }
}

/** The node that served most users their latest response (the failover victim). */
export function busiestRoute (logs: RequestLog[], routes: string[]): string {
  const lastRoute = new Map<number, string>()
  for (const l of logs) if (l.ok && l.route) lastRoute.set(l.user, l.route)
  const counts = new Map<string, number>(routes.map((r) => [r, 0]))
  for (const r of lastRoute.values()) counts.set(r, (counts.get(r) ?? 0) + 1)
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0]
}
