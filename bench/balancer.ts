/**
 * pnpm bench:balancer — what a sticky reverse proxy costs, with keep-alive:
 * requests/s, p50/p99 latency and CPU µs per request, for direct-to-backend, HAProxy, nginx and
 * nodecat's balancer, all in the same run, interleaved and repeated. Each proxy is reported as a
 * ratio to direct, nodecat's also as a ratio to HAProxy (per repetition, then the median). The
 * every-core pair: nodecat's `--workers auto` against HAProxy with `nbthread` = the same count,
 * and against nodecat's single process.
 * Everything listens on 127.0.0.1; proxies are started by PID and stopped at the end.
 */
import { parseArgs } from 'node:util'
import { availableParallelism } from 'node:os'
import { runMain } from './lib/cleanup.js'
import { machineInfo } from './lib/machine.js'
import { createProgress } from './lib/progress.js'
import { runInterleaved, column, Unavailable, oneLine, type Variant } from './lib/interleave.js'
import { summarize, pairedRatio, formatSummary, formatRatio, msSummary, usSummary } from './lib/stats.js'
import { rpsBars, writeReport } from './lib/report.js'
import { startWorker } from './lib/children.js'
import { tempDir } from './lib/tempdir.js'
import { freePorts } from './lib/ports.js'
import { cpuSecondsOf } from './lib/cpu-time.js'
import { httpGet } from './lib/http-get.js'
import { ensureDebianTool, toolVersion } from './lib/tools.js'
import { runWrk, runAutocannon, sessionCookies, writeWrkScript, type LoadOptions, type LoadResult } from './lib/http-load.js'
import { startHaproxy } from './lib/proxy-haproxy.js'
import { startNginx } from './lib/proxy-nginx.js'
import { startNodecatBalancer } from './lib/proxy-nodecat.js'
import type { Backend, ProxyTarget } from './lib/proxy-target.js'
import { piProfile, CFS_PERIOD_US, type PiProfile } from './lib/pi-profiles.js'
import { createCpuCgroup, type CpuCgroup } from './lib/cgroup.js'
import { isRoot } from './lib/tools.js'

const USAGE = `usage: pnpm bench:balancer [--long] [--reps N] [--seconds S] [--connections C] [--profile pi3|pi4|pi5]
  default: 3 repetitions of 5 s per target (about 1.5 minutes); --long: 5 of 10 s
  --profile: each proxy runs under the CPU quota of one core of that board (root: cgroups)`

const ROUTES = ['node1', 'node2']

interface Sample extends LoadResult {
  proxyCpuUsPerRequest: number
  backendCpuUsPerRequest: number
}

