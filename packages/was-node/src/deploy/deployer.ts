/**
 * Cluster deploy on one member (Tomcat's FarmWarDeployer's job, see docs/DEPLOY.md):
 * - as a member it stores versions sent over the cluster channel (store.ts), switches its app to
 *   one when told (service/app-switch.ts: loaded first, then swapped with the drain), and answers
 *   status, current-version and fetch questions;
 * - as the coordinator of a rollout (the member the deploy CLI talked to) it sends the bundle to
 *   every member, then switches them ONE AT A TIME, each only after the previous one serves again
 *   (its /_nodecat/ready answers 200). A member on which the version does not load stops the
 *   rollout: the members already switched go back (one at a time too), the others never left the
 *   old version, and the error goes back to the CLI with the member's name;
 * - when it joins a running cluster it asks the longest-running member which version runs and
 *   takes that one (fetching its bundle when it lacks it) before it serves a request.
 */
import type { Logger } from 'pino'
import type { Channel, Member } from '@nodecat/tribes'
import { loadApp } from '../service/app-loader.js'
import type { AppSwitch } from '../service/app-switch.js'
import { READY_PATH } from '../service/readiness.js'
import { deployErrors } from './errors.js'
import { DeployRpc, type DeployRequest } from './rpc.js'
import { checkBundle, DeployStore, ID_PATTERN, INITIAL, type CheckedBundle, type VersionInfo } from './store.js'
import type { TarLimits } from './tar.js'

export interface DeployerOptions {
  route: string
  store: DeployStore
  limits: TarLimits
  appSwitch: AppSwitch
  /** the node's readiness: paused while the app switches */
  pause: (paused: boolean) => void
  /** this node's HTTP base URL (for its own readiness) */
  httpUrl: () => string
  /** ms the app requests in flight get to finish on the old version at a switch */
  drainMs: number
  logger: Logger
}

/** ms a member may take to store a bundle, or to load and switch to a version */
export const STEP_TIMEOUT = 120_000
/** ms a switched member may take to answer /_nodecat/ready with 200 */
export const READY_TIMEOUT = 60_000
/** ms for a quick question (status, current) */
const ASK_TIMEOUT = 10_000

export interface MemberStatus { route: string, running: string, label: string, history: string[], versions: VersionInfo[], switching: boolean }
export interface RolloutStep { route: string, from: string, to: string, ok: boolean, ms: number, error?: string, code?: string }
export interface RolloutReport { ok: boolean, version: string, label: string, steps: RolloutStep[], member?: string, code?: string, error?: string }

const memberName = (m: Member): string => m.meta?.route ?? m.id
const isStr = (x: unknown, max = 256): x is string => typeof x === 'string' && x.length <= max
const isVersion = (x: unknown): x is string => isStr(x) && (x === INITIAL || ID_PATTERN.test(x))

/** one member of a rollout: this node (local) or a peer */
type Target = { route: string, member: Member | null, http: string }

export class Deployer {
  readonly #o: DeployerOptions
  #channel: Channel | null = null
  #rpc: DeployRpc | null = null
  /** a switch on this member (one at a time) */
  #switching: Promise<unknown> | null = null
  /** a rollout this member coordinates (one at a time) */
  #rolling = false
  readonly dropped: Record<string, number> = {}

  constructor (options: DeployerOptions) { this.#o = options }

  get store (): DeployStore { return this.#o.store }

  attach (channel: Channel): void {
    this.#channel = channel
    this.#rpc = new DeployRpc(channel, (req, from) => this.#onRequest(req, from), (reason, from) => {
      this.dropped[reason] = (this.dropped[reason] ?? 0) + 1
      this.#o.logger.warn({ reason, member: from.id }, 'deploy message dropped')
    })
  }

