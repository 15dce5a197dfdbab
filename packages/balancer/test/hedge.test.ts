// Hedged tries (hedge.ts): an idempotent request whose worker stays silent is sent once more to
// the next worker, the first answer wins, and a worker silent twice in a row is put in ERROR.
// The hung worker is a real SIGSTOPped process (resumed at teardown); the others are in-process
// backends that hold their answer until the test releases it, so no assertion depends on timing.
import t, { type Test } from 'tap'
import type http from 'node:http'
import path from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { startProcess, type TestProcess } from '../../../test/lib/proc.js'
import { freePorts } from '../../../test/lib/ports.js'
import { call, startBackend, startBalancer, until, type Backend } from './helpers.js'
import type { Balancer } from '../src/index.js'
import { HeadTimes, hedgeRules } from '../src/hedge.js'

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'backend.js')

async function processBackend (t: Test, route: string, port: number): Promise<TestProcess> {
  const p = startProcess(process.execPath, [fixture, route, String(port)], { teardown: (fn) => t.teardown(fn) })
  await p.waitFor((l) => l.event === 'listening', 20_000, `${route} listening`)
  return p
}

/** an in-process backend that keeps every request open until release() (or teardown) while `hold` */
async function holdingBackend (t: Test, route: string, body: (route: string) => Buffer = (r) => Buffer.from(r)): Promise<Backend & { hold: boolean, held: http.ServerResponse[], release: () => void, arrived: (n: number) => Promise<void> }> {
  const held: http.ServerResponse[] = []
  const b = await startBackend(t, route, (req, res) => {
    req.resume()
    if (self.hold) held.push(res)
    else answer(res)
  })
  const answer = (res: http.ServerResponse): void => {
    if (res.writableEnded || res.destroyed) return
    const data = body(route)
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length, 'x-route': route })
    // why in pieces: a body that arrives in several chunks is where a splice would show
    for (let i = 0; i < data.length; i += 16 * 1024) res.write(data.subarray(i, i + 16 * 1024))
    res.end()
  }
  t.teardown(() => { for (const res of held) res.destroy() })
  const self = Object.assign(b, {
    hold: true,
    held,
    release: () => { for (const res of held.splice(0)) answer(res) },
    arrived: async (n: number) => { await until(() => b.seen >= n, `${route} saw ${n} request(s)`) }
  })
  return self
}

function state (lb: Balancer, route: string): string {
  return lb.workers().find((w) => w.route === route)!.state
}

function hedges (lb: Balancer): { sent: number, wonByHedge: number, wonByOriginal: number } {
  return lb.status().balancer.hedges!
}

function accessLines (): { lines: Array<Record<string, unknown>>, logger: pino.Logger } {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk, _e, cb) { for (const l of String(chunk).split('\n')) if (l.includes('"component":"access"')) lines.push(JSON.parse(l)); cb() } })
  return { lines, logger: pino({ level: 'info' }, sink) }
}

const T1 = { cookie: 'JSESSIONID=abc.t1' }

