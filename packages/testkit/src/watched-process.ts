/**
 * A child process held by its PID: stdout read as JSON lines (JsonLines), stderr kept (its tail),
 * its exit awaited, and stopped with SIGTERM then SIGKILL. Only processes started here are ever
 * signalled; any still running when this process exits are SIGKILLed by PID.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { JsonLines, type LogLine, type LineMatch } from './json-lines.js'

export interface Exit { code: number | null, signal: NodeJS.Signals | null }

export interface WatchedOptions extends SpawnOptions {
  /** names the process in errors: "<label> (pid <pid>)" (default "pid <pid>") */
  label?: string
  /** characters of stderr kept, the newest (default 1 MB) */
  stderrLimit?: number
  /** stdout lines kept, the newest (default: all) */
  maxLines?: number
}

export interface WatchedProcess {
  readonly child: ChildProcess
  readonly pid: number
  readonly label: string
  /** every stdout line parsed as JSON (non-JSON lines are kept as { msg: line }) */
  readonly lines: LogLine[]
  /** stderr text (its last stderrLimit characters) */
  stderr (): string
  /** resolve with the first line (past or future) for which match() is true */
  waitFor (match: LineMatch, timeoutMs?: number, what?: string): Promise<LogLine>
  /** resolves when the process has exited: its code and signal */
  readonly exited: Promise<Exit>
  running (): boolean
  /** send a signal to this PID (ignored once it is gone) */
  signal (sig: NodeJS.Signals): void
  /** SIGCONT (in case it was stopped) and SIGTERM, then SIGKILL after graceMs; resolves when it is gone */
  stop (graceMs?: number): Promise<void>
}

const live = new Set<WatchedProcess>()
// why: last resort when the parent ends without its own clean-up having run (process.exit, a crash)
process.on('exit', () => { for (const p of live) { try { process.kill(p.pid, 'SIGKILL') } catch {} } })

/** PIDs of the processes started here that are still running. */
export function livePids (): number[] {
  return [...live].map((p) => p.pid)
}

export function spawnWatched (command: string, args: string[], options: WatchedOptions = {}): WatchedProcess {
  const { label: name, stderrLimit = 1_000_000, maxLines, ...spawnOptions } = options
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions })
  if (child.pid === undefined) throw new Error(`could not start ${name ?? command}`)
  const pid = child.pid
  const label = name === undefined ? `pid ${pid}` : `${name} (pid ${pid})`
  let err = ''
  const stdout = new JsonLines({ label, maxLines, context: () => `stderr: ${err.slice(-2000)}` })
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (chunk: string) => stdout.push(chunk))
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (c: string) => { err = (err + c).slice(-stderrLimit) })
  child.stdin?.on('error', () => {}) // why: a child that exits early must not crash us with EPIPE
  let isRunning = true
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) => {
      isRunning = false
      live.delete(proc)
      // why: 'exit' can come before the last stdout chunk: close once stdout has ended too, or after
      // a moment if a grandchild still holds the pipe open
      const why = `exited (code ${code}, signal ${signal})`
      if (child.stdout!.closed) stdout.close(why)
      else {
        const late = setTimeout(() => stdout.close(why), 500).unref()
        child.stdout!.once('close', () => { clearTimeout(late); stdout.close(why) })
      }
      resolve({ code, signal })
    })
  })
  const proc: WatchedProcess = {
    child,
    pid,
    label,
    lines: stdout.lines,
    stderr: () => err,
    waitFor: async (match, timeoutMs, what) => await stdout.waitFor(match, timeoutMs, what),
    exited,
    running: () => isRunning,
    signal (sig) { if (isRunning) { try { process.kill(pid, sig) } catch {} } },
    async stop (graceMs = 5000) {
      if (!isRunning) return
      proc.signal('SIGCONT')
      proc.signal('SIGTERM')
      const t = setTimeout(() => proc.signal('SIGKILL'), graceMs)
      await exited
      clearTimeout(t)
    }
  }
  live.add(proc)
  return proc
}
