/**
 * One cluster member for the session-manager benchmark (bench/managers.ts): a tribes channel
 * (static membership on 127.0.0.1) and one SessionManager over it, with the delta or the backup
 * strategy, in its own process, driven by JSON commands on stdin, answering with JSON lines.
 * Args: a JSON config (see Config). Events it says by itself: started, meshed | not-meshed, ready,
 * member-gone (with the shared monotonic clock, µs, so the parent can time a member loss).
 *
 * Commands (each answered by a line with the same id):
 *  {cmd:"create", id, count, concurrency, size}      create `count` sessions here (one attribute)
 *  {cmd:"write", id, seconds, max, concurrency, size} requests that change one attribute of the
 *                                                    sessions created here, `concurrency` at a time,
 *                                                    until `seconds` or `max` changes; answers with
 *                                                    changes, CPU time and messages sent meanwhile
 *  {cmd:"bases", id}                                 the bases of every session held here
 *  {cmd:"watch", id, bases}                          remember a list of session bases …
 *  {cmd:"holding", id}                               … and say which of them are held here (bitmap)
 *  {cmd:"stop"}                                      leave cleanly and exit
 */
import { createInterface } from 'node:readline'
import { createChannel } from '@nodecat/tribes'
import { SessionManager, backupStrategy, deltaStrategy } from '@nodecat/was-node'
import { sleep } from '@nodecat/testkit'

interface Config {
  index: number
  route: string
  host: string
  port: number
  members: string[]
  key?: string
  manager: 'delta' | 'backup'
  backups: number
  sendMode: 'async' | 'sync'
  /** membership heartbeat interval and drop time, ms */
  frequency: number
  dropTime: number
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config
const say = (o: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(o) + '\n') }
/** CLOCK_MONOTONIC in µs: one clock for every process of the machine */
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)

const strategy = config.manager === 'backup'
  ? backupStrategy({ route: config.route, host: config.host }, config.backups)
  : deltaStrategy

const channel = createChannel({
  address: '127.0.0.1',
  port: config.port,
  autoBind: 1,
  timeout: 15_000,
  meta: { role: 'node', route: config.route, host: config.host },
  membership: { type: 'static', members: config.members, frequency: config.frequency, dropTime: config.dropTime },
  ...(config.key ? { key: config.key } : {})
})
channel.on('memberDisappeared', (m, reason) => { say({ event: 'member-gone', t: nowUs(), route: m.meta?.route, reason }) })

const manager = new SessionManager({
  route: config.route,
  channel,
  sendMode: config.sendMode,
  processExpiresFrequency: 0,
  stateTransferTimeout: 30_000,
  transferRetry: 500
}, strategy)

/** ids of the sessions this node created (the writer's working set) */
const mine: string[] = []
let watched = new Map<string, number>()
let stopping = false

const valueOf = (size: number, n: number): string => `${'x'.repeat(Math.max(0, size - 12))}${String(n).padStart(12, '0')}`
const baseOf = (id: string): string => id.slice(0, id.indexOf('.'))

/** messages about sessions the manager sent: the sends it made, whatever the number of recipients */
function managerSends (): number {
  const s = manager.stats().sent
  return (s.created ?? 0) + (s.delta ?? 0) + (s['session-full'] ?? 0) + (s['id-changed'] ?? 0) + (s.accessed ?? 0)
}

async function create (c: { id: string, count: number, concurrency: number, size: number }): Promise<void> {
  const started = performance.now()
  let next = 0
  let failures = 0
  const worker = async (): Promise<void> => {
    while (next < c.count && !stopping) {
      const n = next++
      const rs = manager.open([])
      rs.session.set('v', valueOf(c.size, n))
      try { await rs.end({ replicate: true }) } catch { failures++; continue }
      if (rs.session.id !== null) mine.push(rs.session.id)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, c.concurrency) }, worker))
  say({ event: 'created', id: c.id, created: mine.length, failures, ms: performance.now() - started })
}

