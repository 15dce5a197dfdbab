/**
 * Programs on this machine and Debian packages: find a binary on PATH (and the usual sbin/bin
 * directories), and tell whether we are root (apt-get installs only then). Shared by bench/ (its
 * external tools) and the tests that run real Tomcats.
 */
import { spawnSync } from 'node:child_process'

const SEARCH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']

/** the binary's absolute path, or null when it is nowhere on PATH or in the usual directories */
export function which (binary: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SEARCH]
  for (const d of dirs) {
    const r = spawnSync('test', ['-x', `${d}/${binary}`])
    if (r.status === 0) return `${d}/${binary}`
  }
  return null
}

export function isRoot (): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0
}

/** one lock for every apt-get of ours: tests run in parallel (tap jobs), and apt takes dpkg's lock or fails */
const APT_LOCK = '/run/lock/nodecat-apt.lock'

/**
 * Run apt-get with `args` (DEBIAN_FRONTEND=noninteractive), one at a time across our processes
 * (flock on APT_LOCK), and waiting for dpkg's own lock held by anything else (DPkg::Lock::Timeout)
 * instead of failing at once. Returns the result of spawnSync.
 */
export function aptGet (args: string[], o: { cwd?: string, timeoutMs?: number } = {}): ReturnType<typeof spawnSync> {
  const timeout = o.timeoutMs ?? 600_000
  const wait = String(Math.floor(timeout / 1000))
  const apt = ['apt-get', '-o', `DPkg::Lock::Timeout=${wait}`, ...args]
  const cmd = which('flock') === null ? apt : ['flock', '-w', wait, APT_LOCK, ...apt]
  return spawnSync(cmd[0]!, cmd.slice(1), { cwd: o.cwd, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, encoding: 'utf8', timeout: 2 * timeout })
}

/**
 * Install Debian `packages` (apt-get update, then install --no-install-recommends), as root only.
 * Returns null when done, or why not (not root, no apt-get, the install's last error lines).
 */
export function aptInstall (packages: readonly string[], log: (s: string) => void): string | null {
  if (!isRoot()) return `not root (apt-get install -y ${packages.join(' ')})`
  if (spawnSync('apt-get', ['--version']).status !== 0) return 'no apt-get'
  log(`installing ${packages.join(', ')} from Debian (apt-get update; apt-get install -y --no-install-recommends …)…`)
  aptGet(['update', '-qq'], { timeoutMs: 300_000 })
  const r = aptGet(['install', '-y', '-qq', '--no-install-recommends', ...packages])
  if (r.status !== 0) return `apt-get install ${packages.join(' ')} failed: ${`${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' ')}`
  return null
}
