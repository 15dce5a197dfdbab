/**
 * pnpm bench:was — nodecat against a real Apache Tomcat 10 cluster on the same workload, on this
 * machine, in network namespaces the bench creates (one per machine, one for the load generator).
 *
 * Workload ("counter"): GET /count reads an integer from the session, writes it back +1 and
 * replies with a few lines (a JSP on Tomcat, bench/was/counter-app.js on nodecat); 16 sessions in
 * rotation (cookies made first), one session, and read-only (GET /read, nothing written). wrk,
 * keep-alive connections, bounded duration.
 *
 * 1. Node level: one node of a 2-node cluster hit directly (its peer running): nodecat-was in
 *    8 configurations (delta/backup manager × async/sync × cluster key or not) against one Tomcat
 *    of a two-node DeltaManager cluster (SimpleTcpCluster, McastService, NioReceiver,
 *    ReplicationValve, JvmRouteBinderValve; the classic setup's server.xml) on its HTTP connector.
 * 2. System level: Apache httpd + mod_jk (lb worker, sticky) in front of the two Tomcats over AJP,
 *    against nodecat-balancer in front of two `nodecat-was --workers auto` machines.
 *
 * Reported: requests/s, CPU µs per request of all the stack's processes (/proc), the ratios
 * nodecat/Tomcat and nodecat stack/classic stack (per repetition, interleaved), and at the end
 * whether every peer's copy of each session equals its owner's, for both stacks.
 */
import { parseArgs } from 'node:util'
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { generateKey } from '@nodecat/tribes'
import { sleep } from '@nodecat/testkit'
import { runMain, isAborted } from './lib/cleanup.js'
import { machineInfo } from './lib/machine.js'
import { createProgress } from './lib/progress.js'
import { runInterleaved, column, Unavailable, oneLine, type Variant, type VariantOutcome } from './lib/interleave.js'
import { summarize, pairedRatio, formatSummary, formatRatio, msSummary, usSummary, formatNumber } from './lib/stats.js'
import { writeReport, type ReportTable } from './lib/report.js'
import type { Bar } from './lib/svg-chart.js'
import { tempDir } from './lib/tempdir.js'
import { createNodeNetwork, type NodeNet } from './lib/netns.js'
import { ensureDebianTool, isRoot, toolVersion } from './lib/tools.js'
import { wasAvailable } from './lib/was-cluster.js'
import type { LoadResult } from './lib/http-load.js'
import { ensureClassicSoftware, type ClassicSoftware } from './lib/tomcat-install.js'
import { startTomcatCluster, type TomcatNode } from './lib/tomcat.js'
import { startApache, treeCpuSeconds, type ApacheFront } from './lib/apache.js'
import {
  NODECAT_CONFIGS, WORKLOADS, workloadLabel, usableCores, httpBatch, countOf, makeSessions, writeWrkScript, runWrk,
  startNodecatPair, startNodecatStack, type Workload, type NodecatNode, type NodecatStack
} from './lib/tomcat-stacks.js'

const USAGE = `usage: pnpm bench:was [--long] [--smoke] [--seconds S] [--reps N] [--warmup S] [--connections C] [--no-install] [--no-classic]
  default: 3 interleaved repetitions of 5 s per measurement, a warm-up run per stack first
           (10 s per workload for the Tomcat stacks, 2 s for nodecat's): about 12 minutes
  --long         5 repetitions of 10 s (about 30 minutes)
  --smoke        about a second per measurement, one repetition, no warm-up (for the smoke test)
  --warmup S     seconds of each workload's warm-up run on the Tomcat stacks (nodecat's: S/5, at least 1)
  --connections  wrk's keep-alive connections (default 16)
  --configs      nodecat's node-level configurations: all (default; --smoke: delta-async-key,backup-sync-nokey)
                 or a list of delta|backup-async|sync-key|nokey
  --no-install   do not apt-get the classic stack when it is missing (it is then reported not available)
  --no-classic   nodecat only (the Tomcat and Apache rows say "not run")
  --no-system    node level only (no system-level stacks)
  --before DIR   also run the node-level configurations from another built tree (a git worktree of an
                 earlier commit with packages/was-node/dist built), interleaved with this tree's, and
                 report before → after per configuration (p50/p99, requests/s, CPU per request)
Needs root (network namespaces). Installs tomcat10-common, libtomcat10-java, apache2-bin and
libapache2-mod-jk from Debian when missing, and wrk.`

const SESSIONS = 16
const DEFAULT_CONFIG = 'delta, async, key'
/** --smoke's node-level configurations: both managers, both modes, with and without a key */
const SMOKE_CONFIGS = 'delta-async-key,backup-sync-nokey'
const TARGET_NODE = 1.1
const TARGET_SYSTEM = 3

interface Sample extends LoadResult {
  /** CPU of every process of the stack (both nodes; and the front at system level), µs per request */
  cpuUsPerRequest: number
  /** the front alone (httpd, the balancer), µs per request; NaN at node level */
  frontCpuUsPerRequest: number
}

