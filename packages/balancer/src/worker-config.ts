/**
 * One worker as configured or discovered, before validation: the shape options.ts validates and
 * worker-spec.ts parses from text. Both read it here, so neither imports the other for a type.
 */

export type Activation = 'active' | 'disabled' | 'stopped'
export const ACTIVATIONS: readonly Activation[] = ['active', 'disabled', 'stopped']

/** One worker (a nodecat node, or any HTTP backend) as configured or discovered. */
export interface WorkerConfig {
  /** the jvmRoute: what follows the first '.' of the session id */
  route: string
  /** base URL, http://host:port (no path), or ajp://host:port for an AJP/1.3 connector (Tomcat's, default port 8009) */
  url: string
  /** weight for new sessions (1..100) */
  lbfactor?: number
  activation?: Activation
  /** route of the preferred failover worker (used even if it is disabled: hot standby) */
  redirect?: string
  /** replication group; default: the part of the route before its first '.', if any */
  domain?: string
  /** in-flight requests at which the worker is skipped (0 = no limit); also the pool size */
  connectionLimit?: number
  /** ajp:// only: the AJP connector's `secret` (sent as the secret attribute; never logged or shown) */
  secret?: string
  /** ajp:// only: the AJP packet size, equal to Tomcat's `packetSize` (8192..65536, default 8192) */
  packetSize?: number
}
