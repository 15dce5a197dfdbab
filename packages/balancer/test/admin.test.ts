import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import pino from 'pino'
import { freePort } from '../../../test/lib/ports.js'
import { createAdminHandler, createBalancer, tokenMatches } from '../src/index.js'
import { call, startBackend, startBalancer, until } from './helpers.js'

/** what a script sends and a web page cannot send cross-site without a preflight */
const ADMIN = { 'x-nodecat-admin': '1' }

const SECRET = 'SECRETSESSIONID0123456789'

function parsePrometheus (text: string): Map<string, number> {
  const samples = new Map<string, number>()
  const types = new Set<string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('# HELP ')) continue
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type !== null) { types.add(type[1]!); continue }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/.exec(line)
    if (m === null) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`)
    if (!types.has(m[1]!)) throw new Error(`sample before its TYPE: ${line}`)
    samples.set(m[1]! + (m[2] ?? ''), Number(m[3]))
  }
  return samples
}

t.test('status JSON, status page, metrics, activation on loopback; no session ids anywhere', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk, _e, cb) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l)); cb() } })
  const logger = pino({ level: 'info' }, sink)
  const b1 = await startBackend(t, 't1')
  const dead = await freePort()
  const { lb, base, admin } = await startBalancer(t, {
    workers: [{ route: 't1', url: b1.url, lbfactor: 2 }, { route: 't2', url: `http://127.0.0.1:${dead}` }],
    healthCheck: false,
    recoverTime: 60_000,
    admin: { port: 0 },
    accessLog: true,
    logger
  })
  for (let i = 0; i < 6; i++) await call(`${base}/shop;jsessionid=${SECRET}.t1?q=${SECRET}`, { headers: { cookie: `JSESSIONID=${SECRET}.t1` } })
  for (let i = 0; i < 4; i++) await call(`${base}/x`)
  t.equal(lb.workers().find((w) => w.route === 't2')!.state, 'ERROR', 't2 failed')

  const status = JSON.parse((await call(`${admin}/status`)).text)
  t.match(status.balancer, { listen: String, requests: 10, inFlight: Number, retries: Number, method: 'requests', stickySession: true, workers: { total: 2, ok: 1, error: 1 } })
  const s1 = status.workers.find((w: { route: string }) => w.route === 't1')
  t.match(s1, { route: 't1', address: b1.url, activation: 'active', state: 'OK', lbfactor: 2, inFlight: 0, requests: 10, sessionsRouted: 6, errors: 0, lastError: null, source: 'static' })
  const s2 = status.workers.find((w: { route: string }) => w.route === 't2')
  t.match(s2, { state: 'ERROR', errors: Number, lastError: { code: 'ECONNREFUSED', at: String } })

  const page = await call(`${admin}/`)
  t.equal(page.status, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.text, /<meta http-equiv="refresh" content="\d+">/, 'refreshes itself')
  t.match(page.text, /data-route="t1"[\s\S]*?class="state-ok">OK</)
  t.match(page.text, /data-route="t2"[\s\S]*?class="state-error">ERROR</, 'the failed worker is clearly marked')

  const metrics = await call(`${admin}/metrics`)
  t.match(metrics.headers['content-type'], /text\/plain; version=0\.0\.4/)
  const samples = parsePrometheus(metrics.text)
  t.equal(samples.get('nodecat_balancer_requests_total'), 10)
  t.equal(samples.get('nodecat_balancer_worker_requests_total{route="t1"}'), 10)
  t.equal(samples.get('nodecat_balancer_worker_sessions_routed_total{route="t1"}'), 6)
  t.equal(samples.get('nodecat_balancer_worker_up{route="t2"}'), 0)
  t.equal(samples.get('nodecat_balancer_worker_state{route="t2",state="ERROR"}'), 1)

  const off = await call(`${admin}/workers/t1/activation`, { method: 'POST', body: 'disabled', headers: ADMIN })
  t.equal(off.status, 200, 'no token needed on loopback')
  t.equal(JSON.parse(off.text).activation, 'disabled')
  t.equal(lb.workers()[0]!.activation, 'disabled')
  t.equal((await call(`${admin}/workers/t1/activation`, { method: 'POST', body: '{"activation":"active"}', headers: { 'content-type': 'application/json' } })).status, 200)
  t.equal(lb.workers()[0]!.activation, 'active')
  t.equal((await call(`${admin}/workers/t1/activation`, { method: 'POST', body: 'sideways', headers: ADMIN })).status, 400)
  t.equal((await call(`${admin}/workers/nosuch/activation`, { method: 'POST', body: 'stopped', headers: ADMIN })).status, 404)
  t.equal((await call(`${admin}/workers/t1/activation`)).status, 405)

  for (const text of [JSON.stringify(status), page.text, metrics.text, JSON.stringify(lines)]) t.notMatch(text, SECRET, 'no session id in status, page, metrics or logs')
  const access = lines.filter((l) => l.component === 'access')
  t.equal(access.length, 10, 'one access line per request')
  t.match(access[0], { method: 'GET', path: '/shop', status: 200, route: 't1' })
  const changes = lines.filter((l) => l.msg === 'worker state changed')
  t.same(changes.map((l) => [l.route, l.from, l.to]), [['t2', 'OK', 'ERROR']], 'one log line per state change')
})

t.test('activation changes need a bearer token when required; 127.0.0.2 is not loopback', async (t) => {
  const token = 'a-long-admin-token-123456'
  const view = { status: () => ({ balancer: {} as never, workers: [] }), setActivation: (route: string, activation: string) => ({ route, activation } as never) }
  const server = http.createServer(createAdminHandler(view, { requireToken: true, token }))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/workers/t1/activation`
  const none = await call(url, { method: 'POST', body: 'stopped', headers: ADMIN })
  t.equal(none.status, 401)
  t.equal(none.headers['x-nodecat-error'], 'LB_ERR_UNAUTHORIZED')
  t.equal((await call(url, { method: 'POST', body: 'stopped', headers: { ...ADMIN, authorization: 'Bearer wrong' } })).status, 401)
  t.equal((await call(url, { method: 'POST', body: 'stopped', headers: { ...ADMIN, authorization: `Bearer ${token}x` } })).status, 401)
  t.equal((await call(url, { method: 'POST', body: 'stopped', headers: { ...ADMIN, authorization: `Bearer ${token}` } })).status, 200)

  t.ok(tokenMatches(`Bearer ${token}`, token))
  t.notOk(tokenMatches('Bearer ', token))
  t.notOk(tokenMatches(undefined, token))
  t.notOk(tokenMatches(`Bearer ${token}`, undefined))

  t.throws(() => createBalancer({ admin: { host: '127.0.0.2', port: 0 } }), { code: 'LB_ERR_INVALID_OPTION', message: /admin\.token/ }, 'a non-loopback admin listener needs a token')
  const b1 = await startBackend(t, 't1')
  const { admin, lb } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url }], healthCheck: false, admin: { host: '127.0.0.2', port: 0, token } })
  t.equal((await call(`${admin}/status`)).status, 200, 'reading is open')
  t.equal((await call(`${admin}/workers/t1/activation`, { method: 'POST', body: 'stopped', headers: ADMIN })).status, 401, 'changing is not')
  t.equal((await call(`${admin}/workers/t1/activation`, { method: 'POST', body: 'stopped', headers: { ...ADMIN, authorization: `Bearer ${token}` } })).status, 200)
  await until(() => lb.workers()[0]!.activation === 'stopped', 'stopped')
})
