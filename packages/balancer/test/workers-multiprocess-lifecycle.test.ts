/**
 * `nodecat-balancer --workers 3`, the processes' lives: a killed serving process is restarted
 * while requests keep succeeding; SIGTERM drains them all. Real processes on 127.0.0.1.
 */
import t from 'tap'
import { startBackend, until, type Handler } from './helpers.js'
import { PROCESSES, startLb } from './lib/multiprocess.js'

t.test('SIGKILL of one serving process: it is restarted and requests keep succeeding', async (t) => {
  const b1 = await startBackend(t, 't1')
  const lb = await startLb(t, ['--worker', `t1=${b1.url}`, '--health-interval', '0'])
  const victim = (await lb.status()).balancer.processes![1]!
  t.ok(victim.pid !== null)
  const CONCURRENCY = 4
  const TRIES = 3
  let retried = 0
  let failed = 0
  let sent = 0
  let killed = false
  const deadline = Date.now() + 60_000
  // bounded: 120 requests or 60 s, whichever first; each client retries a failed connection up to TRIES times
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (sent < 120 && Date.now() < deadline) {
      const i = sent++
      if (i === 30) { process.kill(victim.pid!, 'SIGKILL'); killed = true }
      let ok = false
      for (let k = 0; k < TRIES && !ok; k++) {
        if (k > 0) retried++
        // why 5 s: a connection the primary was handing to the process as it died is never closed (node's cluster module); the client's timeout ends it
        const r = await lb.get(`/k${i}`, {}, 5000).catch(() => ({ status: 0, body: '' }))
        ok = r.status === 200 && r.body === 't1'
      }
      if (!ok) failed++
    }
  }))
  t.ok(killed)
  t.equal(failed, 0, 'every request succeeded within 3 tries')
  t.ok(retried <= CONCURRENCY, `only connections that were on the killed process needed another try (${retried} ≤ ${CONCURRENCY})`)
  await until(async () => {
    const p = (await lb.status()).balancer.processes![1]!
    return p.pid !== null && p.pid !== victim.pid && p.restarts === 1 && p.answered
  }, 'the process is forked again and serves')
  const line = await lb.p.waitFor((l) => l.msg === 'process died: restarting it', 5000, 'the death logged')
  t.match(line, { proc: 0, child: 2, childPid: victim.pid, signal: 'SIGKILL' })
  t.throws(() => process.kill(victim.pid!, 0), { code: 'ESRCH' }, 'the killed process is gone')
  const after = []
  for (let i = 0; i < 12; i++) after.push(await lb.get(`/r${i}`))
  t.same(after.map((r) => r.status), Array(12).fill(200), 'all three processes serve again')
  const s = await lb.status()
  t.ok(s.balancer.processes!.every((p) => p.requests > 0 || p.proc !== 2), 'the restarted process serves')
})

t.test('SIGTERM drains every process: a slow request in flight completes, then all of them exit', async (t) => {
  let release!: () => void
  const arrived = new Promise<void>((resolve) => { release = resolve })
  const slow: Handler = (req, res) => {
    req.resume()
    if (req.url === '/slow') {
      release()
      setTimeout(() => res.end('slow done'), 1500)
      return
    }
    res.end('fast')
  }
  const b1 = await startBackend(t, 't1', slow)
  const lb = await startLb(t, ['--worker', `t1=${b1.url}`, '--health-interval', '0'])
  const pids = (await lb.status()).balancer.processes!.map((p) => p.pid!)
  t.equal(pids.length, PROCESSES)
  const inFlight = lb.get('/slow')
  await arrived
  lb.p.signal('SIGTERM')
  const r = await inFlight
  t.same([r.status, r.body], [200, 'slow done'], 'the request in flight completed')
  t.same(await lb.p.exited, { code: 0, signal: null }, 'the primary exits 0')
  for (const pid of pids) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `serving process ${pid} is gone`)
  t.equal(lb.p.lines.filter((l) => l.msg === 'process stopped' && l.code === 0).length, PROCESSES, 'each stopped by itself (exit 0), none killed')
})
