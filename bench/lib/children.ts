/**
 * Child processes of a benchmark: started by PID, their stdout read as JSON lines (workers
 * report with one JSON object per line), and always stopped by that PID at the end, also on
 * Ctrl-C. Nothing here ever signals a process it did not start.
 */
import { spawn, type SpawnOptions } from 'node:child_process'
import { onCleanup, isAborted } from './cleanup.js'

export interface Child {
  readonly pid: number
  readonly name: string
  readonly lines: Array<Record<string, any>>
  stderr (): string
  /** first JSON line (past or future) for which match() is true */
  waitFor (match: (line: Record<string, any>) => boolean, timeoutMs?: number): Promise<Record<string, any>>
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  isRunning (): boolean
  /** write one JSON line to the child's stdin (start it with stdio[0] = 'pipe') */
  send (message: unknown): void
  /** SIGTERM, SIGKILL after graceMs; resolves when gone */
  stop (graceMs?: number): Promise<void>
}

const live = new Set<Child>()

/** PIDs of the children still running (their CPU time is not yet in our cutime/cstime). */
export function livePids (): number[] {
  return [...live].map((c) => c.pid)
}
// why: last resort if the process dies without running the async cleanup (e.g. process.exit)
process.on('exit', () => { for (const c of live) { try { process.kill(c.pid, 'SIGKILL') } catch {} } })

export function startChild (name: string, command: string, args: string[], options: SpawnOptions = {}): Child {
  if (isAborted()) throw new Error(`interrupted: not starting ${name}`)
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options })
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`)
  const pid = child.pid
  const lines: Array<Record<string, any>> = []
  const waiters = new Set<{ match: (l: Record<string, any>) => boolean, resolve: (l: Record<string, any>) => void }>()
  let buf = ''
  let err = ''
  let running = true
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (chunk: string) => {
    buf += chunk
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, i)
      buf = buf.slice(i + 1)
      if (!text.trim()) continue
      let line: Record<string, any>
      try { line = JSON.parse(text) } catch { line = { msg: text } }
      lines.push(line)
      for (const w of [...waiters]) if (w.match(line)) { waiters.delete(w); w.resolve(line) }
    }
  })
  child.stdin?.on('error', () => {}) // why: a child that exits early must not crash us with EPIPE
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (c: string) => { err = (err + c).slice(-20_000) })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => { running = false; live.delete(handle); resolve({ code, signal }) })
  })
  const handle: Child = {
    pid,
    name,
    lines,
    stderr: () => err,
    exited,
    isRunning: () => running,
    send (message) {
      if (!child.stdin) throw new Error(`${name} (pid ${pid}) has no stdin pipe`)
      child.stdin.write(JSON.stringify(message) + '\n')
    },
    waitFor (match, timeoutMs = 15_000) {
      const found = lines.find(match)
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const w = { match, resolve: (l: Record<string, any>) => { clearTimeout(timer); resolve(l) } }
        const timer = setTimeout(() => { waiters.delete(w); reject(new Error(`${name} (pid ${pid}): no expected line within ${timeoutMs} ms; stderr: ${err.slice(-1500)}`)) }, timeoutMs)
        waiters.add(w)
        void exited.then(({ code, signal }) => {
          if (!waiters.delete(w)) return
          clearTimeout(timer)
          reject(new Error(`${name} (pid ${pid}) exited (code ${code}, signal ${signal}) early; stderr: ${err.slice(-1500)}`))
        })
      })
    },
    async stop (graceMs = 3000) {
      if (!running) return
      try { process.kill(pid, 'SIGTERM') } catch {}
      const t = setTimeout(() => { try { process.kill(pid, 'SIGKILL') } catch {} }, graceMs)
      await exited
      clearTimeout(t)
    }
  }
  live.add(handle)
  const undo = onCleanup(`stop ${name} (pid ${pid})`, () => handle.stop())
  void exited.then(() => undo())
  return handle
}

/** Start one of bench's own compiled workers (bench/dist/workers/<file>) with plain node. */
export function startWorker (name: string, file: string, args: string[], options: SpawnOptions & { wrap?: string[] } = {}): Child {
  const script = new URL(`../workers/${file}`, import.meta.url).pathname
  const { wrap = [], ...rest } = options
  // why: `wrap` puts the node command behind e.g. `ip netns exec <ns>`, which execs in place (same PID)
  const argv = [...wrap, process.execPath, script, ...args]
  return startChild(name, argv[0]!, argv.slice(1), { ...rest, env: { ...process.env, NODE_OPTIONS: '', ...rest.env } })
}
