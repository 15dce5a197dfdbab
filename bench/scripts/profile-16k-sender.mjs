// Profile the sender of 16 KiB wire-shaped deltas to 2 receivers (async, cluster key), as
// bench:replication's saturation run: three of its replication-node workers on 127.0.0.1, the
// sender under --cpu-prof (profile in ./profile-16k/), 5 s bounded, every process stopped by PID.
//   pnpm bench:build && node bench/scripts/profile-16k-sender.mjs
// Read the profile with Chrome DevTools or any .cpuprofile viewer.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
const bench = new URL('..', import.meta.url).pathname
const worker = `${bench}dist/workers/replication-node.js`
const out = `${process.cwd()}/profile-16k`
const key = randomBytes(32).toString('base64')
const members = ['127.0.0.1:14401', '127.0.0.1:14402', '127.0.0.1:14403']
const procs = members.map((m, i) => {
  const args = [...(i === 0 ? ['--cpu-prof', '--cpu-prof-dir', out] : []), worker, JSON.stringify({ index: i, address: '127.0.0.1', port: 14401 + i, members, key })]
  const p = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'], cwd: bench })
  p.events = []
  p.waiters = []
  createInterface({ input: p.stdout }).on('line', (l) => { const e = JSON.parse(l); p.events.push(e); for (const w of p.waiters.splice(0)) w(e) })
  return p
})
const next = (p, ev) => new Promise((resolve) => { const f = p.events.find((e) => e.event === ev); if (f) { p.events.splice(p.events.indexOf(f), 1); return resolve(f) } const w = (e) => { if (e.event === ev) { p.events.splice(p.events.indexOf(e), 1); resolve(e) } else p.waiters.push(w) }; p.waiters.push(w) })
const cmd = (p, c) => p.stdin.write(JSON.stringify(c) + '\n')
await Promise.all(procs.map((p) => next(p, 'ready')))
for (const p of procs.slice(1)) { cmd(p, { cmd: 'arm', id: 'r1' }); await next(p, 'armed') }
const t0 = Date.now()
cmd(procs[0], { cmd: 'send', id: 'r1', size: 16384, shape: 'wire', mode: 'async', rate: 0, seconds: 5, count: 1e9, concurrency: 16 })
const sent = await next(procs[0], 'sent')
const reports = []
for (const p of procs.slice(1)) { cmd(p, { cmd: 'report', id: 'r1' }); reports.push(await next(p, 'report')) }
console.log('sent', sent.sent, 'in', sent.sendSeconds.toFixed(2), 's =', Math.round(sent.sent / sent.sendSeconds), '/s; received', reports.map((r) => r.received).join(','), 'wall', (Date.now() - t0) / 1000)
for (const p of procs) cmd(p, { cmd: 'stop' })
await new Promise((resolve) => setTimeout(resolve, 3000))
for (const p of procs) { try { process.kill(p.pid, 'SIGKILL') } catch {} }
console.log(`profile of the sender in ${out}/`)
