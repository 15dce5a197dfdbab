/**
 * `nodecat-balancer --workers n`: the primary process. It forks n serving processes (the cluster
 * module; they share the client listener, the primary hands each accepted connection to one of
 * them in turn) and keeps the one truth of worker states itself: the health checks, the discovery
 * and the admin listener run here, in a balancer without a client listener (the owner).
 *
 * - Every change of the table (a worker added, removed, re-activated, its state moved) is sent
 *   to every process at once, and the whole table again every sync interval (at most one health
 *   interval), so a change reaches every process within one health interval even if a message
 *   was missed. A process's own findings (a worker that refused a connection: ERROR) come here as
 *   reports and go out to the others in the next table.
 * - The admin listener sums the processes' counters (asked over IPC at each request; a process
 *   that died keeps its last answer in the sums).
 * - A process that dies is forked again after a backoff (100 ms doubling to 10 s; reset once one
 *   ran 30 s). SIGTERM/SIGINT drains every process (their requests in flight finish) and then
 *   stops; SIGHUP reloads here (the worker table) and in every process (the rest).
 */
import cluster, { type Worker as ClusterWorker } from 'node:cluster'
import type { Logger } from 'pino'
import type { Channel } from '@nodecat/tribes'
import { createBalancer } from './balancer.js'
import { parseCli, type CliConfig } from './cli-args.js'
import { entryOf, isOurs, mergeRetired, PROC_ENV, retire, sumStatus, TAG, type ToFollower, type ToOwner } from './process-messages.js'
import type { AdminView, BalancerStatus, ProcessStatus } from './status.js'

/** how long the admin listener waits for a process's counters */
const STATUS_TIMEOUT = 1000
/** longest time between two whole tables */
const MAX_SYNC_INTERVAL = 1000
const RESTART_MIN = 100
const RESTART_MAX = 10_000
/** a process that ran this long before it died restarts after the shortest backoff again */
const RESTART_RESET_AFTER = 30_000
/** the grace each process has to drain (as the single-process command) */
const STOP_GRACE = 5000

interface Proc {
  n: number
  worker: ClusterWorker | null
  restarts: number
  /** deaths in a row without RESTART_RESET_AFTER of life in between */
  crashes: number
  startedAt: number
  ready: boolean
  acked: number
  tableVersion: number
  last: BalancerStatus | null
  answered: boolean
  failure: { code: string | null, message: string } | null
  restartTimer: NodeJS.Timeout | null
}

export interface GroupOptions {
  argv: string[]
  config: CliConfig
  logger: Logger
  channel?: Channel | undefined
}

