// The retry rules as a table (retry.ts), and one request's tries on real Worker objects (attempt.ts), without sockets.
import t, { type Test } from 'tap'
import pino from 'pino'
import { Tries, type Try } from '../src/attempt.js'
import { Chooser } from '../src/choose.js'
import { resolveBalancerOptions } from '../src/options.js'
import { decideRetry, laterFailure, IDEMPOTENT_METHODS, REQUEST_REFUSED, type FailedTry, type RetryDecision } from '../src/retry.js'
import { BalancerStats } from '../src/stats.js'
import { WorkerRegistry } from '../src/worker-registry.js'

const base: FailedTry = { code: 'ECONNRESET', reached: true, responded: false, idempotent: true, replayable: true, retriedHere: false }

const rows: Array<[string, Partial<FailedTry>, RetryDecision]> = [
  // undici refused the request itself: the client's fault, whatever else happened
  ...[...REQUEST_REFUSED].map((code): [string, Partial<FailedTry>, RetryDecision] =>
    [`undici refused the request (${code}): 400, nobody blamed`, { code }, { action: 'fail', code: 'LB_ERR_BAD_REQUEST', blame: 'none' }]),
  ['undici refused it before sending: still 400', { code: 'UND_ERR_INVALID_ARG', reached: false }, { action: 'fail', code: 'LB_ERR_BAD_REQUEST', blame: 'none' }],
  ['undici refused it after response bytes: still 400', { code: 'UND_ERR_NOT_SUPPORTED', responded: true }, { action: 'fail', code: 'LB_ERR_BAD_REQUEST', blame: 'none' }],

  // a response byte went to the client: never retried, the connection is cut
  ['response started, then the socket reset: cut, one counted failure', { responded: true }, { action: 'cut', blame: 'counted' }],
  ['response started, then the body stalled past bodyTimeout: cut, ERROR at once', { code: 'UND_ERR_BODY_TIMEOUT', responded: true }, { action: 'cut', blame: 'immediate' }],
  ['response started: not retried even for an idempotent replayable request', { responded: true, idempotent: true, replayable: true }, { action: 'cut', blame: 'counted' }],
  ['response started, POST: cut', { responded: true, idempotent: false }, { action: 'cut', blame: 'counted' }],

  // nothing reached the worker (connect failed): elsewhere, ERROR at once
  ['connect refused, GET: elsewhere', { code: 'ECONNREFUSED', reached: false }, { action: 'retry', where: 'elsewhere', failure: 'LB_ERR_NO_WORKER', blame: 'immediate' }],
  ['connect refused, POST: elsewhere too (nothing was done)', { code: 'ECONNREFUSED', reached: false, idempotent: false }, { action: 'retry', where: 'elsewhere', failure: 'LB_ERR_NO_WORKER', blame: 'immediate' }],
  ['connect timeout: elsewhere', { code: 'UND_ERR_CONNECT_TIMEOUT', reached: false }, { action: 'retry', where: 'elsewhere', failure: 'LB_ERR_NO_WORKER', blame: 'immediate' }],
  ['connect refused, already retried here: elsewhere', { code: 'ECONNREFUSED', reached: false, retriedHere: true }, { action: 'retry', where: 'elsewhere', failure: 'LB_ERR_NO_WORKER', blame: 'immediate' }],
  ['connect refused, a body that cannot be sent again: 503', { code: 'ECONNREFUSED', reached: false, replayable: false }, { action: 'fail', code: 'LB_ERR_NO_WORKER', blame: 'immediate' }],
  ['never reached, headers-timeout code: still a connect failure', { code: 'UND_ERR_HEADERS_TIMEOUT', reached: false }, { action: 'retry', where: 'elsewhere', failure: 'LB_ERR_NO_WORKER', blame: 'immediate' }],

  // a draining nodecat node refused it unprocessed: as if never reached
  ['draining node, POST: elsewhere', { code: 'LB_ERR_WORKER_DRAINING', idempotent: false }, { action: 'retry', where: 'elsewhere', failure: 'LB_ERR_NO_WORKER', blame: 'immediate' }],
  ['draining node, GET: elsewhere', { code: 'LB_ERR_WORKER_DRAINING' }, { action: 'retry', where: 'elsewhere', failure: 'LB_ERR_NO_WORKER', blame: 'immediate' }],
  ['draining node, a body that cannot be sent again: 503', { code: 'LB_ERR_WORKER_DRAINING', replayable: false }, { action: 'fail', code: 'LB_ERR_NO_WORKER', blame: 'immediate' }],

  // the worker got it, no response headers within headersTimeout: 504, never retried
  ['headers timeout, GET: 504, ERROR at once', { code: 'UND_ERR_HEADERS_TIMEOUT' }, { action: 'fail', code: 'LB_ERR_HEADERS_TIMEOUT', blame: 'immediate' }],
  ['headers timeout, POST: 504', { code: 'UND_ERR_HEADERS_TIMEOUT', idempotent: false }, { action: 'fail', code: 'LB_ERR_HEADERS_TIMEOUT', blame: 'immediate' }],

  // the worker got it and answered nothing
  ['reset after send, GET: once more on the same worker', {}, { action: 'retry', where: 'here', failure: 'LB_ERR_WORKER_FAILED', blame: 'counted' }],
  ['reset after send, GET tried here already: elsewhere', { retriedHere: true }, { action: 'retry', where: 'elsewhere', failure: 'LB_ERR_WORKER_FAILED', blame: 'counted' }],
  ['reset after send, PUT with a buffered body: once more here', { code: 'UND_ERR_SOCKET' }, { action: 'retry', where: 'here', failure: 'LB_ERR_WORKER_FAILED', blame: 'counted' }],
  ['reset after send, POST: 502', { idempotent: false }, { action: 'fail', code: 'LB_ERR_WORKER_FAILED', blame: 'counted' }],
  ['reset after send, PUT body over the replay cap: 502', { replayable: false }, { action: 'fail', code: 'LB_ERR_WORKER_FAILED', blame: 'counted' }],
  ['reset after send, POST with a body over the cap: 502', { idempotent: false, replayable: false }, { action: 'fail', code: 'LB_ERR_WORKER_FAILED', blame: 'counted' }],
  ['an invalid response header (LB_ERR_BAD_RESPONSE), GET: once more here', { code: 'LB_ERR_BAD_RESPONSE' }, { action: 'retry', where: 'here', failure: 'LB_ERR_WORKER_FAILED', blame: 'counted' }],
  ['an error without a code, POST: 502', { code: 'UNKNOWN', idempotent: false }, { action: 'fail', code: 'LB_ERR_WORKER_FAILED', blame: 'counted' }]
]

