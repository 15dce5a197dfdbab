/**
 * pnpm bench:managers — the two session managers side by side: the delta manager (every change to
 * every node, Tomcat's DeltaManager) and the backup manager (each session on its primary and k = 1
 * buddy on the other host, Tomcat's BackupManager).
 *
 * 1. Cost of a change: clusters of n = 2, 4, 8 processes (one SessionManager over a real tribes
 *    channel each, static membership on 127.0.0.1, nodes split over two host ids), node 0 writes
 *    one ~100 B attribute per request over its own sessions at a fixed concurrency for a fixed time.
 *    Reported: changes/s, the writer's own CPU time per change, messages per change. Both managers
 *    of one n run at the same time and their repetitions are interleaved; backup ÷ delta per rep.
 * 2. Re-replication: 4 backup nodes (2 hosts × 2), k = 1, N sessions (10 000 and 1 000) at exactly
 *    2 copies; one node is SIGKILLed and the time until the survivors hold 2 copies of every session
 *    again is measured from the kill and from the first survivor's memberDisappeared.
 */
import { parseArgs } from 'node:util'
import { runMain, isAborted } from './lib/cleanup.js'
import { machineInfo } from './lib/machine.js'
import { createProgress } from './lib/progress.js'
import { runInterleaved, column, oneLine, type Variant, type VariantOutcome } from './lib/interleave.js'
import { summarize, pairedRatio, formatSummary, formatRatio, formatNumber } from './lib/stats.js'
import { writeReport, type ReportTable } from './lib/report.js'
import { cpuSecondsOf } from './lib/cpu-time.js'
import { clusterKey } from './lib/cluster.js'
import { startManagerCluster, hostOf, type ManagerCluster, type ManagerName, type ManagerNode } from './lib/manager-cluster.js'
import { sleep } from '@nodecat/testkit'

const USAGE = `usage: pnpm bench:managers [--long] [--manager delta,backup] [--nodes 2,4,8] [--modes sync[,async]]
       [--seconds S] [--reps N] [--sessions 64] [--concurrency 8] [--size 100] [--counts 10000,1000] [--recovery-reps N] [--no-key]
  default: delta and backup, 2/4/8 nodes, sync mode, 5 repetitions of 3 s writes; re-replication of
           10 000 and 1 000 sessions, 3 repetitions each (about 4 minutes); --long: 7 reps of 5 s, 5 re-replications
  --sessions       sessions the writer (node 0) creates and then keeps changing
  --concurrency    requests in flight on the writer (each one owns its sessions: none is written twice at once)
  --size           bytes of the attribute each request sets
  --counts         sessions in the re-replication part (4 nodes, 2 hosts × 2, backup manager, k = 1); 0 skips it
  --no-key         plaintext cluster traffic (default: a random cluster key, as in production)`

const K = 1
/** the re-replication part: 2 hosts × 2 nodes */
const RECOVERY_NODES = 4
/** membership in the re-replication part: a heartbeat every 100 ms, a silent member dropped after 1000 ms */
const RECOVERY_MEMBERSHIP = { frequency: 100, dropTime: 1000 }
/** membership in the cost part: tribes' defaults (Tomcat's) */
const DEFAULT_MEMBERSHIP = { frequency: 500, dropTime: 3000 }
const POLL_MS = 50
const MAX_CHANGES = 5_000_000

interface WriteSample {
  changes: number
  failed: number
  seconds: number
  /** the writer's own CPU (process.cpuUsage), µs */
  cpuUs: number
  /** every node of the cluster (/proc), µs */
  clusterCpuUs: number
  /** stats().sent: created + delta + session-full + id-changed + accessed */
  managerSends: number
  /** the channel's messagesSent: one per recipient */
  wireMessages: number
  wireBytes: number
  sendFailures: number
  peers: number
}

