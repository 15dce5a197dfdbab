/**
 * One process of the demo (a node or the balancer): started with the built CLI, its log lines
 * fed to the log view, signalled only by its own PID, restartable with the same arguments.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import type { LogView } from './log-view.js'

export interface ChildOptions {
  /** a command that runs node for us, e.g. ['ip', 'netns', 'exec', ns] */
  prefix?: string[]
  /** 'pipe' gives the child a stdin that closes when the launcher dies */
  stdin?: 'pipe' | 'ignore'
}

export class Child {
  readonly name: string
  readonly #args: string[]
  readonly #colour: number
  readonly #view: LogView
  readonly #options: ChildOptions
  #proc: ChildProcess | null = null
  #waiters: Array<{ match: (rec: Record<string, unknown>) => boolean, resolve: () => void }> = []
  #exited: Promise<void> = Promise.resolve()
  /** what the last signal we sent was, so an expected exit is not reported as a crash */
  #sent: NodeJS.Signals | null = null

  constructor (name: string, args: string[], colour: number, view: LogView, options: ChildOptions = {}) {
    this.name = name
    this.#args = args
    this.#colour = colour
    this.#view = view
    this.#options = options
  }

  get up (): boolean { return this.#proc !== null }
  get pid (): number | undefined { return this.#proc?.pid }

  start (): void {
    if (this.#proc) return
    this.#sent = null
    // why: `ip netns exec` execs the program in place, so the PID we signal is the node's own
    const [command, ...args] = [...(this.#options.prefix ?? []), process.execPath, ...this.#args]
    const proc = spawn(command!, args, { stdio: [this.#options.stdin ?? 'ignore', 'pipe', 'pipe'], env: { ...process.env, NODECAT_PRETTY: 'false' } })
    this.#proc = proc
    const feed = (stream: NodeJS.ReadableStream) => {
      let buf = ''
      stream.setEncoding('utf8')
      stream.on('data', (chunk: string) => {
        buf += chunk
        let i
        while ((i = buf.indexOf('\n')) >= 0) {
          const text = buf.slice(0, i); buf = buf.slice(i + 1)
          if (text.trim() === '') continue
          this.#view.line(this.name, this.#colour, text)
          let rec: Record<string, unknown> | null = null
          try { rec = JSON.parse(text) } catch {}
          if (rec) for (const w of [...this.#waiters]) if (w.match(rec)) { this.#waiters.splice(this.#waiters.indexOf(w), 1); w.resolve() }
        }
      })
    }
    feed(proc.stdout!)
    feed(proc.stderr!)
    this.#exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.#proc = null
        const expected = this.#sent !== null
        this.#view.say(`${this.name} (pid ${proc.pid}) ${signal ? `ended by ${signal}` : `exited with code ${code}`}${expected ? '' : ' unexpectedly'}`)
        for (const w of this.#waiters.splice(0)) w.resolve()
        resolve()
      })
    })
  }

  /** resolve at the first log record that matches (or when the process ends) */
  waitFor (match: (rec: Record<string, unknown>) => boolean): Promise<void> {
    return new Promise((resolve) => { this.#waiters.push({ match, resolve }) })
  }

  signal (sig: NodeJS.Signals): boolean {
    const pid = this.#proc?.pid
    if (pid === undefined) return false
    this.#sent = sig
    try { process.kill(pid, sig); return true } catch { return false }
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone */
  async stop (graceMs = 10000): Promise<void> {
    if (!this.#proc) return
    this.signal('SIGCONT')
    this.signal('SIGTERM')
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs)
    await this.#exited
    clearTimeout(timer)
  }
}