/** Checks that a proxy honours the route in the cookie and passes the first Set-Cookie through. */
async function checkSticky (url: string): Promise<string> {
  for (const route of ROUTES) {
    const r = await httpGet(url, { cookie: `JSESSIONID=${'ab'.repeat(16)}.${route}` })
    const got = (JSON.parse(r.body) as { route: string }).route
    if (r.status !== 200 || got !== route) return `FAILED: cookie route ${route} answered by ${got} (HTTP ${r.status})`
  }
  const first = await httpGet(url)
  const setCookie = String(first.headers['set-cookie'] ?? '')
  if (!/JSESSIONID=[0-9a-f]{32}\.node\d/.test(setCookie)) return `FAILED: no JSESSIONID Set-Cookie on a first request (${setCookie || 'none'})`
  return 'ok'
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { long: { type: 'boolean' }, reps: { type: 'string' }, seconds: { type: 'string' }, connections: { type: 'string' }, profile: { type: 'string' }, help: { type: 'boolean' } } })
  if (values.help) { console.log(USAGE); return }
  const profile: PiProfile | null = values.profile === undefined || values.profile === 'host' ? null : piProfile(values.profile)
  if (profile && !isRoot()) throw new Error(`--profile ${profile.name} needs root (a CPU cgroup per proxy); run as root or leave out --profile`)
  const machine = machineInfo(profile?.name)
  const reps = Number(values.reps ?? (values.long ? 5 : 3))
  const seconds = Number(values.seconds ?? (values.long ? 10 : 5))
  const connections = Number(values.connections ?? 50)
  const log = (s: string): void => { process.stdout.write(`${s}\n`) }
  const dir = tempDir('balancer')

  // backends
  const backends: Backend[] = []
  for (const route of ROUTES) {
    const w = startWorker(`backend ${route}`, 'http-backend.js', [route, '127.0.0.1'])
    const { port } = await w.waitFor((l) => l.event === 'listening')
    backends.push({ route, port: Number(port), pid: w.pid })
  }
  const backendPids = backends.map((b) => b.pid)

  // load generator
  const wrk = ensureDebianTool('wrk', 'wrk', log)
  const script = writeWrkScript(dir, sessionCookies(ROUTES))
  const loadTool = wrk.path ? toolVersion(wrk.path, ['-v']) : `autocannon (wrk unavailable: ${wrk.note})`
  const load = (url: string, durationS: number): Promise<LoadResult> => {
    const o: LoadOptions = { url, connections, durationS, routes: ROUTES }
    return wrk.path ? runWrk(wrk.path, script, o) : runAutocannon(o)
  }

  // targets
  const [pHa, pNg, pNc, pAdmin, pHaN, pNcN, pAdminN] = await freePorts(7)
  const cores = availableParallelism()
  const direct: ProxyTarget = { name: 'direct', url: `http://127.0.0.1:${backends[0]!.port}/`, pids: [], version: `node:http backend ${ROUTES[0]} (one of the two)` }
  const started: Array<ProxyTarget | Unavailable> = [
    direct,
    await startHaproxy(dir, pHa!, backends, log),
    await startNginx(dir, pNg!, backends, log),
    await startNodecatBalancer(pNc!, pAdmin!, backends),
    await startHaproxy(dir, pHaN!, backends, log, false, cores),
    // why auto: what a user types; it is availableParallelism(), the nbthread above
    await startNodecatBalancer(pNcN!, pAdminN!, backends, 0, cores)
  ]
  const names = ['direct', 'HAProxy', 'nginx', 'nodecat balancer', `HAProxy nbthread ${cores}`, 'nodecat --workers auto']
  /** each nodecat variant's HAProxy counterpart, by index */
  const haOf: Record<number, number> = { 3: 1, 5: 4 }
  // why: on a Pi the proxy is what runs on the board; the clients and backends are other machines
  const quotas = new Map<string, CpuCgroup>()
  if (profile) {
    for (const [i, t] of started.entries()) {
      if (t instanceof Unavailable || i === 0) continue
      const cg = createCpuCgroup(`ncbal${process.pid}p${i}`, profile.cpuFraction, CFS_PERIOD_US)
      for (const pid of t.pids) cg.add(pid)
      quotas.set(names[i]!, cg)
    }
  }
  const sticky = new Map<string, string>()
  for (const [i, t] of started.entries()) {
    if (t instanceof Unavailable || i === 0) continue
    try { sticky.set(names[i]!, await checkSticky(t.url)) } catch (err) { sticky.set(names[i]!, `FAILED: ${(err as Error).message}`) }
    await load(t.url, 1) // why: warm-up (JIT, pooled upstream connections), not counted
  }
  await load(direct.url, 1)

  const variants: Array<Variant<Sample>> = started.map((t, i) => ({
    name: names[i]!,
    run: async () => {
      if (t instanceof Unavailable) return t
      const p0 = cpuSecondsOf(t.pids)
      const b0 = cpuSecondsOf(backendPids)
      const r = await load(t.url, seconds)
      const p1 = cpuSecondsOf(t.pids)
      const b1 = cpuSecondsOf(backendPids)
      return { ...r, proxyCpuUsPerRequest: t.pids.length ? ((p1 - p0) / r.requests) * 1e6 : NaN, backendCpuUsPerRequest: ((b1 - b0) / r.requests) * 1e6 }
    }
  }))
  const progress = createProgress('balancer', reps * variants.length)
  const outcomes = await runInterleaved(variants, reps, progress)
  progress.stop()

  const rps = outcomes.map((o) => column(o, reps, (s) => s.rps))
  const directRps = rps[0]!
  const rows = outcomes.map((o, i) => {
    if (o.unavailable !== undefined) return [o.name, 'not available', '', '', '', '', '', '', o.unavailable]
    const col = (f: (s: Sample) => number): number[] => column(o, reps, f)
    return [
      o.name,
      formatSummary(summarize(rps[i]!)),
      i === 0 ? '1.00×' : formatRatio(pairedRatio(rps[i]!, directRps)),
      haOf[i] !== undefined ? formatRatio(pairedRatio(rps[i]!, rps[haOf[i]!]!)) : i === 1 || i === 4 ? '1.00×' : '',
      msSummary(col((s) => s.p50ms)),
      msSummary(col((s) => s.p99ms)),
      i === 0 ? '–' : usSummary(col((s) => s.proxyCpuUsPerRequest)),
      usSummary(col((s) => s.backendCpuUsPerRequest)),
      [i === 0 ? '' : `sticky ${sticky.get(o.name) ?? '?'}`, i === 5 && outcomes[3]!.unavailable === undefined ? `${formatRatio(pairedRatio(rps[5]!, rps[3]!))} nodecat's one process` : '', quotas.has(o.name) ? `throttled ${throttledShare(quotas.get(o.name)!)}` : '', `errors ${summarize(col((s) => s.errors)).max}`, ...o.errors.map(oneLine)].filter(Boolean).join('; ')
    ]
  })
  const versions = started.map((t, i) => `${names[i]}: ${t instanceof Unavailable ? `not available (${t.reason})` : t.version}`)
  writeReport({
    name: profile ? `balancer-${profile.name}` : 'balancer',
    title: `nodecat balancer vs HAProxy vs nginx (sticky, keep-alive, 127.0.0.1)${profile ? ` — ${profile.name} EMULATION` : ''}`,
    command: `pnpm bench:balancer ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    notes: [
      ...(profile
        ? [`EMULATION, not a Raspberry Pi: each proxy runs in a CFS CPU-quota cgroup of ${profile.cpuFraction} of one core of this machine (${profile.models}); wrk and the backends stand for other machines and are not limited. The link is not shaped: at these response sizes the load is a few MB/s, far below the board's Ethernet. Throughput and CPU cost are meaningful; tail latency is NOT (a throttled process stalls for up to period − quota). "throttled" = share of CFS periods in which the quota bit, proof that it applied.`]
        : []),
      `Load: ${loadTool}, 1 thread, ${connections} keep-alive connections, ${seconds} s per run, ${reps} interleaved repetitions; median (min–max).`,
      `Every request carries a JSESSIONID cookie <32 hex>.<route>, routes alternating ${ROUTES.join('/')}, so the proxies route on every request; "direct" goes to backend ${ROUTES[0]} only.`,
      'Ratios are per repetition (proxy / direct of the same repetition), then the median: read "0.75×" as "keeps 75 % of the direct throughput". nodecat is also divided by HAProxy.',
      `Every core: "nodecat --workers auto" (${cores} serving processes and a primary that hands out connections and runs the checks) is divided by "HAProxy nbthread ${cores}", and by nodecat's one process (notes column). Its CPU per request counts the primary and the serving processes. With wrk and the backends on the same ${machine.cores} cores, more proxy processes mostly compete with them: the every-core gain shows on a machine where the proxy has the cores to itself.`,
      'The serving processes of --workers are grandchildren of this benchmark: the foreign-CPU note counts them as foreign while they run.',
      'CPU µs/request comes from /proc/<pid>/stat (utime+stime) deltas over each run divided by the requests served: the steadiest figure on a shared machine. Backend CPU is both backends together.',
      'No CPU pinning: wrk, the proxy and the backends share 2 cores, so req/s mixes the proxy\'s cost with the load generator\'s; prefer the CPU column to compare proxies.',
      'Shared machine: other jobs may have run at the same time (see load at start); absolute figures are good to about ±30 %.',
      ...versions
    ],
    tables: [{
      title: 'Requests/s, latency and CPU per request',
      columns: ['target', 'req/s', 'vs direct', 'vs HAProxy', 'p50 ms', 'p99 ms', 'proxy CPU µs/req', 'backend CPU µs/req', 'notes'],
      rows
    }],
    chart: {
      title: 'Sticky reverse proxies, keep-alive, 127.0.0.1',
      unit: `requests/s (median of ${reps}; whisker = min–max)`,
      bars: rpsBars(outcomes, rps, directRps, '× direct')
    },
    raw: { reps, seconds, connections, loadTool, sticky: Object.fromEntries(sticky), outcomes }
  })
}

function throttledShare (cg: CpuCgroup): string {
  const t = cg.throttled()
  return t.periods > 0 ? `${Math.round((100 * t.throttledPeriods) / t.periods)} % of periods` : 'n/a'
}

await runMain(main)