interface RecoverySample {
  count: number
  victim: string
  /** sessions at 2 copies before the kill, and the total copies */
  sessions: number
  copiesBefore: number
  /** copies held by the killed node */
  copiesLost: number
  /** sessions with a copy on a survivor (every one, unless both copies were on the victim) */
  survivingSessions: number
  /** sessions left with one copy by the kill */
  singleCopy: number
  killToGoneMs: number
  killToRestoredMs: number
  goneToRestoredMs: number
  /** at the moment every session had 2 copies: total copies ÷ 2 × sessions (1 = exactly 2 each) */
  copiesRatioAtRestore: number
  /** sessions with more than 2 copies then */
  overTwo: number
  /** ms from SIGKILL until every surviving session had exactly 2 copies (out-of-place copies dropped), or null if not within 60 s */
  killToExactMs: number | null
  /** whole sessions the survivors pushed after the kill (rebalance.pushed, once it stops moving) */
  pushed: number
  /** longest rebalance pass of a survivor after the kill (the largest rebalance.lastMs seen) */
  longestPassMs: number
  /** which survivors saw the member go, and why */
  gone: Array<{ route: string, reason: string, ms: number }>
  polls: number
  fillMs: number
}

function list (text: string): number[] { return text.split(',').map((s) => Number(s.trim())).filter((n) => Number.isFinite(n) && n >= 0) }
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)

// ---- part 1: the cost of a change ------------------------------------------------------------

async function writeOnce (cluster: ManagerCluster, o: { seconds: number, concurrency: number, size: number }): Promise<WriteSample> {
  const pids = cluster.nodes.map((n) => n.child.pid)
  const cpu0 = cpuSecondsOf(pids)
  const r = await cluster.ask(cluster.nodes[0]!, { cmd: 'write', seconds: o.seconds, max: MAX_CHANGES, concurrency: o.concurrency, size: o.size }, ['wrote'], (o.seconds + 60) * 1000)
  const clusterCpuUs = (cpuSecondsOf(pids) - cpu0) * 1e6
  if (Number(r.peers) !== cluster.nodes.length - 1) throw new Error(`the writer saw ${r.peers} of ${cluster.nodes.length - 1} peers during the run`)
  return {
    changes: Number(r.changes),
    failed: Number(r.failed),
    seconds: Number(r.totalSeconds),
    cpuUs: Number(r.cpuUs),
    clusterCpuUs,
    managerSends: Number(r.managerSends),
    wireMessages: Number(r.wireMessages),
    wireBytes: Number(r.wireBytes),
    sendFailures: Number(r.sendFailures),
    peers: Number(r.peers)
  }
}

interface CostResult { mode: 'async' | 'sync', nodes: number, managers: ManagerName[], outcomes: Array<VariantOutcome<WriteSample>>, setupErrors: string[] }

async function costOf (mode: 'async' | 'sync', n: number, managers: ManagerName[], o: { seconds: number, reps: number, sessions: number, concurrency: number, size: number, key?: string }, progress: ReturnType<typeof createProgress>): Promise<CostResult> {
  const clusters = new Map<ManagerName, ManagerCluster>()
  const setupErrors: string[] = []
  try {
    for (const m of managers) {
      progress.status(`${mode} n=${n}: starting ${n} ${m} nodes`)
      try {
        const c = await startManagerCluster({ manager: m, size: n, backups: K, sendMode: mode, ...DEFAULT_MEMBERSHIP, key: o.key })
        clusters.set(m, c)
        const created = await c.ask(c.nodes[0]!, { cmd: 'create', count: o.sessions, concurrency: o.concurrency, size: o.size }, ['created'], 120_000)
        if (created.created !== o.sessions) throw new Error(`the writer created ${created.created} of ${o.sessions} sessions`)
        // why: the first run of a fresh process pays for JIT and connections; not measured
        await c.ask(c.nodes[0]!, { cmd: 'write', seconds: Math.min(1, o.seconds / 2), max: MAX_CHANGES, concurrency: o.concurrency, size: o.size }, ['wrote'], 120_000)
      } catch (err) {
        setupErrors.push(`${m}: ${oneLine((err as Error).message).slice(0, 300)}`)
      }
    }
    const variants: Array<Variant<WriteSample>> = managers.map((m) => ({
      name: `${mode} n=${n} ${m}`,
      run: async () => {
        const c = clusters.get(m)
        if (!c) throw new Error(`${m} cluster did not start`)
        return await writeOnce(c, o)
      }
    }))
    const outcomes = await runInterleaved(variants, o.reps, progress)
    return { mode, nodes: n, managers, outcomes, setupErrors }
  } finally {
    await Promise.all([...clusters.values()].map(async (c) => await c.stop()))
  }
}

// ---- part 2: re-replication after a member loss ----------------------------------------------

