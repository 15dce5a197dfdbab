/**
 * Tiny tribes throughput probe (measures, never passes or fails): one sender → one peer on
 * 127.0.0.1, small messages, async mode by default. The peer runs in its own process so each
 * side has its own core; CPU time of both is read from process.cpuUsage(), so the result is also
 * given as messages per CPU-second (what one core could do).
 *
 *   npx tsc -b && npx tsc -b bench && node bench/dist/tribes-async.js [--count 1000000] [--seconds 8] [--size 100] [--mode async|ack|sync] [--key]
 *
 * Bounded: at most --count messages and --seconds of sending; the peer gives up 20 s later.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { createChannel, generateKey, type SendMode } from '@nodecat/tribes'
import { freePorts } from './lib/ports.js'
import { sleep } from '@nodecat/testkit'

const say = (o: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(o) + '\n') }
const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }

interface PeerConfig { port: number, members: string[], key?: string, expect: number }

async function peer (c: PeerConfig): Promise<void> {
  const ch = createChannel({ port: c.port, autoBind: 1, membership: { type: 'static', members: c.members }, ...(c.key ? { key: c.key } : {}) })
  let received = 0
  let first = 0
  let last = 0
  let cpu0 = 0
  const report = (): void => say({ event: 'done', received, ms: last - first, cpuMs: cpuMs() - cpu0 })
  ch.onMessage(() => {
    if (received === 0) { first = performance.now(); cpu0 = cpuMs() }
    received++
    last = performance.now()
    if (received === c.expect) report()
  })
  await ch.start()
  say({ event: 'started' })
  createInterface({ input: process.stdin }).on('line', (line) => {
    const m = /^expect (\d+)$/.exec(line)
    if (m) {
      c.expect = Number(m[1])
      if (received >= c.expect) report()
      else setTimeout(report, 15_000).unref() // fallback: report what arrived
    }
    if (line === 'stop') void ch.stop().finally(() => process.exit(0))
  })
  setTimeout(() => { report(); void ch.stop().finally(() => process.exit(0)) }, 120_000).unref()
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { peer: { type: 'string' }, count: { type: 'string' }, seconds: { type: 'string' }, size: { type: 'string' }, mode: { type: 'string' }, key: { type: 'boolean' } } })
  if (values.peer) return await peer(JSON.parse(values.peer) as PeerConfig)
  const count = Number(values.count ?? 1_000_000)
  const seconds = Number(values.seconds ?? 8)
  const size = Number(values.size ?? 100)
  const mode = (values.mode ?? 'async') as SendMode
  const key = values.key ? generateKey() : undefined
  const [myPort, peerPort] = await freePorts(2)
  const members = [`127.0.0.1:${myPort}`, `127.0.0.1:${peerPort}`]
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--peer', JSON.stringify({ port: peerPort, members, key, expect: count })], { stdio: ['pipe', 'pipe', 'inherit'] })
  const events: Array<Record<string, unknown>> = []
  createInterface({ input: child.stdout }).on('line', (line) => { try { events.push(JSON.parse(line) as Record<string, unknown>) } catch { /* not ours */ } })
  const waitEvent = async (name: string, ms: number): Promise<Record<string, unknown> | undefined> => {
    const until = Date.now() + ms
    while (Date.now() < until) {
      const e = events.find((x) => x.event === name)
      if (e) return e
      await sleep(10)
    }
    return undefined
  }
  const ch = createChannel({ port: myPort!, autoBind: 1, membership: { type: 'static', members }, ...(key ? { key } : {}) })
  try {
    await ch.start()
    if (!(await waitEvent('started', 20_000))) throw new Error('peer did not start')
    const until = Date.now() + 20_000
    while (ch.members().length < 1 && Date.now() < until) await sleep(20)
    if (ch.members().length < 1) throw new Error('peer never joined')
    // a message like a small session delta
    const pad = 'x'.repeat(Math.max(0, size - 60))
    const t0 = performance.now()
    const c0 = cpuMs()
    const end = t0 + seconds * 1000
    let sent = 0
    let failed = 0
    if (mode === 'async') {
      while (sent < count && performance.now() < end) {
        if (ch.stats().queued > 20_000) { await new Promise((resolve) => setImmediate(resolve)); continue }
        for (let k = 0; k < 500 && sent < count; k++) {
          void ch.send({ s: 'A79EEBEE38C7A2CCB766F5CF84F2A0F5.n1', k: 'counter', v: sent, p: pad })
          sent++
        }
        await new Promise((resolve) => setImmediate(resolve))
      }
    } else {
      const window: Array<Promise<unknown>> = []
      while (sent < count && performance.now() < end) {
        window.push(ch.send({ s: 'A79EEBEE38C7A2CCB766F5CF84F2A0F5.n1', k: 'counter', v: sent, p: pad }, { mode }).then((r) => { failed += r.failed.length }))
        sent++
        if (window.length >= 256) await Promise.all(window.splice(0))
      }
      await Promise.all(window)
    }
    const sendMs = performance.now() - t0
    while (ch.stats().queued > 0 && performance.now() < end + 20_000) await sleep(5)
    const senderCpu = cpuMs() - c0
    child.stdin.write(`expect ${sent}\n`)
    // the peer reports once it has all `sent` messages (or what it has after 15 s)
    const done = await waitEvent('done', 25_000)
    const st = ch.stats()
    const received = Number(done?.received ?? 0)
    const recvMs = Number(done?.ms ?? 0)
    const recvCpu = Number(done?.cpuMs ?? 0)
    say({
      mode,
      size,
      key: key !== undefined,
      sent,
      failed,
      received,
      queueDropped: st.queueDropped,
      sendFailures: st.sendFailures,
      sendPerSec: Math.round(sent / (sendMs / 1000)),
      receivePerSec: recvMs > 0 ? Math.round(received / (recvMs / 1000)) : null,
      senderPerCpuSec: Math.round(sent / (senderCpu / 1000)),
      receiverPerCpuSec: recvCpu > 0 ? Math.round(received / (recvCpu / 1000)) : null
    })
  } finally {
    child.stdin.write('stop\n')
    await ch.stop()
    await new Promise((resolve) => { child.once('exit', resolve); setTimeout(() => { child.kill('SIGKILL'); resolve(null) }, 5000).unref() })
  }
}

await main()
