/**
 * A member's versions of the app, side by side under its deploy directory:
 *   versions/<id>/…        the unpacked files (written to a temp directory, then renamed: a
 *                          version directory is whole or absent)
 *   versions/<id>.tgz      the bundle as received, to hand on (a member that joins later)
 *   versions/<id>.json     label, time, sizes, entry module
 *   state.json             the version this member runs and the cluster's rollout history
 * The id is a content hash of the files (path, mode, bytes), so the same app packed twice, or sent
 * as a directory and as a .tgz, is one version. Old versions beyond `keep` are removed, never the
 * running one or one the history still names.
 */
import crypto from 'node:crypto'
import path from 'node:path'
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { deployErrors } from './errors.js'
import { readTarball, type BundleFile, type TarLimits } from './tar.js'

/** the app the node was started with (--app): not a stored version */
export const INITIAL = 'initial'

export interface VersionInfo { id: string, label: string, storedAt: string, bytes: number, files: number, entry: string }

export interface DeployState {
  /** the version this member serves (INITIAL: its --app) */
  running: string
  /** versions the cluster rolled out, oldest first; the last is the current one (rollback goes to the one before) */
  history: string[]
}

export const ID_PATTERN = /^[0-9a-f]{16}$/

/** content hash of the files: the version id */
export function versionId (files: readonly BundleFile[]): string {
  const h = crypto.createHash('sha256')
  for (const f of [...files].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) {
    h.update(f.path).update('\0').update(String(f.mode & 0o111 ? 1 : 0)).update('\0')
    h.update(crypto.createHash('sha256').update(f.data).digest()).update('\n')
  }
  return h.digest('hex').slice(0, 16)
}

