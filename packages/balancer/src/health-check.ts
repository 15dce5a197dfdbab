/**
 * Active health checks: every `interval` ms, GET `path` on each worker that is not stopped
 * (ERROR ones too: `rise` good answers bring them back). 2xx/3xx is good; anything else, an error
 * or no answer within `timeout` is bad. An ajp:// worker gets an AJP CPing instead (on a pooled
 * connection, or a new one): a CPong within `timeout` is good.
 */
import type { HealthCheckOptions } from './options.js'
import type { Worker } from './worker.js'
import type { WorkerRegistry } from './worker-registry.js'

export class HealthChecker {
  readonly #registry: WorkerRegistry
  readonly #options: HealthCheckOptions
  readonly #running = new Set<Worker>()
  #timer: NodeJS.Timeout | null = null
  #stopped = true

  constructor (registry: WorkerRegistry, options: HealthCheckOptions) {
    this.#registry = registry
    this.#options = options
  }

  start (): void {
    this.#stopped = false
    this.#schedule()
  }

  stop (): void {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  #schedule (): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#round()
      this.#schedule()
    }, this.#options.interval)
    this.#timer.unref()
  }

  #round (): void {
    for (const w of this.#registry.list()) {
      if (w.activation === 'stopped' || this.#running.has(w)) continue
      void this.check(w)
    }
  }

  /** check one worker now and feed the result to its state machine; resolves true if healthy */
  async check (worker: Worker): Promise<boolean> {
    this.#running.add(worker)
    const { path, timeout } = this.#options
    let ok = false
    let reason = ''
    try {
      if (worker.ajp !== null) {
        // an ajp:// worker: CPing/CPong, as mod_jk's ping_mode probes a Tomcat (the path is HTTP's)
        await worker.ajp.ping(timeout)
        ok = true
        reason = 'cpong'
      } else {
        const res = await worker.pool.request({
          path,
          method: 'GET',
          headers: { 'user-agent': 'nodecat-balancer-health-check' },
          headersTimeout: timeout,
          bodyTimeout: timeout,
          signal: AbortSignal.timeout(timeout + 50)
        })
        await res.body.dump()
        ok = res.statusCode >= 200 && res.statusCode < 400
        reason = `status ${res.statusCode}`
      }
    } catch (err) {
      reason = (err as { code?: string }).code ?? (err as Error).name
    } finally {
      this.#running.delete(worker)
    }
    // why: a worker removed meanwhile is no longer ours to judge
    if (this.#registry.get(worker.route) === worker) worker.health.check(ok, reason)
    return ok
  }
}