t.test('a GET to a hung worker (SIGSTOP) is answered by another; the hung one goes ERROR after two silences and is avoided', async (t) => {
  const [p1, p2] = await freePorts(2)
  const t1 = await processBackend(t, 't1', p1!)
  await processBackend(t, 't2', p2!)
  const { lines, logger } = accessLines()
  const { lb, base } = await startBalancer(t, {
    workers: [{ route: 't1', url: `http://127.0.0.1:${p1}` }, { route: 't2', url: `http://127.0.0.1:${p2}` }],
    hedgeFloor: 100,
    recoverTime: 60_000,
    healthCheck: false,
    accessLog: true,
    logger
  })
  t.equal((await call(`${base}/hello`, { headers: T1 })).text, 't1', 'sticky to t1 while it answers')
  // why a baseline: on a loaded machine the first request may be slow enough to be hedged itself
  await until(() => lines.length === 1, 'the first access line')
  const h0 = hedges(lb)
  const since = (): { sent: number, wonByHedge: number, wonByOriginal: number } => {
    const h = hedges(lb)
    return { sent: h.sent - h0.sent, wonByHedge: h.wonByHedge - h0.wonByHedge, wonByOriginal: h.wonByOriginal - h0.wonByOriginal }
  }
  t.teardown(() => t1.signal('SIGCONT'))
  t1.signal('SIGSTOP')

  const first = await call(`${base}/hello`, { headers: T1 })
  t.equal(first.status, 200)
  t.equal(first.text, 't2', 'the hedge on t2 answered')
  t.same(since(), { sent: 1, wonByHedge: 1, wonByOriginal: 0 })
  t.equal(state(lb, 't1'), 'OK', 'one silence is not enough to mark it')

  t.equal((await call(`${base}/hello`, { headers: T1 })).text, 't2', 'the second request is hedged too')
  await until(() => state(lb, 't1') === 'ERROR', 't1 put in ERROR after its second silence')
  t.equal(lb.workers().find((w) => w.route === 't1')!.lastError?.code, 'WORKER_SILENT')
  t.equal(state(lb, 't2'), 'OK')

  for (let i = 0; i < 5; i++) t.equal((await call(`${base}/hello`, { headers: T1 })).text, 't2', 'later requests go straight to t2')
  t.same(since(), { sent: 2, wonByHedge: 2, wonByOriginal: 0 }, 'no more hedges: t1 is avoided (and a slow t2 has no usable worker to hedge on)')

  await until(() => lines.length === 8, 'an access line per request')
  t.same(lines.slice(1).map((l) => [l.route, l.attempts]), [['t2', 2], ['t2', 2], ['t2', 1], ['t2', 1], ['t2', 1], ['t2', 1], ['t2', 1]], 'the access log names the answering worker and counts the hedge as a try')
  t1.signal('SIGCONT')
})

t.test('a POST to a silent worker is not hedged: it waits for the headers timeout', async (t) => {
  const silent = await holdingBackend(t, 't1')
  const other = await startBackend(t, 't2')
  const { lb, base } = await startBalancer(t, {
    workers: [{ route: 't1', url: silent.url }, { route: 't2', url: other.url }],
    hedgeFloor: 50,
    headersTimeout: 1500,
    recoverTime: 60_000,
    healthCheck: false
  })
  const r = await call(`${base}/submit`, { method: 'POST', headers: T1, body: 'x=1' })
  t.equal(r.status, 504)
  t.equal(r.headers['x-nodecat-error'], 'LB_ERR_HEADERS_TIMEOUT')
  t.equal(other.seen, 0, 't2 never saw the POST')
  t.same(hedges(lb), { sent: 0, wonByHedge: 0, wonByOriginal: 0 })

  // and a GET whose body is larger than the replay buffer is not hedged either
  const { lb: lb2, base: base2 } = await startBalancer(t, {
    workers: [{ route: 't1', url: silent.url }, { route: 't2', url: other.url }],
    hedgeFloor: 50,
    headersTimeout: 1500,
    replayBufferSize: 16,
    healthCheck: false
  })
  const big = await call(`${base2}/put`, { method: 'PUT', headers: T1, body: 'y'.repeat(1024) })
  t.equal(big.status, 504, 'a streamed body cannot be sent twice')
  t.equal(other.seen, 0)
  t.equal(hedges(lb2).sent, 0)

  // nor anything when maxAttempts is 1 (no second try wanted)
  const { lb: lb3, base: base3 } = await startBalancer(t, {
    workers: [{ route: 't1', url: silent.url }, { route: 't2', url: other.url }],
    hedgeFloor: 50,
    headersTimeout: 1500,
    maxAttempts: 1,
    healthCheck: false
  })
  t.equal((await call(`${base3}/get`, { headers: T1 })).status, 504, 'maxAttempts 1: the GET waits for its worker')
  t.equal(other.seen, 0)
  t.equal(hedges(lb3).sent, 0)
})

