import t, { type Test } from 'tap'
import { freePort } from '../../../test/lib/ports.js'
import { call, load, startBackend, startBalancer, tally, until, type Backend } from './helpers.js'

const three = async (t: Test): Promise<Backend[]> => Promise.all(['t1', 't2', 't3'].map(async (r) => startBackend(t, r)))

t.test('sticky: every request carrying .t1 reaches t1 (cookie or path parameter)', async (t) => {
  const [b1, b2, b3] = await three(t)
  const { lb, base } = await startBalancer(t, { workers: [b1!, b2!, b3!].map((b) => ({ route: b.route, url: b.url })), healthCheck: false })
  const replies = await load(150, 5, async (i) => i % 2 === 0
    ? call(`${base}/x`, { headers: { cookie: 'JSESSIONID=ABCDEF.t1' } })
    : call(`${base}/x;jsessionid=ABCDEF.t1?q=1`))
  t.same(tally(replies), { t1: 150 })
  t.equal(lb.workers().find((w) => w.route === 't1')!.sessionsRouted, 150, 'counted as sessions routed')
  const unknown = await load(30, 3, async () => call(`${base}/x`, { headers: { cookie: 'JSESSIONID=abc.nosuch' } }))
  t.ok(unknown.every((r) => r.status === 200), 'an unknown route is balanced normally')
  t.ok(Object.keys(tally(unknown)).length >= 2, 'and spread over workers')
})

t.test('requests method: new sessions follow lbfactor (1:3)', async (t) => {
  const b1 = await startBackend(t, 't1')
  const b2 = await startBackend(t, 't2')
  const { base } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url, lbfactor: 1 }, { route: 't2', url: b2.url, lbfactor: 3 }], healthCheck: false })
  const counts = tally(await load(400, 4, async () => call(`${base}/x`)))
  t.equal((counts.t1 ?? 0) + (counts.t2 ?? 0), 400)
  const share = (counts.t2 ?? 0) / 400
  t.ok(share > 0.65 && share < 0.85, `t2 share ${share} is about 0.75`)
})

t.test('busyness method: the slow worker gets fewer requests; requests method splits evenly', async (t) => {
  const slow = await startBackend(t, 'slow', (req, res) => { req.resume(); setTimeout(() => res.end('slow'), 80) })
  const fast = await startBackend(t, 'fast')
  const workers = [{ route: 'slow', url: slow.url }, { route: 'fast', url: fast.url }]
  const busy = await startBalancer(t, { workers, method: 'busyness', healthCheck: false })
  const b = tally(await load(120, 6, async () => call(`${busy.base}/x`)))
  t.ok((b.fast ?? 0) >= 2 * (b.slow ?? 0), `busyness: fast ${b.fast} >= 2 x slow ${b.slow}`)
  const byRequests = await startBalancer(t, { workers, method: 'requests', healthCheck: false })
  const r = tally(await load(120, 6, async () => call(`${byRequests.base}/x`)))
  const share = (r.slow ?? 0) / 120
  t.ok(share > 0.4 && share < 0.6, `requests: slow share ${share} is about 0.5`)
})

t.test('disabled (drain) keeps sticky users and gets no new ones; stopped gets nothing', async (t) => {
  const [b1, b2, b3] = await three(t)
  const { lb, base } = await startBalancer(t, { workers: [b1!, b2!, b3!].map((b) => ({ route: b.route, url: b.url })), healthCheck: false })
  lb.setActivation('t1', 'disabled')
  const sticky = tally(await load(40, 4, async () => call(`${base}/x`, { headers: { cookie: 'JSESSIONID=s.t1' } })))
  t.same(sticky, { t1: 40 }, 'sticky users stay on the draining worker')
  const fresh = tally(await load(90, 3, async () => call(`${base}/x`)))
  t.equal(fresh.t1, undefined, 'no new sessions on t1')
  t.equal((fresh.t2 ?? 0) + (fresh.t3 ?? 0), 90)

  lb.setActivation('t1', 'stopped')
  const seen = b1!.seen
  const moved = await load(40, 4, async () => call(`${base}/x`, { headers: { cookie: 'JSESSIONID=s.t1' } }))
  t.ok(moved.every((r) => r.status === 200 && r.text !== 't1'), 'sticky users of a stopped worker go elsewhere')
  await load(30, 3, async () => call(`${base}/x`))
  t.equal(b1!.seen, seen, 'a stopped worker gets nothing at all')
  lb.setActivation('t1', 'active')
  t.same(tally(await load(10, 2, async () => call(`${base}/x`, { headers: { cookie: 'JSESSIONID=s.t1' } }))), { t1: 10 }, 'active again: sticky again')
  t.throws(() => lb.setActivation('nosuch', 'active'), { code: 'LB_ERR_UNKNOWN_WORKER' })
})

