/**
 * --workers without processes: the restart backoff, what each worker is told (routes, ports,
 * sibling receivers, port-range expansion), the worker env variables, and the supervisor's
 * start / crash / stop rules driven through fake children.
 */
import t from 'tap'
import { EventEmitter } from 'node:events'
import pino from 'pino'
import { resolveNodeOptions } from '../src/service/options.js'
import { planWorkers, staticReceiverHost, workerEnv, workerOverrides, workerSiblings, WORKER_OPTIONS_ENV, WORKER_SIBLINGS_ENV, type WorkerPlan } from '../src/service/worker-plan.js'
import { RestartBackoff, Supervisor, WorkerStartError, BACKOFF_DEFAULTS, type WorkerChild } from '../src/service/supervisor.js'
import { merge } from '../src/service/sources.js'
import { statusDocument } from '../src/service/status.js'
import { waitUntil } from '@nodecat/testkit'

const silent = pino({ level: 'silent' })

t.test('restart backoff: 1 s doubling to 30 s while a worker keeps crashing early, 1 s again after a run of 60 s', async (t) => {
  t.same(BACKOFF_DEFAULTS, { initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 })
  const b = new RestartBackoff()
  t.same([0, 10, 500, 2000, 100, 100, 100].map((ran) => b.delayAfter(ran)), [1000, 2000, 4000, 8000, 16000, 30000, 30000])
  t.equal(b.delayAfter(60_000), 1000, 'a long run resets the delay')
  t.equal(b.delayAfter(5), 2000, 'and it doubles again from there')
  t.equal(b.restarts, 9)
})

t.test('static members: host:first-last ranges expand; reversed, out-of-range and huge ranges name the option', async (t) => {
  const o = resolveNodeOptions({ membership: { members: ['127.0.0.1:4000-4003', '10.0.0.2:4000', '127.0.0.1:4001', '[::1]:5000-5001'] } })
  t.same(o.membership.members, ['127.0.0.1:4000', '127.0.0.1:4001', '127.0.0.1:4002', '127.0.0.1:4003', '10.0.0.2:4000', '[::1]:5000', '[::1]:5001'], 'expanded in order, duplicates dropped')
  t.equal(o.membership.type, 'static')
  t.same(resolveNodeOptions({ membership: { members: ['127.0.0.1:4000-4000'] } }).membership.members, ['127.0.0.1:4000'], 'a range of one port')
  for (const bad of ['127.0.0.1:4003-4000', '127.0.0.1:0-3', '127.0.0.1:65535-65536', '127.0.0.1:1000-9000', '127.0.0.1:4000-', 'pi2:-4000']) {
    t.throws(() => resolveNodeOptions({ membership: { members: [bad] } }), { code: 'WAS_ERR_INVALID_OPTION', message: /^membership\.members / }, bad)
  }
})

t.test('worker plans: routes <jvmRoute>-<i>, ports + i, siblings listed with static membership', async (t) => {
  const o = resolveNodeOptions({ jvmRoute: 'pi1', workers: 3, http: { address: '127.0.0.1', port: 8080 }, receiver: { address: '127.0.0.1', port: 4000, autoBind: 1 }, membership: { members: ['127.0.0.1:5000-5001'] } })
  const plans = planWorkers(o)
  t.same(plans.map((p) => p.route), ['pi1-0', 'pi1-1', 'pi1-2'])
  t.same(plans.map((p) => p.http.port), [8080, 8081, 8082])
  t.same(plans.map((p) => p.receiver.port), [4000, 4001, 4002])
  t.same(plans[1]!.overrides, {
    jvmRoute: 'pi1-1',
    workers: 1,
    http: { port: 8081 },
    receiver: { port: 4001, address: '127.0.0.1' },
    membership: { type: 'static', members: ['127.0.0.1:5000', '127.0.0.1:5001', '127.0.0.1:4000', '127.0.0.1:4002'] }
  }, 'its own receiver is not listed; the user\'s members come first')
  t.same(plans[2]!.siblings, { index: 2, count: 3, siblings: [{ route: 'pi1-0', http: 'http://127.0.0.1:8080' }, { route: 'pi1-1', http: 'http://127.0.0.1:8081' }] })

  // what a worker ends up with: the user's options with the overrides on top
  const user = { jvmRoute: 'pi1', workers: '3', http: { address: '127.0.0.1', port: 8080 }, receiver: { address: '127.0.0.1', port: 4000, autoBind: 1 }, membership: { members: ['127.0.0.1:5000-5001'], frequency: 200 } }
  const worker = resolveNodeOptions(merge(user, plans[1]!.overrides as Record<string, unknown>))
  t.equal(worker.workers, 1, 'a worker never supervises')
  t.equal(worker.jvmRoute, 'pi1-1')
  t.same(worker.http, { address: '127.0.0.1', port: 8081, allowedHosts: [] }, 'the address is kept, the port is the worker\'s')
  t.equal(worker.membership.frequency, 200, 'other membership options are kept')
  t.same(worker.membership.members, ['127.0.0.1:5000', '127.0.0.1:5001', '127.0.0.1:4000', '127.0.0.1:4002'])
})