  close (): void { this.#rpc?.close() }

  /** Load the version this member ran before it stopped (state.json), before it serves. */
  async resume (): Promise<void> {
    const running = this.store.state().running
    if (running === INITIAL) return
    try {
      await this.switchLocal(running, this.store.state().history)
      this.#o.logger.info({ event: 'deploy-resumed', version: running }, `serving app version ${running} (${this.store.info(running)?.label ?? ''}) as before the restart`)
    } catch (err) {
      this.#o.logger.error({ err, version: running }, `the stored app version ${running} does not load; serving the --app`)
      this.store.setState({ running: INITIAL, history: this.store.state().history })
    }
  }

  /** A joining member: take the version the longest-running peer runs (before serving). */
  async syncFromCluster (): Promise<void> {
    const peer = this.#peers()[0]
    if (peer === undefined) return
    try {
      const answer = await this.#rpc!.request(peer, 'current', {}, ASK_TIMEOUT) as { running?: unknown, history?: unknown, label?: unknown }
      if (!isVersion(answer?.running) || !Array.isArray(answer.history) || !answer.history.every(isVersion)) throw deployErrors.badBundle('malformed current-version answer')
      const running = answer.running
      const history = answer.history as string[]
      if (running !== INITIAL && !this.store.has(running)) {
        const got = await this.#rpc!.request(peer, 'fetch', { id: running }, STEP_TIMEOUT) as { bundle?: unknown, label?: unknown }
        if (!(got?.bundle instanceof Uint8Array)) throw deployErrors.badBundle('the fetched bundle is missing')
        this.#storeChecked(Buffer.from(got.bundle), running, isStr(got.label) ? got.label : running)
      }
      if (running !== this.store.state().running) {
        await this.switchLocal(running, history)
        this.#o.logger.info({ event: 'deploy-synced', version: running, from: memberName(peer) }, `took app version ${running} from ${memberName(peer)} before serving`)
      } else if (history.join() !== this.store.state().history.join()) {
        // why only on a change: a member of a cluster that never deployed writes nothing
        this.store.setState({ running, history })
      }
    } catch (err) {
      this.#o.logger.error({ err, member: memberName(peer) }, 'could not take the cluster\'s app version; serving this member\'s own')
    }
  }

  #storeChecked (bytes: Buffer, expectId: string | null, label: string): VersionInfo {
    if (bytes.length > this.#o.limits.maxUnpackedBytes) throw deployErrors.tooLarge('bundle', this.#o.limits.maxUnpackedBytes)
    const bundle = checkBundle(bytes, this.#o.limits)
    if (expectId !== null && bundle.id !== expectId) throw deployErrors.badBundle(`its content hash ${bundle.id} is not the announced version ${expectId}`)
    return this.store.store(bundle, label)
  }

  /** Load a version and switch this member's app to it (with the drain); persists the state. */
  async switchLocal (to: string, history: string[]): Promise<{ from: string, waitedMs: number }> {
    if (this.#switching !== null) throw deployErrors.busy('switch')
    const work = (async () => {
      const from = this.store.state().running
      const currentlyServing = this.#o.appSwitch.current ?? INITIAL
      if (to === currentlyServing) {
        if (to !== from || history.join() !== this.store.state().history.join()) this.store.setState({ running: to, history })
        return { from, waitedMs: 0 }
      }
      const next = to === INITIAL ? null : await this.#o.appSwitch.prepare(to, await loadApp(this.store.entryPath(to)))
      const done = await this.#o.appSwitch.switchTo(next, this.#o.drainMs, this.#o.pause)
      this.store.setState({ running: to, history })
      this.#o.logger.info({ event: 'deploy-switched', from, to, waitedMs: done.waitedMs, unfinished: done.unfinished }, `app switched from version ${from} to ${to}`)
      return { from, waitedMs: done.waitedMs }
    })()
    this.#switching = work
    try { return await work } finally { this.#switching = null }
  }

  status (): MemberStatus {
    const s = this.store.state()
    return { route: this.#o.route, running: s.running, label: this.store.info(s.running)?.label ?? '', history: s.history, versions: this.store.list(), switching: this.#o.appSwitch.switching }
  }

  async #onRequest (req: DeployRequest, from: Member): Promise<unknown> {
    switch (req.op) {
      case 'store': {
        if (!(req.bundle instanceof Uint8Array) || !isVersion(req.id) || !isStr(req.label, 200)) throw deployErrors.badBundle('malformed store message')
        const info = this.#storeChecked(Buffer.from(req.bundle), req.id, req.label)
        this.#o.logger.info({ event: 'deploy-stored', version: info.id, label: info.label, from: memberName(from) }, `stored app version ${info.id} (${info.label})`)
        return info
      }
      case 'switch': {
        if (!isVersion(req.to) || !Array.isArray(req.history) || !req.history.every(isVersion)) throw deployErrors.badBundle('malformed switch message')
        return await this.switchLocal(req.to, req.history as string[])
      }
      case 'status': return this.status()
      case 'current': { const s = this.store.state(); return { running: s.running, history: s.history, label: this.store.info(s.running)?.label ?? '' } }
      case 'fetch': {
        if (!isVersion(req.id) || req.id === INITIAL) throw deployErrors.badBundle('malformed fetch message')
        return { bundle: this.store.bundle(req.id), label: this.store.info(req.id)?.label ?? req.id }
      }
    }
  }

  /** the other app-server members of the cluster, longest-running first */
  #peers (): Member[] {
    return (this.#channel?.members() ?? []).filter((m) => m.meta?.role === 'node')
  }

  /** every member of a rollout, this one included, in route order */
  #targets (): Target[] {
    const all: Target[] = [{ route: this.#o.route, member: null, http: this.#o.httpUrl() }, ...this.#peers().map((m) => ({ route: memberName(m), member: m, http: m.meta?.http ?? '' }))]
    return all.sort((a, b) => a.route < b.route ? -1 : a.route > b.route ? 1 : 0)
  }

  /** Every member's status (a member that does not answer is listed with its error). */
  async clusterStatus (): Promise<Array<MemberStatus | { route: string, error: string, code: string }>> {
    return await Promise.all(this.#targets().map(async (t) => {
      if (t.member === null) return this.status()
      try { return await this.#rpc!.request(t.member, 'status', {}, ASK_TIMEOUT) as MemberStatus } catch (err) {
        return { route: t.route, error: (err as Error).message, code: (err as { code?: string }).code ?? 'WAS_ERR_DEPLOY_FAILED' }
      }
    }))
  }

  /** A new version from the deploy CLI: check, store everywhere, switch one member at a time. */
  async deploy (bytes: Buffer, label: string): Promise<RolloutReport> {
    return await this.#exclusive(async () => {
      const bundle = checkBundle(bytes, this.#o.limits)
      const history = this.store.state().history
      const next = history.at(-1) === bundle.id ? history : [...history, bundle.id]
      return await this.#rollout(bundle.id, label, bundle, next)
    })
  }

  /** Back to the version before the current one (the --app when there is none). */
  async rollback (): Promise<RolloutReport> {
    return await this.#exclusive(async () => {
      const history = this.store.state().history
      if (history.length === 0) throw deployErrors.noVersion('nothing to roll back: no version was deployed to this cluster (as this member knows it)')
      const target = history.at(-2) ?? INITIAL
      const label = this.store.info(target)?.label ?? target
      const bundle = target === INITIAL ? null : { id: target, bytes: this.store.bundle(target) } as Pick<CheckedBundle, 'id' | 'bytes'>
      return await this.#rollout(target, label, bundle, history.slice(0, -1))
    })
  }

