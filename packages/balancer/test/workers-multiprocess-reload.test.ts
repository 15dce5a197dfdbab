/**
 * `nodecat-balancer --workers 3` and SIGHUP: the primary reloads the worker list, every serving
 * process the rest; a config that does not validate changes nothing anywhere. And a start-up that
 * fails in a serving process, and an admin activation change. Real processes on 127.0.0.1, each request on a fresh connection so
 * all three processes serve.
 */
import t from 'tap'
import http from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startNode } from '../../../test/lib/proc.js'
import { freePorts } from '../../../test/lib/ports.js'
import { call, startBackend, until } from './helpers.js'
import { allCaughtUp, PROCESSES, served, startLb, type Lb } from './lib/multiprocess.js'

/** POST `size` bytes on a fresh connection: the status code */
async function post (lb: Lb, size: number): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: lb.port, path: '/upload', method: 'POST', agent: false, headers: { connection: 'close', 'content-length': size }, timeout: 30_000 }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')))
    req.on('error', reject)
    req.end(Buffer.alloc(size, 97))
  })
}

t.test('SIGHUP reaches every process: the new worker list and the new limits serve everywhere; a bad file changes nothing', async (t) => {
  const b1 = await startBackend(t, 't1')
  const b2 = await startBackend(t, 't2')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nodecat-lb-procs-hup-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'lb.json')
  const write = (workers: string[], maxBody: number): void => writeFileSync(file, JSON.stringify({ processes: PROCESSES, healthCheck: false, maxBody, workers: workers.map((route) => ({ route, url: route === 't1' ? b1.url : b2.url })) }))
  write(['t1', 't2'], 0)
  const lb = await startLb(t, ['--config', file])

  const first = []
  for (let i = 0; i < 12; i++) first.push(await lb.get(`/a${i}`))
  t.same(new Set(first.map((r) => r.body)), new Set(['t1', 't2']), 'both workers serve at first')
  t.equal(await post(lb, 4096), 200, 'no body limit at first')

  write(['t2'], 1024)
  lb.p.signal('SIGHUP')
  await until(async () => (await lb.status()).workers.map((w) => w.route).join() === 't2', 't1 removed in the primary')
  await until(() => lb.p.lines.filter((l) => l.msg === 'config reloaded' && l.proc > 0).length === PROCESSES, 'every serving process reloaded')
  await allCaughtUp(lb)
  const servedBefore = served(await lb.status())
  const seen1 = b1.seen
  const after = []
  for (let i = 0; i < 30; i++) after.push(await lb.get(`/b${i}`))
  t.same(after.filter((r) => r.status !== 200 || r.body !== 't2').length, 0, 'every process sends to t2 only')
  t.equal(b1.seen, seen1, 't1 got nothing after the reload')
  const statuses = []
  for (let i = 0; i < 9; i++) statuses.push(await post(lb, 4096))
  t.same(statuses, Array(9).fill(413), 'the new maxBody holds in every process')
  t.ok(served(await lb.status()).every((n, i) => n > servedBefore[i]!), 'all three processes served after the reload')

  writeFileSync(file, '{ "workers": [ not json')
  lb.p.signal('SIGHUP')
  await lb.p.waitFor((l) => l.msg === 'config reload refused: the running config keeps serving' && l.proc === 0, 30_000, 'the primary refuses the bad file')
  const still = []
  for (let i = 0; i < 9; i++) still.push(await lb.get(`/c${i}`))
  t.same(still.map((r) => r.body), Array(9).fill('t2'), 'the running config keeps serving in every process')
  t.equal(lb.p.lines.filter((l) => l.msg === 'config reload refused: the running config keeps serving' && l.proc > 0).length, 0, 'the serving processes were not asked to reload')
})

t.test('a serving process that cannot listen fails the start-up: exit 1 with its error, no process left', async (t) => {
  const taken = http.createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { taken.close() })
  const port = (taken.address() as { port: number }).port
  const [adminPort] = await freePorts(1)
  const p = startNode(t, 'balancer', 'cli.js', ['--workers', String(PROCESSES), '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort!}`, '--worker', 't1=http://127.0.0.1:1', '--health-interval', '0'])
  const exit = await p.exited
  t.same(exit, { code: 1, signal: null })
  t.match(p.stderr(), /^nodecat-balancer: EADDRINUSE: .*EADDRINUSE/m, 'the serving process\'s error, with its code')
  const forked = p.lines.filter((l) => l.msg === 'balancer started' && l.proc > 0).length
  t.equal(forked, 0, 'none of them served')
  const pids = new Set(p.lines.filter((l) => l.proc > 0).map((l) => l.pid as number))
  for (const pid of pids) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `process ${pid} is gone`)
})

t.test('an activation change on the admin listener reaches every process', async (t) => {
  const b1 = await startBackend(t, 't1')
  const b2 = await startBackend(t, 't2')
  const lb = await startLb(t, ['--worker', `t1=${b1.url}`, '--worker', `t2=${b2.url}`, '--health-interval', '0'])
  const off = await call(`${lb.admin}/workers/t1/activation`, { method: 'POST', body: JSON.stringify({ activation: 'stopped' }), headers: { 'content-type': 'application/json' } })
  t.equal(off.status, 200)
  t.equal(JSON.parse(off.text).activation, 'stopped')
  await allCaughtUp(lb)
  const seen1 = b1.seen
  const servedBefore = served(await lb.status())
  const replies = []
  for (let i = 0; i < 18; i++) replies.push(await lb.get(`/d${i}`, { cookie: `JSESSIONID=S${i}.t1` }))
  t.same(replies.filter((r) => r.status !== 200 || r.body !== 't2').length, 0, 'even its sessions go elsewhere, in every process')
  t.equal(b1.seen, seen1, 'the stopped worker got nothing')
  t.ok(served(await lb.status()).every((n, i) => n > servedBefore[i]!), 'all three processes served')
})
