/**
 * External programs the benchmarks drive (wrk, haproxy, nginx): found on PATH, or installed from
 * Debian with apt-get when we are root. Returns null with a reason rather than failing, so the
 * variant that needs it is reported as "not available".
 */
import { spawnSync } from 'node:child_process'
import { isRoot, which } from '@nodecat/testkit'

export { isRoot, which }

let updated = false

export interface ToolLookup {
  path: string | null
  /** why it is missing, or how it was obtained */
  note: string
}

/** The binary's path, installing the Debian package when missing (root only). */
export function ensureDebianTool (binary: string, debPackage: string, log: (s: string) => void = () => {}): ToolLookup {
  const found = which(binary)
  if (found) return { path: found, note: 'installed' }
  if (!isRoot()) return { path: null, note: `${binary} not installed and not root (apt-get install -y ${debPackage})` }
  if (spawnSync('apt-get', ['--version']).status !== 0) return { path: null, note: `${binary} not installed and no apt-get` }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = (): boolean => spawnSync('apt-get', ['install', '-y', '-qq', debPackage], { env, stdio: 'ignore', timeout: 300_000 }).status === 0
  log(`installing ${debPackage} from Debian (apt-get install -y ${debPackage})…`)
  let ok = install()
  if (!ok && !updated) {
    updated = true
    spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore', timeout: 300_000 })
    ok = install()
  }
  const p = which(binary)
  return p ? { path: p, note: `installed now from Debian package ${debPackage}` } : { path: null, note: `apt-get install ${debPackage} failed` }
}

/** First line of `<binary> -v`-style output, for the report. */
export function toolVersion (path: string, args: string[]): string {
  try {
    const r = spawnSync(path, args, { encoding: 'utf8', timeout: 5000 })
    return `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim())?.trim() ?? 'unknown'
  } catch { return 'unknown' }
}
