/**
 * The backup manager's upkeep of its copies (a placed strategy only): when members come or go,
 * every session held here is checked against the placement rule.
 * - A session this node should hold: each member that should hold it too and is not known to (a
 *   new buddy, a restarted member, the buddy of a node that adopted a failed member's sessions) is
 *   sent the whole session. Every holder does this for the members it does not know to hold it, so
 *   a session gets back to its k + 1 copies as long as one copy is left; the receiving side keeps
 *   the newest of what arrives.
 * - A session this node should no longer hold (a primary came back, a member joined in between) is
 *   dropped once it has been out of place for `grace` ms, so the placement has settled and its new
 *   holders have their copies. No listener fires: the session lives on elsewhere.
 * Pushes go in windows of WINDOW sends, each window acknowledged before the next, so 10k sessions
 * neither fill the dispatch queue nor hold the event loop.
 */
import type { Member } from '@nodecat/tribes'
import type { ManagerContext } from './context.js'
import type { ReplicationStrategy } from './replication-strategy.js'

const WINDOW = 128

export interface RebalanceStats {
  /** passes over the sessions */
  runs: number
  /** whole sessions sent to a member that should hold them */
  pushed: number
  /** copies dropped here because this node no longer should hold them */
  dropped: number
  /** ms the last pass took, pushes included */
  lastMs: number
}

export const emptyRebalanceStats = (): RebalanceStats => ({ runs: 0, pushed: 0, dropped: 0, lastMs: 0 })

export interface RebalanceOptions {
  /** ms a copy stays out of place before it is dropped */
  grace: number
  /** ms between passes while nothing changes (drops strays, retries failed pushes) */
  interval: number
  /** ms to wait after a membership change before a pass (several changes make one pass) */
  settle: number
}

export class Rebalance {
  readonly stats: RebalanceStats = emptyRebalanceStats()
  readonly #ctx: ManagerContext
  readonly #strategy: ReplicationStrategy
  readonly #opts: RebalanceOptions
  readonly #onDrop: (base: string) => void
  #timer: NodeJS.Timeout | null = null
  #interval: NodeJS.Timeout | null = null
  #running: Promise<void> | null = null
  #again = false

  constructor (ctx: ManagerContext, strategy: ReplicationStrategy, opts: RebalanceOptions, onDrop: (base: string) => void) {
    this.#ctx = ctx
    this.#strategy = strategy
    this.#opts = opts
    this.#onDrop = onDrop
  }

  start (): void {
    if (!this.#strategy.placed || this.#interval !== null) return
    this.#interval = setInterval(() => this.schedule(0), this.#opts.interval)
    this.#interval.unref()
  }

  stop (): void {
    if (this.#timer) clearTimeout(this.#timer)
    if (this.#interval) clearInterval(this.#interval)
    this.#timer = null
    this.#interval = null
  }

  /** members changed: a pass after `settle` ms (or `delay`) */
  schedule (delay = this.#opts.settle): void {
    if (!this.#strategy.placed || !this.#ctx.running()) return
    if (this.#timer !== null) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      void this.run()
    }, delay)
    this.#timer.unref()
  }

  /** one pass now (a pass already running is followed by another) */
  async run (): Promise<void> {
    if (this.#running !== null) { this.#again = true; return await this.#running }
    this.#running = this.#pass().finally(() => { this.#running = null })
    await this.#running
    if (this.#again) { this.#again = false; await this.run() }
  }

  async #pass (): Promise<void> {
    const { table, replicator, log } = this.#ctx
    const started = performance.now()
    const peers = replicator.peers()
    const live = new Set(peers.map((m) => m.id))
    const now = this.#ctx.mono()
    let window: Array<Promise<unknown>> = []
    let pushed = 0
    let dropped = 0
    for (const rec of [...table.values()]) {
      if (!this.#ctx.running()) return
      const place = this.#strategy.placement(rec.route, peers)
      if (!place.mine) {
        if (rec.strayAt === null) rec.strayAt = now
        else if (now - rec.strayAt >= this.#opts.grace && table.get(rec.base) === rec) {
          table.delete(rec.base)
          this.#onDrop(rec.base)
          dropped++
        }
        continue
      }
      rec.strayAt = null
      if (rec.holders !== null) for (const id of rec.holders) if (!live.has(id)) rec.holders.delete(id)
      const lacking: Member[] = place.others.filter((m) => rec.holders === null || !rec.holders.has(m.id))
      if (lacking.length === 0) continue
      window.push(replicator.pushWinner(rec, lacking, 'sync'))
      pushed += lacking.length
      if (window.length >= WINDOW) { await Promise.all(window); window = [] }
    }
    await Promise.all(window)
    const ms = performance.now() - started
    this.stats.runs++
    this.stats.pushed += pushed
    this.stats.dropped += dropped
    this.stats.lastMs = Math.round(ms)
    if (pushed > 0 || dropped > 0) log.info({ pushed, dropped, ms: Math.round(ms), sessions: table.size }, 'backup copies rebalanced: whole sessions sent to the members that should hold them, copies out of place dropped')
  }
}
