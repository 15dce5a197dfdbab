/**
 * `nodecat-was --workers n` (n > 1): this process becomes a supervisor that runs n worker
 * processes, each a full cluster member (worker-plan.ts says what each is told), and serves
 * nothing itself.
 *
 * - Start: every worker is forked at once; a worker is started when it says so over IPC (the CLI
 *   sends `ready` once startNode resolved: HTTP listens, the channel joined). A worker that exits
 *   before that (port taken, bad option) stops the whole start: the others are stopped and
 *   start() rejects with a {@link WorkerStartError} naming the worker.
 * - A worker that exits afterwards without being asked is restarted under the same route and
 *   ports, after a backoff (1 s doubling to 30 s, back to 1 s once a run lasted 60 s).
 * - stop(): SIGTERM to every worker (each drains as a single node does), then waiting for all of
 *   them, bounded by shutdownTimeout + the drain + a margin; a worker still there is SIGKILLed,
 *   by its PID. Only this supervisor's own children are ever signalled.
 * Workers run in their own process group, so a terminal's Ctrl-C reaches the supervisor only (it
 * forwards one SIGTERM); a worker whose supervisor vanished stops itself (the CLI watches the
 * IPC channel).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import { DRAIN_TIME } from './drain.js'
import { workerEnv, type WorkerPlan } from './worker-plan.js'
import { WasError } from '../errors.js'

/** Messages a worker sends its supervisor. */
export type WorkerMessage =
  | { type: 'nodecat-worker-ready', url: string }
  | { type: 'nodecat-worker-failed', message: string, code: string | null, exitCode: number }

export interface BackoffOptions {
  /** delay before the first restart (ms) */
  initialMs: number
  /** the longest delay (ms) */
  maxMs: number
  /** a run at least this long counts as healthy: the next delay is initialMs again (ms) */
  resetAfterMs: number
}

export const BACKOFF_DEFAULTS: Readonly<BackoffOptions> = Object.freeze({ initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 })

/** extra time a stopping worker gets past its own shutdownTimeout and drain before SIGKILL (ms) */
export const STOP_MARGIN_MS = 5000

/** Restart delays of one worker: doubling while it keeps crashing early, reset by a long run. */
export class RestartBackoff {
  readonly #o: BackoffOptions
  #next: number
  #restarts = 0

  constructor (options: Partial<BackoffOptions> = {}) {
    this.#o = { ...BACKOFF_DEFAULTS, ...options }
    this.#next = this.#o.initialMs
  }