t.test('sticky worker unusable: its redirect, then its domain, then any; sticky force gives 503', async (t) => {
  const [b1, b2, b3] = await three(t)
  const b4 = await startBackend(t, 't4')
  const { lb, base } = await startBalancer(t, {
    workers: [
      { route: 't1', url: b1!.url, redirect: 't3', domain: 'g1' },
      { route: 't2', url: b2!.url, domain: 'g1' },
      { route: 't3', url: b3!.url, domain: 'g2', activation: 'disabled' },
      { route: 't4', url: b4.url, domain: 'g2' }
    ],
    healthCheck: false
  })
  lb.setActivation('t1', 'stopped')
  t.same(tally(await load(20, 2, async () => call(`${base}/x`, { headers: { cookie: 'JSESSIONID=a.t1' } }))), { t3: 20 }, 'redirect first, even to a disabled hot standby')
  lb.setActivation('t3', 'stopped')
  t.same(tally(await load(20, 2, async () => call(`${base}/x`, { headers: { cookie: 'JSESSIONID=a.t1' } }))), { t2: 20 }, 'then the same domain')
  lb.setActivation('t2', 'stopped')
  t.same(tally(await load(10, 2, async () => call(`${base}/x`, { headers: { cookie: 'JSESSIONID=a.t1' } }))), { t4: 10 }, 'then any usable worker')
  t.same(tally(await load(10, 2, async () => call(`${base}/x`, { headers: { cookie: 'JSESSIONID=a.g2.x' } }))), { t4: 10 }, 'an unknown "domain.x" route picks that domain')

  const forced = await startBalancer(t, { workers: [{ route: 't1', url: b1!.url }, { route: 't2', url: b2!.url }], stickySessionForce: true, healthCheck: false })
  forced.lb.setActivation('t1', 'stopped')
  const r = await call(`${forced.base}/x`, { headers: { cookie: 'JSESSIONID=a.t1' } })
  t.equal(r.status, 503)
  t.equal(r.headers['x-nodecat-error'], 'LB_ERR_STICKY_UNAVAILABLE')
  t.equal(r.text, '503 Service Unavailable\n', 'a short plain body, nothing internal')
  t.equal((await call(`${forced.base}/x`, { headers: { cookie: 'JSESSIONID=a.nosuch' } })).status, 200, 'an unknown route is never an error, even forced')
})

t.test('a worker at its connection limit is skipped for new and (unforced) sticky work', async (t) => {
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const b1 = await startBackend(t, 't1', (req, res) => { req.resume(); if (req.url === '/hold') void held.then(() => res.end('t1')); else res.end('t1') })
  const b2 = await startBackend(t, 't2')
  // why hedgeFloor 0: the held GET must stay on t1 (hedging would answer it from t2)
  const { lb, base } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url, connectionLimit: 1 }, { route: 't2', url: b2.url }], healthCheck: false, hedgeFloor: 0 })
  const hold = call(`${base}/hold`, { headers: { cookie: 'JSESSIONID=a.t1' } })
  await until(() => lb.workers()[0]!.inFlight === 1, 't1 busy')
  t.same(tally(await load(10, 2, async () => call(`${base}/x`, { headers: { cookie: 'JSESSIONID=a.t1' } }))), { t2: 10 }, 'sticky work moves while t1 is full')
  t.same(tally(await load(10, 2, async () => call(`${base}/x`))), { t2: 10 }, 'new work too')
  release()
  t.equal((await hold).text, 't1')
  t.same(tally(await load(5, 1, async () => call(`${base}/x`, { headers: { cookie: 'JSESSIONID=a.t1' } }))), { t1: 5 }, 'back on t1 once below the limit')
})

t.test('a connect failure is retried on another worker at once and marks the worker ERROR', async (t) => {
  const b2 = await startBackend(t, 't2')
  const dead = await freePort()
  const { lb, base } = await startBalancer(t, { workers: [{ route: 't1', url: `http://127.0.0.1:${dead}` }, { route: 't2', url: b2.url }], healthCheck: false, recoverTime: 60_000 })
  const replies = await load(40, 4, async (i) => call(`${base}/x`, { method: i % 2 === 0 ? 'GET' : 'POST', body: i % 2 === 0 ? undefined : 'payload', headers: { cookie: 'JSESSIONID=a.t1' } }))
  t.same(tally(replies), { t2: 40 }, 'GETs and POSTs alike: nothing had been sent')
  const t1 = lb.workers().find((w) => w.route === 't1')!
  t.equal(t1.state, 'ERROR')
  t.equal(t1.lastError?.code, 'ECONNREFUSED')
  t.ok(lb.status().balancer.retries >= 1)
})

t.test('no usable worker at all: 503 LB_ERR_NO_WORKER', async (t) => {
  const dead = await freePort()
  const { base } = await startBalancer(t, { workers: [{ route: 't1', url: `http://127.0.0.1:${dead}` }], healthCheck: false })
  const r = await call(`${base}/x`)
  t.equal(r.status, 503)
  t.equal(r.headers['x-nodecat-error'], 'LB_ERR_NO_WORKER')
  t.notMatch(r.text, /127\.0\.0\.1|ECONNREFUSED/, 'nothing internal leaks')
  const none = await startBalancer(t, { workers: [], healthCheck: false })
  t.equal((await call(`${none.base}/x`)).status, 503)
})

t.test('mounts: other paths get 404 from the balancer itself', async (t) => {
  const b1 = await startBackend(t, 't1')
  const { base } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url }], mounts: ['/app', '/api/'], healthCheck: false })
  t.equal((await call(`${base}/app`)).status, 200)
  t.equal((await call(`${base}/app/x?y`)).status, 200)
  t.equal((await call(`${base}/app;jsessionid=a.t1`)).status, 200)
  t.equal((await call(`${base}/api/v1`)).status, 200)
  const before = b1.seen
  const r = await call(`${base}/apple`)
  t.equal(r.status, 404)
  t.equal(r.headers['x-nodecat-error'], 'LB_ERR_NOT_MOUNTED')
  t.equal((await call(`${base}/`)).status, 404)
  t.equal(b1.seen, before, 'unmounted paths never reach a worker')
})
