/**
 * `nodecat-was --workers n` in tests: consecutive free ports (testkit's freePortRange: worker i
 * takes port + i), a supervisor process started with its workers' PIDs read from its log, and a
 * teardown that stops the supervisor by PID and then SIGKILLs, by PID, any worker it left running
 * (checked to be one of ours through /proc, so a reused PID is never hit).
 */
import { readFileSync } from 'node:fs'
import { startNode, type TestProcess } from './proc.js'
import { HOST, SHOP_APP } from './cluster.js'
import { sleep, freePortRange } from '@nodecat/testkit'

export { freePortRange }

type Teardown = { teardown: (fn: () => Promise<void> | void) => void }

/** Is `pid` a running process started from a nodecat CLI (never judged by name alone: by PID, then its command line)? */
export function isNodecatProcess (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch { return false }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return cmdline.includes('cli.js')
  } catch { return false }
}

export interface WorkersProcess {
  /** the supervisor */
  proc: TestProcess
  /** every worker PID the supervisor logged starting, by route (latest last) */
  pids (): Map<string, number[]>
  /** every worker PID ever started */
  allPids (): number[]
}

/** Start `nodecat-was` with `args` (which should include --workers); stopped at teardown with every worker it started. */
export function startWorkers (t: Teardown, args: string[], label = 'supervisor'): WorkersProcess {
  const proc = startNode({ teardown: () => {} }, 'was-node', 'cli.js', args, { label })
  const pids = (): Map<string, number[]> => {
    const m = new Map<string, number[]>()
    for (const l of proc.lines) {
      if (l.event !== 'worker-started' || typeof l.pid !== 'number') continue
      m.set(l.route, [...(m.get(l.route) ?? []), l.pid])
    }
    return m
  }
  const allPids = (): number[] => [...pids().values()].flat()
  t.teardown(async () => {
    await proc.stop(20_000)
    // why: a supervisor that was SIGKILLed (or failed) must not leave a worker behind
    const until = Date.now() + 10_000
    while (allPids().some(isNodecatProcess) && Date.now() < until) await sleep(100)
    for (const pid of allPids()) if (isNodecatProcess(pid)) { try { process.kill(pid, 'SIGKILL') } catch {} }
  })
  return { proc, pids, allPids }
}

/** The shop app's flags for a static-membership cluster on 127.0.0.1 (sync replication, quick heartbeats). */
export function shopArgs (route: string, httpPort: number, receiverPort: number, members: string[]): string[] {
  return [
    '--jvm-route', route, '--http', `${HOST}:${httpPort}`, '--receiver', `${HOST}:${receiverPort}`, '--auto-bind', '1',
    '--static', members.join(','), '--app', SHOP_APP, '--channel-send-options', 'sync',
    '--frequency', '500', '--drop-time', '3000', '--shutdown-timeout', '5000'
  ]
}

/** GET a node's /_nodecat/status (bounded), or null when it does not answer. */
export async function nodeStatus (httpPort: number): Promise<any> {
  try {
    const res = await fetch(`http://${HOST}:${httpPort}/_nodecat/status`, { signal: AbortSignal.timeout(3000) })
    return res.ok ? await res.json() : null
  } catch { return null }
}

/** The process's exit, or null when it is still running after `ms` (the timer does not hold the test open). */
export async function exitWithin (proc: TestProcess, ms: number): Promise<{ code: number | null, signal: NodeJS.Signals | null } | null> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), ms) })
  try { return await Promise.race([proc.exited, late]) } finally { clearTimeout(timer) }
}
