/**
 * What the processes of `nodecat-balancer --workers n` tell each other over the cluster module's
 * IPC channel, and how the admin listener sums their counters. The primary owns the worker table
 * (process-group.ts); every serving process mirrors it (process-follower.ts).
 */
import type { BalancerStatus } from './status.js'
import type { Worker, WorkerConfigResolved, WorkerStatus } from './worker.js'
import type { WorkerRegistry } from './worker-registry.js'
import type { WorkerState } from './worker-states.js'

/** marks our messages among the cluster module's own */
export const TAG = 'nodecat-balancer'
/** env var naming a serving process (1..n); set by the primary when it forks one */
export const PROC_ENV = 'NODECAT_BALANCER_PROC'

/** One worker as the owner holds it: configuration and state. */
export interface WorkerEntry {
  /** as added, with the fields changed since (url, lbfactor, activation, redirect, domain, connectionLimit, ajp secret and packet size) */
  config: WorkerConfigResolved
  isStatic: boolean
  memberId: string | null
  state: WorkerState
  /** the owner's last move to ERROR (ms timestamp; one machine, one clock) */
  errorAt: number
}

export function entryOf (registry: WorkerRegistry, w: Worker, now: number): WorkerEntry {
  const config: WorkerConfigResolved = { ...registry.configOf(w.route)!, route: w.route, url: w.url, lbfactor: w.lbfactor, activation: w.activation, connectionLimit: w.connectionLimit }
  delete config.redirect
  delete config.domain
  if (w.redirect !== undefined) config.redirect = w.redirect
  if (w.domain !== undefined) config.domain = w.domain
  // why from the worker: a reload may have changed an ajp:// worker's secret or packet size since it was added
  delete config.secret
  if (w.secret !== undefined) config.secret = w.secret
  if (w.url.startsWith('ajp:')) config.packetSize = w.packetSize
  return {
    config,
    isStatic: w.isStatic,
    memberId: w.memberId,
    state: w.health.state(now),
    errorAt: w.health.errorAt
  }
}

/** primary → serving process */
export type ToFollower =
  /** the whole worker table, version `seq`; `acked`: the last report of this process it includes */
  | { tag: typeof TAG, kind: 'table', seq: number, acked: number, workers: WorkerEntry[], adopters: Record<string, string> }
  | { tag: typeof TAG, kind: 'status?', id: number }
  /** read the flags and config file again (SIGHUP), the worker table excepted */
  | { tag: typeof TAG, kind: 'reload' }
  | { tag: typeof TAG, kind: 'stop', graceMs: number }

/** serving process → primary */
type Untagged<T> = T extends unknown ? Omit<T, 'tag'> : never
export type ToOwnerBody = Untagged<ToOwner>

export type ToOwner =
  /** listening for messages: send the table */
  | { tag: typeof TAG, kind: 'hello' }
  | { tag: typeof TAG, kind: 'ready', listen: string | null }
  /** a state change this process saw itself (a request failed, a probe succeeded) */
  | { tag: typeof TAG, kind: 'report', id: number, route: string, to: 'ERROR' | 'OK', reason: string, at: number }
  | { tag: typeof TAG, kind: 'status', id: number, status: BalancerStatus, tableVersion: number }
  /** start-up failed (the process exits next) */
  | { tag: typeof TAG, kind: 'failed', code: string | null, message: string }

export function isOurs<T extends { kind: string }> (m: unknown): m is T {
  return typeof m === 'object' && m !== null && (m as { tag?: unknown }).tag === TAG && typeof (m as { kind?: unknown }).kind === 'string'
}

/** a process's counters kept after it died: nothing is in flight any more */
export function retire (s: BalancerStatus): BalancerStatus {
  return {
    balancer: { ...s.balancer, inFlight: 0 },
    workers: s.workers.map((w) => ({ ...w, inFlight: 0 }))
  }
}

function addCounts (into: Record<string, number>, from: Record<string, number> | undefined): void {
  for (const [k, n] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + n
}

/**
 * The admin view over processes: the owner's worker states and configuration (the one truth),
 * the serving processes' request counters summed (`parts`), and the owner's own admin refusals.
 */
export function sumStatus (owner: BalancerStatus, parts: BalancerStatus[]): BalancerStatus {
  const b = { ...owner.balancer, answered: { ...owner.balancer.answered }, connectionsRefused: { ...owner.balancer.connectionsRefused } }
  // why: the owner serves no client; its own hedge counters are zeros that the sum starts from
  if (b.hedges !== undefined) b.hedges = { ...b.hedges }
  const byRoute = new Map<string, WorkerStatus>()
  const workers = owner.workers.map((w) => {
    const sum = { ...w }
    byRoute.set(w.route, sum)
    return sum
  })
  for (const p of parts) {
    const pb = p.balancer
    b.listen ??= pb.listen
    b.requests += pb.requests
    b.inFlight += pb.inFlight
    b.retries += pb.retries
    b.websockets += pb.websockets
    b.clientErrors += pb.clientErrors
    b.connectionsRefused.perIp += pb.connectionsRefused?.perIp ?? 0
    if (pb.hedges !== undefined) {
      const h = b.hedges ?? { sent: 0, wonByHedge: 0, wonByOriginal: 0 }
      b.hedges = { sent: h.sent + pb.hedges.sent, wonByHedge: h.wonByHedge + pb.hedges.wonByHedge, wonByOriginal: h.wonByOriginal + pb.hedges.wonByOriginal }
    }
    addCounts(b.answered, pb.answered)
    for (const pw of p.workers) {
      const w = byRoute.get(pw.route)
      if (w === undefined) continue
      w.requests += pw.requests
      w.errors += pw.errors
      w.sessionsRouted += pw.sessionsRouted
      w.inFlight += pw.inFlight
      if (pw.lastError !== null && (w.lastError === null || pw.lastError.at > w.lastError.at)) w.lastError = pw.lastError
    }
  }
  return { balancer: b, workers }
}

/** two retired processes' counters as one (their worker lists merged by route) */
export function mergeRetired (a: BalancerStatus | null, b: BalancerStatus): BalancerStatus {
  if (a === null) return b
  const routes = new Map<string, WorkerStatus>()
  for (const w of [...a.workers, ...b.workers]) if (!routes.has(w.route)) routes.set(w.route, { ...w, requests: 0, errors: 0, sessionsRouted: 0, inFlight: 0, lastError: null })
  const base: BalancerStatus = {
    balancer: { ...a.balancer, requests: 0, inFlight: 0, retries: 0, websockets: 0, clientErrors: 0, connectionsRefused: { perIp: 0 }, answered: {}, ...(a.balancer.hedges !== undefined ? { hedges: { sent: 0, wonByHedge: 0, wonByOriginal: 0 } } : {}) },
    workers: [...routes.values()]
  }
  return sumStatus(base, [a, b])
}