interface Holding { node: ManagerNode, t: number, held: number, bits: Buffer, pushed: number, lastMs: number }

async function holdings (cluster: ManagerCluster, nodes: ManagerNode[]): Promise<Holding[]> {
  return await Promise.all(nodes.map(async (node) => {
    const r = await cluster.ask(node, { cmd: 'holding' }, ['holding'], 30_000)
    return { node, t: Number(r.t), held: Number(r.held), bits: Buffer.from(String(r.bits), 'base64'), pushed: Number(r.rebalance?.pushed ?? 0), lastMs: Number(r.rebalance?.lastMs ?? 0) }
  }))
}

/** copies of each watched session over the given holdings */
function copiesOf (hs: Holding[], count: number): Uint8Array {
  const copies = new Uint8Array(count)
  for (const h of hs) for (let i = 0; i < count; i++) if ((h.bits[i >> 3]! >> (i & 7)) & 1) copies[i]!++
  return copies
}

async function recoverOnce (count: number, o: { key?: string, sendMode: 'async' | 'sync' }): Promise<RecoverySample> {
  const cluster = await startManagerCluster({ manager: 'backup', size: RECOVERY_NODES, backups: K, sendMode: o.sendMode, ...RECOVERY_MEMBERSHIP, key: o.key })
  try {
    const { nodes } = cluster
    // every node creates its share, all at once
    const fillStart = performance.now()
    await Promise.all(nodes.map(async (node, i) => {
      const share = Math.floor(count / nodes.length) + (i < count % nodes.length ? 1 : 0)
      const r = await cluster.ask(node, { cmd: 'create', count: share, concurrency: 16, size: 100 }, ['created'], 300_000)
      if (r.created !== share) throw new Error(`${node.route} created ${r.created} of ${share} sessions`)
    }))
    const fillMs = performance.now() - fillStart
    const bases = new Set<string>()
    for (const node of nodes) for (const b of (await cluster.ask(node, { cmd: 'bases' }, ['bases'])).bases as string[]) bases.add(b)
    if (bases.size !== count) throw new Error(`the cluster holds ${bases.size} distinct sessions, ${count} were created`)
    const watched = [...bases]
    await Promise.all(nodes.map(async (node) => await cluster.ask(node, { cmd: 'watch', bases: watched }, ['watching'])))

    // settled: every session at exactly 2 copies, and no rebalance pushed anything since the last look
    let before: Holding[] = []
    let lastPushed = -1
    const settleUntil = Date.now() + 60_000
    for (;;) {
      before = await holdings(cluster, nodes)
      const copies = copiesOf(before, count)
      const total = before.reduce((s, h) => s + h.held, 0)
      const pushed = before.reduce((s, h) => s + h.pushed, 0)
      if (total === 2 * count && copies.every((c) => c === 2) && pushed === lastPushed) break
      if (Date.now() > settleUntil || isAborted()) throw new Error(`copies did not settle at 2 per session within 60 s: ${total} copies of ${count} sessions`)
      lastPushed = pushed
      await sleep(200)
    }

    // the victim: the first node of host B (it holds its own sessions and the backups of host A's)
    const victim = nodes[Math.floor(nodes.length / 2)]!
    const survivors = nodes.filter((n) => n !== victim)
    const survivorsBefore = before.filter((h) => h.node !== victim)
    const left = copiesOf(survivorsBefore, count)
    const surviving = left.reduce((s, c) => s + (c > 0 ? 1 : 0), 0)
    const singleCopy = left.reduce((s, c) => s + (c === 1 ? 1 : 0), 0)
    const pushedBefore = survivorsBefore.reduce((s, h) => s + h.pushed, 0)
    const copiesLost = before.find((h) => h.node === victim)!.held

    const killUs = nowUs()
    victim.child.signal('SIGKILL')
    let polls = 0
    let restored: Holding[] | null = null
    const until = Date.now() + 60_000
    while (restored === null) {
      await sleep(POLL_MS)
      if (Date.now() > until || isAborted()) throw new Error(`the survivors did not get every session back to 2 copies within 60 s of the SIGKILL (${singleCopy} had one copy left)`)
      const hs = await holdings(cluster, survivors)
      polls++
      const copies = copiesOf(hs, count)
      let ok = true
      for (let i = 0; i < count && ok; i++) if (left[i]! > 0 && copies[i]! < 2) ok = false
      if (ok) restored = hs
    }
    const restoredUs = Math.max(...restored.map((h) => h.t))
    const copies = copiesOf(restored, count)
    const total = restored.reduce((s, h) => s + h.held, 0)
    // why: a pass adds to rebalance.pushed only when it ends (its last window acknowledged), which
    // may be after the copies arrived: read the counters once they stop moving (bounded)
    let after = restored
    let longestPassMs = Math.max(...restored.map((h) => h.lastMs))
    const settled = Date.now() + 15_000
    for (let same = 0; same < 3 && Date.now() < settled && !isAborted();) {
      await sleep(200)
      const hs = await holdings(cluster, survivors)
      const moved = hs.some((h, i) => h.pushed !== after[i]!.pushed || h.lastMs !== after[i]!.lastMs)
      same = moved ? 0 : same + 1
      after = hs
      longestPassMs = Math.max(longestPassMs, ...hs.map((h) => h.lastMs))
    }
    // copies out of place (the placement moved when the member went) are dropped after the grace
    // period: wait until every surviving session has exactly 2 copies (bounded)
    let exactUs: number | null = null
    const exactUntil = Date.now() + 60_000
    while (exactUs === null && Date.now() < exactUntil && !isAborted()) {
      const hs = await holdings(cluster, survivors)
      const cs = copiesOf(hs, count)
      let exact = true
      for (let i = 0; i < count && exact; i++) if (left[i]! > 0 && cs[i] !== 2) exact = false
      if (exact) exactUs = Math.max(...hs.map((h) => h.t))
      else await sleep(POLL_MS * 4)
    }
    await victim.child.exited
    const gone = await Promise.all(survivors.map(async (n) => {
      const l = await n.child.waitFor((x) => x.event === 'member-gone' && x.route === victim.route, 10_000, `memberDisappeared for ${victim.route}`)
      return { route: n.route, reason: String(l.reason), t: Number(l.t) }
    }))
    const firstGoneUs = Math.min(...gone.map((g) => g.t))
    return {
      count,
      victim: `${victim.route} (host ${victim.host})`,
      sessions: count,
      copiesBefore: before.reduce((s, h) => s + h.held, 0),
      copiesLost,
      survivingSessions: surviving,
      singleCopy,
      killToGoneMs: (firstGoneUs - killUs) / 1000,
      killToRestoredMs: (restoredUs - killUs) / 1000,
      goneToRestoredMs: (restoredUs - firstGoneUs) / 1000,
      copiesRatioAtRestore: total / (2 * surviving),
      overTwo: copies.reduce((s, c) => s + (c > 2 ? 1 : 0), 0),
      killToExactMs: exactUs === null ? null : (exactUs - killUs) / 1000,
      pushed: after.reduce((s, h) => s + h.pushed, 0) - pushedBefore,
      longestPassMs,
      gone: gone.map((g) => ({ route: g.route, reason: g.reason, ms: (g.t - killUs) / 1000 })),
      polls,
      fillMs
    }
  } finally {
    await cluster.stop()
  }
}

