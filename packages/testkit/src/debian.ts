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