/** Run the primary until SIGTERM/SIGINT; resolves with the exit code. Throws when start-up fails. */
export async function runPrimary ({ argv, config, logger, channel }: GroupOptions): Promise<number> {
  const n = config.processes
  const procs: Proc[] = Array.from({ length: n }, (_, i) => ({ n: i + 1, worker: null, restarts: 0, crashes: 0, startedAt: 0, ready: false, acked: 0, tableVersion: 0, last: null, answered: false, failure: null, restartTimer: null }))
  let retired: BalancerStatus | null = null
  let stopping = false
  let started = false
  let onChange: () => void = () => {}

  const queries = new Map<number, (m: Extract<ToOwner, { kind: 'status' }> | null) => void>()
  let queryId = 0
  const ask = async (p: Proc): Promise<void> => {
    const w = p.worker
    if (w === null || !p.ready || !w.isConnected()) { p.answered = false; return }
    const id = ++queryId
    const reply = await new Promise<Extract<ToOwner, { kind: 'status' }> | null>((resolve) => {
      const timer = setTimeout(() => { queries.delete(id); resolve(null) }, STATUS_TIMEOUT)
      queries.set(id, (m) => { clearTimeout(timer); queries.delete(id); resolve(m) })
      post(w, { tag: TAG, kind: 'status?', id })
    })
    p.answered = reply !== null
    if (reply !== null && p.worker === w) {
      p.last = reply.status
      p.tableVersion = reply.tableVersion
    }
  }
  const summed = async (local: AdminView): Promise<BalancerStatus> => {
    await Promise.all(procs.map(ask))
    const own = await local.status()
    const parts = procs.map((p) => p.last).filter((s): s is BalancerStatus => s !== null)
    if (retired !== null) parts.push(retired)
    const out = sumStatus(own, parts)
    out.balancer.tableVersion = seq
    out.balancer.processes = procs.map((p): ProcessStatus => ({ proc: p.n, pid: p.worker?.process.pid ?? null, restarts: p.restarts, requests: p.last?.balancer.requests ?? 0, tableVersion: p.tableVersion, answered: p.answered }))
    return out
  }

  const owner = createBalancer({ ...config.balancer, logger, ...(channel !== undefined ? { channel } : {}) }, {
    role: 'owner',
    adminView: (local) => ({ ...local, status: async () => await summed(local) })
  })
  const registry = owner.registry
  const health = owner.options.healthCheck
  const syncInterval = Math.max(50, Math.min(MAX_SYNC_INTERVAL, health === false ? MAX_SYNC_INTERVAL : health.interval))

  // the table: sent whole, on every change (coalesced) and every syncInterval
  let seq = 0
  let scheduled = false
  const current = (): Omit<Extract<ToFollower, { kind: 'table' }>, 'acked'> => {
    const now = Date.now()
    return { tag: TAG, kind: 'table', seq, workers: registry.list().map((w) => entryOf(registry, w, now)), adopters: owner.discovery?.adopters() ?? {} }
  }
  const table = (p: Proc, base = current()): ToFollower => ({ ...base, acked: p.acked })
  const broadcast = (): void => {
    seq++
    const base = current()
    for (const p of procs) if (p.worker !== null) post(p.worker, table(p, base))
  }
  const schedule = (): void => {
    if (scheduled) return
    scheduled = true
    setImmediate(() => { scheduled = false; broadcast() })
  }
  registry.onStateChange(() => schedule())
  registry.onTableChange(() => schedule())
  const resync = setInterval(broadcast, syncInterval)
  resync.unref()

  const onReport = (p: Proc, m: Extract<ToOwner, { kind: 'report' }>): void => {
    p.acked = Math.max(p.acked, m.id)
    const w = registry.get(m.route)
    if (w !== undefined) {
      if (m.to === 'ERROR') w.health.fail(`proc ${p.n}: ${m.reason}`, true)
      else w.health.succeed(m.at)
    }
    // why always: the reporter learns its report is in, the others get the state
    schedule()
  }

  const fork = (p: Proc): void => {
    p.restartTimer = null
    const w = cluster.fork({ [PROC_ENV]: String(p.n) })
    p.worker = w
    p.startedAt = Date.now()
    p.ready = false
    p.acked = 0
    p.tableVersion = 0
    p.failure = null
    w.on('message', (m: unknown) => {
      if (!isOurs<ToOwner>(m)) return
      switch (m.kind) {
        case 'hello': post(w, table(p)); break
        case 'ready':
          p.ready = true
          logger.info({ child: p.n, childPid: w.process.pid }, 'process ready')
          onChange()
          break
        case 'report': onReport(p, m); break
        case 'status': queries.get(m.id)?.(m); break
        case 'failed': p.failure = { code: m.code, message: m.message }; break
      }
    })
    // why: a process that dies closes its channel; a send racing that must not throw here
    w.on('error', (err) => logger.debug({ child: p.n, err }, 'process channel error'))
    w.once('exit', (code, signal) => {
      if (p.worker === w) p.worker = null
      p.ready = false
      if (p.last !== null) retired = mergeRetired(retired, retire(p.last))
      p.last = null
      if (stopping) { logger.info({ child: p.n, childPid: w.process.pid, code, signal }, 'process stopped'); onChange(); return }
      if (!started) { p.failure ??= { code: null, message: `process ${p.n} exited during start-up (code ${code}, signal ${signal})` }; onChange(); return }
      if (Date.now() - p.startedAt >= RESTART_RESET_AFTER) p.crashes = 0
      const delay = Math.min(RESTART_MAX, RESTART_MIN * 2 ** p.crashes)
      p.crashes++
      p.restarts++
      logger.error({ child: p.n, childPid: w.process.pid, code, signal, restartInMs: delay, restarts: p.restarts }, 'process died: restarting it')
      p.restartTimer = setTimeout(() => fork(p), delay)
      onChange()
    })
  }

  const exitAll = async (graceMs: number): Promise<void> => {
    stopping = true
    for (const p of procs) {
      if (p.restartTimer !== null) clearTimeout(p.restartTimer)
      p.restartTimer = null
      if (p.worker !== null) post(p.worker, { tag: TAG, kind: 'stop', graceMs })
    }
    const allGone = (): boolean => procs.every((p) => p.worker === null)
    // why the deadline: a process that cannot drain (stuck) is killed after its grace and a margin
    const deadline = setTimeout(() => { for (const p of procs) p.worker?.process.kill('SIGKILL') }, graceMs + 10_000)
    while (!allGone()) await new Promise<void>((resolve) => { onChange = resolve })
    clearTimeout(deadline)
    onChange = () => {}
  }

  cluster.setupPrimary({ silent: false })
  await owner.start()
  for (const p of procs) fork(p)
  const failed = (): Proc | undefined => procs.find((p) => p.failure !== null)
  while (!procs.every((p) => p.ready) && failed() === undefined) await new Promise<void>((resolve) => { onChange = resolve })
  const bad = failed()
  if (bad !== undefined) {
    await exitAll(0)
    clearInterval(resync)
    await owner.stop(0)
    throw Object.assign(new Error(bad.failure!.message), bad.failure!.code !== null ? { code: bad.failure!.code } : {})
  }
  started = true
  onChange = () => {}
  broadcast()
  const listen = procs[0]!.last?.balancer.listen ?? `${owner.options.host}:${owner.options.port}`
  logger.info({ listen, processes: n, childPids: procs.map((p) => p.worker?.process.pid), admin: owner.adminAddress === null ? null : `${owner.adminAddress.address}:${owner.adminAddress.port}`, workers: registry.size, discovery: owner.discovery !== null, syncInterval }, 'balancer started')

  const onHup = (): void => {
    try {
      const next = parseCli(argv)
      if (next === null) return
      if (next.processes !== n) logger.warn({ processes: n, asked: next.processes }, 'config reloaded: --workers needs a restart and keeps its running value')
      owner.reload({ ...next.balancer, logger, ...(channel !== undefined ? { channel } : {}) })
    } catch (err) {
      logger.error({ err }, 'config reload refused: the running config keeps serving')
      return
    }
    for (const p of procs) if (p.worker !== null) post(p.worker, { tag: TAG, kind: 'reload' })
    schedule()
  }
  process.on('SIGHUP', onHup)
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  logger.info({ processes: n }, 'stopping')
  process.off('SIGHUP', onHup)
  await exitAll(STOP_GRACE)
  clearInterval(resync)
  await owner.stop()
  return 0
}

function post (w: ClusterWorker, m: ToFollower): void {
  if (!w.isConnected()) return
  w.send(m, undefined, () => {})
}