  /** the delay before restarting a worker that ran `ranMs` before it exited */
  delayAfter (ranMs: number): number {
    if (ranMs >= this.#o.resetAfterMs) this.#next = this.#o.initialMs
    const delay = this.#next
    this.#next = Math.min(this.#o.maxMs, this.#next * 2)
    this.#restarts++
    return delay
  }

  /** restarts scheduled so far */
  get restarts (): number { return this.#restarts }
}

/**
 * A worker exited before it was started (WAS_ERR_WORKER_START); the message names it (route,
 * HTTP port) and says why; `workerCode` is the worker's own error code, when it had one.
 */
export class WorkerStartError extends WasError {
  readonly route: string
  readonly port: number
  /** the exit code the supervisor should end with: 2 when the worker's options were refused, else 1 */
  readonly exitCode: number
  readonly workerCode: string | null

  constructor (plan: WorkerPlan, why: string, exitCode: number, workerCode: string | null) {
    super('WAS_ERR_WORKER_START', `worker ${plan.route} (http ${plan.http.address}:${plan.http.port}, receiver port ${plan.receiver.port}) could not start: ${why}`)
    this.name = 'WorkerStartError'
    this.route = plan.route
    this.port = plan.http.port
    this.exitCode = exitCode
    this.workerCode = workerCode
  }
}

/** The parts of a child process the supervisor uses (a fake in unit tests). */
export interface WorkerChild {
  readonly pid?: number | undefined
  kill (signal: NodeJS.Signals): boolean
  on (event: 'message', listener: (message: unknown) => void): unknown
  on (event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown
  on (event: 'error', listener: (err: Error) => void): unknown
}

export interface SupervisorOptions {
  plans: WorkerPlan[]
  logger: Logger
  /** the workers' shutdownTimeout (ms): stop() waits that + the drain + STOP_MARGIN_MS */
  shutdownTimeout: number
  backoff?: Partial<BackoffOptions>
  /** start one worker's process (default: fork this CLI with the command's argv and env) */
  spawn?: (plan: WorkerPlan) => WorkerChild
  /** how long stop() waits before SIGKILL (default shutdownTimeout + DRAIN_TIME + STOP_MARGIN_MS) */
  stopTimeoutMs?: number
}

/** The CLI module the workers run (this package's dist/cli.js). */
export const CLI_ENTRY = fileURLToPath(new URL('../cli.js', import.meta.url))

/** fork the CLI as worker `plan`: same Node flags, same argv, same env plus the worker variables. */
export function forkWorker (argv: readonly string[], env: NodeJS.ProcessEnv): (plan: WorkerPlan) => WorkerChild {
  return (plan) => fork(CLI_ENTRY, [...argv], {
    execArgv: process.execArgv,
    env: workerEnv(plan, env),
    // why: logs go straight to the supervisor's stdout/stderr (journald, a pipe, a terminal); the
    // lines carry the worker's pid, and no relay can lose or reorder them
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // why: its own process group, so a terminal's Ctrl-C does not hit it besides the SIGTERM the
    // supervisor forwards (a second signal would cut the worker's graceful stop short)
    detached: true
  })
}

type State = 'starting' | 'running' | 'restarting' | 'stopped'

class Worker {
  readonly plan: WorkerPlan
  readonly backoff: RestartBackoff
  child: ChildProcess | WorkerChild | null = null
  pid: number | null = null
  state: State = 'starting'
  ready = false
  startedAt = 0
  failure: { message: string, code: string | null, exitCode: number } | null = null
  timer: NodeJS.Timeout | null = null
  exited: Promise<void> = Promise.resolve()

  constructor (plan: WorkerPlan, backoff: Partial<BackoffOptions>) {
    this.plan = plan
    this.backoff = new RestartBackoff(backoff)
  }

  get alive (): boolean { return this.child !== null }
}

export interface WorkerInfo { route: string, pid: number | null, http: string, state: State, ready: boolean, restarts: number }

export class Supervisor {
  readonly #o: SupervisorOptions
  readonly #log: Logger
  readonly #spawn: (plan: WorkerPlan) => WorkerChild
  readonly #workers: Worker[]
  #phase: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new'
  #startSettled: { resolve: () => void, reject: (err: Error) => void } | null = null
  #stopping: Promise<void> | null = null
  #startFailure: WorkerStartError | null = null

  constructor (options: SupervisorOptions) {
    this.#o = options
    this.#log = options.logger
    this.#spawn = options.spawn ?? forkWorker(process.argv.slice(2), process.env)
    this.#workers = options.plans.map((p) => new Worker(p, options.backoff ?? {}))
  }

  /** every worker: route, current pid, state, restarts so far */
  workers (): WorkerInfo[] {
    return this.#workers.map((w) => ({ route: w.plan.route, pid: w.pid, http: `${w.plan.http.address}:${w.plan.http.port}`, state: w.state, ready: w.ready, restarts: w.backoff.restarts }))
  }

  /**
   * Fork every worker; resolves once each has said it started. Rejects with WorkerStartError when
   * one exits before that (the others are stopped first), or with an Error when stop() was called
   * meanwhile (the workers are stopped then too).
   */
  async start (): Promise<void> {
    if (this.#phase !== 'new') throw new Error('the supervisor was started already')
    this.#phase = 'starting'
    const started = new Promise<void>((resolve, reject) => { this.#startSettled = { resolve, reject } })
    this.#log.info({ event: 'workers-starting', workers: this.#workers.length, routes: this.#workers.map((w) => w.plan.route) }, `starting ${this.#workers.length} workers`)
    for (const w of this.#workers) this.#launch(w)
    return await started
  }

  #launch (w: Worker): void {
    w.state = 'starting'
    w.ready = false
    w.failure = null
    w.startedAt = Date.now()
    let child: WorkerChild
    try {
      child = this.#spawn(w.plan)
    } catch (err) {
      // a fork that throws (EAGAIN, ENOMEM) is an exit before start
      w.failure = { message: (err as Error).message, code: null, exitCode: 1 }
      setImmediate(() => this.#exited(w, null, 1, null))
      return
    }
    w.child = child
    w.pid = child.pid ?? null
    let done = false
    w.exited = new Promise<void>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (done) return
        done = true
        resolve()
        this.#exited(w, child, code, signal)
      }
      child.on('exit', finish)
      // why: 'error' without 'exit' means the process never ran (or cannot be signalled any more)
      child.on('error', (err) => {
        w.failure ??= { message: err.message, code: null, exitCode: 1 }
        if (child.pid === undefined) finish(1, null)
      })
    })
    child.on('message', (m) => this.#message(w, child, m))
    this.#log.info({ event: 'worker-started', route: w.plan.route, pid: w.pid, http: `${w.plan.http.address}:${w.plan.http.port}`, receiverPort: w.plan.receiver.port, restarts: w.backoff.restarts },
      `worker ${w.plan.route} started (pid ${String(w.pid)})`)
  }

  #message (w: Worker, child: WorkerChild, raw: unknown): void {
    if (w.child !== child || typeof raw !== 'object' || raw === null) return
    const m = raw as WorkerMessage
    if (m.type === 'nodecat-worker-failed') {
      w.failure = { message: String(m.message), code: m.code ?? null, exitCode: m.exitCode === 2 ? 2 : 1 }
      return
    }
    if (m.type !== 'nodecat-worker-ready' || w.ready) return
    w.ready = true
    w.state = 'running'
    this.#log.info({ event: 'worker-ready', route: w.plan.route, pid: w.pid, url: m.url }, `worker ${w.plan.route} serving ${m.url}`)
    if (this.#phase === 'starting' && this.#workers.every((x) => x.ready)) {
      this.#phase = 'running'
      this.#log.info({ event: 'workers-started', workers: this.workers().map(({ route, pid, http }) => ({ route, pid, http })) }, `all ${this.#workers.length} workers started`)
      this.#startSettled?.resolve()
    }
  }

  #exited (w: Worker, child: WorkerChild | null, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== null && w.child !== child) return
    w.child = null
    const pid = w.pid
    const ranMs = Date.now() - w.startedAt
    const wasReady = w.ready
    w.ready = false
    if (this.#phase === 'stopping' || this.#phase === 'stopped') {
      w.state = 'stopped'
      this.#log.info({ event: 'worker-stopped', route: w.plan.route, pid, code, signal }, `worker ${w.plan.route} stopped (pid ${String(pid)}, ${describeExit(code, signal)})`)
      return
    }
    if (this.#phase === 'starting' && !wasReady && w.backoff.restarts === 0) {
      // a worker that never started during the start: the whole start fails
      const why = w.failure?.message ?? `it exited (${describeExit(code, signal)}) before it was ready`
      const exitCode = w.failure?.exitCode ?? (code === 2 ? 2 : 1)
      w.state = 'stopped'
      this.#log.error({ event: 'worker-start-failed', route: w.plan.route, pid, code, signal, http: `${w.plan.http.address}:${w.plan.http.port}`, error: why }, `worker ${w.plan.route} could not start: ${why}`)
      this.#startFailure = new WorkerStartError(w.plan, why, exitCode, w.failure?.code ?? null)
      void this.stop(`worker ${w.plan.route} could not start`)
      return
    }
    const delay = w.backoff.delayAfter(ranMs)
    w.state = 'restarting'
    this.#log.warn({ event: 'worker-exited', route: w.plan.route, pid, code, signal, ranMs, restartInMs: delay, restarts: w.backoff.restarts },
      `worker ${w.plan.route} (pid ${String(pid)}) exited unexpectedly (${describeExit(code, signal)}) after ${Math.round(ranMs / 1000)} s; restarting in ${delay} ms`)
    w.timer = setTimeout(() => {
      w.timer = null
      if (this.#phase === 'stopping' || this.#phase === 'stopped') return
      this.#log.info({ event: 'worker-restarting', route: w.plan.route, restarts: w.backoff.restarts }, `restarting worker ${w.plan.route}`)
      this.#launch(w)
    }, delay)
  }

  /**
   * SIGTERM every worker, wait for all to exit (bounded), SIGKILL the ones left by PID. Idempotent.
   * Resolves when no worker is running.
   */
  async stop (reason = 'stop'): Promise<void> {
    this.#stopping ??= (async () => {
      const wasStarting = this.#phase === 'starting' || this.#phase === 'new'
      this.#phase = 'stopping'
      const bound = this.#o.stopTimeoutMs ?? this.#o.shutdownTimeout + DRAIN_TIME + STOP_MARGIN_MS
      this.#log.info({ event: 'workers-stopping', reason, timeoutMs: bound }, `stopping ${this.#workers.length} workers (${reason})`)
      for (const w of this.#workers) {
        if (w.timer !== null) { clearTimeout(w.timer); w.timer = null }
        if (w.child !== null) {
          try { w.child.kill('SIGTERM') } catch {}
        } else {
          w.state = 'stopped'
        }
      }
      const exits = Promise.all(this.#workers.map(async (w) => await w.exited))
      let timer: NodeJS.Timeout | undefined
      const timedOut = await Promise.race([exits.then(() => false), new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), bound) })])
      clearTimeout(timer)
      if (timedOut) {
        for (const w of this.#workers) {
          if (w.child === null) continue
          this.#log.warn({ event: 'worker-kill', route: w.plan.route, pid: w.pid, timeoutMs: bound }, `worker ${w.plan.route} (pid ${String(w.pid)}) did not stop within ${bound} ms: SIGKILL`)
          try { w.child.kill('SIGKILL') } catch {}
        }
        await exits
      }
      this.#phase = 'stopped'
      this.#log.info({ event: 'workers-stopped', reason }, 'all workers stopped')
      if (wasStarting) this.#startSettled?.reject(this.#startFailure ?? new Error(`stopped before every worker started (${reason})`))
    })()
    return await this.#stopping
  }
}

function describeExit (code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `signal ${signal}` : `code ${String(code)}`
}
