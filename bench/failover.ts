/**
 * pnpm bench:failover — what users see when a node dies: 3 nodecat-was services (the example
 * shop app, sessions replicated over tribes) behind a sticky balancer, simulated users each
 * incrementing a counter in their session; after a warm-up the node holding most sessions is
 * SIGKILLed. Reported per repetition (a fresh cluster each): failed requests, time until each
 * affected user is served again, sessions or updates lost, latency before/after.
 * Front: nodecat's balancer when built, else HAProxy with health checks (said in the report).
 */
import { parseArgs } from 'node:util'
import { runMain } from './lib/cleanup.js'
import { machineInfo } from './lib/machine.js'
import { createProgress } from './lib/progress.js'
import { Unavailable, withTimeout } from './lib/interleave.js'
import { summarize, formatSummary, quantileSorted } from './lib/stats.js'
import { writeReport } from './lib/report.js'
import { tempDir } from './lib/tempdir.js'
import { freePorts } from './lib/ports.js'
import { clusterKey } from './lib/cluster.js'
import { startWasCluster, wasAvailable, type WasNode } from './lib/was-cluster.js'
import { startSessionClients, type RequestLog } from './lib/session-clients.js'
import { startHaproxy } from './lib/proxy-haproxy.js'
import { startNodecatBalancer } from './lib/proxy-nodecat.js'
import type { Backend, ProxyTarget } from './lib/proxy-target.js'

const USAGE = `usage: pnpm bench:failover [--long] [--reps N] [--users U] [--front auto|nodecat|haproxy] [--mode async|sync]
  default: 2 repetitions, 24 users, 4 s before and 10 s after the kill (about 1 minute); --long: 5 reps, 15 s after`

interface Outcome {
  front: string
  victim: string
  requests: number
  failed: number
  affectedUsers: number
  /** affected users served again by another node */
  moved: number
  /** affected users with no good response at all after the kill */
  notRecovered: number
  /** per affected user: ms from the kill to its first good response */
  recoveryMs: number[]
  /** sessions that came back empty (counter restarted) */
  lostSessions: number
  /** responses whose counter did not exceed the last one seen (a lost update) */
  lostUpdates: number
  latencyBefore: { p50: number, p99: number }
  latencyAfter: { p50: number, p99: number }
}

function latency (logs: RequestLog[]): { p50: number, p99: number } {
  const s = logs.filter((l) => l.ok).map((l) => l.latencyMs).sort((a, b) => a - b)
  return { p50: quantileSorted(s, 0.5), p99: quantileSorted(s, 0.99) }
}

function analyse (logs: RequestLog[], killT: number, victim: string, front: string): Outcome {
  const byUser = new Map<number, RequestLog[]>()
  for (const l of logs) byUser.set(l.user, [...(byUser.get(l.user) ?? []), l])
  let affectedUsers = 0; let moved = 0; let lostSessions = 0; let lostUpdates = 0
  const recoveryMs: number[] = []
  for (const list of byUser.values()) {
    list.sort((a, b) => a.t - b.t)
    let lastCount = 0
    for (const l of list) {
      if (!l.ok || l.count === undefined) continue
      if (lastCount > 0 && l.count === 1) lostSessions++
      else if (lastCount > 0 && l.count <= lastCount) lostUpdates++
      lastCount = l.count
    }
    const before = list.filter((l) => l.ok && l.t + l.latencyMs < killT)
    if (before.at(-1)?.route !== victim) continue
    affectedUsers++
    const after = list.find((l) => l.ok && l.t + l.latencyMs >= killT)
    if (after) {
      recoveryMs.push(after.t + after.latencyMs - killT)
      if (after.route !== victim) moved++
    }
  }
  return {
    front, victim, notRecovered: affectedUsers - recoveryMs.length, requests: logs.length, failed: logs.filter((l) => !l.ok).length, affectedUsers, moved, recoveryMs, lostSessions, lostUpdates,
    latencyBefore: latency(logs.filter((l) => l.t < killT)),
    latencyAfter: latency(logs.filter((l) => l.t >= killT))
  }
}