t.test('worker plans with multicast: no member list, receiver address untouched; port 0 stays 0', async (t) => {
  const plans = planWorkers(resolveNodeOptions({ jvmRoute: 'a', workers: 2, http: { port: 0 } }))
  t.same(plans.map((p) => p.overrides), [
    { jvmRoute: 'a-0', workers: 1, http: { port: 0 }, receiver: { port: 4000 } },
    { jvmRoute: 'a-1', workers: 1, http: { port: 0 }, receiver: { port: 4001 } }
  ])
  t.same(planWorkers(resolveNodeOptions({ jvmRoute: 'a', workers: 1 })).map((p) => p.route), ['a-0'], 'one plan when asked (the CLI does not supervise one worker)')
})

t.test('worker plans: the receiver host the siblings are listed at follows tribes\' auto rule', async (t) => {
  const loop = resolveNodeOptions({ workers: 2, membership: { members: ['127.0.0.1:4000'] } })
  t.equal(staticReceiverHost(loop, () => '192.0.2.7'), '127.0.0.1', 'all-loopback list: loopback')
  const lan = resolveNodeOptions({ workers: 2, membership: { members: ['192.0.2.8:4000'] } })
  t.equal(staticReceiverHost(lan, () => '192.0.2.7'), '192.0.2.7', 'else the first LAN address')
  t.same(planWorkers(lan, () => '192.0.2.7')[0]!.overrides.membership, { type: 'static', members: ['192.0.2.8:4000', '192.0.2.7:4001'] })
  t.same(planWorkers(lan, () => '192.0.2.7')[0]!.overrides.receiver, { port: 4000, address: '192.0.2.7' }, 'pinned, so it advertises what its siblings list')
  const given = resolveNodeOptions({ workers: 2, receiver: { address: '10.1.1.1' }, membership: { members: ['127.0.0.1:4000'] } })
  t.equal(staticReceiverHost(given), '10.1.1.1', 'a given address is used as is')
})

t.test('worker plans that cannot fit name the option', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ jvmRoute: 'x'.repeat(63), workers: 2 }, /^jvmRoute must be at most 62 characters .* with workers 2$/],
    [{ jvmRoute: 'a', workers: 3, http: { port: 65534 } }, /^http\.port /],
    [{ jvmRoute: 'a', workers: 3, receiver: { port: 65534 } }, /^receiver\.port /],
    [{ jvmRoute: 'a', workers: 2, receiver: { port: 0 }, membership: { members: ['127.0.0.1:4000'] } }, /^receiver\.port must be a fixed port/]
  ]
  for (const [input, message] of cases) {
    t.throws(() => planWorkers(resolveNodeOptions(input)), { code: 'WAS_ERR_INVALID_OPTION', message }, JSON.stringify(input))
  }
})

t.test('worker env: overrides and siblings round-trip; a broken overrides variable is an option error', async (t) => {
  const plan = planWorkers(resolveNodeOptions({ jvmRoute: 'r', workers: 2, membership: { members: ['127.0.0.1:4000'] } }))[1]!
  const env = workerEnv(plan, { PATH: '/bin', NODECAT_WORKERS: 'auto' })
  t.equal(env.PATH, '/bin', 'the command\'s environment is kept')
  t.equal(env.NODECAT_WORKERS, 'auto', 'NODECAT_* too (the overrides win over it)')
  t.same(workerOverrides(env), plan.overrides)
  t.same(workerSiblings(env), plan.siblings)
  t.equal(workerOverrides({}), null, 'not a worker')
  t.equal(workerSiblings({}), null)
  t.equal(workerSiblings({ [WORKER_SIBLINGS_ENV]: '{nope' }), null, 'unreadable siblings: none shown')
  t.throws(() => workerOverrides({ [WORKER_OPTIONS_ENV]: '[1]' }), { code: 'WAS_ERR_INVALID_OPTION', message: /NODECAT_WORKER_OPTIONS/ })
})

