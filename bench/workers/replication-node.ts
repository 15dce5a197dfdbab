/**
 * One cluster member for the replication benchmark: a tribes channel (static membership) in its
 * own process, driven by JSON commands on stdin, answering with JSON lines on stdout.
 * Args: a JSON config {index, address, port, members: ["host:port", ...], key?}.
 *
 * Commands:
 *  {cmd:"arm", id, size}                          receiver: reset counters for run `id`
 *  {cmd:"send", id, size, shape, mode, rate, seconds, count, concurrency}
 *                                                 sender: send deltas (rate 0 = as fast as possible);
 *                                                 shape 'wire' (values as bytes, as was-node sends) or 'tree'
 *  {cmd:"report", id}                             receiver: counts, bytes and lag percentiles
 * Each message carries the sender's monotonic clock (CLOCK_MONOTONIC is shared by all processes
 * of one machine, also across network namespaces), so lag = receive time − send time.
 */
import { createInterface } from 'node:readline'
import hdr from 'hdr-histogram-js'
import { makeDeltas, type DeltaShape } from '../lib/deltas.js'
import { sleep } from '@nodecat/testkit'

interface Config { index: number, address: string, port: number, members: string[], key?: string }
const config = JSON.parse(process.argv[2] ?? '{}') as Config
const say = (o: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(o) + '\n') }
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)

const tribes = await import('@nodecat/tribes') as Record<string, unknown>
if (typeof tribes.createChannel !== 'function') {
  say({ event: 'unavailable', reason: 'tribes channel not available yet (@nodecat/tribes does not export createChannel)' })
  process.exit(0)
}
const { createChannel } = tribes as unknown as typeof import('@nodecat/tribes')

const channel = createChannel({
  address: config.address,
  port: config.port,
  autoBind: 1,
  meta: { role: 'node', route: `node${config.index}` },
  membership: { type: 'static', members: config.members },
  ...(config.key ? { key: config.key } : {})
})

// receiver state
let runId = ''
let received = 0
let firstUs = 0
let lastUs = 0
const lag = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 })
channel.onMessage((message) => {
  const m = message as { run: string, t: number }
  if (m.run !== runId) return
  const now = nowUs()
  if (received === 0) firstUs = now
  lastUs = now
  received++
  lag.recordValue(Math.max(1, now - m.t))
})

const deltaSets = new Map<string, unknown[]>()

async function send (c: { id: string, size: number, shape?: DeltaShape, mode: 'async' | 'sync' | 'ack', rate: number, seconds: number, count: number, concurrency: number }): Promise<void> {
  const shape = c.shape ?? 'tree'
  // why: built once per size and shape (building packs each delta many times), not in every run
  const deltas = deltaSets.get(`${c.size} ${shape}`) ?? deltaSets.set(`${c.size} ${shape}`, makeDeltas(c.size, 64, shape)).get(`${c.size} ${shape}`)!
  const start = nowUs()
  const end = start + c.seconds * 1e6
  let sent = 0
  let failures = 0
  let inflight = 0
  const one = (): void => {
    const p = channel.send({ run: c.id, t: nowUs(), d: deltas[sent & 63] }, { mode: c.mode })
    sent++
    inflight++
    p.then((r) => { failures += r.failed.length }, () => { failures++ }).finally(() => { inflight-- })
  }
  const limit = c.mode === 'async' ? 1_000_000 : Math.max(1, c.concurrency)
  while (sent < c.count && nowUs() < end) {
    if (c.rate > 0) {
      // fixed rate: catch up to the schedule every 2 ms (a sync sender never exceeds its in-flight limit)
      const due = Math.min(c.count, Math.floor(((nowUs() - start) / 1e6) * c.rate))
      while (sent < due && inflight < limit) one()
      await sleep(2)
    } else if (c.mode === 'async') {
      // saturation: keep the dispatch queue busy but bounded
      if (channel.stats().queued > 2000) { await sleep(1); continue }
      for (let k = 0; k < 64 && sent < c.count; k++) one()
      await new Promise((resolve) => setImmediate(resolve))
    } else {
      while (inflight < limit && sent < c.count) one()
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  const sendSeconds = (nowUs() - start) / 1e6
  // a sync sender waits for its in-flight sends; how far it fell behind a fixed rate is reported
  const behindSchedule = c.rate > 0 ? Math.max(0, Math.floor(sendSeconds * c.rate) - sent) : 0
  // wait for the sync/ack promises, and for the async queue to drain (bounded)
  const drainUntil = Date.now() + 10_000
  while ((inflight > 0 || channel.stats().queued > 0) && Date.now() < drainUntil) await sleep(2)
  say({ event: 'sent', id: c.id, sent, failures, startUs: start, behindSchedule, sendSeconds, totalSeconds: (nowUs() - start) / 1e6, queuedLeft: channel.stats().queued })
}

const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  let c: Record<string, any>
  try { c = JSON.parse(line) } catch { return }
  if (c.cmd === 'arm') {
    runId = String(c.id); received = 0; firstUs = 0; lastUs = 0; lag.reset()
    say({ event: 'armed', id: c.id })
  } else if (c.cmd === 'send') {
    void send(c as any).catch((err: Error) => say({ event: 'error', id: c.id, message: err.message }))
  } else if (c.cmd === 'report') {
    const ms = (q: number): number => lag.getValueAtPercentile(q) / 1000
    say({ event: 'report', id: c.id, received, seconds: (lastUs - firstUs) / 1e6, lastUs, lagP50ms: ms(50), lagP99ms: ms(99), lagMaxMs: lag.maxValue / 1000 })
  } else if (c.cmd === 'stop') {
    void channel.stop().finally(() => process.exit(0))
  }
})

process.on('SIGTERM', () => { void channel.stop().finally(() => process.exit(0)) })
await channel.start()
say({ event: 'started', member: channel.local.id })
const want = config.members.length - 1
const until = Date.now() + 20_000
while (channel.members().length < want && Date.now() < until) await sleep(50)
say({ event: channel.members().length >= want ? 'ready' : 'not-ready', members: channel.members().length })