  async #exclusive<T> (fn: () => Promise<T>): Promise<T> {
    if (this.#rolling) throw deployErrors.busy('rollout')
    this.#rolling = true
    try { return await fn() } finally { this.#rolling = false }
  }

  async #rollout (version: string, label: string, bundle: Pick<CheckedBundle, 'id' | 'bytes'> | null, history: string[]): Promise<RolloutReport> {
    const log = this.#o.logger
    const targets = this.#targets()
    const report: RolloutReport = { ok: true, version, label, steps: [] }
    log.info({ event: 'deploy-rollout', version, label, members: targets.map((t) => t.route) }, `rolling out app version ${version} (${label}) to ${targets.map((t) => t.route).join(', ')}`)
    if (bundle !== null) {
      // every member stores it before any switches: a member that cannot is found before anything changed
      const stored = await Promise.allSettled(targets.map(async (t) => t.member === null
        ? this.#storeChecked(bundle.bytes, bundle.id, label)
        : await this.#rpc!.request(t.member, 'store', { id: bundle.id, label, bundle: bundle.bytes }, STEP_TIMEOUT)))
      const bad = stored.findIndex((r) => r.status === 'rejected')
      if (bad >= 0) {
        const err = (stored[bad] as PromiseRejectedResult).reason as Error & { code?: string }
        return { ...report, ok: false, member: targets[bad]!.route, code: err.code ?? 'WAS_ERR_DEPLOY_FAILED', error: `storing the version failed on ${targets[bad]!.route}: ${err.message}` }
      }
    }
    const previousHistory = this.store.state().history
    const switched: Array<{ target: Target, from: string }> = []
    for (const t of targets) {
      const started = Date.now()
      try {
        const r = await this.#switchTarget(t, version, history)
        // why before the readiness wait: a member that switched but does not come back goes back too
        switched.push({ target: t, from: r.from })
        await this.#waitReady(t)
        report.steps.push({ route: t.route, from: r.from, to: version, ok: true, ms: Date.now() - started })
      } catch (err) {
        const e = err as Error & { code?: string }
        report.steps.push({ route: t.route, from: '', to: version, ok: false, ms: Date.now() - started, error: e.message, code: e.code })
        log.error({ event: 'deploy-failed', version, member: t.route, err }, `app version ${version} failed on ${t.route}; going back on the members already switched`)
        // a member whose version did not load never left its own (app-switch loads before it swaps)
        for (const s of switched.reverse()) {
          const back = Date.now()
          try {
            await this.#switchTarget(s.target, s.from, previousHistory)
            await this.#waitReady(s.target)
            report.steps.push({ route: s.target.route, from: version, to: s.from, ok: true, ms: Date.now() - back })
          } catch (err2) {
            report.steps.push({ route: s.target.route, from: version, to: s.from, ok: false, ms: Date.now() - back, error: (err2 as Error).message })
          }
        }
        const failed = deployErrors.failed(t.route, version, e.message)
        return { ...report, ok: false, member: t.route, code: failed.code, error: failed.message }
      }
    }
    log.info({ event: 'deploy-done', version, label }, `app version ${version} (${label}) serves on every member`)
    return report
  }

  async #switchTarget (t: Target, to: string, history: string[]): Promise<{ from: string }> {
    if (t.member === null) return await this.switchLocal(to, history)
    return await this.#rpc!.request(t.member, 'switch', { to, history }, STEP_TIMEOUT) as { from: string }
  }

  /** the member serves again: its /_nodecat/ready answers 200 */
  async #waitReady (t: Target): Promise<void> {
    if (t.http === '') return
    const deadline = Date.now() + READY_TIMEOUT
    while (Date.now() < deadline) {
      try {
        const res = await fetch(t.http + READY_PATH, { signal: AbortSignal.timeout(2000) })
        await res.body?.cancel()
        if (res.status === 200) return
      } catch { /* not answering yet */ }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw deployErrors.timeout(t.route, 'the readiness check', READY_TIMEOUT)
  }
}

/** bounds of one bundle once unpacked (the upload itself: --deploy-max-bytes) */
export const DEPLOY_UNPACK_LIMITS: TarLimits = Object.freeze({ maxUnpackedBytes: 256 * 1024 * 1024, maxFiles: 20_000 })