// ---- the report ------------------------------------------------------------------------------

const per = (num: number[], den: number[]): number[] => num.map((v, i) => (den[i]! > 0 ? v / den[i]! : NaN))
const med = (v: number[]): number => summarize(v).median
const fmt = (v: number[], f: (x: number) => string = formatNumber): string => formatSummary(summarize(v), f)
const fixed = (d: number) => (x: number) => x.toFixed(d)
const ms = (x: number): string => `${Math.round(x)} ms`

function costTable (results: CostResult[], mode: 'async' | 'sync', reps: number): { table: ReportTable, bars: Array<{ label: string, value: number, low: number, high: number, text: string }> } {
  const rows: string[][] = []
  const bars: Array<{ label: string, value: number, low: number, high: number, text: string }> = []
  const mine = results.filter((r) => r.mode === mode)
  const smallest = new Map<ManagerName, { cpu: number, wire: number }>()
  for (const res of mine) {
    const cols = new Map<ManagerName, { rate: number[], cpu: number[], clusterCpu: number[], wire: number[], sends: number[], bytes: number[] }>()
    for (const m of res.managers) {
      const o = res.outcomes.find((x) => x.name === `${mode} n=${res.nodes} ${m}`)!
      const c = (f: (s: WriteSample) => number): number[] => column(o, reps, f)
      const changes = c((s) => s.changes)
      const col = {
        rate: per(changes, c((s) => s.seconds)),
        cpu: per(c((s) => s.cpuUs), changes),
        clusterCpu: per(c((s) => s.clusterCpuUs), changes),
        wire: per(c((s) => s.wireMessages), changes),
        sends: per(c((s) => s.managerSends), changes),
        bytes: per(c((s) => s.wireBytes), changes)
      }
      cols.set(m, col)
      if (!smallest.has(m) && Number.isFinite(med(col.cpu))) smallest.set(m, { cpu: med(col.cpu), wire: med(col.wire) })
      const base = smallest.get(m)
      const failures = o.samples.reduce((s, x) => s + (x ? x.failed + x.sendFailures : 0), 0)
      const notes = [
        ...res.setupErrors.filter((e) => e.startsWith(`${m}:`)),
        o.unavailable ?? '',
        ...o.errors.map(oneLine),
        failures > 0 ? `${failures} failed requests/sends` : ''
      ].filter(Boolean).join('; ') || 'ok'
      rows.push([
        String(res.nodes),
        m,
        fmt(col.rate),
        fmt(col.cpu, fixed(1)),
        base ? `${(med(col.cpu) / base.cpu).toFixed(2)}×` : 'n/a',
        fmt(col.wire, fixed(2)),
        base ? `${(med(col.wire) / base.wire).toFixed(2)}×` : 'n/a',
        fmt(col.sends, fixed(2)),
        fmt(col.bytes, (x) => x.toFixed(0)),
        fmt(col.clusterCpu, fixed(0)),
        notes
      ])
      const s = summarize(col.cpu)
      if (s.n > 0) bars.push({ label: `n=${res.nodes} ${m}`, value: s.median, low: s.min, high: s.max, text: `${s.median.toFixed(1)} µs/change` })
    }
    const d = cols.get('delta')
    const b = cols.get('backup')
    if (d && b) {
      rows.push([
        String(res.nodes),
        'backup ÷ delta',
        formatRatio(pairedRatio(b.rate, d.rate)),
        formatRatio(pairedRatio(b.cpu, d.cpu)),
        '',
        formatRatio(pairedRatio(b.wire, d.wire)),
        '',
        formatRatio(pairedRatio(b.sends, d.sends)),
        formatRatio(pairedRatio(b.bytes, d.bytes)),
        formatRatio(pairedRatio(b.clusterCpu, d.clusterCpu)),
        'paired per repetition'
      ])
    }
  }
  return {
    table: {
      title: `Cost of one change on the writer, ${mode} mode, k = ${K} (median of repetitions, min–max)`,
      columns: ['nodes', 'manager', 'changes/s', 'writer CPU µs/change', 'CPU/change ÷ same manager at smallest n', 'messages on the wire/change (per recipient)', 'wire msgs ÷ smallest n', 'manager sends/change (stats().sent)', 'bytes sent/change', 'CPU µs/change, all nodes', 'notes'],
      rows
    },
    bars
  }
}

