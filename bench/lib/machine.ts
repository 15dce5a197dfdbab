/**
 * What the figures were measured on. Every result file carries this, because a number without
 * its machine (and without saying whether the machine was shared) means nothing.
 */
import os from 'node:os'
import { readFileSync } from 'node:fs'

export interface MachineInfo {
  cpuModel: string
  cores: number
  memoryGiB: number
  node: string
  v8: string
  kernel: string
  os: string
  /** "host" for the bare machine, or the emulated profile (pi3, pi4, pi5) */
  profile: string
  /** 1/5/15-minute load averages at start: other work on the machine shows here */
  loadavg: number[]
  date: string
}

function osName (): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8')
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? os.type()
  } catch { return os.type() }
}

export function machineInfo (profile = 'host'): MachineInfo {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    v8: process.versions.v8,
    kernel: os.release(),
    os: osName(),
    profile,
    loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
    date: new Date().toISOString()
  }
}

/** One line for table captions and logs. */
export function describeMachine (m: MachineInfo): string {
  return `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, kernel ${m.kernel}, Node ${m.node}, profile ${m.profile}, load ${m.loadavg.join('/')} at start`
}
