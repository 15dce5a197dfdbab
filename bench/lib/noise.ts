/**
 * How much of the machine other jobs used while a benchmark ran ("foreign CPU"): all CPU time
 * the kernel counted (/proc/stat) minus what this benchmark and its children used. On a shared
 * build machine this is the number that tells whether a run's absolute figures can be trusted.
 */
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { cpuSeconds } from './cpu-time.js'
import { livePids } from './children.js'

export interface NoiseReport {
  wallSeconds: number
  /** core-seconds the whole machine was busy */
  machineBusy: number
  /** core-seconds used by this benchmark and its children */
  own: number
  /** core-seconds used by everything else */
  foreign: number
  /** foreign / (wall × cores): 0.5 = other jobs took half the machine */
  foreignShare: number
}

function machineBusySeconds (): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal: busy = all but idle and iowait
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line
  return (user + nice + system + irq + softirq + steal) / 100 // why: /proc/stat counts USER_HZ (100) ticks
}

function ownSeconds (): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime stime cutime cstime = fields 14..17; cutime/cstime hold the children already reaped
  const self = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100
  return self + livePids().reduce((s, pid) => s + (cpuSeconds(pid) || 0), 0)
}

export function startNoiseMeter (): () => NoiseReport {
  const t0 = performance.now()
  const busy0 = machineBusySeconds()
  const own0 = ownSeconds()
  return () => {
    const wallSeconds = (performance.now() - t0) / 1000
    const machineBusy = machineBusySeconds() - busy0
    const own = ownSeconds() - own0
    const foreign = Math.max(0, machineBusy - own)
    return { wallSeconds, machineBusy, own, foreign, foreignShare: foreign / (wallSeconds * os.cpus().length) }
  }
}

export function describeNoise (n: NoiseReport): string {
  return `Foreign CPU while this ran: ${n.foreign.toFixed(0)} core-seconds of ${(n.wallSeconds * os.cpus().length).toFixed(0)} (${(n.foreignShare * 100).toFixed(0)} % of the machine went to other jobs; this benchmark used ${n.own.toFixed(0)}).`
}
