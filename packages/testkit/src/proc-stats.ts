/** What /proc says about a process from the outside: resident memory and open file descriptors (Linux). */
import { readFileSync, readdirSync } from 'node:fs'

export interface ProcMemory {
  /** resident set size, bytes */
  rss: number
  /** peak resident set size so far, bytes */
  rssPeak: number
}

/** VmRSS and VmHWM of a process, or null when it is gone (or not Linux). */
export function procMemory (pid: number): ProcMemory | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024
    return { rss: kb('VmRSS'), rssPeak: kb('VmHWM') }
  } catch { return null }
}

/** How many file descriptors a process has open (entries of /proc/<pid>/fd), or null when it is gone. */
export function openFds (pid: number): number | null {
  try { return readdirSync(`/proc/${pid}/fd`).length } catch { return null }
}
