/**
 * External programs the benchmarks drive (wrk, haproxy, nginx): found on PATH, or installed from
 * Debian with apt-get when we are root. Returns null with a reason rather than failing, so the
 * variant that needs it is reported as "not available".
 */
import { spawnSync } from 'node:child_process'
import { aptInstall, isRoot, which } from '@nodecat/testkit'

export { isRoot, which }

export interface ToolLookup {
  path: string | null
  /** why it is missing, or how it was obtained */
  note: string
}

/** The binary's path, installing the Debian package when missing (root only). */
export function ensureDebianTool (binary: string, debPackage: string, log: (s: string) => void = () => {}): ToolLookup {
  const found = which(binary)
  if (found) return { path: found, note: 'installed' }
  const why = aptInstall([debPackage], log)
  if (why !== null) return { path: null, note: `${binary} not installed: ${why}` }
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
