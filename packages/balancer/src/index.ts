/** @nodecat/balancer: a sticky, jvmRoute-aware reverse proxy that fails over without losing sessions. */
export { createBalancer, type Balancer } from './balancer.js'
export { createDiscovery, type Discovery, type DiscoveryOptions } from './discovery.js'
export { createAdminHandler, startAdmin, tokenMatches, type AdminHandlerOptions } from './admin.js'
export { sessionRoutes, loggablePath } from '@nodecat/protocol'
export { requestHeaders, responseHeaders } from './headers.js'
export { renderMetrics } from './metrics.js'
export { combinedLine, type AccessLogFormat, type AccessRecord } from './access-log.js'
export { TLS_MIN_VERSION, TLS_MAX_VERSION, type TlsFiles } from './tls.js'
export { parseWorkerSpec } from './worker-spec.js'
export {
  DEFAULTS, resolveBalancerOptions, resolveWorker, isLoopbackHost,
  type BalancerOptions, type ResolvedOptions, type WorkerConfig, type Activation, type LbMethod,
  type HealthCheckOptions, type ClientLimits, type AdminOptions
} from './options.js'
export { BalancerError, BalancerOptionError, WorkerError, CLIENT_ERRORS, BALANCER_ERROR_CODES, type ClientErrorCode, type BalancerErrorCode } from './errors.js'
export { NodecatError } from '@nodecat/protocol'
export type { WorkerStatus } from './worker.js'
export type { WorkerState } from './worker-states.js'
export type { BalancerStatus, BalancerTotals, AdminView } from './status.js'