async function write (c: { id: string, seconds: number, max: number, concurrency: number, size: number }): Promise<void> {
  if (mine.length === 0) throw new Error('write before create: this node holds no sessions of its own')
  const lanes = Math.max(1, Math.min(c.concurrency, mine.length))
  const before = { sends: managerSends(), ch: channel.stats(), failures: manager.stats().sendFailures }
  const cpu0 = process.cpuUsage()
  const start = nowUs()
  const end = start + c.seconds * 1e6
  let changes = 0
  let failed = 0
  // why: each lane owns its own sessions (i, i + lanes, …), so no two requests touch one session at once
  const lane = async (i: number): Promise<void> => {
    for (let k = 0; changes < c.max && nowUs() < end && !stopping; k++) {
      const id = mine[(i + k * lanes) % mine.length]!
      const rs = manager.open([id])
      rs.session.set('v', valueOf(c.size, changes++))
      try { await rs.end({ replicate: true }) } catch { failed++ }
    }
  }
  await Promise.all(Array.from({ length: lanes }, async (_, i) => await lane(i)))
  const loopUs = nowUs() - start
  // async mode: what is still queued is part of the work; wait for the queue to drain (bounded)
  const drainUntil = Date.now() + 10_000
  while (channel.stats().queued > 0 && Date.now() < drainUntil) await sleep(1)
  const cpu = process.cpuUsage(cpu0)
  const ch = channel.stats()
  say({
    event: 'wrote',
    id: c.id,
    changes,
    failed,
    seconds: loopUs / 1e6,
    totalSeconds: (nowUs() - start) / 1e6,
    cpuUs: cpu.user + cpu.system,
    managerSends: managerSends() - before.sends,
    wireMessages: ch.messagesSent - before.ch.messagesSent,
    wireBytes: ch.bytesSent - before.ch.bytesSent,
    sendFailures: manager.stats().sendFailures - before.failures,
    queuedLeft: ch.queued,
    peers: channel.members().length
  })
}

function holding (id: string): void {
  const bits = Buffer.alloc(Math.ceil(watched.size / 8))
  let held = 0
  for (const sid of manager.sessionIds()) {
    held++
    const i = watched.get(baseOf(sid))
    if (i !== undefined) bits[i >> 3]! |= 1 << (i & 7)
  }
  say({ event: 'holding', id, t: nowUs(), held, bits: bits.toString('base64'), rebalance: manager.stats().rebalance, peers: channel.members().length })
}

async function shutdown (): Promise<void> {
  if (stopping) return
  stopping = true
  try { await manager.stop() } catch {}
  try { await channel.stop() } catch {}
  process.exit(0)
}

const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  let c: Record<string, any>
  try { c = JSON.parse(line) } catch { return }
  const fail = (err: Error): void => { say({ event: 'error', id: c.id, message: err.message }) }
  if (c.cmd === 'create') void create(c as any).catch(fail)
  else if (c.cmd === 'write') void write(c as any).catch(fail)
  else if (c.cmd === 'bases') say({ event: 'bases', id: c.id, bases: manager.sessionIds().map(baseOf) })
  else if (c.cmd === 'watch') {
    watched = new Map((c.bases as string[]).map((b, i) => [b, i]))
    say({ event: 'watching', id: c.id, count: watched.size })
  } else if (c.cmd === 'holding') holding(String(c.id))
  else if (c.cmd === 'stop') void shutdown()
})
process.on('SIGTERM', () => { void shutdown() })

await channel.start()
say({ event: 'started', member: channel.local.id, pid: process.pid })
const want = config.members.length - 1
const until = Date.now() + 30_000
while (channel.members().length < want && Date.now() < until) await sleep(25)
if (channel.members().length < want) {
  say({ event: 'not-meshed', members: channel.members().length })
} else {
  say({ event: 'meshed', members: channel.members().length })
  await manager.start()
  say({ event: 'ready', transfer: manager.stats().transfer.state, sessions: manager.stats().sessions })
}