t.test('when the original answers first, the hedge is aborted and its answer discarded', async (t) => {
  const t1 = await holdingBackend(t, 't1')
  const t2 = await holdingBackend(t, 't2')
  const { lb, base } = await startBalancer(t, {
    workers: [{ route: 't1', url: t1.url }, { route: 't2', url: t2.url }],
    hedgeFloor: 50,
    recoverTime: 60_000,
    healthCheck: false
  })
  const pending = call(`${base}/page`, { headers: T1 })
  await t2.arrived(1)
  t.equal(t1.seen, 1, 'the original is on t1')
  t1.release()
  const r = await pending
  t.equal(r.text, 't1', 'the original answered')
  t.equal(r.headers['x-route'], 't1')
  t.same(hedges(lb), { sent: 1, wonByHedge: 0, wonByOriginal: 1 })
  // the hedge was aborted: its connection to t2 is closed, so t2's answer goes nowhere
  await until(() => t2.held.every((res) => res.destroyed || res.socket === null || res.socket.destroyed), 'the hedge connection closed')
  t2.release()
  t.equal(state(lb, 't1'), 'OK')
  t.equal(state(lb, 't2'), 'OK', 'a discarded hedge blames nobody')
  t.equal(lb.workers().find((w) => w.route === 't2')!.errors, 0)
  await until(() => lb.workers().every((w) => w.inFlight === 0), 'no try left in flight')
})

t.test("a sticky session's hedge goes to its failover candidate (the redirect), not to the best worker for new work", async (t) => {
  const t1 = await holdingBackend(t, 't1')
  const t2 = await startBackend(t, 't2')
  const t3 = await startBackend(t, 't3')
  // why t3 disabled: it takes no new work, only the sessions the failover rules send it (t1's redirect)
  const { lb, base } = await startBalancer(t, {
    workers: [{ route: 't1', url: t1.url, redirect: 't3' }, { route: 't2', url: t2.url }, { route: 't3', url: t3.url, activation: 'disabled' }],
    hedgeFloor: 50,
    recoverTime: 60_000,
    healthCheck: false
  })
  const r = await call(`${base}/page`, { headers: T1 })
  t.equal(r.text, 't3', 't1\'s redirect answered the hedge')
  t.equal(t2.seen, 0, 't2, the only worker taking new work, never saw it')
  t.same(hedges(lb), { sent: 1, wonByHedge: 1, wonByOriginal: 0 })
  t1.release()
})

t.test('a worker that is slow once, then answers, is not marked; only silences in a row are', async (t) => {
  const t1 = await holdingBackend(t, 't1')
  const t2 = await startBackend(t, 't2')
  const { lb, base } = await startBalancer(t, {
    workers: [{ route: 't1', url: t1.url }, { route: 't2', url: t2.url }],
    hedgeFloor: 50,
    recoverTime: 60_000,
    healthCheck: false
  })
  const w1 = (): { inFlight: number } => lb.workers().find((w) => w.route === 't1')!
  t.equal((await call(`${base}/a`, { headers: T1 })).text, 't2', 'held on t1: the hedge answered')
  await until(() => w1().inFlight === 0, 'the silent original given up')
  t.equal(state(lb, 't1'), 'OK', 'one silence')
  t1.hold = false
  t.equal((await call(`${base}/b`, { headers: T1 })).text, 't1', 't1 answers the next request itself')
  t1.hold = true
  t.equal((await call(`${base}/c`, { headers: T1 })).text, 't2', 'silent again: hedged')
  await until(() => w1().inFlight === 0, 'the silent original given up')
  t.equal(state(lb, 't1'), 'OK', 'an answer between two silences: still OK')
  t.equal((await call(`${base}/d`, { headers: T1 })).text, 't2', 'and a third silence in a row...')
  await until(() => state(lb, 't1') === 'ERROR', '...makes two in a row: ERROR')
})

