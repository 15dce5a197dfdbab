/**
 * A CPU quota for one emulated node: a CFS bandwidth cgroup (v1 `cpu` controller, or v2
 * `cpu.max`) with a name unique to this run, removed at the end. Processes are moved in by PID.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { onCleanup } from './cleanup.js'

export interface CpuCgroup {
  path: string
  add (pid: number): void
  /** nr_throttled and throttled time so far: proof the quota bites */
  throttled (): { periods: number, throttledPeriods: number }
}

const V1 = '/sys/fs/cgroup/cpu'
const V2 = '/sys/fs/cgroup'

export function createCpuCgroup (name: string, fraction: number, periodUs: number): CpuCgroup {
  const quota = Math.max(1000, Math.round(fraction * periodUs))
  let dir: string
  if (existsSync(path.join(V1, 'cpu.cfs_quota_us'))) {
    dir = path.join(V1, name)
    mkdirSync(dir)
    writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(periodUs))
    writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(quota))
  } else if (existsSync(path.join(V2, 'cgroup.controllers')) && readFileSync(path.join(V2, 'cgroup.controllers'), 'utf8').includes('cpu')) {
    dir = path.join(V2, name)
    mkdirSync(dir)
    writeFileSync(path.join(dir, 'cpu.max'), `${quota} ${periodUs}`)
  } else {
    throw new Error('no cgroup cpu controller found (neither /sys/fs/cgroup/cpu nor cgroup v2 with cpu)')
  }
  // why: a cgroup can only be removed once empty, and a process adopted after it was started
  // (newer clean-ups run first) may still be in it: hand those back to the parent, then remove it
  onCleanup(`remove cgroup ${dir}`, () => {
    try {
      for (const pid of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try { writeFileSync(path.join(path.dirname(dir), 'cgroup.procs'), pid) } catch {} // gone meanwhile
      }
      rmdirSync(dir)
    } catch (err) {
      process.stderr.write(`could not remove cgroup ${dir}: ${(err as Error).message}\n`)
    }
  })
  return {
    path: dir,
    add (pid) { writeFileSync(path.join(dir, 'cgroup.procs'), String(pid)) },
    throttled () {
      const text = readFileSync(path.join(dir, 'cpu.stat'), 'utf8')
      const get = (k: string): number => Number(new RegExp(`^${k} (\\d+)`, 'm').exec(text)?.[1] ?? NaN)
      return { periods: get('nr_periods'), throttledPeriods: get('nr_throttled') }
    }
  }
}