type Kind = 'tomcat' | 'nodecat' | 'classic-stack' | 'nodecat-stack'

/** One thing the load is pointed at: a node (node level) or a stack's front (system level). */
interface Target {
  level: 'node' | 'system'
  kind: Kind
  name: string
  url: string
  /** the 16 rotated sessions, and the single one */
  cookies: string[]
  single: string
  scripts: Record<Workload, string>
  /** every process of the stack */
  pids: () => number[]
  frontPids: () => number[]
  /** the Tomcat-based stacks get the longer warm-up */
  jvm: boolean
  /** members and where each route is served (for the replica check) */
  members: Array<{ route: string, url: string }>
  running: () => boolean
}

interface ReplicaResult {
  stack: string
  level: 'node' | 'system'
  sessions: number
  /** sessions whose owner answered with a counter */
  ownerRead: number
  /** peer copies compared, and how many equal the owner's */
  copies: number
  equal: number
  /** nodecat: copies identical by the status page's per-session digest (stamp + attributes) */
  digestEqual: number | null
  /** nodecat: session fetches the peers made during the check (0: every value read was the peer's own copy) */
  fetches: number | null
  /** sum of the owners' counters */
  ownerTotal: number
  details: string[]
}

const base = (cookie: string): string => cookie.slice(cookie.indexOf('=') + 1).split('.')[0]!
const routeOf = (cookie: string): string => cookie.slice(cookie.indexOf('=') + 1).split('.').slice(1).join('.')
const sessionRef = (cookie: string): string => 'sess:' + createHash('sha256').update(base(cookie)).digest('hex').slice(0, 12)

interface NodeStatus { replication?: { fetch?: { requests?: number } }, replicas?: { sessions?: Record<string, string> } }

const parseStatus = (r: { body?: string } | undefined): NodeStatus => { try { return JSON.parse(r?.body ?? '') as NodeStatus } catch { return {} } }

/**
 * Every peer's copy of each session against its owner's, for every target, in four batches of
 * requests made in order from the load generator's namespace:
 * 1. each session read on its owner first (GET /read: nothing written). For Tomcat, each owner read
 *    is followed at once by the read on the other node with the same cookie: the JvmRouteBinderValve
 *    there renames the session from that node's own copy (Tomcat never fetches a session), and the
 *    page shows that copy's counter;
 * 2. nodecat: every member's /_nodecat/status?replicas=1, a digest of each copy it holds (stamp,
 *    route, attributes), compared with the owner's before any request touches the copies;
 * 3. nodecat: each peer read with a cookie naming the peer's own route, so it serves its own copy
 *    without asking the owner (nodecat fetches only for a foreign route or a missing session);
 * 4. nodecat: the status again: its fetch counter shows whether any fetch happened during step 3.
 */
