/**
 * Reload (SIGHUP, or balancer.reload()): a new configuration replaces the running one without a
 * restart and without dropping a connection. The new options are validated whole first (and the
 * TLS files loaded); anything wrong refuses the whole reload and the running configuration keeps
 * serving. Then, at once: workers added, removed (their pools close after the requests in flight)
 * or changed in place, limits and routing settings swapped (new requests see them; requests in
 * flight finish as they began), the certificate swapped for new connections. Settings that need
 * a listener or a timer rebuilt are kept, and named in the result (`restartNeeded`).
 *
 * Activation set through the admin API survives a reload until the file says otherwise: each
 * admin change remembers the file's activation for that worker at that moment; a reload keeps the
 * admin's value while the file still says the same, and takes the file's once it changes (the
 * operator edited it since), forgetting the admin change.
 */
import type { Activation, ResolvedOptions } from './options.js'

/** options a reload takes over (read at use, or applied to the listener) */
export const RELOADABLE = ['workers', 'mounts', 'sessionCookie', 'sessionPathParam', 'stickySession', 'stickySessionForce', 'method', 'maxAttempts', 'hedgeFloor', 'hedgeFactor', 'replayBufferSize', 'maxBody', 'maxConnsPerIp', 'connectionLimit', 'trustForwarded', 'tls'] as const
/** client limits a reload takes over (the rest of `client` needs a restart) */
export const RELOADABLE_CLIENT = ['maxUrlLength', 'headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'maxConnections', 'idleTimeout'] as const
/** options only a restart changes: listeners, timers, per-pool settings, the log format */
export const RESTART_ONLY = ['host', 'port', 'admin', 'httpRedirect', 'healthCheck', 'maintainInterval', 'connectTimeout', 'headersTimeout', 'bodyTimeout', 'poolKeepAliveTimeout', 'recoverTime', 'failuresToError', 'accessLog', 'accessLogFormat'] as const

export interface ReloadResult {
  /** option names whose value changed and was applied */
  applied: string[]
  /** option names whose value changed but needs a restart (the running value is kept) */
  restartNeeded: string[]
  workers: { added: string[], removed: string[], changed: string[], activationKept: string[] }
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

/** what changed between two resolved configurations, by option name */
export function diffOptions (from: ResolvedOptions, to: ResolvedOptions): { applied: string[], restartNeeded: string[] } {
  const applied: string[] = []
  const restartNeeded: string[] = []
  for (const k of RELOADABLE) if (!same(from[k], to[k])) applied.push(k)
  for (const k of RESTART_ONLY) if (!same(from[k], to[k])) restartNeeded.push(k)
  for (const k of RELOADABLE_CLIENT) if (from.client[k] !== to.client[k]) applied.push(`client.${k}`)
  for (const k of ['maxHeaderSize', 'connectionsCheckingInterval'] as const) if (from.client[k] !== to.client[k]) restartNeeded.push(`client.${k}`)
  // why: turning TLS on or off changes the listener; new files for a TLS listener do not
  if ((from.tls === false) !== (to.tls === false)) {
    applied.splice(applied.indexOf('tls'), 1)
    restartNeeded.push('tls')
  }
  return { applied, restartNeeded }
}

/**
 * Admin activation changes and the file's value at the time of each: route → the activation the
 * file gave that worker when the admin changed it.
 */
export class ActivationOverrides {
  readonly #fileValueAtChange = new Map<string, Activation | undefined>()

  /** the admin API set a worker's activation; `fileValue`: what the file says for it now (undefined: not in the file) */
  record (route: string, fileValue: Activation | undefined): void {
    this.#fileValueAtChange.set(route, fileValue)
  }

  /**
   * The activation a worker gets from a reload whose file says `fileValue`: the admin's
   * (`current`) while the file still says what it said at the admin change, else the file's (and
   * the admin change is forgotten).
   */
  resolve (route: string, fileValue: Activation, current: Activation): { activation: Activation, kept: boolean } {
    if (!this.#fileValueAtChange.has(route)) return { activation: fileValue, kept: false }
    if (this.#fileValueAtChange.get(route) === fileValue) return { activation: current, kept: current !== fileValue }
    this.#fileValueAtChange.delete(route)
    return { activation: fileValue, kept: false }
  }

  forget (route: string): void {
    this.#fileValueAtChange.delete(route)
  }

  has (route: string): boolean {
    return this.#fileValueAtChange.has(route)
  }
}
