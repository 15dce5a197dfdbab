/**
 * pnpm bench:transfer — state transfer: a 2-node nodecat-was cluster (the bench app) holds N
 * typical small sessions (10k and 100k); a third node starts and receives them all (Tomcat's
 * GET_ALL_SESSIONS). Reported per size: time from the spawn to the node's own 'node-ready' event
 * (the transfer is done), the transfer itself (its first get-all to 'session state transfer
 * complete', from the node's log), the CPU time of the joining process (to ready) and of the
 * answering node (over the join), the joining process's peak RSS (VmHWM) and peak heap, and as
 * baselines in the same run, interleaved: msgpackr encode+decode of the same session set and raw
 * TCP moving the same number of bytes. A fresh joining process per repetition.
 */
import { parseArgs } from 'node:util'
import { runMain } from './lib/cleanup.js'
import { machineInfo } from './lib/machine.js'
import { createProgress } from './lib/progress.js'
import { runInterleaved, column, withTimeout, oneLine, type Variant } from './lib/interleave.js'
import { summarize, pairedRatio, formatSummary, formatRatio, formatNumber } from './lib/stats.js'
import { writeReport, type ReportTable } from './lib/report.js'
import { measureTcp } from './lib/baselines.js'
import { startWorker } from './lib/children.js'
import { clusterKey } from './lib/cluster.js'
import { startWasClusterWithSpares, wasAvailable, benchApp, type WasCluster } from './lib/was-cluster.js'
import { getJson, postJson, pollUntil } from './lib/http-json.js'
import { procMemory } from './lib/proc-memory.js'
import { cpuSeconds } from './lib/cpu-time.js'

const USAGE = `usage: pnpm bench:transfer [--long] [--reps N] [--counts 10000,100000]
  default: 3 repetitions for 10 000 and 100 000 sessions (about 3 minutes); --long: 5 repetitions
  --counts   sessions the cluster holds before a node joins (comma-separated)`

const TCP_FRAME = 65_536

interface JoinSample {
  /** spawn → the node's 'node-ready' event (process start, membership, transfer, replay) */
  startToReadyMs: number
  /** first get-all → 'session state transfer complete' (node's log times) */
  transferMs: number
  /** spawn → 'members-known' */
  membersKnownMs: number
  state: string
  /** CPU seconds of the joining process from its start to ready */
  joinerCpuS: number
  /** CPU seconds of the answering node (node1, the longest-running) from the spawn to ready */
  senderCpuS: number
  sessionsReceived: number
  sessionsHeld: number
  bytesReceived: number
  peakRss: number
  rssAfter: number
  peakHeap: number
  heapAfter: number
}
interface CodecSample { ms: number, bytes: number, decoded: number }
interface TcpSample { ms: number, bytes: number }
type Sample = { kind: 'join', r: JoinSample } | { kind: 'codec', r: CodecSample } | { kind: 'tcp', r: TcpSample }

/** GET a status or memory page; a node that saw its event loop stall (a busy shared machine) answers 503 WAS_ERR_STALLED for a moment */
async function fetchPage (url: string): Promise<Record<string, any>> {
  return await pollUntil(`GET ${url}`, async () => await getJson(url), 10_000, 200)
}

async function runCodec (count: number): Promise<CodecSample> {
  const w = startWorker('transfer codec', 'transfer-codec.js', [String(count)])
  const d = await w.waitFor((l) => l.event === 'done', 120_000)
  await w.exited
  return { ms: Number(d.ms), bytes: Number(d.bytes), decoded: Number(d.decoded) }
}

