/**
 * CPU time of a process from /proc/<pid>/stat (utime + stime), for "CPU µs per request": the
 * steadiest figure on a shared machine, since it does not depend on how the cores were shared.
 */
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

let ticksPerSecond = 0

function clockTicks (): number {
  if (ticksPerSecond === 0) {
    try { ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { ticksPerSecond = 100 }
  }
  return ticksPerSecond
}

/** Seconds of CPU (user + system) the process has used so far, or NaN when it is gone. */
export function cpuSeconds (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // why: the command name (field 2) may contain spaces; fields after it start past the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state): utime is field 14, stime field 15
    return (Number(fields[11]) + Number(fields[12])) / clockTicks()
  } catch {
    return NaN
  }
}

/** Sum over several processes (a proxy with a master and workers, or two backends). */
export function cpuSecondsOf (pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0)
}
