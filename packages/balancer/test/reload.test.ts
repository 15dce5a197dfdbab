// Issue 16 item 4: reload without dropping a connection. SIGHUP (balancer.reload()) takes a new
// config: workers, limits, activation, certificates; requests in flight finish, new ones use the
// new config; a config that does not validate is refused, logged, and the old one keeps serving.
// Admin activation changes survive a reload until the file's value for that worker changes.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { request } from 'undici'
import { startNode } from '../../../test/lib/proc.js'
import { freePorts } from '../../../test/lib/ports.js'
import { call, load, raw, startBackend, startBalancer, tally, type Reply } from './helpers.js'

/** a worker that answers its route after `ms` (so requests are in flight when the reload comes) */
async function slowBackend (t: Parameters<typeof startBackend>[0], route: string, ms: number): Promise<Awaited<ReturnType<typeof startBackend>>> {
  return await startBackend(t, route, (req, res) => {
    req.resume()
    req.on('end', () => setTimeout(() => res.end(route), ms))
  })
}

t.test('reload(): workers added, removed, changed; limits; requests in flight finish, none is lost', async (t) => {
  const b1 = await slowBackend(t, 't1', 20)
  const b2 = await slowBackend(t, 't2', 20)
  const b3 = await slowBackend(t, 't3', 20)
  const { lb, base } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url }, { route: 't2', url: b2.url }], healthCheck: false })
  let reloaded = false
  // bounded: 600 requests, 8 at a time; the reload lands in the middle
  const replies = await load(600, 8, async (i) => {
    if (i === 300 && !reloaded) {
      reloaded = true
      const r = lb.reload({ port: 0, workers: [{ route: 't2', url: b2.url, lbfactor: 3 }, { route: 't3', url: b3.url }], healthCheck: false, maxBody: 1000, maxAttempts: 2 })
      t.same(r.workers, { added: ['t3'], removed: ['t1'], changed: ['t2'], activationKept: [] })
      t.same(r.applied.sort(), ['maxAttempts', 'maxBody', 'workers'])
      t.same(r.restartNeeded, [])
    }
    return await call(`${base}/x${i}`)
  })
  t.equal(replies.length, 600)
  t.same(replies.filter((r) => r.status !== 200).map((r) => `${r.status} ${String(r.headers['x-nodecat-error'])}`), [], 'no request failed across the reload')
  const counts = tally(replies)
  t.ok(counts.t1! > 0 && counts.t3! > 0, `before and after: ${JSON.stringify(counts)}`)
  t.same(lb.workers().map((w) => [w.route, w.lbfactor]), [['t2', 3], ['t3', 1]], 'the new worker set')
  const after = await Promise.all(Array.from({ length: 20 }, async (_, i) => await call(`${base}/after${i}`)))
  t.notOk(after.some((r) => r.text === 't1'), 'the removed worker gets no new request')
  const big = await call(`${base}/up`, { method: 'POST', body: Buffer.alloc(2000) })
  t.equal(big.status, 413, 'the new maxBody applies')
  t.equal(lb.options.maxAttempts, 2)
})

t.test('a config that does not validate is refused whole; the running one keeps serving', async (t) => {
  const b1 = await startBackend(t, 't1')
  const b2 = await startBackend(t, 't2')
  const { lb, base } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url }], healthCheck: false })
  t.throws(() => lb.reload({ workers: [{ route: 't2', url: b2.url }, { route: 't1', url: 'ftp://x' }], healthCheck: false }), { code: 'LB_ERR_INVALID_OPTION', message: /workers\[1\]\.url/ })
  t.throws(() => lb.reload({ workers: [{ route: 't2', url: b2.url }], healthCheck: false, maxBody: -5 }), { code: 'LB_ERR_INVALID_OPTION', message: /maxBody/ })
  t.same(lb.workers().map((w) => w.route), ['t1'], 'nothing of the refused config was applied (t2 not added)')
  t.equal(lb.options.maxBody, 0)
  t.equal((await call(`${base}/x`)).text, 't1', 'still serving')
  const r = lb.reload({ workers: [{ route: 't1', url: b1.url }], healthCheck: false, port: 1, admin: { port: 0 } })
  t.same(r.restartNeeded.sort(), ['admin', 'port'], 'options that need a restart are named and kept')
  t.equal(lb.address!.port !== 1, true)
})

