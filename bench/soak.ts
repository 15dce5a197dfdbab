/**
 * pnpm soak — a few minutes of mixed load on a 3-node cluster in sync mode through nodecat's
 * balancer, with one node at a time SIGKILLed, stopped with SIGTERM, or SIGKILLed and restarted at
 * once, rotating over the nodes, each restarted and waited for until its state transfer is done.
 * Every process (nodes and balancer) is sampled: RSS and open fds from /proc, heap after GC and
 * active handles from a probe preloaded into it. Reported: lost sessions, lost acknowledged writes,
 * failed requests by cause, and whether memory and handles stay flat (slope of a linear fit per
 * process over the steady part, and first vs last). Bounded: --minutes (default 3, at most 120).
 * It measures; it never passes or fails (test/soak.test.ts asserts the same run in small).
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { runMain } from './lib/cleanup.js'
import { startChild } from './lib/children.js'
import { machineInfo } from './lib/machine.js'
import { createProgress } from './lib/progress.js'
import { writeReport, resultsDir, type ReportTable } from './lib/report.js'
import { formatNumber } from './lib/stats.js'
import { runSoak, SOAK_DEFAULTS, type SoakResult } from './lib/soak-run.js'
import { FAULT_KINDS, type FaultKind } from './lib/soak-faults.js'
import { soakChartSvg } from './lib/soak-chart.js'
import type { Trend, Metric } from './lib/soak-trend.js'

const USAGE = `usage: pnpm soak [--minutes N] [--long] [--users U] [--mode sync|async] [--period S] [--down S] [--kinds kill,term,quick] [--seed N]
  default: 3 minutes of load, 16 users, a fault every 20 s (node down 4 s), sync mode; --long: 10 minutes
  --minutes N   how long the load runs (0.5 to 120)
  --users U     users at the same time (1 to 200)
  --period S    seconds between the starts of two faults (5 to 600)
  --down S      seconds a killed or stopped node stays down (0 to 60)
  --kinds LIST  which faults, in rotation (default kill,term,quick); none: load only, no faults
  --seed N      the users' random mix of actions`

function number (value: string | undefined, fallback: number, name: string, min: number, max: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number from ${min} to ${max}, not ${JSON.stringify(value)}`)
  return n
}

const MB = 2 ** 20
const UNIT: Record<Metric, { label: string, scale: number, digits: number }> = {
  heapUsed: { label: 'heap after GC, MB', scale: MB, digits: 1 },
  rss: { label: 'RSS, MB', scale: MB, digits: 1 },
  fds: { label: 'open fds', scale: 1, digits: 0 },
  handles: { label: 'active handles', scale: 1, digits: 0 },
  sessions: { label: 'sessions held', scale: 1, digits: 0 }
}

function trendTable (trends: Trend[]): ReportTable {
  const rows = trends.map((t) => {
    const u = UNIT[t.metric]
    const f = (v: number): string => (v / u.scale).toFixed(u.digits)
    const slope = t.slopePerMin / u.scale
    const late = t.lateSlopePerMin / u.scale
    const signed = (v: number): string => Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(u.digits + 2)}/min` : '–'
    return [t.name, u.label, `${(t.fromMs / 1000).toFixed(0)}–${(t.toMs / 1000).toFixed(0)} s (${t.n})`, f(t.first), f(t.last), signed(slope), Number.isFinite(t.r2) ? t.r2.toFixed(2) : '–', signed(late)]
  })
  return { title: 'Memory and handles over the steady part (after warm-up, while the load ran)', columns: ['process', 'measure', 'window (samples)', 'first', 'last', 'slope of the fit', 'r²', 'slope, second half'], rows }
}

function report (r: SoakResult, command: string, machine: ReturnType<typeof machineInfo>): void {
  const o = r.options
  const l = r.load
  const count = (kind: string): number => l.violations.filter((v) => v.kind === kind).length
  const lostSessions = count('lost session')
  const lostWrites = count('lost acknowledged count') + count('lost acknowledged cart item')
  const loadS = (r.loadEndedAt - r.loadStartedAt) / 1000
  // why: a run with other faults than the default set must not overwrite the default run's summary
  const faultsTag = o.kinds.length === 0 ? '-nofaults' : o.kinds.join(',') === FAULT_KINDS.join(',') ? '' : `-${o.kinds.join('-')}`
  const name = `soak${o.mode === 'sync' ? '' : `-${o.mode}`}${faultsTag}`
  const svg = path.join(resultsDir, `${name}.svg`)
  const balancer = r.trends.filter((t) => t.name === 'balancer')
  const b = (m: Metric): Trend | undefined => balancer.find((t) => t.metric === m)
  const nodeHeap = r.trends.filter((t) => t.name !== 'balancer' && t.metric === 'heapUsed')
  const tables: ReportTable[] = [
    {
      title: 'Sessions and writes',
      columns: ['requests', 'req/s', 'users', 'logins / logouts', 'acknowledged writes', 'lost sessions', 'lost acknowledged writes', 'inconsistent', 'failed requests', 'sessions read at the end (unreadable)'],
      rows: [[String(l.requests), formatNumber(l.requests / loadS), String(l.usersStarted), `${l.logins} / ${l.logouts}`, String(l.ackedWrites), String(lostSessions), String(lostWrites), String(count('impossible')), String(l.failed), `${r.final.read} (${r.final.unverified})`]]
    },
    {
      title: 'Failed requests by cause',
      columns: ['cause', 'count', 'when (s after the start)'],
      rows: Object.keys(l.failures).length === 0
        ? [['none', '0', '']]
        : Object.entries(l.failures).sort((a, b) => b[1] - a[1]).map(([cause, n]) => [cause, String(n), l.failureLog.filter((f) => f.cause === cause).slice(0, 8).map((f) => (f.t / 1000 + r.loadStartedAt / 1000).toFixed(1)).join(', ')])
    },
    {
      title: 'Faults',
      columns: ['#', 'fault', 'node (pid)', 'at s', 'exit', 'restarted at s', 'restart to node-ready ms', 'OK in the balancer at s', 'error'],
      rows: r.faults.map((f) => [String(f.k + 1), f.kind === 'kill' ? 'SIGKILL, down' : f.kind === 'term' ? 'SIGTERM, down' : 'SIGKILL, restart at once', `${f.node} (${f.pid})`, (f.at / 1000).toFixed(1),
        f.exit === null ? '?' : f.exit.signal ?? `code ${f.exit.code}`, f.restartedAt === null ? '–' : (f.restartedAt / 1000).toFixed(1), f.readyMs === null ? '–' : String(f.readyMs), f.okAt === null ? '–' : (f.okAt / 1000).toFixed(1), f.error ?? ''])
    },
    trendTable(r.trends),
    {
      title: 'The balancer\'s open file descriptors',
      columns: ['before the load', 'after the load, once idle', 'idle wait'],
      rows: [[String(r.balancerFds.baseline), String(r.balancerFds.afterIdle), `${(r.balancerFds.idleWaitedMs / 1000).toFixed(1)} s`]]
    }
  ]
  const fmt = (t: Trend | undefined, m: Metric): string => {
    if (t === undefined) return 'n/a'
    const u = UNIT[m]
    const per = (v: number): string => `${v >= 0 ? '+' : ''}${(v / u.scale).toFixed(u.digits + 2)}/min`
    return `${(t.first / u.scale).toFixed(u.digits)} → ${(t.last / u.scale).toFixed(u.digits)} (${per(t.slopePerMin)}; second half ${per(t.lateSlopePerMin)})`
  }
  const notes = [
    `${o.nodes} nodecat-was nodes (examples/shop, static membership on 127.0.0.1, keyed cluster traffic, ${o.mode} replication${o.mode === 'sync' ? ': an answer leaves only after every peer applied the change' : ''}) behind nodecat's balancer (--health-interval 500). ${o.users} users at a time, each logging in, then adding to its cart, incrementing its counter and reading its state (about 30/30/35 %, ${o.thinkMs} ms apart), logging out with a ${(o.logoutChance * 100).toFixed(0)} % chance per step, after which a new user takes over. Load for ${loadS.toFixed(0)} s.`,
    `A fault every ${o.faultPeriodMs / 1000} s, one node at a time, rotating over the nodes and over the kinds (${o.kinds.join(', ')}): kill = SIGKILL and ${o.downMs / 1000} s down, term = SIGTERM (graceful drain) and ${o.downMs / 1000} s down, quick = SIGKILL and an immediate restart (back before the others' 3 s drop time). Each fault ends when the node has its sessions again (its \`node-ready\` line: state transfer done) and the balancer sees it OK. No fault starts in the last ${o.quietEndMs / 1000} s.`,
    'Every answer a user gets is checked against what the server acknowledged to that user before (a 2xx answer to its own write): a lost session is an answer that no longer shows the user logged in; a lost acknowledged write is a counter below an acknowledged value or an acknowledged cart item missing. After the load every session still logged in is read once more through the balancer.',
    `Sampled every ${o.sampleMs / 1000} s: RSS and open fds from /proc/<pid>; heap used and active handles (process.getActiveResourcesInfo) from a probe preloaded into each process (\`--expose-gc --import\` @nodecat/testkit's process-probe, every ${o.probeMs / 1000} s, a full GC before each sample, written to fd 3), so the heap figure is what stays reachable. The trends leave out the first ${o.warmupMs / 1000} s of each process (JIT, state transfer, pools filling) and end with the load; a restarted node is a new process ("n1#2"); instances with fewer than 6 samples in that window are left out.`,
    `Summary: ${lostSessions} lost sessions and ${lostWrites} lost acknowledged writes in ${l.requests} requests (${l.ackedWrites} acknowledged writes) across ${r.faults.length} faults; ${l.failed} failed requests. Balancer: heap ${fmt(b('heapUsed'), 'heapUsed')} MB, RSS ${fmt(b('rss'), 'rss')} MB, fds ${fmt(b('fds'), 'fds')}; open fds ${r.balancerFds.baseline} before the load and ${r.balancerFds.afterIdle} after it once idle. Nodes' heap slope (second half): ${nodeHeap.map((t) => `${t.name} ${(t.slopePerMin / MB).toFixed(2)} (${(t.lateSlopePerMin / MB).toFixed(2)}) MB/min`).join(', ') || 'n/a (no node lived long enough)'}.`,
    'Expect the nodes\' heap and RSS to rise for their first two minutes and then stay flat: a node keeps a tombstone for every invalidated or renamed session id for 120 s (tombstoneTime, so that a late delta cannot bring it back), and every login renames one and every logout invalidates one. A node restarted by a fault lives about nodes × period, less than that with the defaults: run with `--kinds none` (no faults) or a longer `--period` to see its plateau.',
    'A slope is a figure, not a verdict: on a run of a few minutes, GC timing and pools filling up move it; compare runs of different lengths (--minutes) before calling anything a leak.',
    `![memory and handles over time](${name}.svg)`
  ]
  writeReport({ name, title: `nodecat soak: mixed load with rotating node faults, ${o.mode} replication`, command, machine, notes, tables, raw: r })
  const footer = `${machine.date} · ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, load ${machine.loadavg[0]} at start · ${command}`
  writeFileSync(svg, soakChartSvg(`nodecat soak, ${o.mode} replication: ${r.faults.length} faults, ${l.requests} requests, ${lostSessions} lost sessions, ${lostWrites} lost writes`, r.samples, r.faults, footer))
  process.stdout.write(`written: ${path.relative(process.cwd(), svg)}\n`)
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      long: { type: 'boolean' },
      users: { type: 'string' },
      mode: { type: 'string' },
      period: { type: 'string' },
      down: { type: 'string' },
      kinds: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean' }
    }
  })
  if (values.help) { console.log(USAGE); return }
  const minutes = number(values.minutes, values.long ? 10 : 3, 'minutes', 0.5, 120)
  const mode = values.mode ?? 'sync'
  if (mode !== 'sync' && mode !== 'async') throw new Error(`--mode must be sync or async, not ${JSON.stringify(mode)}`)
  const kinds = values.kinds === 'none' ? [] : (values.kinds ?? FAULT_KINDS.join(',')).split(',').map((k) => k.trim()).filter((k) => k !== '')
  for (const k of kinds) if (!FAULT_KINDS.includes(k as FaultKind)) throw new Error(`--kinds takes ${FAULT_KINDS.join(', ')}, not ${JSON.stringify(k)}`)
  const durationMs = Math.round(minutes * 60_000)
  const machine = machineInfo()
  const progress = createProgress('soak', Math.ceil(durationMs / 1000))
  let phase = 'starting'
  let loadFrom = 0
  let ticks = 0
  const timer = setInterval(() => {
    if (loadFrom === 0) { progress.status(phase); return }
    const due = Math.min(Math.floor((Date.now() - loadFrom) / 1000), Math.ceil(durationMs / 1000))
    while (ticks < due) { ticks++; progress.tick(phase) }
    progress.status(phase)
  }, 1000)
  let result: SoakResult
  try {
    result = await runSoak({
      mode,
      durationMs,
      users: number(values.users, SOAK_DEFAULTS.users, 'users', 1, 200),
      faultPeriodMs: number(values.period, SOAK_DEFAULTS.faultPeriodMs / 1000, 'period', 5, 600) * 1000,
      downMs: number(values.down, SOAK_DEFAULTS.downMs / 1000, 'down', 0, 60) * 1000,
      kinds: kinds as FaultKind[],
      seed: number(values.seed, SOAK_DEFAULTS.seed, 'seed', 0, 2 ** 31)
    }, {
      spawn: (name, command, args, options) => startChild(name, command, args, options),
      onStatus: (s) => { phase = s; if (s === 'load') loadFrom = Date.now() }
    })
  } finally {
    clearInterval(timer)
    progress.stop()
  }
  report(result, `pnpm soak ${process.argv.slice(2).join(' ')}`.trim(), machine)
}

await runMain(main)
