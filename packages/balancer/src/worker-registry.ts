/**
 * The set of workers, by route: static ones from the configuration and discovered ones from
 * tribes, mixed. Logs one line per worker state change.
 */
import type { Logger } from 'pino'
import { errors } from './errors.js'
import type { Activation, ResolvedOptions } from './options.js'
import { Worker, type WorkerConfigResolved } from './worker.js'
import type { WorkerState } from './worker-states.js'

export type StateListener = (worker: Worker, from: WorkerState, to: WorkerState, reason: string) => void
/** a worker was added or removed, or its activation changed */
export type TableListener = (route: string, change: 'added' | 'removed' | 'activation') => void

export class WorkerRegistry {
  #byRoute = new Map<string, Worker>()
  /** each worker's configuration as added (`--workers n` hands it to the other processes) */
  readonly #configs = new Map<string, WorkerConfigResolved>()
  #list: Worker[] = []
  readonly #options: ResolvedOptions
  readonly #logger: Logger
  readonly #listeners: StateListener[] = []
  readonly #tableListeners: TableListener[] = []

  constructor (options: ResolvedOptions, logger: Logger) {
    this.#options = options
    this.#logger = logger
  }

  /** all workers, in the order they were added (do not mutate) */
  list (): readonly Worker[] { return this.#list }
  get (route: string): Worker | undefined { return this.#byRoute.get(route) }
  /** the configuration a worker was added with (fields changed since are on the Worker) */
  configOf (route: string): WorkerConfigResolved | undefined { return this.#configs.get(route) }
  get size (): number { return this.#list.length }

  onStateChange (listener: StateListener): void { this.#listeners.push(listener) }
  onTableChange (listener: TableListener): void { this.#tableListeners.push(listener) }

  /** add a worker; throws LB_ERR_DUPLICATE_ROUTE if the route is taken */
  add (config: WorkerConfigResolved, isStatic: boolean, memberId: string | null = null): Worker {
    if (this.#byRoute.has(config.route)) throw errors.duplicateRoute(config.route)
    const o = this.#options
    const rules = {
      recoverTime: o.recoverTime,
      failuresToError: o.failuresToError,
      rise: o.healthCheck === false ? 1 : o.healthCheck.rise,
      fall: o.healthCheck === false ? 1 : o.healthCheck.fall
    }
    const pool = { connectTimeout: o.connectTimeout, headersTimeout: o.headersTimeout, bodyTimeout: o.bodyTimeout, keepAliveTimeout: o.poolKeepAliveTimeout, logger: this.#logger }
    const worker = new Worker(config, isStatic, pool, rules, (w, from, to, reason) => this.#changed(w, from, to, reason))
    worker.memberId = memberId
    // why: a newcomer starting at 0 would take every new session until it caught up
    worker.raiseLbValue(this.#maxLbValue())
    this.#byRoute.set(worker.route, worker)
    this.#configs.set(worker.route, config)
    this.#list = [...this.#list, worker]
    this.#logger.info({ route: worker.route, address: worker.url, source: isStatic ? 'static' : 'discovered' }, 'worker added')
    for (const l of this.#tableListeners) l(worker.route, 'added')
    return worker
  }

  /** remove a worker; its pool closes once in-flight requests finish */
  remove (route: string): boolean {
    const worker = this.#byRoute.get(route)
    if (worker === undefined) return false
    this.#byRoute.delete(route)
    this.#configs.delete(route)
    this.#list = this.#list.filter((w) => w !== worker)
    this.#logger.info({ route }, 'worker removed')
    void worker.close()
    for (const l of this.#tableListeners) l(route, 'removed')
    return true
  }

  setActivation (route: string, activation: Activation): Worker {
    const worker = this.#byRoute.get(route)
    if (worker === undefined) throw errors.unknownWorker(route)
    if (worker.activation !== activation) {
      this.#logger.info({ route, from: worker.activation, to: activation }, 'worker activation changed')
      worker.activation = activation
      for (const l of this.#tableListeners) l(route, 'activation')
    }
    return worker
  }

  /** halve the balancing counters so old load fades (mod_jk's maintenance decay) */
  decay (): void {
    for (const w of this.#list) w.decayLbValue()
  }

  async closeAll (): Promise<void> {
    await Promise.all(this.#list.map(async (w) => { await w.close() }))
  }

  #maxLbValue (): number {
    let max = 0
    for (const w of this.#list) if (w.lbValue > max) max = w.lbValue
    return max
  }

  #changed (worker: Worker, from: WorkerState, to: WorkerState, reason: string): void {
    if (from === 'ERROR') worker.raiseLbValue(this.#maxLbValue())
    const line = { route: worker.route, address: worker.url, from, to, reason }
    if (to === 'ERROR') this.#logger.warn(line, 'worker state changed')
    else this.#logger.info(line, 'worker state changed')
    for (const l of this.#listeners) l(worker, from, to, reason)
  }
}