t.test('admin activation changes survive a reload until the file says otherwise', async (t) => {
  const b1 = await startBackend(t, 't1')
  const b2 = await startBackend(t, 't2')
  const file = (a1: string, a2 = 'active'): Parameters<typeof lb.reload>[0] => ({ workers: [{ route: 't1', url: b1.url, activation: a1 as 'active' }, { route: 't2', url: b2.url, activation: a2 as 'active' }], healthCheck: false, port: 0, admin: { port: 0 } })
  const { lb, admin } = await startBalancer(t, file('active'))
  const post = async (route: string, activation: string): Promise<number> => (await request(`${admin!}/workers/${route}/activation`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ activation }) })).statusCode
  const activation = (route: string): string => lb.workers().find((w) => w.route === route)!.activation

  t.equal(await post('t1', 'disabled'), 200, 'the admin disables t1')
  let r = lb.reload(file('active'))
  t.equal(activation('t1'), 'disabled', 'a reload with the file unchanged for t1 keeps the admin\'s value')
  t.same(r.workers.activationKept, ['t1'])
  r = lb.reload(file('active', 'disabled'))
  t.equal(activation('t1'), 'disabled', 'a change to another worker does not undo it')
  t.equal(activation('t2'), 'disabled', 'the file\'s change to t2 applies')
  r = lb.reload(file('stopped', 'disabled'))
  t.equal(activation('t1'), 'stopped', 'the file changed t1 since the admin change: the file wins')
  r = lb.reload(file('active', 'disabled'))
  t.equal(activation('t1'), 'active', 'and the admin change is forgotten: the file rules t1 again')
})

t.test('the command: SIGHUP under load loses no request; a broken config file is refused and logged; the old config serves', async (t) => {
  const b1 = await slowBackend(t, 't1', 10)
  const b2 = await slowBackend(t, 't2', 10)
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nodecat-lb-reload-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const [port] = await freePorts(1)
  const config = path.join(dir, 'lb.json')
  writeFileSync(config, JSON.stringify({ host: '127.0.0.1', port, healthCheck: false, workers: [{ route: 't1', url: b1.url }] }))
  const p = startNode(t, 'balancer', 'cli.js', ['--config', config])
  await p.waitFor((l) => l.msg === 'balancer started', 60_000, 'balancer started')
  const base = `http://127.0.0.1:${port!}`

  // bounded load: 400 requests, 8 at a time; two SIGHUPs with a changed worker set land while it runs
  let hups = 0
  const replies: Reply[] = await load(400, 8, async (i) => {
    if (i === 100 || i === 250) {
      hups++
      writeFileSync(config, JSON.stringify({ host: '127.0.0.1', port, healthCheck: false, workers: hups === 1 ? [{ route: 't1', url: b1.url }, { route: 't2', url: b2.url }] : [{ route: 't2', url: b2.url }] }))
      p.signal('SIGHUP')
    }
    return await call(`${base}/x${i}`)
  })
  await p.waitFor((l) => l.msg === 'config reloaded' && Array.isArray(l.workers?.removed) && l.workers.removed.includes('t1'), 30_000, 'the second reload')
  t.same(replies.filter((r) => r.status !== 200).map((r) => r.status), [], 'no request lost across two reloads')
  t.equal(replies.length, 400)
  t.equal((await call(`${base}/y`)).text, 't2', 'new requests use the new config')

  writeFileSync(config, '{ "workers": [ not json')
  p.signal('SIGHUP')
  const refused = await p.waitFor((l) => l.msg === 'config reload refused: the running config keeps serving', 30_000, 'the refusal logged')
  t.match(String(refused.err?.message), /--config/, `the log says why: ${String(refused.err?.message)}`)
  writeFileSync(config, JSON.stringify({ host: '127.0.0.1', port, healthCheck: false, workers: [{ route: 't1', url: b1.url, lbfactor: 0 }] }))
  p.signal('SIGHUP')
  const invalid = await p.waitFor((l) => l.msg === 'config reload refused: the running config keeps serving' && /lbfactor/.test(String(l.err?.message)), 30_000, 'the invalid option named')
  t.match(String(invalid.err?.message), /workers\[0\]\.lbfactor/)
  t.equal((await call(`${base}/z`)).text, 't2', 'the old config keeps serving')
  t.match(await raw(port!, 'GET /w HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'), /t2$/)
  p.signal('SIGTERM')
  t.same(await p.exited, { code: 0, signal: null })
})
