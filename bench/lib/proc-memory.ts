/** Peak and current resident memory of a local process, from /proc/<pid>/status (Linux). */
import { readFileSync } from 'node:fs'

export interface ProcMemory { vmHWM: number, vmRSS: number }

export function procMemory (pid: number): ProcMemory | null {
  let text: string
  try { text = readFileSync(`/proc/${pid}/status`, 'utf8') } catch { return null }
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024
  return { vmHWM: kb('VmHWM'), vmRSS: kb('VmRSS') }
}
