// Failover with real backend processes killed by real signals.
import t, { type Test } from 'tap'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startProcess, type TestProcess } from '../../../test/lib/proc.js'
import { freePorts } from '../../../test/lib/ports.js'
import { call, load, startBalancer, until, type Reply } from './helpers.js'

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'backend.js')

async function backend (t: Test, route: string, port: number): Promise<TestProcess> {
  const p = startProcess(process.execPath, [fixture, route, String(port)], { teardown: (fn) => t.teardown(fn) })
  await p.waitFor((l) => l.event === 'listening', 20_000, `${route} listening`)
  return p
}

t.test('a backend killed with SIGKILL mid-load: GETs never fail, POSTs never duplicate, the worker recovers', async (t) => {
  const [p1, p2] = await freePorts(2)
  let t1 = await backend(t, 't1', p1!)
  const t2 = await backend(t, 't2', p2!)
  const { lb, base } = await startBalancer(t, {
    workers: [{ route: 't1', url: `http://127.0.0.1:${p1}` }, { route: 't2', url: `http://127.0.0.1:${p2}` }],
    recoverTime: 60_000,
    // why fall 2 and a long timeout: a shared, loaded machine must not fail a healthy worker's check
    healthCheck: { interval: 200, timeout: 3000, rise: 2, fall: 2 }
  })
  // requests t1 had when it last went to ERROR (-1 while it is not ERROR)
  let requestsAtError = -1
  lb.onStateChange((w, _from, to) => {
    if (w.route === 't1') requestsAtError = to === 'ERROR' ? w.requests : -1
  })

  const posts: Array<{ id: string, reply: Reply }> = []
  const gets: Reply[] = []
  let done = 0
  let killed = false
  await load(300, 6, async (i) => {
    if (done >= 60 && !killed) { killed = true; t1.signal('SIGKILL') }
    let reply: Reply
    if (i % 3 === 2) {
      const id = `post-${i}`
      reply = await call(`${base}/submit`, { method: 'POST', body: `order ${i}`, headers: { 'x-request-id': id, cookie: i % 2 === 0 ? 'JSESSIONID=a.t1' : 'JSESSIONID=b.t2' } })
      posts.push({ id, reply })
    } else {
      reply = await call(`${base}/hello`, { headers: i % 2 === 0 ? { cookie: 'JSESSIONID=a.t1' } : {} })
      gets.push(reply)
    }
    done++
    return reply
  })
  t.ok(killed, 't1 was killed during the load')
  await t1.exited

  t.equal(gets.filter((r) => r.status !== 200).length, 0, `no GET failed (${gets.length} GETs)`)
  t.ok(gets.filter((r) => r.text === 't2').length > 0)
  const badPosts = posts.filter((p) => p.reply.status !== 200)
  for (const p of badPosts) {
    t.equal(p.reply.status, 502, 'a POST that reached the dead worker gets 502')
    t.equal(p.reply.headers['x-nodecat-error'], 'LB_ERR_WORKER_FAILED')
  }
  // every POST id reached at most one backend, once
  const seen = new Map<string, number>()
  for (const p of [t1, t2]) for (const l of p.lines) if (l.event === 'post') seen.set(l.id, (seen.get(l.id) ?? 0) + 1)
  t.same([...seen.entries()].filter(([, n]) => n > 1), [], 'no POST was executed twice')
  for (const p of posts) if (p.reply.status === 200) t.equal(seen.get(p.id), 1, `${p.id} answered 200 and executed once`)

  const w1 = lb.workers().find((w) => w.route === 't1')!
  t.equal(w1.state, 'ERROR', 't1 is ERROR')
  t.ok(requestsAtError >= 0, 'the state change was reported')
  t.equal(w1.requests, requestsAtError, 'no request went to t1 after it was marked ERROR')

  // restart on the same port: the health check brings it back
  t1 = await backend(t, 't1', p1!)
  await until(() => lb.workers().find((w) => w.route === 't1')!.state === 'OK', 't1 back to OK', 30_000)
  const again = await load(10, 2, async () => call(`${base}/hello`, { headers: { cookie: 'JSESSIONID=a.t1' } }))
  t.same(again.map((r) => r.text), Array(10).fill('t1'), 'sticky users are back on t1')
})

t.test('a hung backend (SIGSTOP), hedging off: 504 after the headers timeout, worker ERROR, others serve', async (t) => {
  const [p1, p2] = await freePorts(2)
  const t1 = await backend(t, 't1', p1!)
  await backend(t, 't2', p2!)
  // why hedgeFloor 0: with hedging on (hedge.test.ts) this GET would be answered by t2 instead
  const { lb, base } = await startBalancer(t, {
    workers: [{ route: 't1', url: `http://127.0.0.1:${p1}` }, { route: 't2', url: `http://127.0.0.1:${p2}` }],
    hedgeFloor: 0,
    headersTimeout: 1500,
    recoverTime: 60_000,
    healthCheck: false
  })
  t.equal((await call(`${base}/hello`, { headers: { cookie: 'JSESSIONID=a.t1' } })).text, 't1')
  t1.signal('SIGSTOP')
  t.teardown(() => t1.signal('SIGCONT'))
  const r = await call(`${base}/hello`, { headers: { cookie: 'JSESSIONID=a.t1' } })
  t.equal(r.status, 504)
  t.equal(r.headers['x-nodecat-error'], 'LB_ERR_HEADERS_TIMEOUT')
  t.equal(r.text, '504 Gateway Timeout\n')
  t.equal(lb.workers().find((w) => w.route === 't1')!.state, 'ERROR')
  t.equal(lb.workers().find((w) => w.route === 't1')!.lastError?.code, 'UND_ERR_HEADERS_TIMEOUT')
  const after = await load(10, 2, async () => call(`${base}/hello`, { headers: { cookie: 'JSESSIONID=a.t1' } }))
  t.same(after.map((x) => x.text), Array(10).fill('t2'), 'its sticky users fail over to t2')
  t1.signal('SIGCONT')
})
