/**
 * pnpm bench:failover — what users see when a node dies, hangs or stops: 3 nodecat-was services
 * (the example shop app, sessions replicated over tribes) behind a sticky balancer, simulated
 * users each incrementing a counter in their session; after a warm-up the node holding most
 * sessions gets SIGKILL, SIGSTOP (a hung node) or SIGTERM (a clean stop), `--signal`. Reported per
 * repetition (a fresh cluster each): failed requests, time until each affected user is served
 * again, sessions or updates lost, latency before/after, and when a surviving node's membership
 * and the balancer stopped listing the victim. A SIGSTOPped node is SIGCONTed and stopped after.
 * Front: nodecat's balancer when built, else HAProxy with health checks (said in the report).
 * `--targets`: nodes already running elsewhere (remote.ts), driven through a local balancer.
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
import { startSessionClients, busiestRoute, type RequestLog } from './lib/session-clients.js'
import { startHaproxy } from './lib/proxy-haproxy.js'
import { startNodecatBalancer, balancerCli } from './lib/proxy-nodecat.js'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { startChild, startWorker } from './lib/children.js'
import { placeNodes, type NodeSlot } from './lib/placement.js'
import { EMULATION_CAVEAT } from './lib/pi-profiles.js'
import type { Backend, ProxyTarget } from './lib/proxy-target.js'
import { watchGone, isOk, type GoneTimes } from './lib/membership-watch.js'
import { getJson } from './lib/http-json.js'
import { onCleanup } from './lib/cleanup.js'
import { parseTargets, describeTargets, waitForTargets, victimAction, REMOTE_NOTE, type Target } from './lib/remote.js'
import { sleep } from '@nodecat/testkit'

type Signal = 'kill' | 'stop' | 'term'
const SIGNALS: Record<Signal, { name: NodeJS.Signals, what: string }> = {
  kill: { name: 'SIGKILL', what: 'SIGKILL (crash)' },
  stop: { name: 'SIGSTOP', what: 'SIGSTOP (hung node)' },
  term: { name: 'SIGTERM', what: 'SIGTERM (clean stop: drain, leave)' }
}

const USAGE = `usage: pnpm bench:failover [--long] [--reps N] [--users U] [--signal kill,stop,term] [--front auto|nodecat|haproxy] [--mode async|sync] [--profile pi3|pi4|pi5]
       pnpm bench:failover --targets http://pi1:8080,http://pi2:8080,http://pi3:8080 [--kill-command CMD] [--signal kill]
  default: signals kill,stop,term, 2 repetitions each, 24 users, 4 s before and 10 s after the signal
  (about 2 minutes); --long: 5 reps, 15 s after
  --profile P     pi3|pi4|pi5 (root): each node, and the balancer, in its own shaped namespace and CPU quota
  --warm S        seconds of load before the signal (default 4)
  --after S       seconds the load goes on after the signal (default 10, --long 15)
  --signal        kill = SIGKILL (crash), stop = SIGSTOP (hung node, SIGCONTed and stopped after), term = SIGTERM (clean stop)
  --mode          the nodes' replication: async (default) or sync (responses wait for every peer)
  --requests      post (default): every request POSTs /count (never hedged); get: one POST, then
                  GET /api/state reads (idempotent: the balancer may hedge them off a hung node)
  --targets       nodecat-was nodes already running (see bench/README.md, "Remote nodes"): no local
                  nodes are started; nodecat's balancer runs here in front of them
  --kill-command  with --targets: shell command that signals the victim, with {signal} (KILL, STOP,
                  TERM, CONT), {route}, {host}, {url} and {pid} (from the bench app) filled in, e.g.
                  "ssh pi@{host} sudo systemctl kill --signal={signal} nodecat-was"; without it the
                  bench asks you to stop the node by hand and press Enter (times then start at Enter)`

interface Outcome {
  signal: Signal
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
  /** ms from the signal until a survivor's membership / the balancer no longer list the victim */
  gone: GoneTimes
  /** the balancer's state of the victim just before the signal, when it was not 'ok' */
  balancerStateBefore?: string
  /** the nodecat balancer's hedge counters at the end of the repetition (absent: none reported) */
  hedges?: { sent: number, wonByHedge: number, wonByOriginal: number }
}