t.test('status: a worker lists its siblings and whether it has each one as a member', async (t) => {
  const members = [{ id: 'm0', host: '127.0.0.1', port: 4000, domain: '', aliveTime: 1, meta: { protocol: 1, role: 'node', route: 'pi1-0', http: 'http://127.0.0.1:8080' } }]
  const channel = { members: () => members, foreignMembers: () => [], stats: () => undefined, local: members[0] } as never
  const source = {
    jvmRoute: 'pi1-1',
    httpUrl: () => 'http://127.0.0.1:8081',
    startedAt: Date.now(),
    channel: () => channel,
    sessions: () => null,
    workerSiblings: () => ({ index: 1, count: 3, siblings: [{ route: 'pi1-0', http: 'http://x:1' }, { route: 'pi1-2', http: 'http://127.0.0.1:8082' }] })
  }
  const doc = statusDocument(source)
  t.same(doc.worker, {
    index: 1,
    count: 3,
    pid: process.pid,
    siblings: [{ route: 'pi1-0', http: 'http://127.0.0.1:8080', member: true }, { route: 'pi1-2', http: 'http://127.0.0.1:8082', member: false }]
  }, 'a member\'s advertised URL wins over the planned one')
  t.equal(statusDocument({ ...source, workerSiblings: () => null }).worker, null, 'no worker part for a plain node')
})

/** A child process stand-in: records signals, exits when told to. */
class FakeChild extends EventEmitter implements WorkerChild {
  static nextPid = 1000
  readonly pid = FakeChild.nextPid++
  readonly signals: string[] = []
  readonly plan: WorkerPlan
  constructor (plan: WorkerPlan) { super(); this.plan = plan }
  kill (signal: NodeJS.Signals): boolean {
    this.signals.push(signal)
    // a well-behaved worker stops on SIGTERM; SIGKILL always ends it
    if (signal === 'SIGKILL' || (signal === 'SIGTERM' && !this.stubborn)) setImmediate(() => this.exit(signal === 'SIGKILL' ? null : 0, signal === 'SIGKILL' ? 'SIGKILL' : null))
    return true
  }

  stubborn = false
  ready (): void { this.emit('message', { type: 'nodecat-worker-ready', url: `http://127.0.0.1:${this.plan.http.port}` }) }
  exit (code: number | null, signal: NodeJS.Signals | null = null): void { this.emit('exit', code, signal) }
}

function fakeSupervisor (n: number, options: { stopTimeoutMs?: number } = {}) {
  const plans = planWorkers(resolveNodeOptions({ jvmRoute: 'w', workers: n, membership: { members: ['127.0.0.1:4000'] } }))
  const children: FakeChild[] = []
  const supervisor = new Supervisor({
    plans,
    logger: silent,
    shutdownTimeout: 100,
    backoff: { initialMs: 10, maxMs: 40, resetAfterMs: 60_000 },
    stopTimeoutMs: options.stopTimeoutMs ?? 2000,
    spawn: (plan) => { const c = new FakeChild(plan); children.push(c); return c }
  })
  const of = (route: string): FakeChild[] => children.filter((c) => c.plan.route === route)
  return { supervisor, children, of }
}