async function joinOnce (cluster: WasCluster, rep: number): Promise<JoinSample> {
  const [n1] = cluster.nodes
  const senderBefore = cpuSeconds(n1!.child.pid)
  const j = await cluster.startSpare(0, `join${rep + 1}`)
  try {
    const ready = await j.child.waitFor((l) => l.event === 'node-ready', 180_000)
    const joinerCpuS = cpuSeconds(j.child.pid)
    const senderCpuS = cpuSeconds(n1!.child.pid) - senderBefore
    const lines = j.child.lines
    const ask = lines.find((l) => l.msg === 'asking the longest-running member for all sessions')
    const done = lines.find((l) => l.msg === 'session state transfer complete')
    const known = lines.find((l) => l.event === 'members-known')
    const status = await fetchPage(`${j.url}/_nodecat/status`)
    const mem = procMemory(j.child.pid)
    const app = await fetchPage(`${j.url}/_bench/memory`)
    return {
      startToReadyMs: Number(ready.time) - j.spawnedAt,
      transferMs: ask && done ? Number(done.time) - Number(ask.time) : NaN,
      membersKnownMs: known ? Number(known.time) - j.spawnedAt : NaN,
      state: String(status.stateTransfer?.state),
      joinerCpuS,
      senderCpuS,
      sessionsReceived: Number(status.stateTransfer?.sessionsReceived),
      sessionsHeld: Number(status.sessions?.count),
      bytesReceived: Number(status.replication?.bytes?.received),
      peakRss: mem?.vmHWM ?? Number(app.vmHWM),
      rssAfter: mem?.vmRSS ?? Number(app.vmRSS),
      peakHeap: Number(app.peakHeapUsed),
      heapAfter: Number(app.heapUsed)
    }
  } finally {
    await j.child.stop(15_000)
    // why: the next joiner takes the same member slot; start it only once the cluster saw this one leave
    await pollUntil('the cluster to see the joining node leave', async () => ((await getJson(`${n1!.url}/_nodecat/status`)).members.length === 1 ? true : undefined), 15_000)
  }
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { long: { type: 'boolean' }, reps: { type: 'string' }, counts: { type: 'string' }, help: { type: 'boolean' } } })
  if (values.help) { console.log(USAGE); return }
  const reps = Number(values.reps ?? (values.long ? 5 : 3))
  const counts = (values.counts ?? '10000,100000').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0 && n <= 1_000_000)
  const machine = machineInfo()
  const missing = wasAvailable()
  const notes: string[] = []
  const results: Array<{ count: number, fillMs: number, sourceRss: number, sourceHeap: number, outcomes: Awaited<ReturnType<typeof runInterleaved<Sample>>> }> = []
  const progress = createProgress('transfer', missing ? 0 : counts.length * (reps * 3 + 1))
  for (const count of missing ? [] : counts) {
    progress.status(`${count}: starting 2 nodes`)
    const cluster = await withTimeout(startWasClusterWithSpares(2, clusterKey(), { app: benchApp, spare: 1 }), 90_000, 'starting 2 nodecat-was nodes')
    const [n1, n2] = cluster.nodes
    progress.status(`${count}: creating ${count} sessions on node1`)
    const fill = await postJson(`${n1!.url}/_bench/fill?count=${count}&concurrency=16`, 900_000)
    if (fill.created !== count) throw new Error(`node1 created ${fill.created} of ${count} sessions`)
    await pollUntil(`node2 to hold all ${count} sessions`, async () => ((await getJson(`${n2!.url}/_nodecat/status`)).sessions?.count >= count ? true : undefined), 180_000, 250)
    const source = await fetchPage(`${n2!.url}/_bench/memory`)
    const probe = await runCodec(count) // why: the byte count the raw TCP baseline moves
    progress.tick(`${count}: ${count} sessions on both nodes`)
    const variants: Array<Variant<Sample>> = [
      { name: 'join', run: async (rep) => ({ kind: 'join', r: await joinOnce(cluster, rep) }) },
      { name: 'msgpackr', run: async () => ({ kind: 'codec', r: await runCodec(count) }) },
      {
        name: 'raw TCP',
        run: async () => {
          const frames = Math.ceil(probe.bytes / TCP_FRAME)
          const r = await measureTcp(TCP_FRAME, { count: frames, ms: 60_000 })
          return { kind: 'tcp', r: { ms: r.seconds * 1000, bytes: r.messages * TCP_FRAME } }
        }
      }
    ]
    const outcomes = await runInterleaved(variants.map((v) => ({ ...v, name: `${count} ${v.name}` })), reps, progress)
    results.push({ count, fillMs: Number(fill.ms), sourceRss: Number(source.vmRSS ?? source.rss), sourceHeap: Number(source.heapUsed), outcomes })
    await Promise.all(cluster.nodes.map((n) => n.child.stop(15_000)))
  }
  progress.stop()
  if (missing) notes.push(`State transfer not measured: ${missing}.`)

  const mb = (v: number[]): string => formatSummary(summarize(v), (x) => `${(x / 1e6).toFixed(0)} MB`)
  const cpu = (v: number[]): string => formatSummary(summarize(v), (x) => `${x.toFixed(2)} s`)
  const sec = (v: number[]): string => formatSummary(summarize(v), (x) => `${(x / 1000).toFixed(x < 10_000 ? 2 : 1)} s`)
  const rows: string[][] = []
  const memRows: string[][] = []
  const bars: Array<{ label: string, value: number, low: number, high: number, text: string }> = []
  for (const res of results) {
    const o = (name: string) => res.outcomes.find((x) => x.name === `${res.count} ${name}`)!
    const join = (f: (s: JoinSample) => number): number[] => column(o('join'), reps, (s) => (s.kind === 'join' ? f(s.r) : NaN))
    const codecMs = column(o('msgpackr'), reps, (s) => (s.kind === 'codec' ? s.r.ms : NaN))
    const tcpMs = column(o('raw TCP'), reps, (s) => (s.kind === 'tcp' ? s.r.ms : NaN))
    const transfer = join((s) => s.transferMs)
    const received = join((s) => s.sessionsReceived)
    const errors = [...o('join').errors, ...o('msgpackr').errors, ...o('raw TCP').errors].map(oneLine)
    const joins = o('join').samples.flatMap((s) => (s?.kind === 'join' ? [s.r] : []))
    const incomplete = joins.filter((r) => r.sessionsHeld !== res.count || r.state !== 'done').length
    // why: a joiner that heard nothing for transferRetry (a stalled machine) or found a chunk missing asks again: more received than held
    const retried = joins.filter((r) => r.sessionsReceived > res.count).length
    rows.push([
      String(res.count),
      sec(join((s) => s.startToReadyMs)),
      sec(transfer),
      formatSummary(summarize(transfer.map((t, i) => received[i]! / (t / 1000)))),
      formatSummary(summarize(received), (x) => String(Math.round(x))),
      cpu(join((s) => s.joinerCpuS)),
      cpu(join((s) => s.senderCpuS)),
      sec(codecMs),
      sec(tcpMs),
      formatRatio(pairedRatio(transfer, codecMs)),
      formatRatio(pairedRatio(transfer, tcpMs)),
      [incomplete ? `${incomplete} join(s) incomplete` : '', retried ? `${retried} join(s) asked again (all sessions held at the end)` : '', ...errors].filter(Boolean).join('; ') || 'ok'
    ])
    const peak = join((s) => s.peakRss)
    memRows.push([
      String(res.count),
      mb(peak),
      mb(join((s) => s.rssAfter)),
      mb(join((s) => s.peakHeap)),
      mb(join((s) => s.heapAfter)),
      `${(res.sourceRss / 1e6).toFixed(0)} MB`,
      formatRatio(summarize(peak.map((p) => p / res.sourceRss))),
      formatSummary(summarize(join((s) => s.bytesReceived)), (x) => `${(x / 1e6).toFixed(1)} MB`)
    ])
    const t = summarize(transfer)
    bars.push({ label: `${formatNumber(res.count)} sessions`, value: t.median, low: t.min, high: t.max, text: `${(t.median / 1000).toFixed(2)} s, ${formatRatio(pairedRatio(transfer, codecMs))} msgpackr` })
  }
  const tables: ReportTable[] = [{
    title: 'State transfer to a joining node (median of repetitions, min–max)',
    columns: ['sessions', 'spawn → ready', 'transfer (get-all → complete)', 'sessions/s', 'sessions received', 'joiner CPU (start → ready)', 'answering node CPU (during the join)', 'msgpackr enc+dec (baseline)', 'raw TCP, same bytes (baseline)', 'transfer ÷ msgpackr', 'transfer ÷ raw TCP', 'notes'],
    rows
  }, {
    title: 'Memory of the joining node',
    columns: ['sessions', 'peak RSS (VmHWM)', 'RSS when ready', 'peak heap used (sampled 25 ms)', 'heap when ready', 'RSS of a node holding them (replicated, steady)', 'joiner peak ÷ holder RSS', 'cluster bytes received'],
    rows: memRows
  }]
  writeReport({
    name: 'transfer',
    title: 'nodecat state transfer: a node joins a cluster holding 10k / 100k sessions',
    command: `pnpm bench:transfer ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    notes: [
      ...notes,
      `Two nodecat-was nodes (bench/app/bench-app.js, static membership on 127.0.0.1, keyed cluster, async replication) hold N typical small sessions (user, counter, three-item cart, login time: ~120 B of attributes), created on node1 through the real request path (fastify.inject) and replicated to node2. Then a third node is spawned and asks for all sessions (get-all). The answer streams packed chunks of 1000 sessions (attribute values copied as stored, names once per chunk), each acknowledged once installed, with up to 512 KiB unacknowledged (3 chunks of these sessions) so the joiner installs one while the next ones travel. Median (min–max) of ${reps} interleaved repetitions, a fresh joining process each.`,
      'spawn → ready: from spawning the process to its own "node-ready" event (sessions ready: the transfer is done and the queued messages replayed); includes Node start-up, loading the app and finding the members. transfer: from its first get-all to "session state transfer complete", both from the node\'s log.',
      'CPU (user + system, /proc/<pid>/stat, all threads: GC included): the joining process from its start to ready (Node start-up and loading included), and the answering node (node1) from the spawn to the joiner\'s ready. Steadier than the times on a shared machine.',
      `Baselines, same run, interleaved: msgpackr encode + decode (tribes' Packr setup) of the same session set in chunks of 1000 in one fresh process (the codec limit for one core), and raw TCP moving the encoded set's byte count between two processes in ${TCP_FRAME / 1024} KiB writes (the wire limit on this machine). "transfer ÷ …" = how many times longer the transfer took, per repetition, then the median.`,
      'Peak RSS is VmHWM of the joining process from /proc (its high-water mark since start); peak heap is the highest heapUsed the bench app saw, sampled every 25 ms.',
      'Shared 2-core machine: the answering node, the joining node and the baselines share the cores with other jobs; absolute times are good to about ±30 %.'
    ],
    tables,
    chart: bars.length ? { title: 'State transfer time (get-all → complete)', unit: 'seconds', bars: bars.map((b) => ({ ...b, value: b.value / 1000, low: b.low / 1000, high: b.high / 1000 })) } : undefined,
    raw: { reps, counts, results }
  })
}

await runMain(main)
