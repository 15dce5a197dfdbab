/**
 * Real child processes for tests: start a built CLI (packages/<pkg>/dist/...), read its JSON log
 * lines, wait for a line that matches, and stop it by PID at teardown, even when the test fails.
 * Only processes started here are ever signalled.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Absolute path of a built file, e.g. dist('tribes', 'cli.js'). Fails clearly when not built. */
export function dist (pkg: string, file: string): string {
  const p = path.join(repoRoot, 'packages', pkg, 'dist', file)
  if (!existsSync(p)) throw new Error(`${p} does not exist: run "pnpm build" (scripts/test.sh does) before this test`)
  return p
}

export interface TestProcess {
  readonly child: ChildProcess
  readonly pid: number
  /** every stdout line parsed as JSON (non-JSON lines are kept as { msg: line }) */
  readonly lines: Array<Record<string, any>>
  /** raw stderr text */
  stderr (): string
  /** resolve with the first line (past or future) for which match() is true */
  waitFor (match: (line: Record<string, any>) => boolean, timeoutMs?: number, what?: string): Promise<Record<string, any>>
  /** resolve when the process has exited: its code and signal */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  signal (sig: NodeJS.Signals): void
  /** SIGTERM, then SIGKILL after graceMs; resolves when it is gone */
  stop (graceMs?: number): Promise<void>
}

const live = new Set<TestProcess>()
process.on('exit', () => { for (const p of live) { try { process.kill(p.pid, 'SIGKILL') } catch {} } })

export function startProcess (command: string, args: string[], options: SpawnOptions & { teardown?: (fn: () => Promise<void>) => void } = {}): TestProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options, env: { ...process.env, NODE_OPTIONS: '', ...options.env } })
  if (child.pid === undefined) throw new Error(`could not start ${command}`)
  const lines: Array<Record<string, any>> = []
  const waiters: Array<{ match: (l: Record<string, any>) => boolean, resolve: (l: Record<string, any>) => void }> = []
  let buf = ''
  let err = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (chunk: string) => {
    buf += chunk
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, i); buf = buf.slice(i + 1)
      if (!text.trim()) continue
      let line: Record<string, any>
      try { line = JSON.parse(text) } catch { line = { msg: text } }
      lines.push(line)
      for (const w of [...waiters]) if (w.match(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line) }
    }
  })
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (c: string) => { err += c })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => { live.delete(proc); resolve({ code, signal }) })
  })
  const proc: TestProcess = {
    child,
    pid: child.pid,
    lines,
    stderr: () => err,
    exited,
    waitFor (match, timeoutMs = 15000, what = 'a matching log line') {
      const found = lines.find(match)
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const w = { match, resolve: (l: Record<string, any>) => { clearTimeout(timer); resolve(l) } }
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1)
          reject(new Error(`pid ${child.pid}: no ${what} within ${timeoutMs} ms; stderr: ${err.slice(-2000)}; last lines: ${JSON.stringify(lines.slice(-5))}`))
        }, timeoutMs)
        waiters.push(w)
        void exited.then(({ code, signal }) => {
          if (!waiters.includes(w)) return
          waiters.splice(waiters.indexOf(w), 1); clearTimeout(timer)
          reject(new Error(`pid ${child.pid} exited (code ${code}, signal ${signal}) before ${what}; stderr: ${err.slice(-2000)}`))
        })
      })
    },
    signal (sig) { try { process.kill(child.pid!, sig) } catch {} },
    async stop (graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return
      proc.signal('SIGCONT')
      proc.signal('SIGTERM')
      const t = setTimeout(() => proc.signal('SIGKILL'), graceMs)
      await exited
      clearTimeout(t)
    }
  }
  live.add(proc)
  options.teardown?.(() => proc.stop())
  return proc
}

/** Start a built node script of a package: startNode(t, 'tribes', 'cli.js', ['members', '--json']). */
export function startNode (t: { teardown: (fn: () => Promise<void>) => void }, pkg: string, file: string, args: string[], options: SpawnOptions = {}): TestProcess {
  return startProcess(process.execPath, [dist(pkg, file), ...args], { ...options, teardown: (fn) => t.teardown(fn) })
}
