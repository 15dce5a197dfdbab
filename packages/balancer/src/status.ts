/** The status model shared by /status, the HTML page and /metrics. */
import type { WorkerStatus } from './worker.js'
import type { Activation, LbMethod } from './options.js'
import type { AdminRefusal } from './admin-guard.js'

export interface BalancerTotals {
  listen: string | null
  uptimeSeconds: number
  method: LbMethod
  stickySession: boolean
  stickySessionForce: boolean
  requests: number
  inFlight: number
  retries: number
  /** hedges (hedge.ts): sent to a second worker after the first stayed silent, and which try answered first */
  hedges?: { sent: number, wonByHedge: number, wonByOriginal: number }
  websockets: number
  /** requests node's parser rejected (400/408/431), which never reached a worker */
  clientErrors: number
  /** client connections closed at accept: `perIp`, over maxConnsPerIp from one address */
  connectionsRefused: { perIp: number }
  /** answers the balancer gave itself, by LB_ERR_* code */
  answered: Record<string, number>
  /** admin requests refused (bad Host, forgeable or cross-site changes), by LB_ERR_ADMIN_* code */
  adminRefused: Record<string, number>
  workers: { total: number, ok: number, error: number, recovering: number }
  /** `--workers n`: the serving processes (the counters above are their sum) */
  processes?: ProcessStatus[]
  /** `--workers n`: the version of the worker table the primary last sent (each process shows the one it applied) */
  tableVersion?: number
}

/** One serving process of `nodecat-balancer --workers n`. */
export interface ProcessStatus {
  /** 1..n, as its log lines' `proc` */
  proc: number
  /** null while it is being restarted */
  pid: number | null
  /** times it was restarted after it died */
  restarts: number
  /** its requests (counted since it last started) */
  requests: number
  /** the owner's table version it has applied */
  tableVersion: number
  /** false: it did not answer this status in time (its counters are the last it reported) */
  answered: boolean
}

export interface BalancerStatus {
  balancer: BalancerTotals
  workers: WorkerStatus[]
}

/** What the admin listener needs from a balancer. */
export interface AdminView {
  status (): BalancerStatus | Promise<BalancerStatus>
  /** throws WorkerError LB_ERR_UNKNOWN_WORKER */
  setActivation (route: string, activation: Activation): WorkerStatus
  /** count an admin request the listener refused */
  refused? (code: AdminRefusal): void
}