t.test('the retry decision, row by row', async (t) => {
  for (const [name, facts, want] of rows) t.same(decideRetry({ ...base, ...facts }), want, name)
})

t.test('the failure reported when tries run out: a worker that failed it outweighs one never reached', async (t) => {
  t.equal(laterFailure(null, 'LB_ERR_NO_WORKER'), 'LB_ERR_NO_WORKER')
  t.equal(laterFailure(null, 'LB_ERR_WORKER_FAILED'), 'LB_ERR_WORKER_FAILED')
  t.equal(laterFailure('LB_ERR_NO_WORKER', 'LB_ERR_NO_WORKER'), 'LB_ERR_NO_WORKER')
  t.equal(laterFailure('LB_ERR_NO_WORKER', 'LB_ERR_WORKER_FAILED'), 'LB_ERR_WORKER_FAILED')
  t.equal(laterFailure('LB_ERR_WORKER_FAILED', 'LB_ERR_NO_WORKER'), 'LB_ERR_WORKER_FAILED')
  t.equal(laterFailure('LB_ERR_WORKER_FAILED', 'LB_ERR_WORKER_FAILED'), 'LB_ERR_WORKER_FAILED')
})

t.test('idempotent methods', async (t) => {
  for (const m of ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']) t.ok(IDEMPOTENT_METHODS.has(m), m)
  for (const m of ['POST', 'PATCH', 'CONNECT', 'get']) t.notOk(IDEMPOTENT_METHODS.has(m), m)
})

function cluster (t: Test, extra: Parameters<typeof resolveBalancerOptions>[0] = {}) {
  const o = resolveBalancerOptions({ workers: ['a=http://127.0.0.1:1', 'b=http://127.0.0.1:2'], healthCheck: false, recoverTime: 60_000, ...extra })
  const registry = new WorkerRegistry(o, pino({ level: 'silent' }))
  for (const w of o.workers) registry.add(w, true)
  t.teardown(() => registry.closeAll())
  const stats = new BalancerStats()
  return { o, registry, stats, chooser: new Chooser(registry, o), a: registry.get('a')!, b: registry.get('b')! }
}

function taken (t: Test, next: Try | string): Try {
  if (typeof next === 'string') throw new Error(`expected a try, got ${next}`)
  return next
}

t.test('a try counts on its worker while in flight, and ends once', async (t) => {
  const { chooser, stats, o, a } = cluster(t)
  const tries = new Tries(chooser, stats, o.maxAttempts, ['a'], 'GET')
  const x = taken(t, tries.next())
  t.equal(x.worker, a, 'sticky to the route')
  t.match(a.status(), { inFlight: 1, requests: 1, sessionsRouted: 1 })
  x.end(true)
  x.end(false)
  t.match(a.status(), { inFlight: 0, requests: 1, errors: 0, state: 'OK' }, 'released once, no failure recorded')
  t.equal(tries.attempts, 1)
  t.equal(stats.retries, 0)
})

t.test('a connect failure: ERROR at once, the next try goes elsewhere, and 503 when nothing is left', async (t) => {
  const { chooser, stats, a, b } = cluster(t)
  const tries = new Tries(chooser, stats, 3, ['a'], 'POST')
  const first = taken(t, tries.next())
  t.same(tries.failed(first, 'ECONNREFUSED', { reached: false, responded: false, replayable: true }), { action: 'retry', where: 'elsewhere', failure: 'LB_ERR_NO_WORKER', blame: 'immediate' })
  t.match(a.status(), { inFlight: 0, errors: 1, state: 'ERROR', lastError: { code: 'ECONNREFUSED' } })
  const second = taken(t, tries.next())
  t.equal(second.worker, b, 'the failed worker is not tried again')
  t.equal(stats.retries, 1)
  tries.failed(second, 'ECONNREFUSED', { reached: false, responded: false, replayable: true })
  t.equal(tries.next(), 'LB_ERR_NO_WORKER', 'both excluded: no worker')
  t.equal(tries.lastWorker, b)
})

t.test('a worker that dropped a GET gets it once more, then the request moves on; the client hears the real failure', async (t) => {
  const { chooser, stats, a, b } = cluster(t, { failuresToError: 100 })
  const tries = new Tries(chooser, stats, 3, ['a'], 'GET')
  const reached = { reached: true, responded: false, replayable: true }
  const first = taken(t, tries.next())
  t.match(tries.failed(first, 'UND_ERR_SOCKET', reached), { action: 'retry', where: 'here' })
  t.match(a.status(), { errors: 1, state: 'OK' }, 'one counted failure, not ERROR')
  const second = taken(t, tries.next())
  t.equal(second.worker, a, 'the same worker may take it again')
  t.match(tries.failed(second, 'UND_ERR_SOCKET', reached), { action: 'retry', where: 'elsewhere' })
  const third = taken(t, tries.next())
  t.equal(third.worker, b)
  tries.failed(third, 'ECONNREFUSED', { reached: false, responded: false, replayable: true })
  t.equal(tries.next(), 'LB_ERR_WORKER_FAILED', 'attempts used up: the worker that failed it, not "no worker"')
})

t.test('no usable worker after a real failure reports that failure; stickySessionForce reports itself', async (t) => {
  const { chooser, stats } = cluster(t, { workers: ['a=http://127.0.0.1:1'], failuresToError: 100 })
  const tries = new Tries(chooser, stats, 5, ['a'], 'GET')
  const reached = { reached: true, responded: false, replayable: true }
  tries.failed(taken(t, tries.next()), 'UND_ERR_SOCKET', reached)
  tries.failed(taken(t, tries.next()), 'UND_ERR_SOCKET', reached)
  t.equal(tries.next(), 'LB_ERR_WORKER_FAILED', 'the only worker is excluded')

  const forced = cluster(t, { stickySessionForce: true })
  const sticky = new Tries(forced.chooser, forced.stats, 5, ['a'], 'GET')
  sticky.failed(taken(t, sticky.next()), 'ECONNREFUSED', { reached: false, responded: false, replayable: true })
  t.equal(sticky.next(), 'LB_ERR_STICKY_UNAVAILABLE')
})

t.test('a probe is released when its try ends; a success brings the worker back', async (t) => {
  const { chooser, stats, a } = cluster(t, { workers: ['a=http://127.0.0.1:1'], recoverTime: 0 })
  a.health.fail('x', true)
  const tries = new Tries(chooser, stats, 3, ['a'], 'GET')
  const probe = taken(t, tries.next())
  t.ok(a.health.probing, 'the chooser claimed the probe')
  t.equal(new Tries(chooser, stats, 3, ['a'], 'GET').next(), 'LB_ERR_NO_WORKER', 'one probe at a time')
  probe.end(true)
  t.notOk(a.health.probing, 'released')
  t.equal(a.health.state(), 'OK')
})

t.test('a failure that is not the worker\'s is neither recorded nor blamed', async (t) => {
  const { chooser, stats, o, a } = cluster(t)
  const tries = new Tries(chooser, stats, o.maxAttempts, ['a'], 'GET')
  const x = taken(t, tries.next())
  t.same(tries.failed(x, 'UND_ERR_INVALID_ARG', { reached: false, responded: false, replayable: true }), { action: 'fail', code: 'LB_ERR_BAD_REQUEST', blame: 'none' })
  t.match(a.status(), { inFlight: 0, errors: 0, lastError: null, state: 'OK' })
})

t.test('tries a worker refused unprocessed do not use up maxAttempts: a machine stopping three workers leaves the fourth', async (t) => {
  const workers = ['a', 'b', 'c', 'd'].map((r, i) => `${r}=http://127.0.0.1:${i + 1}`)
  const { chooser, stats, registry } = cluster(t, { workers })
  const tries = new Tries(chooser, stats, 3, ['a'], 'POST')
  const unprocessed = { reached: true, responded: false, replayable: true }
  const first = taken(t, tries.next())
  t.equal(first.worker, registry.get('a'), 'sticky first')
  tries.failed(first, 'LB_ERR_WORKER_DRAINING', unprocessed)
  const seen: string[] = ['a']
  for (let i = 0; i < 4; i++) {
    const next = taken(t, tries.next())
    seen.push(next.worker.route)
    if (next.worker.route === 'd') { next.end(true); break }
    // the other two refuse too: one by a draining 503, one by a refused connection
    if (seen.length === 2) tries.failed(next, 'LB_ERR_WORKER_DRAINING', unprocessed)
    else tries.failed(next, 'ECONNREFUSED', { ...unprocessed, reached: false })
  }
  t.equal(seen.at(-1), 'd', 'the fourth worker got the request')
  t.equal(tries.attempts, 4, 'four tries were made (the access log counts them all)')
})

t.test('tries that cost something still stop at maxAttempts', async (t) => {
  const workers = ['a', 'b', 'c', 'd'].map((r, i) => `${r}=http://127.0.0.1:${i + 1}`)
  const { chooser, stats } = cluster(t, { workers })
  const tries = new Tries(chooser, stats, 2, ['a'], 'GET')
  tries.failed(taken(t, tries.next()), 'UND_ERR_CONNECT_TIMEOUT', { reached: false, responded: false, replayable: true })
  tries.failed(taken(t, tries.next()), 'UND_ERR_CONNECT_TIMEOUT', { reached: false, responded: false, replayable: true })
  t.equal(tries.next(), 'LB_ERR_NO_WORKER', 'two connect timeouts use up two tries though two workers are left')
})
