/** Balancer-wide counters shown by /status and /metrics. */
import type { ClientErrorCode } from './errors.js'
import type { AdminRefusal } from './admin-guard.js'

export class BalancerStats {
  readonly startedAt = Date.now()
  requests = 0
  inFlight = 0
  /** tries on another (or the same) worker after a failure */
  retries = 0
  websockets = 0
  /** hedges sent (a silent worker's idempotent request sent once more, hedge.ts), and who answered first */
  hedgesSent = 0
  hedgesWonByHedge = 0
  hedgesWonByOriginal = 0
  /** answers the balancer gave itself, by code */
  readonly answered: Partial<Record<ClientErrorCode, number>> = {}
  /** malformed requests node's parser rejected (never reached a worker) */
  clientErrors = 0
  /** client connections closed at accept because their IP had maxConnsPerIp open already */
  connectionsRefusedPerIp = 0
  /** admin requests refused, by code */
  readonly adminRefused: Partial<Record<AdminRefusal, number>> = {}

  count (code: ClientErrorCode): void {
    this.answered[code] = (this.answered[code] ?? 0) + 1
  }

  countAdminRefusal (code: AdminRefusal): void {
    this.adminRefused[code] = (this.adminRefused[code] ?? 0) + 1
  }
}
