/**
 * A benchmark cluster of N tribes channels, one per child process (workers/replication-node),
 * with static membership, driven over stdin/stdout. Used by the replication benchmark.
 */
import { randomBytes } from 'node:crypto'
import { startWorker, type Child } from './children.js'
import { freePorts } from './ports.js'
import type { NodeSlot } from './placement.js'
import { sleep } from '@nodecat/testkit'
import { cpuSecondsOf } from './cpu-time.js'

export interface Cluster {
  size: number
  nodes: Child[]
  /** set when tribes could not run (channel not available, start failure) */
  unavailable?: string
  stop (): Promise<void>
}

export function clusterKey (): string {
  return randomBytes(32).toString('base64')
}

export async function startCluster (size: number, slots: NodeSlot[], key: string | undefined, hostMode: boolean): Promise<Cluster> {
  // why: on the host every member needs its own port; in namespaces each has its own address
  const ports = hostMode ? await freePorts(size) : Array.from({ length: size }, () => 4000 + size)
  const members = slots.slice(0, size).map((s, i) => `${s.address}:${ports[i]}`)
  const nodes: Child[] = []
  const cluster: Cluster = { size, nodes, stop: async () => { await Promise.all(nodes.map((n) => n.stop())) } }
  for (let i = 0; i < size; i++) {
    const slot = slots[i]!
    const config = { index: i, address: slot.address, port: ports[i], members, ...(key ? { key } : {}) }
    const child = startWorker(`tribes node ${i}/${size}`, 'replication-node.js', [JSON.stringify(config)], { wrap: slot.wrap, stdio: ['pipe', 'pipe', 'pipe'] })
    slot.adopt(child)
    nodes.push(child)
  }
  try {
    for (const n of nodes) {
      const first = await n.waitFor((l) => l.event === 'started' || l.event === 'unavailable', 20_000)
      if (first.event === 'unavailable') { cluster.unavailable = String(first.reason); break }
    }
    if (!cluster.unavailable) {
      for (const n of nodes) {
        const r = await n.waitFor((l) => l.event === 'ready' || l.event === 'not-ready', 30_000)
        if (r.event !== 'ready') { cluster.unavailable = `${n.name} saw ${r.members} of ${size - 1} peers after 20 s`; break }
      }
    }
  } catch (err) {
    cluster.unavailable = `tribes cluster of ${size} did not start: ${(err as Error).message}`
  }
  if (cluster.unavailable) await cluster.stop()
  return cluster
}

export interface ReplicationRun {
  size: number
  /** what a delta is (bench/lib/deltas.ts); default tree */
  shape?: 'wire' | 'tree'
  mode: 'async' | 'sync'
  /** deltas/s, 0 = saturation */
  rate: number
  seconds: number
  concurrency: number
}

export interface ReplicationSample {
  sent: number
  failures: number
  behindSchedule: number
  /** the slowest receiver's applied deltas/s (received ÷ time from the first send to its last apply) */
  appliedPerSecond: number
  /** every receiver got every delta */
  complete: boolean
  /** worst receiver */
  lagP50ms: number
  lagP99ms: number
  /** CPU µs per delta of every member together (sender and receivers), from the send command to the last report */
  cpuUsPerDelta: number
}

let runCounter = 0

export async function runReplication (cluster: Cluster, run: ReplicationRun): Promise<ReplicationSample> {
  const id = `r${++runCounter}`
  const [sender, ...receivers] = cluster.nodes
  for (const r of receivers) r.send({ cmd: 'arm', id })
  await Promise.all(receivers.map((r) => r.waitFor((l) => l.event === 'armed' && l.id === id)))
  const pids = cluster.nodes.map((n) => n.pid)
  const cpu0 = cpuSecondsOf(pids)
  sender!.send({ cmd: 'send', id, size: run.size, shape: run.shape ?? 'tree', mode: run.mode, rate: run.rate, seconds: run.seconds, count: 50_000_000, concurrency: run.concurrency })
  const sent = await sender!.waitFor((l) => (l.event === 'sent' || l.event === 'error') && l.id === id, (run.seconds + 40) * 1000)
  if (sent.event === 'error') throw new Error(`sender: ${sent.message}`)
  // receivers may still be applying: poll (bounded) until each has everything
  let reports: Array<Record<string, any>> = []
  const until = Date.now() + 10_000
  for (let k = 0; ; k++) {
    const rid = `${id}.${k}`
    for (const r of receivers) r.send({ cmd: 'report', id: rid })
    reports = await Promise.all(receivers.map((r) => r.waitFor((l) => l.event === 'report' && l.id === rid)))
    if (reports.every((x) => x.received >= sent.sent) || Date.now() > until) break
    await sleep(100)
  }
  const cpu = cpuSecondsOf(pids) - cpu0
  return {
    sent: Number(sent.sent),
    failures: Number(sent.failures),
    behindSchedule: Number(sent.behindSchedule),
    // why: from the first send to this receiver's last apply, so a receiver that lags pays for it
    appliedPerSecond: Math.min(...reports.map((x) => (x.received > 0 ? x.received / ((Number(x.lastUs) - Number(sent.startUs)) / 1e6) : 0))),
    complete: reports.every((x) => x.received >= sent.sent),
    lagP50ms: Math.max(...reports.map((x) => Number(x.lagP50ms))),
    lagP99ms: Math.max(...reports.map((x) => Number(x.lagP99ms))),
    cpuUsPerDelta: Number(sent.sent) > 0 ? cpu * 1e6 / Number(sent.sent) : NaN
  }
}
