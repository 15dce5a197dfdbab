/**
 * --watch-dir (Tomcat's FarmWarDeployer watchDir/watchEnabled, off by default): this member polls
 * a directory for app bundles (`*.tgz`) and rolls out the newest one that is not the version the
 * cluster runs, exactly as `nodecat-was deploy` would, led by this member. A file is taken once its
 * size and time stayed the same for two polls (a copy in progress is not half-read). Watch on ONE
 * member: two watchers of copies of one directory would each lead a rollout.
 * A bundle that fails is logged (event `deploy-watch-failed`) and not tried again until the file
 * changes.
 */
import path from 'node:path'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import type { Logger } from 'pino'
import type { Deployer } from './deployer.js'

export interface WatchOptions { dir: string, intervalMs: number, maxBytes: number, deployer: Deployer, logger: Logger }

export class DeployWatch {
  readonly #o: WatchOptions
  #timer: NodeJS.Timeout | null = null
  /** file name → "size:mtime" seen at the last poll */
  readonly #seen = new Map<string, string>()
  /** "name size:mtime" already handled (rolled out, failed, or the running version) */
  readonly #done = new Set<string>()
  #busy = false

  constructor (options: WatchOptions) { this.#o = options }

  start (): void {
    this.#timer = setInterval(() => { void this.poll() }, this.#o.intervalMs)
    this.#timer.unref()
  }

  stop (): void { if (this.#timer !== null) clearInterval(this.#timer); this.#timer = null }

  /** one look at the directory; resolves when a rollout it started is over */
  async poll (): Promise<void> {
    if (this.#busy) return
    this.#busy = true
    try {
      let names: string[]
      try { names = readdirSync(this.#o.dir).filter((n) => n.endsWith('.tgz')) } catch { return }
      const stable: Array<{ name: string, stamp: string, mtime: number }> = []
      for (const name of names) {
        let st
        try { st = statSync(path.join(this.#o.dir, name)) } catch { continue }
        if (!st.isFile()) continue
        const stamp = `${st.size}:${st.mtimeMs}`
        if (this.#seen.get(name) === stamp && !this.#done.has(`${name} ${stamp}`)) stable.push({ name, stamp, mtime: st.mtimeMs })
        this.#seen.set(name, stamp)
      }
      const newest = stable.sort((a, b) => b.mtime - a.mtime)[0]
      if (newest === undefined) return
      this.#done.add(`${newest.name} ${newest.stamp}`)
      const log = this.#o.logger
      try {
        const bytes = readFileSync(path.join(this.#o.dir, newest.name))
        if (bytes.length > this.#o.maxBytes) throw new Error(`${newest.name} is over --deploy-max-bytes (${this.#o.maxBytes})`)
        log.info({ event: 'deploy-watch', file: newest.name }, `watch dir: rolling out ${newest.name}`)
        const report = await this.#o.deployer.deploy(bytes, newest.name)
        if (report.ok) log.info({ event: 'deploy-watch-done', file: newest.name, version: report.version }, `watch dir: ${newest.name} (version ${report.version}) serves on every member`)
        else log.error({ event: 'deploy-watch-failed', file: newest.name, member: report.member, code: report.code, error: report.error }, `watch dir: ${newest.name} failed: ${report.error}`)
      } catch (err) {
        log.error({ event: 'deploy-watch-failed', file: newest.name, err }, `watch dir: ${newest.name} failed: ${(err as Error).message}`)
      }
    } finally { this.#busy = false }
  }
}
