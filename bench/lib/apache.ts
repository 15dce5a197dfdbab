/**
 * Apache httpd + mod_jk for bench:was (the classic stack's front): bench/was/apache/httpd.conf and
 * workers.properties filled in and written to the bench's temp dir, httpd started in the foreground
 * (`apache2 -DFOREGROUND -f <conf>`) inside its namespace and stopped by its PID (the parent stops
 * its children). Also the CPU of a process tree (httpd's parent and children, a nodecat supervisor
 * and its workers) from /proc.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { startChild, type Child } from './children.js'
import { withTimeout, oneLine } from './interleave.js'
import { wasDir, type TomcatNode } from './tomcat.js'
import type { ClassicSoftware } from './tomcat-install.js'
import type { NodeNet } from './netns.js'

export interface ApacheFront {
  url: string
  child: Child
  dir: string
}

export const APACHE_PORT = 80

function fill (template: string, values: Record<string, string | number>): string {
  return template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (all, key: string) => {
    if (!(key in values)) throw new Error(`template placeholder ${all} has no value`)
    return String(values[key])
  })
}

export async function startApache (dir: string, sw: ClassicSoftware, host: NodeNet, tomcats: TomcatNode[], timeoutMs = 30_000): Promise<ApacheFront> {
  const d = path.join(dir, 'httpd')
  mkdirSync(d, { recursive: true })
  const conf = path.join(d, 'httpd.conf')
  writeFileSync(conf, fill(readFileSync(path.join(wasDir, 'apache', 'httpd.conf'), 'utf8'), { DIR: d, ADDRESS: host.address, PORT: APACHE_PORT }))
  writeFileSync(path.join(d, 'workers.properties'), fill(readFileSync(path.join(wasDir, 'apache', 'workers.properties'), 'utf8'), {
    TOMCAT1: tomcats[0]!.address, AJP1: tomcats[0]!.ajpPort, TOMCAT2: tomcats[1]!.address, AJP2: tomcats[1]!.ajpPort
  }))
  // why: the parent (root) opens the logs and the mod_jk shm file, the children run as www-data
  const child = startChild('apache2 (httpd + mod_jk)', host.wrap[0]!, [...host.wrap.slice(1), sw.apache2, '-DFOREGROUND', '-f', conf], { env: { ...process.env, APACHE_LOG_DIR: d } })
  const errorLog = (): string => { try { return readFileSync(path.join(d, 'error.log'), 'utf8') } catch { return '' } }
  await withTimeout((async () => {
    while (!/resuming normal operations/.test(errorLog())) {
      if (!child.isRunning()) throw new Error(`apache2 exited: ${oneLine(`${child.stderr()} ${errorLog()}`.slice(-600))}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })(), timeoutMs, 'apache2 started')
  return { url: `http://${host.address}:${APACHE_PORT}`, child, dir: d }
}

let ticks = 0
function clockTicks (): number {
  if (ticks === 0) {
    try { ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { ticks = 100 }
  }
  return ticks
}

interface Stat { ppid: number, cpu: number }

function readStat (pid: number): Stat | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after the command name: [0] state, [1] ppid, … [11] utime, [12] stime, [13] cutime, [14] cstime
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / clockTicks() }
  } catch { return null }
}

/**
 * CPU seconds (user + system) of the processes rooted at `roots` and all their descendants, plus
 * what their exited children used (cutime/cstime: a reaped child's CPU moves to its parent), so a
 * worker process that ends during a run is still counted.
 */
export function treeCpuSeconds (roots: readonly number[]): number {
  const stats = new Map<number, Stat>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const st = readStat(Number(name))
    if (st) stats.set(Number(name), st)
  }
  const children = new Map<number, number[]>()
  for (const [pid, st] of stats) {
    const list = children.get(st.ppid) ?? []
    list.push(pid)
    children.set(st.ppid, list)
  }
  let sum = 0
  const seen = new Set<number>()
  const visit = (pid: number): void => {
    if (seen.has(pid)) return
    seen.add(pid)
    const st = stats.get(pid)
    if (!st) return
    sum += st.cpu
    for (const c of children.get(pid) ?? []) visit(c)
  }
  for (const r of roots) visit(r)
  return sum
}