function latency (logs: RequestLog[]): { p50: number, p99: number } {
  const s = logs.filter((l) => l.ok).map((l) => l.latencyMs).sort((a, b) => a - b)
  return { p50: quantileSorted(s, 0.5), p99: quantileSorted(s, 0.99) }
}

function analyse (logs: RequestLog[], killT: number, victim: string, front: string, signal: Signal, gone: GoneTimes): Outcome {
  const byUser = new Map<number, RequestLog[]>()
  for (const l of logs) byUser.set(l.user, [...(byUser.get(l.user) ?? []), l])
  let affectedUsers = 0; let moved = 0; let lostSessions = 0; let lostUpdates = 0
  const recoveryMs: number[] = []
  for (const list of byUser.values()) {
    list.sort((a, b) => a.t - b.t)
    let lastCount = 0
    for (const l of list) {
      if (!l.ok || l.count === undefined) continue
      if (l.method === 'GET') {
        // a read: the counter must still be there, unchanged
        if (lastCount > 0 && l.count === 0) lostSessions++
        else if (l.count < lastCount) lostUpdates++
        lastCount = Math.max(lastCount, l.count)
        continue
      }
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
    signal,
    gone,
    front,
    victim,
    notRecovered: affectedUsers - recoveryMs.length,
    requests: logs.length,
    failed: logs.filter((l) => !l.ok).length,
    affectedUsers,
    moved,
    recoveryMs,
    lostSessions,
    lostUpdates,
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

interface RepSetup {
  front: ProxyTarget
  adminUrl?: string
  /** route → base URL of every node */
  urls: Map<string, string>
  /** signal the victim; resolves with performance.now() of the signal */
  hit (route: string, signal: Signal): Promise<number>
}

async function runRep (setup: RepSetup, signal: Signal, o: { users: number, warmMs: number, afterMs: number, requests: 'post' | 'get' }, progress: (s: string) => void): Promise<Outcome> {
  const routes = [...setup.urls.keys()]
  let victim = ''
  const clients = startSessionClients({ url: setup.front.url, users: o.users, thinkMs: 50, durationMs: o.warmMs + o.afterMs, maxRequests: 200_000, requests: o.requests }, (t) => progress(`${(t / 1000).toFixed(0)} s${victim ? `, ${victim} got ${SIGNALS[signal].name}` : ''}`))
  await sleep(o.warmMs)
  victim = busiestRoute(clients.logs, routes)
  const survivor = routes.find((r) => r !== victim)!
  // why: under load a health check may already have flagged the victim; then "balancer ms" would mean nothing
  const before = setup.adminUrl === undefined ? null : await getJson(`${setup.adminUrl}/status`, 2000).catch(() => null)
  const flagged = (before?.workers as Array<{ route: string, state: string }> | undefined)?.find((w) => w.route === victim)?.state
  const killT = await setup.hit(victim, signal)
  const watch = watchGone({ survivorUrl: setup.urls.get(survivor)!, adminUrl: setup.adminUrl, route: victim, since: killT, untilMs: o.afterMs + 5000 })
  await withTimeout(clients.done, o.warmMs + o.afterMs + 30_000, 'the simulated users')
  const gone = await watch.stop()
  const outcome = analyse(clients.logs, killT - clients.startedAt, victim, setup.front.name, signal, gone)
  if (flagged !== undefined && !isOk(flagged)) outcome.balancerStateBefore = flagged
  const after = setup.adminUrl === undefined ? null : await getJson(`${setup.adminUrl}/status`, 2000).catch(() => null)
  const hedges = (after?.balancer as { hedges?: Outcome['hedges'] } | undefined)?.hedges
  if (hedges !== undefined) outcome.hedges = hedges
  return outcome
}

/**
 * One repetition with every node in its own emulated Pi (namespace + CPU quota): the balancer in a
 * 4th, and the users in a worker inside the balancer's namespace, since this process cannot reach
 * the emulated addresses. The host only signals the victim (by PID, which works across namespaces).
 */
async function runEmulatedRep (slots: NodeSlot[], signal: Signal, mode: 'async' | 'sync', o: { users: number, warmMs: number, afterMs: number }, progress: (s: string) => void): Promise<Outcome> {
  const nodes = await withTimeout(startWasCluster(3, clusterKey(), mode, { slots: slots.slice(0, 3) }), 120_000, 'starting 3 emulated nodecat-was nodes')
  const front = slots[3]!
  let resume = async (): Promise<void> => {}
  try {
    if (!existsSync(balancerCli)) throw new Error('--profile needs nodecat\'s balancer built (packages/balancer/dist/cli.js)')
    const listen = `${front.address}:8000`
    // why: off loopback the admin listener wants a token; the users' worker shares this namespace's loopback
    const admin = '127.0.0.1:8001'
    const args = [...front.wrap, process.execPath, balancerCli, '--listen', listen, '--admin', admin, '--health-interval', '500', '--log-level', 'info', ...nodes.flatMap((n) => ['--worker', `${n.route}=${n.url}`])]
    const balancer = startChild('nodecat-balancer (emulated)', args[0]!, args.slice(1), { env: { ...process.env, NODE_OPTIONS: '' } })
    front.adopt(balancer)
    await balancer.waitFor((l) => l.msg === 'balancer started', 30_000)
    progress('users running')
    const logFile = path.join(tempDir('failover-users'), 'requests.json')
    const config = { frontUrl: `http://${listen}`, adminUrl: `http://${admin}`, urls: nodes.map((n) => [n.route, n.url]), users: o.users, warmMs: o.warmMs, afterMs: o.afterMs, logFile }
    const driver = startWorker('failover driver', 'failover-driver.js', [JSON.stringify(config)], { wrap: front.wrap, stdio: ['pipe', 'pipe', 'pipe'] })
    const v = await driver.waitFor((l) => l.event === 'victim', o.warmMs + 30_000)
    const victim = nodes.find((n) => n.route === v.route)!
    if (signal === 'stop') resume = onCleanup(`SIGCONT ${victim.route} (pid ${victim.child.pid})`, () => { try { process.kill(victim.child.pid, 'SIGCONT') } catch {} })
    const hrUs = Number(process.hrtime.bigint() / 1000n)
    process.kill(victim.child.pid, SIGNALS[signal].name)
    driver.send({ cmd: 'signalled', hrUs })
    progress(`${victim.route} got ${SIGNALS[signal].name}`)
    const d = await driver.waitFor((l) => l.event === 'done', o.warmMs + o.afterMs + 60_000)
    const logs = JSON.parse(readFileSync(logFile, 'utf8')) as RequestLog[]
    await driver.exited
    const outcome = analyse(logs, Number(d.killOffsetMs), victim.route, 'nodecat balancer', signal, d.gone as GoneTimes)
    if (typeof d.balancerStateBefore === 'string') outcome.balancerStateBefore = d.balancerStateBefore
    await balancer.stop()
    return outcome
  } finally {
    await resume()
    await Promise.all(nodes.map((n) => n.child.stop()))
  }
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      long: { type: 'boolean' },
      reps: { type: 'string' },
      users: { type: 'string' },
      front: { type: 'string' },
      mode: { type: 'string' },
      requests: { type: 'string' },
      signal: { type: 'string' },
      targets: { type: 'string' },
      'kill-command': { type: 'string' },
      after: { type: 'string' },
      warm: { type: 'string' },
      profile: { type: 'string' },
      help: { type: 'boolean' }
    }
  })
  if (values.help) { console.log(USAGE); return }
  const reps = Number(values.reps ?? (values.long ? 5 : 2))
  const users = Number(values.users ?? 24)
  const warmMs = values.warm !== undefined ? Math.min(60, Math.max(1, Number(values.warm))) * 1000 : 4000
  const afterMs = values.after !== undefined ? Math.min(120, Math.max(1, Number(values.after))) * 1000 : values.long ? 15_000 : 10_000
  const frontMode = values.front ?? 'auto'
  const sendMode = values.mode === 'sync' ? 'sync' : 'async'
  if (values.requests !== undefined && values.requests !== 'post' && values.requests !== 'get') throw new Error(`--requests takes post or get, not ${JSON.stringify(values.requests)}`)
  const requests = values.requests === 'get' ? 'get' : 'post'
  if (requests === 'get' && values.profile) throw new Error('--requests get is not wired into --profile runs yet')
  const signals = (values.signal ?? 'kill,stop,term').split(',').map((x) => x.trim()).filter((x): x is Signal => x in SIGNALS)
  if (signals.length === 0) throw new Error(`--signal takes kill, stop and/or term, not ${JSON.stringify(values.signal)}`)
  const targets: Target[] | null = values.targets ? await parseTargets(values.targets) : null
  if (targets && values.profile) throw new Error('--profile emulates local nodes; it does not go with --targets')
  // why: 3 nodes + the front (balancer and users); refuses clearly without root
  const placement = values.profile ? placeNodes(4, values.profile) : null
  const profile = placement?.profile ?? null
  const machine = machineInfo(targets ? 'remote' : profile?.name ?? 'host')
  const dir = tempDir('failover')
  const notes: string[] = []
  const outcomes: Outcome[] = []
  const missing = targets ? null : wasAvailable()
  if (missing) notes.push(`Failover not measured: ${missing}.`)
  const progress = createProgress('failover', missing ? 0 : reps * signals.length)
  const say = (s: string): void => { process.stdout.write(`${s}\n`) }

  if (targets) {
    // remote: the nodes run elsewhere; nodecat's balancer runs here in front of them
    const [port, adminPort] = await freePorts(2)
    const backends: Backend[] = targets.map((t) => ({ route: t.route, port: 0, pid: 0, url: t.url }))
    const front = await startNodecatBalancer(port!, adminPort!, backends, 500)
    if (front instanceof Unavailable) throw new Error(`remote failover needs nodecat's balancer here: ${front.reason}`)
    notes.push(REMOTE_NOTE, `Targets: ${describeTargets(targets)}.`)
    const hit = victimAction(targets, values['kill-command'], say)
    for (const signal of signals) {
      for (let rep = 0; rep < reps; rep++) {
        progress.status(`${signal} rep ${rep + 1}/${reps}: waiting for every target`)
        await waitForTargets(targets, say)
        const o = await runRep({ front, adminUrl: `http://127.0.0.1:${adminPort}`, urls: new Map(targets.map((t) => [t.route, t.url])), hit: async (route, sig) => await hit.signal(route, sig) }, signal, { users, warmMs, afterMs, requests }, (x) => progress.status(`${signal} rep ${rep + 1}/${reps}: ${x}`))
        if (signal === 'stop') await hit.resume(o.victim)
        outcomes.push(o)
        progress.tick(`${signal} rep ${rep + 1}/${reps}: ${o.failed} failed, ${o.lostSessions + o.lostUpdates} lost`)
        if (signal !== 'stop') say(`\n${o.victim} got ${SIGNALS[signal].name}: start it again before the next repetition (the bench waits until every target answers and sees the others).`)
      }
    }
  }

  for (const signal of placement && !missing ? signals : []) {
    for (let rep = 0; rep < reps; rep++) {
      const tag = `${signal} rep ${rep + 1}/${reps}`
      progress.status(`${tag}: starting 3 emulated ${profile!.name} nodes`)
      const o = await runEmulatedRep(placement!.nodes, signal, sendMode, { users, warmMs, afterMs }, (x) => progress.status(`${tag}: ${x}`))
      outcomes.push(o)
      progress.tick(`${tag}: ${o.failed} failed, ${o.lostSessions + o.lostUpdates} lost`)
    }
  }

  for (const signal of targets || missing || placement ? [] : signals) {
    for (let rep = 0; rep < reps; rep++) {
      const tag = `${signal} rep ${rep + 1}/${reps}`
      progress.status(`${tag}: starting 3 nodes`)
      const nodes: WasNode[] = await withTimeout(startWasCluster(3, clusterKey(), sendMode), 90_000, 'starting 3 nodecat-was nodes')
      progress.status(`${tag}: starting the front`)
      const [port, adminPort] = await freePorts(2)
      const backends: Backend[] = nodes.map((n) => ({ route: n.route, port: n.httpPort, pid: n.child.pid }))
      const front = await withTimeout(startFront(frontMode, dir, port!, adminPort!, backends), 40_000, 'starting the front')
      if (front instanceof Unavailable) { notes.push(`Front not available: ${front.reason}`); await Promise.all(nodes.map((n) => n.child.stop())); break }
      let resume = async (): Promise<void> => {}
      const hit = async (route: string, sig: Signal): Promise<number> => {
        const pid = nodes.find((n) => n.route === route)!.child.pid
        // why: a stopped process ignores SIGTERM; resume it first (newer clean-up steps run first, also on Ctrl-C)
        if (sig === 'stop') resume = onCleanup(`SIGCONT ${route} (pid ${pid})`, () => { try { process.kill(pid, 'SIGCONT') } catch {} })
        const t = performance.now()
        process.kill(pid, SIGNALS[sig].name)
        return t
      }
      const o = await runRep({ front, adminUrl: front.name === 'nodecat balancer' ? `http://127.0.0.1:${adminPort}` : undefined, urls: new Map(nodes.map((n) => [n.route, n.url])), hit }, signal, { users, warmMs, afterMs, requests }, (x) => progress.status(`${tag}: ${x}`))
      outcomes.push(o)
      progress.tick(`${tag}: ${o.failed} failed, ${o.lostSessions + o.lostUpdates} lost`)
      for (const pid of front.pids) { try { process.kill(pid, 'SIGTERM') } catch {} }
      await resume()
      await Promise.all(nodes.map((n) => n.child.stop()))
    }
  }
  progress.stop()

  const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(1))
  const med = (list: Outcome[], f: (o: Outcome) => number): string => formatSummary(summarize(list.map(f)), fmt)
  const ms = (v: number | null): string => (v === null ? 'not seen' : v.toFixed(0))
  const goneSummary = (list: Outcome[], f: (g: GoneTimes) => number | null): string => {
    const seen = list.map((o) => f(o.gone)).filter((x): x is number => x !== null)
    const text = seen.length ? formatSummary(summarize(seen), (x) => x.toFixed(0)) : 'not seen'
    return seen.length < list.length ? `${text}; not within the run in ${list.length - seen.length} of ${list.length}` : text
  }
  const bySignal = signals.map((sig) => ({ sig, list: outcomes.filter((o) => o.signal === sig) })).filter((x) => x.list.length > 0)
  const name = `failover${targets ? '-remote' : ''}${profile ? `-${profile.name}` : ''}${sendMode === 'sync' && !targets ? '-sync' : ''}${requests === 'get' ? '-get' : ''}`
  writeReport({
    name,
    title: `nodecat failover: a node gets ${signals.map((x) => SIGNALS[x].name).join(' / ')} under load${targets ? ' (remote nodes)' : ''}${profile ? ` — ${profile.name} EMULATION` : ''}`,
    command: `pnpm bench:failover ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    notes: [
      ...(profile ? [EMULATION_CAVEAT, `Profile ${profile.name}: ${profile.models}; link tbf ${profile.linkRate}, CPU quota ${profile.cpuFraction} of one core per node process (10 ms period). The 3 nodes and the balancer each run in their own namespace and quota (the balancer as a 4th Pi); the simulated users run in the balancer's namespace without a quota (the load generator is not a Pi).`] : []),
      ...notes,
      targets
        ? `${users} users, each POSTing /count every 50 ms (keep-alive) through nodecat's balancer on this machine (health checks every 500 ms) to the targets. After ${warmMs / 1000} s the node serving most users gets the signal (by --kill-command, or by hand); the run continues ${afterMs / 1000} s. The targets keep their own replication mode and membership settings.`
        : `${users} users, each ${requests === 'get' ? 'POSTing /count once, then GETting /api/state (its session read: idempotent, the balancer may hedge it)' : 'POSTing /count of examples/shop'} every 50 ms (keep-alive) through the front; 3 nodecat-was nodes, static membership on ${profile ? 'the emulated network' : '127.0.0.1'} (heartbeat 500 ms, drop time 3 s), keyed cluster traffic, ${sendMode} replication${sendMode === 'async' ? ' (the default, send option 8)' : ' (send option 6: a response waits until every peer applied the change)'}. After ${warmMs / 1000} s the node serving most users gets the signal; the run continues ${afterMs / 1000} s. Median (min–max) over the repetitions, a fresh cluster each.`,
      'Signals: SIGKILL = a crash (connections reset at once); SIGSTOP = a hung node (connections stay open, nothing answers; resumed with SIGCONT and stopped after the run); SIGTERM = a clean stop (nodecat-was drains: in-flight requests finish, new ones get a "not processed" 503 the balancer retries elsewhere, then it leaves the cluster).',
      'recovery = ms from the signal to an affected user\'s first good response (the slowest affected user per repetition). lost sessions = a counter that restarted at 1; lost updates = a counter that did not go up.',
      'membership gone = ms from the signal until a surviving node\'s /_nodecat/status no longer lists the victim; balancer = until the balancer\'s admin /status reports its worker not ok (nodecat balancer only). Both polled every 50 ms; "not seen" = not within the run (+5 s).',
      'With async replication a delta still in flight when the node dies can be lost: that is the documented trade-off of send mode 8; sync mode (6, --mode sync) should close it.',
      '"moved" can be lower than "affected users": an answer the victim sent just before the signal may be read by the client just after it.',
      `${targets ? 'The load and the balancer run on this machine; the figures include its network to the targets.' : 'Shared 2-core machine: figures are indicative.'}`
    ],
    tables: [{
      title: 'Per repetition',
      columns: ['signal', 'front', 'victim', 'requests', 'failed', 'affected users', 'moved', 'never recovered', 'recovery ms (median / max)', 'lost sessions', 'lost updates', 'membership gone ms', 'balancer ms', 'latency p50/p99 ms before', 'after', 'hedges sent / won by hedge / by original'],
      rows: outcomes.map((o) => {
        const r = summarize(o.recoveryMs)
        return [o.signal, o.front, o.victim, String(o.requests), String(o.failed), String(o.affectedUsers), String(o.moved), String(o.notRecovered), `${r.median.toFixed(0)} / ${r.max.toFixed(0)}`, String(o.lostSessions), String(o.lostUpdates),
          ms(o.gone.membershipMs), o.balancerStateBefore ? `already ${o.balancerStateBefore} before` : ms(o.gone.balancerMs),
          `${o.latencyBefore.p50.toFixed(1)} / ${o.latencyBefore.p99.toFixed(1)}`, `${o.latencyAfter.p50.toFixed(1)} / ${o.latencyAfter.p99.toFixed(1)}`,
          o.hedges === undefined ? 'not reported' : `${o.hedges.sent} / ${o.hedges.wonByHedge} / ${o.hedges.wonByOriginal}`]
      })
    }, {
      title: 'Summary per signal (median, min–max over repetitions)',
      columns: ['signal', 'reps', 'failed requests', 'slowest recovery ms', 'lost sessions', 'lost updates', 'membership gone ms', 'balancer marks it ms'],
      rows: bySignal.length
        ? bySignal.map(({ sig, list }) => [SIGNALS[sig].what, String(list.length), med(list, (o) => o.failed), med(list, (o) => summarize(o.recoveryMs).max), med(list, (o) => o.lostSessions), med(list, (o) => o.lostUpdates), goneSummary(list, (g) => g.membershipMs), goneSummary(list.filter((o) => !o.balancerStateBefore), (g) => g.balancerMs)])
        : [['not available', '', '', '', '', '', '', '']]
    }],
    chart: outcomes.length
      ? { title: 'Slowest recovery per repetition', unit: 'ms from the signal to the last affected user\'s first good response', bars: outcomes.map((o, i) => ({ label: `${o.signal} ${i + 1} (${o.front})`, value: summarize(o.recoveryMs).max, text: `${summarize(o.recoveryMs).max.toFixed(0)} ms, ${o.failed} failed, gone ${ms(o.gone.membershipMs)} ms` })) }
      : undefined,
    raw: { reps, users, warmMs, afterMs, signals, sendMode, requests, targets, profile, outcomes }
  })
}

await runMain(main)