async function startFront (mode: string, dir: string, port: number, adminPort: number, backends: Backend[]): Promise<ProxyTarget | Unavailable> {
  if (mode !== 'haproxy') {
    const nc = await startNodecatBalancer(port, adminPort, backends, 500)
    if (!(nc instanceof Unavailable) || mode === 'nodecat') return nc
  }
  return await startHaproxy(dir, port, backends, (s) => process.stdout.write(`${s}\n`), true)
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { long: { type: 'boolean' }, reps: { type: 'string' }, users: { type: 'string' }, front: { type: 'string' }, mode: { type: 'string' }, help: { type: 'boolean' } } })
  if (values.help) { console.log(USAGE); return }
  const reps = Number(values.reps ?? (values.long ? 5 : 2))
  const users = Number(values.users ?? 24)
  const warmMs = 4000
  const afterMs = values.long ? 15_000 : 10_000
  const frontMode = values.front ?? 'auto'
  const sendMode = values.mode === 'sync' ? 'sync' : 'async'
  const machine = machineInfo()
  const dir = tempDir('failover')
  const notes: string[] = []
  const outcomes: Outcome[] = []
  const missing = wasAvailable()
  if (missing) notes.push(`Failover not measured: ${missing}.`)
  const progress = createProgress('failover', missing ? 0 : reps)
  for (let rep = 0; rep < reps && !missing; rep++) {
    progress.status(`rep ${rep + 1}/${reps}: starting 3 nodes`)
    const nodes: WasNode[] = await withTimeout(startWasCluster(3, clusterKey(), sendMode), 90_000, 'starting 3 nodecat-was nodes')
    progress.status(`rep ${rep + 1}/${reps}: starting the front`)
    const [port, adminPort] = await freePorts(2)
    const backends: Backend[] = nodes.map((n) => ({ route: n.route, port: n.httpPort, pid: n.child.pid }))
    const front = await withTimeout(startFront(frontMode, dir, port!, adminPort!, backends), 40_000, 'starting the front')
    if (front instanceof Unavailable) { notes.push(`Front not available: ${front.reason}`); await Promise.all(nodes.map((n) => n.child.stop())); break }
    let victim = ''
    const clients = startSessionClients({ url: front.url, users, thinkMs: 50, durationMs: warmMs + afterMs, maxRequests: 200_000 }, (t) => progress.status(`rep ${rep + 1}/${reps}: ${(t / 1000).toFixed(0)} s${victim ? `, ${victim} killed` : ''}`))
    await new Promise((resolve) => setTimeout(resolve, warmMs))
    // the victim: the node that served most users their latest response
    const lastRoute = new Map<number, string>()
    for (const l of clients.logs) if (l.ok && l.route) lastRoute.set(l.user, l.route)
    const counts = new Map<string, number>(nodes.map((n) => [n.route, 0]))
    for (const r of lastRoute.values()) counts.set(r, (counts.get(r) ?? 0) + 1)
    victim = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0]
    const killT = performance.now()
    process.kill(nodes.find((n) => n.route === victim)!.child.pid, 'SIGKILL')
    await withTimeout(clients.done, warmMs + afterMs + 30_000, 'the simulated users')
    const logs = clients.logs
    const startedAt = clients.startedAt
    const o = analyse(logs, killT - startedAt, victim, front.name)
    outcomes.push(o)
    progress.tick(`rep ${rep + 1}/${reps}: ${o.failed} failed, ${o.lostSessions + o.lostUpdates} lost`)
    for (const pid of front.pids) { try { process.kill(pid, 'SIGTERM') } catch {} }
    await Promise.all(nodes.map((n) => n.child.stop()))
  }
  progress.stop()

  const med = (f: (o: Outcome) => number): string => formatSummary(summarize(outcomes.map(f)), (x) => (Number.isInteger(x) ? String(x) : x.toFixed(1)))
  writeReport({
    name: sendMode === 'sync' ? 'failover-sync' : 'failover',
    title: 'nodecat failover: a node is SIGKILLed under load',
    command: `pnpm bench:failover ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    notes: [
      ...notes,
      `${users} users, each POSTing /count of examples/shop every 50 ms (keep-alive) through the front; 3 nodecat-was nodes, static membership on 127.0.0.1, keyed cluster traffic, ${sendMode} replication${sendMode === 'async' ? ' (the default, send option 8)' : ' (send option 6: a response waits until every peer applied the change)'}. After ${warmMs / 1000} s the node serving most users is SIGKILLed; the run continues ${afterMs / 1000} s. Median (min–max) over ${outcomes.length} repetition(s), a fresh cluster each.`,
      'recovery = ms from the kill to an affected user\'s first good response (the slowest affected user per repetition). lost sessions = a counter that restarted at 1; lost updates = a counter that did not go up.',
      'With async replication a delta still in flight when the node dies can be lost: that is the documented trade-off of send mode 8; sync mode (6, --mode sync) should close it.',
      '"moved" can be lower than "affected users": an answer the victim sent just before the kill may be read by the client just after it.',
      'Shared 2-core machine: figures are indicative.'
    ],
    tables: [{
      title: 'Per repetition',
      columns: ['rep', 'front', 'victim', 'requests', 'failed', 'affected users', 'moved', 'never recovered', 'recovery ms (median / max)', 'lost sessions', 'lost updates', 'latency p50/p99 ms before', 'after'],
      rows: outcomes.map((o, i) => {
        const r = summarize(o.recoveryMs)
        return [String(i + 1), o.front, o.victim, String(o.requests), String(o.failed), String(o.affectedUsers), String(o.moved), String(o.notRecovered), `${r.median.toFixed(0)} / ${r.max.toFixed(0)}`, String(o.lostSessions), String(o.lostUpdates),
          `${o.latencyBefore.p50.toFixed(1)} / ${o.latencyBefore.p99.toFixed(1)}`, `${o.latencyAfter.p50.toFixed(1)} / ${o.latencyAfter.p99.toFixed(1)}`]
      })
    }, {
      title: 'Summary over repetitions',
      columns: ['failed requests', 'slowest recovery ms', 'lost sessions', 'lost updates'],
      rows: outcomes.length ? [[med((o) => o.failed), med((o) => summarize(o.recoveryMs).max), med((o) => o.lostSessions), med((o) => o.lostUpdates)]] : [['not available', '', '', '']]
    }],
    chart: outcomes.length
      ? { title: 'Slowest recovery after a SIGKILL, per repetition', unit: 'ms from the kill to the last affected user\'s first good response', bars: outcomes.map((o, i) => ({ label: `rep ${i + 1} (${o.front})`, value: summarize(o.recoveryMs).max, text: `${summarize(o.recoveryMs).max.toFixed(0)} ms, ${o.failed} failed` })) }
      : undefined,
    raw: { reps, users, warmMs, afterMs, outcomes }
  })
}

await runMain(main)