t.test('supervisor: started once every worker said ready; a crash is restarted under the same route; stop SIGTERMs each once', async (t) => {
  const { supervisor, children, of } = fakeSupervisor(3)
  const started = supervisor.start()
  t.equal(children.length, 3, 'every worker forked at once')
  let done = false
  void started.then(() => { done = true })
  children[0]!.ready(); children[1]!.ready()
  await new Promise((resolve) => setImmediate(resolve))
  t.notOk(done, 'not started while one worker is still starting')
  children[2]!.ready()
  await started
  t.same(supervisor.workers().map((w) => [w.route, w.state, w.ready]), [['w-0', 'running', true], ['w-1', 'running', true], ['w-2', 'running', true]])

  const first = of('w-1')[0]!
  first.exit(null, 'SIGKILL')
  t.equal(supervisor.workers()[1]!.state, 'restarting')
  await waitUntil('w-1 restarted', () => of('w-1').length === 2, 5000)
  const second = of('w-1')[1]!
  t.same(second.plan, first.plan, 'same route, same ports')
  second.ready()
  t.same(supervisor.workers()[1], { route: 'w-1', pid: second.pid, http: '127.0.0.1:8081', state: 'running', ready: true, restarts: 1 })

  await supervisor.stop('SIGTERM')
  t.same(children.map((c) => c.signals), [['SIGTERM'], [], ['SIGTERM'], ['SIGTERM']], 'one SIGTERM to each live worker, none to the dead one')
  t.same(supervisor.workers().map((w) => w.state), ['stopped', 'stopped', 'stopped'])
})

t.test('supervisor: a worker that keeps crashing is restarted each time', async (t) => {
  const { supervisor, children, of } = fakeSupervisor(2)
  const started = supervisor.start()
  for (const c of children) c.ready()
  await started
  for (let k = 1; k <= 3; k++) {
    of('w-0').at(-1)!.exit(1)
    await waitUntil(`restart ${k}`, () => of('w-0').length === k + 1, 5000)
  }
  t.equal(supervisor.workers()[0]!.restarts, 3, 'restarted each time (the delays are RestartBackoff\'s, tested above)')
  t.equal(of('w-1').length, 1, 'its sibling was left alone')
  await supervisor.stop()
})

t.test('supervisor: a worker that exits before it is ready stops the whole start, naming it', async (t) => {
  const { supervisor, children } = fakeSupervisor(3)
  const started = supervisor.start()
  children[0]!.ready()
  children[1]!.emit('message', { type: 'nodecat-worker-failed', message: 'listen EADDRINUSE: address already in use 127.0.0.1:8081', code: 'EADDRINUSE', exitCode: 1 })
  children[1]!.exit(1)
  const err = await started.then(() => null, (e: unknown) => e)
  t.type(err, WorkerStartError)
  t.match((err as Error).message, /^worker w-1 \(http 127\.0\.0\.1:8081, receiver port 4001\) could not start: listen EADDRINUSE/)
  t.equal((err as WorkerStartError).exitCode, 1)
  t.equal((err as WorkerStartError).code, 'WAS_ERR_WORKER_START', 'a coded error')
  t.equal((err as WorkerStartError).workerCode, 'EADDRINUSE', 'carrying the worker\'s own code')
  t.same(children.map((c) => c.signals), [['SIGTERM'], [], ['SIGTERM']], 'the others were stopped')
  t.equal(children.length, 3, 'nothing restarted')
})

t.test('supervisor: an option refused by a worker ends the start with exit code 2', async (t) => {
  const { supervisor, children } = fakeSupervisor(2)
  const started = supervisor.start()
  children[0]!.emit('message', { type: 'nodecat-worker-failed', message: 'http.port must be ...', code: 'WAS_ERR_INVALID_OPTION', exitCode: 2 })
  children[0]!.exit(2)
  const err = await started.then(() => null, (e: unknown) => e) as WorkerStartError
  t.equal(err.exitCode, 2)
  t.equal(err.workerCode, 'WAS_ERR_INVALID_OPTION')
  const quiet = fakeSupervisor(1)
  const s2 = quiet.supervisor.start()
  quiet.children[0]!.exit(null, 'SIGSEGV')
  t.match(await s2.then(() => '', (e: Error) => e.message), /could not start: it exited \(signal SIGSEGV\) before it was ready/)
})

t.test('supervisor: stop during the start stops every worker; a worker that ignores SIGTERM is SIGKILLed after the bound', async (t) => {
  const { supervisor, children } = fakeSupervisor(2, { stopTimeoutMs: 50 })
  const started = supervisor.start()
  children[1]!.stubborn = true
  await supervisor.stop('SIGTERM')
  t.same(children.map((c) => c.signals), [['SIGTERM'], ['SIGTERM', 'SIGKILL']])
  t.match(await started.then(() => '', (e: Error) => e.message), /stopped before every worker started \(SIGTERM\)/)
  await supervisor.stop('again')
  t.equal(children[0]!.signals.length, 1, 'stop is idempotent')
})