t.test('no double write: when both tries answer at once, the client gets exactly one body', async (t) => {
  const size = 200 * 1024
  const body = (route: string): Buffer => Buffer.alloc(size, route === 't1' ? 'a' : 'b')
  const t1 = await holdingBackend(t, 't1', body)
  const t2 = await holdingBackend(t, 't2', body)
  const { lb, base } = await startBalancer(t, {
    workers: [{ route: 't1', url: t1.url }, { route: 't2', url: t2.url }],
    hedgeFloor: 50,
    recoverTime: 60_000,
    healthCheck: false
  })
  const rounds = 6
  for (let i = 0; i < rounds; i++) {
    const pending = call(`${base}/big`, { headers: T1 })
    await t2.arrived(i + 1)
    // both answer in the same tick
    t1.release()
    t2.release()
    const r = await pending
    t.equal(r.status, 200)
    t.equal(r.text.length, size, `round ${i}: exactly one body's length`)
    t.ok(r.text === body('t1').toString() || r.text === body('t2').toString(), `round ${i}: one worker's body, byte for byte`)
    t.equal(r.text[0] === 'a' ? 't1' : 't2', r.headers['x-route'], 'the head and the body come from the same worker')
  }
  // why not rounds: when the hedge wins twice with t1's head still on its way, t1 counts as
  // silent twice and later rounds go to t2 alone, which is right too
  const h = hedges(lb)
  t.ok(h.sent >= 1, 'hedges were sent')
  t.equal(h.wonByHedge + h.wonByOriginal, h.sent, 'every race has one winner')
  await until(() => lb.workers().every((w) => w.inFlight === 0), 'no try left in flight')
})

t.test('the hedge bound follows the worker\'s head times between the floor and a quarter of headersTimeout; stalls count only in a row', async (t) => {
  const rules = hedgeRules({ hedgeFloor: 300, hedgeFactor: 2, headersTimeout: 30_000 })
  t.same(rules, { floor: 300, factor: 2, ceiling: 7500 })
  const fast = new HeadTimes()
  t.equal(fast.bound(rules), 300, 'no sample yet: the floor')
  for (let i = 0; i < 50; i++) fast.answered(5, i)
  t.equal(fast.bound(rules), 300, 'a fast worker: the floor')
  const slow = new HeadTimes()
  for (let i = 0; i < 50; i++) slow.answered(i % 2 === 0 ? 400 : 600, i)
  const b = slow.bound(rules)
  t.ok(b > 2 * 500 && b < 7500, `a slower worker gets a longer bound (${b} ms) than twice its mean`)
  const stuck = new HeadTimes()
  stuck.answered(60_000, 0)
  t.equal(stuck.bound(rules), 7500, 'never past the ceiling')

  // when to hedge: the whole worker's silence reaches bound / in flight (one in flight: the bound), never one request's own
  const h = new HeadTimes()
  h.answered(5, 1000)
  t.match(h.hedgeAfter(2000, 300, 8, 900, 1200), { hedge: false, nextCheck: 100 }, 'the worker answered 200 ms ago: look again when its silence could reach 300')
  t.match(h.hedgeAfter(2000, 300, 8, 900, 1300), { hedge: true, silence: 300 }, '8 in flight and no head for 2000 / 8 (at least the floor): hedge')
  t.match(h.hedgeAfter(2000, 300, 1, 900, 1500), { hedge: false, nextCheck: 1500 }, 'one in flight: the bound after the worker\'s last head hedges it')
  t.match(h.hedgeAfter(2000, 300, 1, 900, 3000), { hedge: true, silence: 2000 })
  const busy = new HeadTimes()
  busy.answered(5, 2800)
  t.match(busy.hedgeAfter(2000, 300, 8, 900, 3000), { hedge: false, nextCheck: 100 }, 'a request slow past the bound on a worker that answers its others: not hedged (a slow GET is not run twice)')

  const w = new HeadTimes()
  w.answered(5, 100)
  t.notOk(w.stalled(300, 200), 'the worker answered 100 ms ago: no stall')
  t.equal(w.stalls, 0)
  t.notOk(w.stalled(300, 500), 'silent 400 ms: one stall')
  w.answered(5, 600)
  t.equal(w.stalls, 0, 'a head ends the series')
  t.notOk(w.stalled(300, 1000))
  t.ok(w.stalled(300, 1001), 'two in a row: hung')
})
