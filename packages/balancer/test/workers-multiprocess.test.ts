/**
 * `nodecat-balancer --workers 3`, worker states and routing: real processes on 127.0.0.1 with
 * in-process HTTP workers. Every request goes on a fresh connection, so the primary hands them to
 * the three serving processes in turn; /status names how many each one served.
 */
import t from 'tap'
import { availableParallelism } from 'node:os'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePorts } from '../../../test/lib/ports.js'
import { parseCli } from '../src/cli-args.js'
import { call, startBackend, until } from './helpers.js'
import { allCaughtUp, PROCESSES, served, startLb } from './lib/multiprocess.js'

t.test('--workers and the config file\'s "processes" become a process count; bad values are usage errors', async (t) => {
  t.equal(parseCli(['--worker', 'a=http://127.0.0.1:1'])!.processes, 1, 'default: one process, as before')
  t.equal(parseCli(['--workers', '4'])!.processes, 4)
  t.equal(parseCli(['--workers', 'auto'])!.processes, availableParallelism())
  for (const bad of ['0', '1.5', 'many', '257', '']) t.throws(() => parseCli(['--workers', bad]), { code: 'LB_ERR_USAGE', message: /--workers must be a whole number 1-256 or "auto"/ }, bad)
  t.throws(() => parseCli(['--workers', '-1']), { code: 'LB_ERR_USAGE' }, 'a negative count is bad usage too')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nodecat-lb-procs-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'lb.json')
  writeFileSync(file, JSON.stringify({ processes: 'auto', workers: [{ route: 'a', url: 'http://127.0.0.1:1' }] }))
  const c = parseCli(['--config', file])!
  t.equal(c.processes, availableParallelism())
  t.equal((c.balancer as Record<string, unknown>).processes, undefined, 'not passed on as a balancer option')
  t.equal(parseCli(['--config', file, '--workers', '2'])!.processes, 2, 'the flag wins over the file')
  writeFileSync(file, JSON.stringify({ processes: 0 }))
  t.throws(() => parseCli(['--config', file]), { code: 'LB_ERR_USAGE', message: /config processes/ })
})

t.test('a worker the health checker marks ERROR is avoided by every process', async (t) => {
  const good = await startBackend(t, 't1')
  const bad = await startBackend(t, 't2')
  const lb = await startLb(t, ['--worker', `t1=${good.url}`, '--worker', `t2=${bad.url}`, '--health-interval', '200', '--recover-time', '600000'])
  // before: both serve
  const before = await Promise.all(Array.from({ length: 12 }, async () => await lb.get('/a')))
  t.same(new Set(before.map((r) => r.body)), new Set(['t1', 't2']), 'both workers take new sessions at first')

  bad.ready = false
  await until(async () => (await lb.status()).workers.find((w) => w.route === 't2')?.state === 'ERROR', 't2 ERROR in the primary')
  await allCaughtUp(lb)
  const seenBefore = bad.seen
  const servedBefore = served(await lb.status())
  const replies = []
  for (let i = 0; i < 45; i++) replies.push(await lb.get(`/after${i}`))
  t.same(replies.filter((r) => r.status !== 200 || r.body !== 't1').length, 0, 'all 45 answered by t1')
  t.equal(bad.seen, seenBefore, 'none reached the worker in ERROR')
  const servedAfter = served(await lb.status())
  t.ok(servedAfter.every((n, i) => n > servedBefore[i]!), `every process served some of them (${servedBefore.join(',')} → ${servedAfter.join(',')})`)
})

t.test('a connect refused seen by one process reaches every process: the dead worker gets no further tries', async (t) => {
  const good = await startBackend(t, 't1')
  const [deadPort] = await freePorts(1)
  const lb = await startLb(t, ['--worker', `t1=${good.url}`, '--worker', `t2=http://127.0.0.1:${deadPort!}`, '--health-interval', '0', '--recover-time', '600000'])
  const first = []
  for (let i = 0; i < 12; i++) first.push(await lb.get(`/a${i}`))
  t.same(first.filter((r) => r.status !== 200 || r.body !== 't1').length, 0, 'every request answered by t1 (the refused try is retried there)')
  await until(async () => (await lb.status()).workers.find((w) => w.route === 't2')?.state === 'ERROR', 't2 ERROR in the primary')
  const owner = (await lb.status()).workers.find((w) => w.route === 't2')!
  t.ok(owner.errors >= 1 && owner.errors <= PROCESSES, `at most one refused try per process before the news spread (${owner.errors})`)
  await allCaughtUp(lb)
  const errorsBefore = owner.errors
  const servedBefore = served(await lb.status())
  const after = []
  for (let i = 0; i < 30; i++) after.push(await lb.get(`/b${i}`))
  t.same(after.filter((r) => r.status !== 200 || r.body !== 't1').length, 0, 'all 30 answered by t1')
  const s = await lb.status()
  t.equal(s.workers.find((w) => w.route === 't2')!.errors, errorsBefore, 'no process tried the dead worker again')
  t.ok(served(s).every((n, i) => n > servedBefore[i]!), `every process served some (${served(s).join(',')})`)
})

t.test('stickiness holds whichever process accepts the connection; the admin sums the counters over processes', async (t) => {
  const b1 = await startBackend(t, 't1')
  const b2 = await startBackend(t, 't2')
  const b3 = await startBackend(t, 't3')
  const lb = await startLb(t, ['--worker', `t1=${b1.url}`, '--worker', `t2=${b2.url}`, '--worker', `t3=${b3.url}`, '--health-interval', '0'])
  const N = 30
  const wrong: string[] = []
  for (let i = 0; i < N; i++) {
    const route = `t${(i % 3) + 1}`
    const r = await lb.get(`/s${i}`, { cookie: `JSESSIONID=ABC${i}.${route}` })
    if (r.status !== 200 || r.body !== route) wrong.push(`${route}→${r.status} ${r.body}`)
  }
  t.same(wrong, [], 'each request reached the worker its session names')
  t.same([b1.seen, b2.seen, b3.seen], [N / 3, N / 3, N / 3])
  const s = await lb.status()
  t.equal(s.balancer.processes!.length, PROCESSES)
  t.ok(served(s).every((n) => n > 0), `every process served some (${served(s).join(',')})`)
  t.equal(served(s).reduce((a, b) => a + b, 0), N, 'the processes\' own counts add up to the requests sent')
  t.equal(s.balancer.requests, N, `/status requests is the sum over processes: ${N}`)
  t.same(s.workers.map((w) => [w.route, w.requests, w.sessionsRouted]), [['t1', N / 3, N / 3], ['t2', N / 3, N / 3], ['t3', N / 3, N / 3]], 'per-worker counters summed too')
  const metrics = (await call(`${lb.admin}/metrics`)).text
  t.match(metrics, new RegExp(`^nodecat_balancer_requests_total ${N}$`, 'm'))
  t.match(metrics, /^nodecat_balancer_process_up\{proc="3"\} 1$/m)
})