function recoveryTable (outcomes: Array<VariantOutcome<RecoverySample>>, counts: number[], reps: number): ReportTable {
  const rows: string[][] = []
  for (const count of counts) {
    const o = outcomes.find((x) => x.name === `${count} sessions`)
    if (!o) continue
    const c = (f: (s: RecoverySample) => number): number[] => column(o, reps, f)
    const samples = o.samples.filter((s): s is RecoverySample => s !== undefined)
    const gone = c((s) => s.goneToRestoredMs)
    const pushed = c((s) => s.pushed)
    const notes = [
      samples.some((s) => s.survivingSessions !== s.sessions) ? `${samples.map((s) => s.sessions - s.survivingSessions).join('/')} sessions lost (both copies on the killed node)` : '',
      samples.some((s) => s.overTwo > 0) ? `${samples.map((s) => s.overTwo).join('/')} sessions also had a third copy at that moment (the placement moved; dropped after the grace)` : 'exactly 2 copies each at that moment',
      samples.some((s) => s.killToExactMs === null) ? 'some copies out of place were not dropped within 60 s' : '',
      `drop reasons: ${[...new Set(samples.flatMap((s) => s.gone.map((g) => g.reason)))].join(', ') || 'n/a'}`,
      o.unavailable ?? '',
      ...o.errors.map(oneLine)
    ].filter(Boolean).join('; ')
    rows.push([
      formatNumber(count),
      samples[0]?.victim ?? 'n/a',
      fmt(c((s) => s.copiesLost), (x) => x.toFixed(0)),
      fmt(c((s) => s.singleCopy), (x) => x.toFixed(0)),
      fmt(c((s) => s.killToGoneMs), ms),
      fmt(c((s) => s.killToRestoredMs), ms),
      fmt(gone, ms),
      fmt(c((s) => s.killToExactMs ?? NaN), ms),
      fmt(pushed, (x) => x.toFixed(0)),
      fmt(per(pushed, gone.map((g) => g / 1000)), formatNumber),
      notes
    ])
  }
  return {
    title: `Re-replication after SIGKILL of one node: backup manager, ${RECOVERY_NODES} nodes on 2 hosts × 2, k = ${K} (median of repetitions, min–max)`,
    columns: ['sessions', 'killed', 'copies on the killed node', 'sessions left with 1 copy', 'SIGKILL → first memberDisappeared', 'SIGKILL → every session at ≥ 2 copies', 'first memberDisappeared → ≥ 2 copies', 'SIGKILL → exactly 2 (out-of-place copies dropped after the 10 s grace)', 'whole sessions pushed', 'pushed/s (from memberDisappeared)', 'notes'],
    rows
  }
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      long: { type: 'boolean' },
      manager: { type: 'string' },
      nodes: { type: 'string' },
      modes: { type: 'string' },
      seconds: { type: 'string' },
      reps: { type: 'string' },
      sessions: { type: 'string' },
      concurrency: { type: 'string' },
      size: { type: 'string' },
      counts: { type: 'string' },
      'recovery-reps': { type: 'string' },
      'no-key': { type: 'boolean' },
      help: { type: 'boolean' }
    }
  })
  if (values.help) { console.log(USAGE); return }
  const managers = (values.manager ?? 'delta,backup').split(',').map((m) => m.trim()).filter((m): m is ManagerName => m === 'delta' || m === 'backup')
  const nodeCounts = list(values.nodes ?? '2,4,8').filter((n) => Number.isInteger(n) && n >= 2 && n <= 16)
  const modes = (values.modes ?? 'sync').split(',').map((m) => m.trim()).filter((m): m is 'async' | 'sync' => m === 'async' || m === 'sync')
  const seconds = Number(values.seconds ?? (values.long ? 5 : 3))
  const reps = Number(values.reps ?? (values.long ? 7 : 5))
  const sessions = Number(values.sessions ?? 64)
  const concurrency = Number(values.concurrency ?? 8)
  const size = Number(values.size ?? 100)
  const counts = list(values.counts ?? '10000,1000').filter((n) => Number.isInteger(n) && n > 0 && n <= 200_000)
  const recoveryReps = Number(values['recovery-reps'] ?? (values.long ? 5 : 3))
  if (managers.length === 0 || nodeCounts.length === 0 || modes.length === 0) throw new Error(`nothing to run: --manager ${values.manager}, --nodes ${values.nodes}, --modes ${values.modes}\n${USAGE}`)
  if (!(seconds > 0 && seconds <= 600 && reps >= 1 && reps <= 50 && sessions >= 1 && sessions <= 100_000 && concurrency >= 1 && concurrency <= 1000 && size >= 12 && size <= 1_000_000 && recoveryReps >= 1 && recoveryReps <= 50)) {
    throw new Error(`out of range: --seconds ${seconds} --reps ${reps} --sessions ${sessions} --concurrency ${concurrency} --size ${size} --recovery-reps ${recoveryReps}\n${USAGE}`)
  }
  const machine = machineInfo()
  const key = values['no-key'] ? undefined : clusterKey()
  const progress = createProgress('managers', modes.length * nodeCounts.length * managers.length * reps + counts.length * recoveryReps)

  const cost: CostResult[] = []
  for (const mode of modes) {
    for (const n of nodeCounts) {
      if (isAborted()) break
      cost.push(await costOf(mode, n, managers, { seconds, reps, sessions, concurrency, size, key }, progress))
    }
  }
  const recoveryVariants: Array<Variant<RecoverySample>> = counts.map((count) => ({ name: `${count} sessions`, run: async () => await recoverOnce(count, { key, sendMode: 'sync' }) }))
  const recovery = counts.length > 0 ? await runInterleaved(recoveryVariants, recoveryReps, progress) : []
  progress.stop()

  const tables: ReportTable[] = []
  let bars: Array<{ label: string, value: number, low: number, high: number, text: string }> = []
  for (const mode of modes) {
    const t = costTable(cost, mode, reps)
    tables.push(t.table)
    if (mode === 'sync' || bars.length === 0) bars = t.bars
  }
  if (counts.length > 0) tables.push(recoveryTable(recovery, counts, recoveryReps))
  const hosts = nodeCounts.map((n) => `n=${n}: ${Array.from({ length: n }, (_, i) => `node${i}@${hostOf(i, n)}`).join(' ')}`).join('; ')
  writeReport({
    name: 'managers',
    title: 'nodecat session managers: delta (every node) vs backup (primary + k buddies)',
    command: `pnpm bench:managers ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    notes: [
      `Part 1, cost of a change: for each n, one cluster per manager (${managers.join(', ')}), each node its own process with one SessionManager over a real tribes channel (static membership on 127.0.0.1, heartbeat ${DEFAULT_MEMBERSHIP.frequency} ms, drop ${DEFAULT_MEMBERSHIP.dropTime} ms, ${key ? 'a random cluster key' : 'no key'}), the nodes split over two host ids (first half A, second half B: ${hosts}); backup manager with k = ${K}. Both clusters of one n run at the same time; the other is idle while one is measured.`,
      `Node 0 creates ${sessions} sessions, then runs requests that set one ${size} B attribute (open → set → end({ replicate: true })), ${concurrency} in flight (each lane owns its sessions), for ${seconds} s (at most ${formatNumber(MAX_CHANGES)} changes), after an unmeasured warm-up. ${reps} repetitions, the managers interleaved (order rotating); "backup ÷ delta" is taken per repetition, then the median. "÷ smallest n" compares medians of different clusters (not paired).`,
      'writer CPU µs/change: process.cpuUsage() of node 0 over the run (user + system) ÷ changes. messages on the wire: the channel\'s messagesSent (one per recipient) ÷ changes. manager sends: stats().sent (created + delta + session-full + id-changed + accessed) ÷ changes (counted once per member sent to, so it matches the wire count).',
      `Part 2, re-replication: ${RECOVERY_NODES} backup nodes (node0, node1 on host A; node2, node3 on host B), k = ${K}, sync mode, membership heartbeat ${RECOVERY_MEMBERSHIP.frequency} ms and drop time ${RECOVERY_MEMBERSHIP.dropTime} ms (set for this part: a survivor only notices the loss when membership drops the member). Each node creates its share of the sessions at once; when every session has exactly 2 copies and no rebalance pushes any more, node2 is SIGKILLed (by PID). node2 is the first member of host B: with routes node0..node3 on the placement ring it holds its own sessions and the backups of host A's (the most copies lost of any node).`,
      `Restored = every session that still had a copy on a survivor has 2 copies on the survivors; polled every ${POLL_MS} ms (each survivor reports which sessions it holds, stamped with the shared monotonic clock), so times are good to about ${POLL_MS} ms. Times from the kill use the parent's clock just before kill(); "first memberDisappeared" is the earliest such event among the survivors. rebalance() is never called by the benchmark: the survivors' own passes (on the member change, after its 250 ms settle) do the work. Product defaults otherwise (rebalance grace 10 s, interval 5 s). ${recoveryReps} repetitions per size, sizes interleaved, a fresh cluster each.`,
      'Shared 2-core machine: 8 nodes of one cluster share 2 cores with the other cluster\'s idle nodes, the parent and other jobs; trust the ratios more than the absolute rates.'
    ],
    tables,
    chart: bars.length ? { title: 'Writer CPU per change (sync mode)', unit: 'µs of CPU per change on node 0 (median, whisker = min–max)', bars } : undefined,
    raw: { settings: { managers, nodeCounts, modes, seconds, reps, sessions, concurrency, size, k: K, counts, recoveryReps, key: Boolean(key), membership: { cost: DEFAULT_MEMBERSHIP, recovery: RECOVERY_MEMBERSHIP }, pollMs: POLL_MS }, cost, recovery }
  })
}

await runMain(main)