async function checkReplicas (lg: NodeNet, targets: Target[]): Promise<ReplicaResult[]> {
  const isTomcat = (t: Target): boolean => t.kind === 'tomcat' || t.kind === 'classic-stack'
  const ownerOf = (t: Target, c: string): { route: string, url: string } | undefined => t.members.find((m) => m.route === routeOf(c))
  const sessionsOf = (t: Target): string[] => [...t.cookies, t.single]
  // 1: owners (and Tomcat's peers right after their owner)
  const first: Array<{ url: string, cookie: string }> = []
  for (const t of targets) {
    for (const c of sessionsOf(t)) {
      const owner = ownerOf(t, c)
      if (owner === undefined) continue
      first.push({ url: `${owner.url}/read`, cookie: c })
      if (isTomcat(t)) for (const m of t.members) if (m !== owner) first.push({ url: `${m.url}/read`, cookie: c })
    }
  }
  const firstRes = await httpBatch(lg, first)
  const nodecats = targets.filter((t) => !isTomcat(t))
  const statusUrls = nodecats.flatMap((t) => t.members.map((m) => ({ url: `${m.url}/_nodecat/status?replicas=1` })))
  // 2: the copies' digests, before any request touches them
  const before = (await httpBatch(lg, statusUrls)).map(parseStatus)
  // 3: each peer's own copy
  const peerReads = nodecats.flatMap((t) => sessionsOf(t).flatMap((c) => {
    const owner = ownerOf(t, c)
    return owner === undefined ? [] : t.members.filter((m) => m !== owner).map((m) => ({ url: `${m.url}/read`, cookie: `JSESSIONID=${base(c)}.${m.route}` }))
  }))
  const peerRes = await httpBatch(lg, peerReads)
  // 4: fetches during 3
  const after = (await httpBatch(lg, statusUrls)).map(parseStatus)

  let k = 0
  let p = 0
  let st = 0
  return targets.map((t) => {
    const r: ReplicaResult = { stack: t.name, level: t.level, sessions: sessionsOf(t).length, ownerRead: 0, copies: 0, equal: 0, digestEqual: isTomcat(t) ? null : 0, fetches: isTomcat(t) ? null : 0, ownerTotal: 0, details: [] }
    const statusBase = st
    if (!isTomcat(t)) st += t.members.length
    for (const c of sessionsOf(t)) {
      const owner = ownerOf(t, c)
      if (owner === undefined) { r.details.push(`${routeOf(c)}: no such member`); continue }
      const count = countOf(firstRes[k++]!)
      if (count !== null) { r.ownerRead++; r.ownerTotal += count }
      const oi = t.members.indexOf(owner)
      t.members.forEach((m, mi) => {
        if (mi === oi) return
        const copy = countOf(isTomcat(t) ? firstRes[k++]! : peerRes[p++]!)
        r.copies++
        if (count !== null && copy === count) r.equal++
        else r.details.push(`${base(c).slice(0, 8)}… owner ${owner.route} count ${count ?? 'none'}, ${m.route} ${copy ?? 'none'}`)
        if (!isTomcat(t)) {
          const own = before[statusBase + oi]?.replicas?.sessions?.[sessionRef(c)]
          const held = before[statusBase + mi]?.replicas?.sessions?.[sessionRef(c)]
          if (own !== undefined && held === own) r.digestEqual!++
          else r.details.push(`${base(c).slice(0, 8)}… copy on ${m.route} "${held ?? 'none'}", owner's "${own ?? 'none'}"`)
        }
      })
    }
    if (!isTomcat(t)) {
      for (let i = 0; i < t.members.length; i++) {
        r.fetches! += (after[statusBase + i]?.replication?.fetch?.requests ?? NaN) - (before[statusBase + i]?.replication?.fetch?.requests ?? NaN)
      }
    }
    return r
  })
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      long: { type: 'boolean' },
      smoke: { type: 'boolean' },
      reps: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      configs: { type: 'string' },
      'no-install': { type: 'boolean' },
      'no-classic': { type: 'boolean' },
      'no-system': { type: 'boolean' },
      before: { type: 'string' },
      help: { type: 'boolean' }
    }
  })
  if (values.help) { console.log(USAGE); return }
  if (!isRoot()) throw new Error('bench:was needs root: it creates network namespaces (one per machine) so that Tomcat\'s multicast stays off the host')
  const notBuilt = wasAvailable()
  if (notBuilt !== null) throw new Error(notBuilt)
  const smoke = values.smoke === true
  const reps = Number(values.reps ?? (smoke ? 1 : values.long ? 5 : 3))
  const seconds = Number(values.seconds ?? (smoke ? 1 : values.long ? 10 : 5))
  const warmJvm = Number(values.warmup ?? (smoke ? 0 : 10))
  const warmNode = warmJvm === 0 ? 0 : Math.max(1, Math.round(warmJvm / 5))
  const connections = Number(values.connections ?? 16)
  for (const [name, v, max] of [['--reps', reps, 50], ['--seconds', seconds, 600], ['--warmup', warmJvm, 600], ['--connections', connections, 1000]] as const) {
    if (!Number.isInteger(v) || v < (name === '--warmup' ? 0 : 1) || v > max) throw new Error(`${name} must be an integer up to ${max}, got ${v}`)
  }
  const wanted = (values.configs ?? (smoke ? SMOKE_CONFIGS : 'all')).split(',').map((c) => c.trim())
  const configs = NODECAT_CONFIGS.filter((c) => wanted.includes('all') || wanted.includes(c.id))
  const unknown = wanted.filter((w) => w !== 'all' && !NODECAT_CONFIGS.some((c) => c.id === w))
  if (unknown.length > 0 || configs.length === 0) throw new Error(`--configs: unknown ${unknown.join(', ') || '(none given)'}; known: all, ${NODECAT_CONFIGS.map((c) => c.id).join(', ')}`)
  const log = (s: string): void => { process.stdout.write(`${s}\n`) }
  const before = values.before === undefined ? null : beforeTree(values.before)
  const system = values['no-system'] !== true
  const machine = machineInfo()
  const dir = tempDir('was')
  const key = generateKey()

  const wrk = ensureDebianTool('wrk', 'wrk', log)
  if (wrk.path === null) throw new Error(`wrk is needed: ${wrk.note}`)
  const wrkVersion = toolVersion(wrk.path, ['-v'])
  let classic: ClassicSoftware | string = 'not run (--no-classic)'
  if (values['no-classic'] !== true) classic = ensureClassicSoftware(dir, log, values['no-install'] !== true)
  if (typeof classic === 'string') log(`classic stack not available: ${classic}`)

  // one namespace per machine plus the load generator's, on one bridge
  const [lg, web, nc1, nc2, tc1, tc2] = createNodeNetwork(6, null) as [NodeNet, NodeNet, NodeNet, NodeNet, NodeNet, NodeNet]
  log(`namespaces: load generator ${lg.address}, front ${web.address}, nodecat machines ${nc1.address} ${nc2.address}, Tomcat machines ${tc1.address} ${tc2.address}`)

  const t0 = Date.now()
  const since = (): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`
  log(`starting the Tomcat cluster, nodecat's ${configs.length} node-level clusters and the nodecat stack…`)
  const tomcatsP: Promise<TomcatNode[] | string> = typeof classic === 'string'
    ? Promise.resolve(classic)
    : startTomcatCluster(dir, classic, [tc1, tc2]).catch((err: Error) => `Tomcat did not start: ${oneLine(err.message)}`)
  const pairs: Array<NodecatNode[] | null> = await Promise.all(NODECAT_CONFIGS.map((c, i) => configs.includes(c) ? startNodecatPair(c, i, [nc1, nc2], key) : null))
  // why other ports: the earlier tree's pairs run beside this tree's, on the same machines
  const beforePairs: Array<NodecatNode[] | null> = before === null
    ? []
    : await Promise.all(NODECAT_CONFIGS.map((c, i) => configs.includes(c) ? startNodecatPair(c, NODECAT_CONFIGS.length + i, [nc1, nc2], key, before.cli, `${c.name}, before ${before.rev}`) : null))
  log(`nodecat node-level clusters ready (${since()})`)
  const stack: NodecatStack | null = system ? await startNodecatStack([nc1, nc2], web, key) : null
  // why also one worker per machine: it shows what --workers auto costs or gains on this box
  const stack1: NodecatStack | null = system && !smoke ? await startNodecatStack([nc1, nc2], web, key, 1) : null
  if (stack !== null) log(`nodecat stacks ready (${since()})`)
  const tomcats = await tomcatsP
  let apache: ApacheFront | string = typeof tomcats === 'string' ? tomcats : system ? 'not started' : 'not run (--no-system)'
  if (system && typeof tomcats !== 'string' && typeof classic !== 'string') {
    apache = await startApache(dir, classic, web, tomcats).catch((err: Error) => `apache2 did not start: ${oneLine(err.message)}`)
  }
  log(`classic stack ${typeof apache === 'string' ? `not available: ${apache}` : 'ready'} (${since()})`)
  if (isAborted()) return

  // sessions: 16 + 1 per target, made through the target's own entry
  const targets: Array<Target | { level: 'node' | 'system', kind: Kind, name: string, unavailable: string }> = []
  const scriptsFor = (name: string, cookies: string[], single: string): Record<Workload, string> => ({
    write16: writeWrkScript(dir, name, 'write16', cookies), write1: writeWrkScript(dir, name, 'write1', [single]), read16: writeWrkScript(dir, name, 'read16', cookies)
  })
  const pending: Array<{ at: number, t: Omit<Target, 'cookies' | 'single' | 'scripts'> }> = []
  const addTarget = (t: Omit<Target, 'cookies' | 'single' | 'scripts'>): void => {
    pending.push({ at: targets.length, t })
    targets.push({ level: t.level, kind: t.kind, name: t.name, unavailable: 'no sessions made' })
  }
  if (typeof tomcats === 'string') targets.push({ level: 'node', kind: 'tomcat', name: 'Tomcat 10 (DeltaManager)', unavailable: tomcats })
  else {
    addTarget({
      level: 'node',
      kind: 'tomcat',
      name: 'Tomcat 10 (DeltaManager)',
      url: tomcats[0]!.url,
      pids: () => tomcats.map((n) => n.child.pid),
      frontPids: () => [],
      jvm: true,
      members: tomcats.map((n) => ({ route: n.route, url: n.url })),
      running: () => tomcats.every((n) => n.child.isRunning())
    })
  }
  for (let i = 0; i < NODECAT_CONFIGS.length; i++) {
    const nodes = pairs[i]
    if (!nodes) continue
    addTarget({
      level: 'node',
      kind: 'nodecat',
      name: `nodecat (${NODECAT_CONFIGS[i]!.name})`,
      url: nodes[0]!.url,
      pids: () => nodes.map((n) => n.child.pid),
      frontPids: () => [],
      jvm: false,
      members: nodes.map((n) => ({ route: n.route, url: n.url })),
      running: () => nodes.every((n) => n.child.isRunning())
    })
    const old = beforePairs[i]
    if (old) {
      addTarget({
        level: 'node',
        kind: 'nodecat',
        name: beforeName(NODECAT_CONFIGS[i]!.name, before!.rev),
        url: old[0]!.url,
        pids: () => old.map((n) => n.child.pid),
        frontPids: () => [],
        jvm: false,
        members: old.map((n) => ({ route: n.route, url: n.url })),
        running: () => old.every((n) => n.child.isRunning())
      })
    }
  }
  if (!system) { /* --no-system: no system-level targets */ } else if (typeof apache === 'string' || typeof tomcats === 'string') targets.push({ level: 'system', kind: 'classic-stack', name: 'Apache httpd + mod_jk + 2 Tomcats', unavailable: typeof apache === 'string' ? apache : String(tomcats) })
  else {
    const front = apache
    addTarget({
      level: 'system',
      kind: 'classic-stack',
      name: 'Apache httpd + mod_jk + 2 Tomcats',
      url: front.url,
      pids: () => [front.child.pid, ...tomcats.map((n) => n.child.pid)],
      frontPids: () => [front.child.pid],
      jvm: true,
      members: tomcats.map((n) => ({ route: n.route, url: n.url })),
      running: () => front.child.isRunning() && tomcats.every((n) => n.child.isRunning())
    })
  }
  const cores = usableCores()
  for (const [st, per] of [[stack, `auto (${cores})`], [stack1, '1']] as const) {
    if (st === null) continue
    addTarget({
      level: 'system',
      kind: 'nodecat-stack',
      name: `nodecat-balancer + 2 × nodecat-was --workers ${per}`,
      url: st.url,
      pids: () => [st.balancer.pid, ...st.machines.map((m) => m.child.pid)],
      frontPids: () => [st.balancer.pid],
      jvm: false,
      members: st.machines.flatMap((m) => m.workers.map((w) => ({ route: w.route, url: w.url }))),
      running: () => st.balancer.isRunning() && st.machines.every((m) => m.child.isRunning())
    })
  }

  // why one batch: each batch is a process started in the load generator's namespace
  const made = await makeSessions(lg, pending.map((p) => p.t.url), SESSIONS + 1)
  pending.forEach(({ at, t }, i) => {
    const cookies = made[i]!.slice(0, SESSIONS)
    const single = made[i]![SESSIONS]!
    targets[at] = { ...t, cookies, single, scripts: scriptsFor(`${t.kind}-${at}`, cookies, single) }
  })
  log(`sessions made (${since()})`)

  const load = (t: Target, w: Workload, s: number): Promise<LoadResult> => runWrk(wrk.path!, lg, t.scripts[w], t.url, connections, s)
  const live = targets.filter((t): t is Target => 'url' in t)

  // warm-up: every workload once per stack, not measured (Tomcat's JIT: its first 10-second runs are 2-3× slower)
  if (warmJvm > 0) {
    const progress = createProgress('was warm-up', live.length * WORKLOADS.length)
    for (const t of live) {
      for (const w of WORKLOADS) {
        if (isAborted()) return
        progress.status(`${t.name}: ${workloadLabel[w]}`)
        await load(t, w, t.jvm ? warmJvm : warmNode)
        progress.tick(`${t.name}: ${workloadLabel[w]}`)
      }
    }
    progress.stop()
  }

  const variantsOf = (level: 'node' | 'system'): Array<Variant<Sample> & { target: (typeof targets)[number], workload: Workload }> =>
    targets.filter((t) => t.level === level).flatMap((t) => WORKLOADS.map((w) => ({
      target: t,
      workload: w,
      name: `${t.name} · ${workloadLabel[w]}`,
      run: async (): Promise<Sample | Unavailable> => {
        if (!('url' in t)) return new Unavailable(t.unavailable)
        if (!t.running()) return new Unavailable(`${t.name}: a process of the stack is no longer running`)
        const pids = t.pids()
        const front = t.frontPids()
        const c0 = treeCpuSeconds(pids)
        const f0 = treeCpuSeconds(front)
        const r = await load(t, w, seconds)
        const c1 = treeCpuSeconds(pids)
        const f1 = treeCpuSeconds(front)
        return { ...r, cpuUsPerRequest: ((c1 - c0) / r.requests) * 1e6, frontCpuUsPerRequest: front.length === 0 ? NaN : ((f1 - f0) / r.requests) * 1e6 }
      }
    })))
  const nodeVariants = variantsOf('node')
  const systemVariants = variantsOf('system')
  const progress = createProgress('was', reps * (nodeVariants.length + systemVariants.length))
  const nodeOutcomes = await runInterleaved(nodeVariants, reps, progress)
  const systemOutcomes = await runInterleaved(systemVariants, reps, progress)
  progress.stop()
  if (isAborted()) return

  // replication equally complete? every peer's copy of each counter against its owner's
  await sleep(2000) // why: async replication: the last deltas are still on the wire when wrk stops
  const replicas = await checkReplicas(lg, live)

  // ---- the report ---------------------------------------------------------------------------------
  const rpsOf = (o: VariantOutcome<Sample>): number[] => column(o, reps, (s) => s.rps)
  const baselineOf = (outcomes: Array<VariantOutcome<Sample>>, variants: typeof nodeVariants, w: Workload, kind: Kind): number[] | null => {
    const i = variants.findIndex((v) => v.workload === w && v.target.kind === kind)
    return i < 0 || outcomes[i]!.unavailable !== undefined ? null : rpsOf(outcomes[i]!)
  }
  const rowsOf = (outcomes: Array<VariantOutcome<Sample>>, variants: typeof nodeVariants, baseKind: Kind, system: boolean): string[][] => outcomes.map((o, i) => {
    const v = variants[i]!
    const head = [v.target.name, workloadLabel[v.workload]]
    if (o.unavailable !== undefined) return [...head, 'not available', '', '', '', '', ...(system ? [''] : []), o.unavailable]
    const col = (f: (s: Sample) => number): number[] => column(o, reps, f)
    const against = baselineOf(outcomes, variants, v.workload, baseKind)
    const ratio = v.target.kind === baseKind ? '1.00×' : against === null ? 'n/a' : formatRatio(pairedRatio(rpsOf(o), against))
    return [
      ...head,
      formatSummary(summarize(rpsOf(o))),
      ratio,
      msSummary(col((s) => s.p50ms)),
      msSummary(col((s) => s.p99ms)),
      usSummary(col((s) => s.cpuUsPerRequest)),
      ...(system ? [usSummary(col((s) => s.frontCpuUsPerRequest))] : []),
      [`errors ${summarize(col((s) => s.errors)).max}`, ...o.errors.map(oneLine)].join('; ')
    ]
  })
  const ratioFor = (outcomes: Array<VariantOutcome<Sample>>, variants: typeof nodeVariants, name: string, baseKind: Kind, pick: (s: Sample) => number = (s) => s.rps): ReturnType<typeof pairedRatio> | null => {
    const i = variants.findIndex((v) => v.workload === 'write16' && v.target.name === name)
    const b = variants.findIndex((v) => v.workload === 'write16' && v.target.kind === baseKind)
    if (i < 0 || b < 0 || outcomes[b]!.unavailable !== undefined || outcomes[i]!.unavailable !== undefined) return null
    return pairedRatio(column(outcomes[i]!, reps, pick), column(outcomes[b]!, reps, pick))
  }
  const cpu = (s: Sample): number => s.cpuUsPerRequest
  const nodeRatio = ratioFor(nodeOutcomes, nodeVariants, `nodecat (${DEFAULT_CONFIG})`, 'tomcat')
  const systemName = targets.find((t) => t.kind === 'nodecat-stack')?.name ?? 'none'
  const system1Name = targets.filter((t) => t.kind === 'nodecat-stack')[1]?.name ?? 'none'
  const system1Ratio = ratioFor(systemOutcomes, systemVariants, system1Name, 'classic-stack')
  const systemRatio = ratioFor(systemOutcomes, systemVariants, systemName, 'classic-stack')
  const verdict = (r: ReturnType<typeof pairedRatio> | null, target: number): string =>
    r === null || r.n === 0 ? 'not measured (the classic stack did not run)' : r.median >= target ? `met (${formatRatio(r)})` : `not met (${formatRatio(r)})`

  const tables: ReportTable[] = [
    {
      title: 'Targets (issue 15), counter workload with 16 sessions, default settings on both sides',
      columns: ['target', 'measured (median of per-repetition ratios, min–max)', 'verdict'],
      rows: [
        [`node level, one worker: nodecat (${DEFAULT_CONFIG}) ≥ ${TARGET_NODE}× Tomcat's requests/s`, nodeRatio === null ? 'n/a' : formatRatio(nodeRatio), verdict(nodeRatio, TARGET_NODE)],
        [`system level, --workers auto: nodecat stack ≥ ${TARGET_SYSTEM}× the classic stack's requests/s`, systemRatio === null ? 'n/a' : formatRatio(systemRatio), verdict(systemRatio, TARGET_SYSTEM)],
        ['(for reading) system level, --workers 1: nodecat stack ÷ the classic stack\'s requests/s', system1Ratio === null ? 'n/a' : formatRatio(system1Ratio), 'no target'],
        ...([['node level', ratioFor(nodeOutcomes, nodeVariants, `nodecat (${DEFAULT_CONFIG})`, 'tomcat', cpu), 'Tomcat'], ['system level', ratioFor(systemOutcomes, systemVariants, systemName, 'classic-stack', cpu), 'the classic stack']] as const)
          .map(([level, r, against]) => [`(for reading) ${level}: CPU per request, nodecat ÷ ${against} (below 1: nodecat spends less)`, r === null ? 'n/a' : formatRatio(r), 'no target'])
      ]
    },
    {
      title: 'Node level: one node of a 2-node cluster hit directly (its peer running)',
      columns: ['stack', 'workload', 'req/s', 'vs Tomcat', 'p50 ms', 'p99 ms', 'CPU µs/req (node + peer)', 'notes'],
      rows: rowsOf(nodeOutcomes, nodeVariants, 'tomcat', false)
    },
    ...(!system
      ? []
      : [{
          title: 'System level: the whole stack behind its front',
          columns: ['stack', 'workload', 'req/s', 'vs classic', 'p50 ms', 'p99 ms', 'CPU µs/req (all)', 'CPU µs/req (front)', 'notes'],
          rows: rowsOf(systemOutcomes, systemVariants, 'classic-stack', true)
        }]),
    ...(before === null
      ? []
      : [{
          title: `Before → after: this tree against ${before.rev} (--before ${before.dir}), the same configurations side by side in the same run`,
          columns: ['configuration', 'workload', 'p50 ms before → after', 'p99 ms before → after', 'p99 after ÷ before', 'req/s after ÷ before', 'CPU µs/req before → after', 'CPU after ÷ before'],
          rows: configs.flatMap((c) => WORKLOADS.map((w) => {
            const find = (name: string): number => nodeVariants.findIndex((v) => v.workload === w && v.target.name === name)
            const a = find(`nodecat (${c.name})`)
            const b = find(beforeName(c.name, before.rev))
            const head = [c.name, workloadLabel[w]]
            if (a < 0 || b < 0 || nodeOutcomes[a]!.unavailable !== undefined || nodeOutcomes[b]!.unavailable !== undefined) return [...head, 'not available', '', '', '', '', '']
            const col = (i: number, f: (s: Sample) => number): number[] => column(nodeOutcomes[i]!, reps, f)
            const both = (f: (s: Sample) => number, fmt: (x: number[]) => string): string => `${fmt(col(b, f))} → ${fmt(col(a, f))}`
            const ratio = (f: (s: Sample) => number): string => formatRatio(pairedRatio(col(a, f), col(b, f)))
            return [...head, both((s) => s.p50ms, msSummary), both((s) => s.p99ms, msSummary), ratio((s) => s.p99ms), ratio((s) => s.rps),
              both((s) => s.cpuUsPerRequest, usSummary), ratio((s) => s.cpuUsPerRequest)]
          }))
        }]),
    {
      title: 'Replication equally complete? Every peer\'s copy of each session against its owner\'s, after the runs',
      columns: ['level', 'stack', 'sessions', 'read on owner', 'peer copies equal to the owner\'s counter', 'identical copies (status digest)', 'fetches during the check', 'sum of owners\' counters', 'differences'],
      rows: [
        ...targets.filter((t) => !('url' in t)).map((t) => [t.level, t.name, 'not available', '', '', '', '', '', 'unavailable' in t ? t.unavailable : '']),
        ...replicas.map((r) => [r.level, r.stack, String(r.sessions), `${r.ownerRead}/${r.sessions}`, `${r.equal}/${r.copies}`,
          r.digestEqual === null ? 'n/a (Tomcat)' : `${r.digestEqual}/${r.copies}`, r.fetches === null ? 'n/a (Tomcat never fetches)' : String(r.fetches),
          formatNumber(r.ownerTotal), r.details.length === 0 ? 'none' : r.details.slice(0, 4).join('; ') + (r.details.length > 4 ? `; … ${r.details.length - 4} more` : '')])
      ]
    }
  ]

  const chartBars = (outcomes: Array<VariantOutcome<Sample>>, variants: typeof nodeVariants, baseKind: Kind, prefix: string): Bar[] => outcomes.flatMap((o, i) => {
    const v = variants[i]!
    if (v.workload !== 'write16') return []
    const s = summarize(rpsOf(o))
    const against = baselineOf(outcomes, variants, 'write16', baseKind)
    const ratio = v.target.kind === baseKind || against === null ? '' : ` (${pairedRatio(rpsOf(o), against).median.toFixed(2)}×)`
    return [{ label: `${prefix}${v.target.name}`, baseline: v.target.kind === baseKind, value: o.unavailable !== undefined ? NaN : s.median, low: s.min, high: s.max, text: o.unavailable !== undefined ? 'not available' : `${formatNumber(s.median)} req/s${ratio}` }]
  })

  const classicVersions = typeof classic === 'string' ? `classic stack not available: ${classic}` : `${classic.versions} (${classic.note})`
  writeReport({
    name: 'was',
    title: 'nodecat vs a real Apache Tomcat 10 cluster: the counter workload, node level and system level',
    command: `pnpm bench:was ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    notes: [
      `This VM has ${machine.cores} cores: every "machine" here is a network namespace on the same 2 cores, so the load generator, the front (httpd or nodecat-balancer) and every node share them. --workers auto means ${cores} nodecat members per machine, 4 in all on 2 cores; the ratios are what one 2-core box gives each stack, not what separate machines would.`,
      `Classic stack: ${classicVersions}. Tomcat runs from a CATALINA_BASE written by the bench (conf/server.xml: the classic setup's <Cluster> as Tomcat's cluster how-to gives it, SimpleTcpCluster channelSendOptions 8, DeltaManager, McastService 228.0.0.4:45564, NioReceiver, ReplicationValve, JvmRouteBinderValve; Debian's stock conf/web.xml; the counter webapp with <distributable/>), started with catalina.sh run, JVM defaults (Debian's JAVA_OPTS=-Djava.awt.headless=true). httpd: the event MPM with Debian's default settings (KeepAlive On, MaxKeepAliveRequests 100), mod_jk's lb worker with sticky sessions over AJP (the classic setup's workers.properties).`,
      `nodecat: nodecat-was with bench/was/counter-app.js (the same page as the JSP), static membership (each cluster its own receivers; the nodes' request path is the same as with multicast), defaults otherwise; "key" = a cluster key (authenticated and encrypted; nodecat's default, it refuses plaintext off loopback without --insecure), "no key" = --insecure. Node level: node-level clusters of 2 single-process nodes (--workers 1, the default), ${configs.length} configurations (${configs.map((c) => c.name).join('; ')}). System level: nodecat-balancer (one process, defaults) with the ${cores * 2} members as static workers, the members in one cluster (delta manager, async, key)${smoke ? '' : '; beside it the same stack with --workers 1 (2 members, one per machine), for reading what --workers auto changes on this box'}.`,
      `Load: ${wrkVersion}, 1 thread, ${connections} keep-alive connections, from the load generator's namespace; ${seconds} s per measurement, ${reps} interleaved repetitions (every variant once per repetition, order rotating); median (min–max). Warm-up before measuring, not counted: ${warmJvm === 0 ? 'none (--smoke)' : `every workload once per stack, ${warmJvm} s each on the Tomcat stacks (the JIT: their first 10-second runs are 2–3× slower), ${warmNode} s on nodecat's`}.`,
      `Workloads: "${workloadLabel.write16}": GET /count (read the counter, write it back +1, reply with 3 lines) rotating over ${SESSIONS} sessions made first through the same entry; "${workloadLabel.write1}": the same on one session, all connections at once; "${workloadLabel.read16}": GET /read, the counter read, nothing written.`,
      'Ratios: per repetition (variant ÷ Tomcat, or ÷ the classic stack, same workload, same repetition), then the median. CPU µs/req: /proc/<pid>/stat (utime+stime, plus the CPU of reaped children) of every process of the stack over the run, divided by the requests: node level = the node hit and its peer; system level = the front (httpd parent and children; the balancer) and every node (both JVMs; both supervisors and their workers).',
      'Replication check, after the runs and a 2 s pause: each session is read on its owner first (GET /read with its cookie: no write). Tomcat: then read on the other node with the same cookie; the JvmRouteBinderValve there renames the session from that node\'s own copy (Tomcat never fetches a session), and the page shows that copy\'s counter. nodecat: every member\'s /_nodecat/status?replicas=1 gives a digest of each copy (stamp, route, attributes), compared with the owner\'s before any request touches the copies; then each peer is read with a cookie naming the peer\'s own route, so it serves its own copy without asking the owner (a fetch happens only for a foreign route or a missing session; the fetch counter confirms none happened).',
      'Shared machine: other jobs may have run at the same time (see the foreign-CPU note); absolute figures are good to about ±30 %, the paired ratios are steadier. When other jobs keep the cores busy, the kernel shares them per thread: a Tomcat with a busy request thread per connection (and httpd with its worker threads) takes a larger part of the cores from the other jobs than a single-threaded Node process, and every extra hop of a request (balancer → worker, peer) waits for its turn again; the requests/s of the nodecat stacks then collapse in some repetitions (CPU per request rises with the context switches). Above a few percent of foreign CPU, read the requests/s ratios as a loaded machine\'s, not a dedicated one\'s.'
    ],
    tables,
    chart: {
      title: 'Counter, 16 sessions: node level (vs Tomcat) and system level (vs the classic stack)',
      unit: `requests/s (median of ${reps}; whisker = min–max)`,
      bars: [...chartBars(nodeOutcomes, nodeVariants, 'tomcat', 'node: '), ...chartBars(systemOutcomes, systemVariants, 'classic-stack', 'system: ')]
    },
    raw: { before: before === null ? null : { rev: before.rev, dir: before.dir }, reps, seconds, warmJvm, warmNode, connections, wrk: wrkVersion, classic: classicVersions, cores, sessions: SESSIONS, nodeOutcomes, systemOutcomes, replicas }
  })
}

/** the row name of a configuration run from the --before tree */
function beforeName (config: string, rev: string): string {
  return `nodecat (${config}) before ${rev}`
}

/** --before DIR: a built tree (its nodecat-was CLI) and the commit it is at */
function beforeTree (dir: string): { dir: string, cli: string, rev: string } {
  const root = path.resolve(dir)
  const cli = path.join(root, 'packages', 'was-node', 'dist', 'cli.js')
  if (!existsSync(cli)) throw new Error(`--before ${dir}: ${cli} is not built (git worktree add DIR <commit>; cd DIR; pnpm install --offline; npx tsc -b)`)
  let rev = 'unknown'
  try { rev = execFileSync('git', ['-C', root, 'log', '-1', '--format=%h'], { encoding: 'utf8' }).trim() } catch {}
  return { dir: root, cli, rev }
}

await runMain(main)
