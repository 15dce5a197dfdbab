/**
 * What the machine is: its identity in the cluster (members with one host id share a machine and
 * fail together) and how many cores this process may use (`--workers auto`).
 */
import os from 'node:os'
import { readFileSync } from 'node:fs'

/** /etc/machine-id (systemd, stable across reboots and renames), else the host name */
export function defaultHostId (read: (file: string) => string = (f) => readFileSync(f, 'utf8')): string {
  for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = read(file).trim()
      if (/^[0-9a-f]{32}$/.test(id)) return id
    } catch {}
  }
  return os.hostname() || 'localhost'
}

/**
 * Cores this process may use: the CPU affinity mask (os.availableParallelism), lowered by a cgroup
 * v2 CPU quota ("max 100000" is none; "150000 100000" is 1.5 cores, rounded up) when one is set.
 */
export function usableCores (read: (file: string) => string = (f) => readFileSync(f, 'utf8'), parallelism = os.availableParallelism()): number {
  let cores = Math.max(1, parallelism)
  try {
    const [quota, period] = read('/sys/fs/cgroup/cpu.max').trim().split(/\s+/)
    const q = Number(quota)
    const p = Number(period)
    if (quota !== 'max' && Number.isFinite(q) && q > 0 && Number.isFinite(p) && p > 0) cores = Math.min(cores, Math.max(1, Math.ceil(q / p)))
  } catch {}
  return cores
}