/** The module to load: package.json "main", else index.js, index.mjs, app.js, app.mjs. */
export function entryOf (files: readonly BundleFile[]): string {
  const names = new Set(files.map((f) => f.path))
  const pkg = files.find((f) => f.path === 'package.json')
  if (pkg !== undefined) {
    let main: unknown
    try { main = (JSON.parse(pkg.data.toString('utf8')) as { main?: unknown }).main } catch { throw deployErrors.badBundle('package.json is not valid JSON') }
    if (main !== undefined) {
      if (typeof main !== 'string') throw deployErrors.badBundle('package.json "main" is not a string')
      const normal = path.posix.normalize(main).replace(/^\.\//, '')
      if (normal.startsWith('..') || path.posix.isAbsolute(normal)) throw deployErrors.badBundle(`package.json "main" (${main}) points outside the bundle`)
      if (!names.has(normal)) throw deployErrors.badBundle(`package.json "main" (${main}) is not in the bundle`)
      return normal
    }
  }
  for (const candidate of ['index.js', 'index.mjs', 'app.js', 'app.mjs']) if (names.has(candidate)) return candidate
  throw deployErrors.badBundle('no entry module: give package.json a "main", or add index.js or app.js')
}

export interface CheckedBundle { id: string, files: BundleFile[], entry: string, bytes: Buffer }

/** Unpack and check a bundle in memory: its id, files and entry module. */
export function checkBundle (bytes: Buffer, limits: TarLimits): CheckedBundle {
  const files = readTarball(bytes, limits)
  if (files.length === 0) throw deployErrors.badBundle('it holds no file')
  return { id: versionId(files), files, entry: entryOf(files), bytes }
}

export class DeployStore {
  readonly dir: string
  readonly #keep: number
  #state: DeployState | null = null

  constructor (dir: string, keep: number) {
    this.dir = path.resolve(dir)
    this.#keep = keep
  }

  get versionsDir (): string { return path.join(this.dir, 'versions') }

  state (): DeployState {
    if (this.#state !== null) return this.#state
    let state: DeployState = { running: INITIAL, history: [] }
    try {
      const raw = JSON.parse(readFileSync(path.join(this.dir, 'state.json'), 'utf8')) as Partial<DeployState>
      const ok = (v: unknown): v is string => typeof v === 'string' && (v === INITIAL || (ID_PATTERN.test(v) && this.has(v)))
      state = {
        running: ok(raw.running) ? raw.running : INITIAL,
        history: Array.isArray(raw.history) ? raw.history.filter(ok).slice(-this.#keep) : []
      }
    } catch { /* no state yet, or unreadable: the node runs its --app */ }
    this.#state = state
    return state
  }

  setState (state: DeployState): void {
    this.#state = { running: state.running, history: state.history.slice(-this.#keep) }
    mkdirSync(this.dir, { recursive: true })
    const tmp = path.join(this.dir, `state.json.${process.pid}.tmp`)
    writeFileSync(tmp, JSON.stringify(this.#state) + '\n')
    renameSync(tmp, path.join(this.dir, 'state.json'))
  }

  has (id: string): boolean {
    return ID_PATTERN.test(id) && existsSync(path.join(this.versionsDir, id)) && existsSync(path.join(this.versionsDir, `${id}.json`))
  }

  info (id: string): VersionInfo | null {
    if (id === INITIAL) return { id, label: 'the --app the node was started with', storedAt: '', bytes: 0, files: 0, entry: '' }
    if (!this.has(id)) return null
    try { return JSON.parse(readFileSync(path.join(this.versionsDir, `${id}.json`), 'utf8')) as VersionInfo } catch { return null }
  }

  /** absolute path of a stored version's entry module */
  entryPath (id: string): string {
    const info = this.info(id)
    if (info === null || id === INITIAL) throw deployErrors.noVersion(`version ${id} is not stored on this member`)
    return path.join(this.versionsDir, id, info.entry)
  }

  bundle (id: string): Buffer {
    if (!this.has(id)) throw deployErrors.noVersion(`version ${id} is not stored on this member`)
    return readFileSync(path.join(this.versionsDir, `${id}.tgz`))
  }

  list (): VersionInfo[] {
    let names: string[] = []
    try { names = readdirSync(this.versionsDir) } catch { return [] }
    return names.filter((n) => n.endsWith('.json') && ID_PATTERN.test(n.slice(0, -5)))
      .map((n) => this.info(n.slice(0, -5))).filter((v): v is VersionInfo => v !== null)
      .sort((a, b) => a.storedAt < b.storedAt ? -1 : a.storedAt > b.storedAt ? 1 : 0)
  }

  /** Store a checked bundle (no-op when that version is stored already). */
  store (bundle: CheckedBundle, label: string): VersionInfo {
    const existing = this.info(bundle.id)
    if (existing !== null) return existing
    const versions = this.versionsDir
    mkdirSync(versions, { recursive: true })
    const tmp = path.join(versions, `.tmp-${bundle.id}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`)
    try {
      for (const f of bundle.files) {
        // why resolve again: the names were checked when read; this makes sure of it at the write
        const target = path.resolve(tmp, f.path)
        if (!target.startsWith(tmp + path.sep)) throw deployErrors.badBundle(`entry ${JSON.stringify(f.path)} is outside the bundle`)
        mkdirSync(path.dirname(target), { recursive: true })
        writeFileSync(target, f.data, { mode: f.mode & 0o111 ? 0o755 : 0o644, flag: 'wx' })
      }
      writeFileSync(path.join(versions, `${bundle.id}.tgz`), bundle.bytes)
      rmSync(path.join(versions, bundle.id), { recursive: true, force: true })
      renameSync(tmp, path.join(versions, bundle.id))
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true })
      throw err
    }
    const info: VersionInfo = { id: bundle.id, label, storedAt: new Date().toISOString(), bytes: bundle.bytes.length, files: bundle.files.length, entry: bundle.entry }
    writeFileSync(path.join(versions, `${bundle.id}.json`), JSON.stringify(info) + '\n')
    this.prune()
    return info
  }

  /** Remove the oldest versions beyond `keep`, never the running one or one the history names. */
  prune (): void {
    const state = this.state()
    const kept = new Set([state.running, ...state.history])
    const all = this.list()
    let excess = all.length - this.#keep
    for (const v of all) {
      if (excess <= 0) break
      if (kept.has(v.id)) continue
      rmSync(path.join(this.versionsDir, v.id), { recursive: true, force: true })
      rmSync(path.join(this.versionsDir, `${v.id}.tgz`), { force: true })
      rmSync(path.join(this.versionsDir, `${v.id}.json`), { force: true })
      excess--
    }
  }
}
