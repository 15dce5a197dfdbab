/**
 * A serving process of `nodecat-balancer --workers n` (a cluster-module worker): it proxies client
 * requests on the shared listener with a copy of the primary's worker table. It runs no health
 * checks and no discovery: each table the primary sends replaces its workers' configuration and
 * states. What it learns itself (a worker that refused a connection or timed out: ERROR; a
 * RECOVERING worker whose probe request succeeded: OK) goes to the primary at once, which makes it
 * the truth for every process; until the primary has taken that report in, this process keeps its
 * own ERROR rather than a table that predates it.
 */
import type { Logger } from 'pino'
import { AppendFile } from './append-file.js'
import { createBalancer } from './balancer.js'
import { parseCli, type CliConfig } from './cli-args.js'
import type { BalancerOptions } from './options.js'
import { isOurs, TAG, type ToFollower, type ToOwnerBody, type WorkerEntry } from './process-messages.js'
import type { WorkerRegistry } from './worker-registry.js'

/** longest wait for the primary's first table before giving up */
const FIRST_TABLE_TIMEOUT = 30_000

/** resolves once the message is handed to the channel (or the channel is gone) */
async function send (m: ToOwnerBody): Promise<void> {
  // why the callback: a closed channel (primary gone) must not become an 'error' event that kills us
  if (!process.connected) return
  await new Promise<void>((resolve) => process.send!({ tag: TAG, ...m }, undefined, {}, () => resolve()))
}

/** apply the owner's table; `pending`: routes whose ERROR/OK this process reported, by report id */
function applyTable (registry: WorkerRegistry, m: Extract<ToFollower, { kind: 'table' }>, pending: Map<string, number>): void {
  const seen = new Set<string>()
  for (const e of m.workers) {
    const route = e.config.route
    seen.add(route)
    const w = mirror(registry, e)
    const reported = pending.get(route)
    // why: a table sent before the owner took in our report would undo what we just saw
    if (reported !== undefined && reported > m.acked) continue
    pending.delete(route)
    w.health.adopt(e.state, e.errorAt, 'state owner')
  }
  for (const w of registry.list()) if (!seen.has(w.route)) registry.remove(w.route)
}

function mirror (registry: WorkerRegistry, e: WorkerEntry): ReturnType<WorkerRegistry['add']> {
  const c = e.config
  let w = registry.get(c.route)
  if (w === undefined) w = registry.add(c, e.isStatic, e.memberId)
  else {
    if (w.url !== c.url) w.setUrl(c.url)
    if (w.lbfactor !== c.lbfactor) w.setLbfactor(c.lbfactor)
    w.redirect = c.redirect
    w.domain = c.domain
    if (w.connectionLimit !== c.connectionLimit) w.setConnectionLimit(c.connectionLimit)
    if (w.activation !== c.activation) registry.setActivation(c.route, c.activation)
    if (w.secret !== c.secret || (c.packetSize !== undefined && w.packetSize !== c.packetSize)) w.setAjpSettings(c.secret, c.packetSize)
  }
  w.isStatic = e.isStatic
  w.memberId = e.memberId
  return w
}

/** Run one serving process until the primary says stop (or goes away); resolves with the exit code. */
export async function runFollower (argv: string[], config: CliConfig, logger: Logger): Promise<number> {
  const accessFile = config.accessLogFile !== undefined ? new AppendFile(config.accessLogFile, logger) : null
  const optionsOf = (c: CliConfig): BalancerOptions => ({ ...c.balancer, admin: false, logger, ...(accessFile !== null ? { accessLogStream: accessFile } : {}) })
  let adopters: Record<string, string> = {}
  const balancer = createBalancer(optionsOf(config), { role: 'follower', adopterOf: (route) => adopters[route] })
  const registry = balancer.registry
  let applying = false
  let tableVersion = 0
  let reportId = 0
  const pending = new Map<string, number>()
  registry.onStateChange((w, _from, to, reason) => {
    // why not RECOVERING: every process (and the owner) turns ERROR into RECOVERING on the same clock
    if (applying || to === 'RECOVERING') return
    const id = ++reportId
    pending.set(w.route, id)
    void send({ kind: 'report', id, route: w.route, to, reason, at: Date.now() })
  })

  let gotTable!: () => void
  const firstTable = new Promise<void>((resolve) => { gotTable = resolve })
  let stop!: (graceMs: number) => void
  const stopped = new Promise<number>((resolve) => { stop = resolve })
  const onMessage = (m: unknown): void => {
    if (!isOurs<ToFollower>(m)) return
    switch (m.kind) {
      case 'table':
        applying = true
        try { applyTable(registry, m, pending) } finally { applying = false }
        adopters = m.adopters
        tableVersion = m.seq
        gotTable()
        break
      case 'status?':
        void send({ kind: 'status', id: m.id, status: balancer.status(), tableVersion })
        break
      case 'reload':
        accessFile?.reopen()
        try {
          const next = parseCli(argv)
          if (next !== null) balancer.reload(optionsOf(next), { keepWorkers: true })
        } catch (err) {
          logger.error({ err }, 'config reload refused: the running config keeps serving')
        }
        break
      case 'stop':
        stop(m.graceMs)
        break
    }
  }
  const onSignal = (): void => stop(5000)
  // why: a terminal's Ctrl-C or hangup reaches the whole process group; reloads come from the primary
  const onHup = (): void => logger.debug('SIGHUP ignored: the primary reloads every process')
  const onDisconnect = (): void => { logger.warn('primary gone: stopping'); stop(5000) }
  process.on('message', onMessage)
  process.once('SIGTERM', onSignal)
  process.once('SIGINT', onSignal)
  process.on('SIGHUP', onHup)
  process.once('disconnect', onDisconnect)
  const cleanup = (): void => {
    process.off('message', onMessage)
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
    process.off('SIGHUP', onHup)
    process.off('disconnect', onDisconnect)
  }
  try {
    void send({ kind: 'hello' })
    let timer: NodeJS.Timeout | undefined
    const got = await Promise.race([
      firstTable.then(() => true),
      stopped.then(() => false),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), FIRST_TABLE_TIMEOUT) })
    ])
    clearTimeout(timer)
    if (!got) throw new Error('no worker table from the primary')
    await balancer.start()
    void send({ kind: 'ready', listen: balancer.status().balancer.listen })
  } catch (err) {
    const e = err as Error & { code?: string }
    // why await: the process exits right after; the primary must get the reason first
    await send({ kind: 'failed', code: e.code ?? null, message: e.message })
    cleanup()
    await balancer.stop(0).catch(() => {})
    throw err
  }
  const graceMs = await stopped
  logger.info('stopping')
  await balancer.stop(graceMs)
  accessFile?.close()
  cleanup()
  return 0
}
