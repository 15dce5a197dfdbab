/**
 * Choosing a worker (mod_jk's lb algorithm): sticky to the session's route while that worker is
 * usable; otherwise its redirect, then the member the placement names (backup manager), then its
 * domain, then the best usable worker by lbfactor-weighted
 * request count (`requests`) or in-flight count (`busyness`). Ties rotate.
 */
import type { LbMethod } from './options.js'
import type { Worker } from './worker.js'
import type { WorkerRegistry } from './worker-registry.js'

export type Choice =
  | { worker: Worker, sticky: boolean, probe: boolean, error?: undefined }
  | { worker?: undefined, error: 'LB_ERR_NO_WORKER' | 'LB_ERR_STICKY_UNAVAILABLE' }

export interface ChooseRules {
  method: LbMethod
  stickySession: boolean
  stickySessionForce: boolean
}

const NO_WORKER: Choice = { error: 'LB_ERR_NO_WORKER' }
const STICKY_UNAVAILABLE: Choice = { error: 'LB_ERR_STICKY_UNAVAILABLE' }

export class Chooser {
  readonly #registry: WorkerRegistry
  readonly #rules: ChooseRules
  #next = 0

  readonly #adopterOf: (route: string) => string | undefined

  /**
   * `adopterOf`: where a route's sessions are served when its worker is unusable or gone, when
   * the placement says so (discovery of backup-manager members); a configured redirect comes first
   */
  constructor (registry: WorkerRegistry, rules: ChooseRules, adopterOf: (route: string) => string | undefined = () => undefined) {
    this.#registry = registry
    this.#rules = rules
    this.#adopterOf = adopterOf
  }

  /**
   * Pick a worker for a request naming `routes` (best first), never one in `exclude` (workers
   * that already failed this request). A RECOVERING pick is the worker's probe (claimed here).
   */
  choose (routes: readonly string[], exclude: ReadonlySet<Worker> | null, now = Date.now()): Choice {
    const force = this.#rules.stickySessionForce
    if (this.#rules.stickySession) {
      for (const route of routes) {
        const w = this.#registry.get(route)
        if (w !== undefined) {
          if (this.#stickyUsable(w, exclude, now) && (force || !w.atLimit())) return this.#take(w, true, now)
          if (force) return STICKY_UNAVAILABLE
          if (w.redirect !== undefined) {
            const r = this.#registry.get(w.redirect)
            if (r !== undefined && r !== w && this.#stickyUsable(r, exclude, now) && !r.atLimit()) return this.#take(r, false, now)
          }
          const adopted = this.#adopter(route, w, exclude, now)
          if (adopted !== undefined) return this.#take(adopted, false, now)
          if (w.domain !== undefined) {
            const d = this.#best(exclude, now, w.domain)
            if (d !== undefined) return this.#take(d, false, now)
          }
          break
        }
        // a discovered worker that is gone: its sessions' holder by the placement
        const adopted = this.#adopter(route, undefined, exclude, now)
        if (adopted !== undefined) return this.#take(adopted, false, now)
        // why (mod_jk): an unknown "dom.t1" may name a replication group: try domain "dom"
        const dot = route.indexOf('.')
        if (dot > 0) {
          const d = this.#best(exclude, now, route.slice(0, dot))
          if (d !== undefined) return this.#take(d, false, now)
        }
      }
    }
    const best = this.#best(exclude, now, undefined)
    if (best !== undefined) return this.#take(best, false, now)
    // why (mod_jk "forced recovery"): with nothing usable, let one request probe the worker
    // that failed longest ago instead of refusing everyone until recoverTime
    const forced = this.#oldestError(exclude, now)
    if (forced !== undefined) return this.#take(forced, false, now)
    return NO_WORKER
  }

  #adopter (route: string, w: Worker | undefined, exclude: ReadonlySet<Worker> | null, now: number): Worker | undefined {
    const name = this.#adopterOf(route)
    if (name === undefined) return undefined
    const a = this.#registry.get(name)
    return a !== undefined && a !== w && a.activation === 'active' && this.#stickyUsable(a, exclude, now) && !a.atLimit() ? a : undefined
  }

  #stickyUsable (w: Worker, exclude: ReadonlySet<Worker> | null, now: number): boolean {
    return w.activation !== 'stopped' && (exclude === null || !exclude.has(w)) && w.health.usable(now)
  }

  #score (w: Worker): number {
    return this.#rules.method === 'busyness' ? w.inFlight * w.mult : w.lbValue
  }

  /** best worker for new work (activation active, usable, below its limit), optionally in one domain */
  #best (exclude: ReadonlySet<Worker> | null, now: number, domain: string | undefined): Worker | undefined {
    const list = this.#registry.list()
    const n = list.length
    if (n === 0) return undefined
    const start = this.#next++ % n
    if (this.#next > 1e9) this.#next = 0
    let best: Worker | undefined
    let bestScore = Infinity
    let bestTie = Infinity
    for (let i = 0; i < n; i++) {
      const w = list[(start + i) % n]!
      if (w.activation !== 'active' || (domain !== undefined && w.domain !== domain)) continue
      if ((exclude !== null && exclude.has(w)) || w.atLimit() || !w.health.usable(now)) continue
      const score = this.#score(w)
      // why: busyness ties (all idle) fall back to the weighted request count
      const tie = this.#rules.method === 'busyness' ? w.lbValue : 0
      if (score < bestScore || (score === bestScore && tie < bestTie)) {
        best = w
        bestScore = score
        bestTie = tie
      }
    }
    return best
  }

  #oldestError (exclude: ReadonlySet<Worker> | null, now: number): Worker | undefined {
    let pick: Worker | undefined
    for (const w of this.#registry.list()) {
      if (w.activation !== 'active' || (exclude !== null && exclude.has(w)) || w.health.probing || w.atLimit()) continue
      if (w.health.state(now) === 'OK') continue
      if (pick === undefined || w.health.errorAt < pick.health.errorAt) pick = w
    }
    return pick
  }

  #take (w: Worker, sticky: boolean, now: number): Choice {
    const probe = w.health.state(now) !== 'OK'
    if (probe) w.health.claimProbe()
    w.chosen()
    return { worker: w, sticky, probe }
  }
}
