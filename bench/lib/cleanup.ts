/**
 * Everything a benchmark sets up (child processes, network namespaces, cgroups, temp dirs) is
 * registered here and undone at the end, also on Ctrl-C / SIGTERM and on an uncaught error, so
 * a broken run leaves nothing behind. Undo steps run newest first.
 */
type Undo = () => void | Promise<void>

const steps: Array<{ name: string, undo: Undo }> = []
let running: Promise<void> | null = null
let installed = false
let aborted = false

/** True once Ctrl-C / SIGTERM arrived: loops stop, no new children start, no report is written. */
export function isAborted (): boolean {
  return aborted
}

/** Register an undo step; returns a function that runs it now (and removes it from the list). */
export function onCleanup (name: string, undo: Undo): () => Promise<void> {
  installHandlers()
  const step = { name, undo }
  steps.push(step)
  return async () => {
    const i = steps.indexOf(step)
    if (i < 0) return
    steps.splice(i, 1)
    await runStep(step)
  }
}

/** One undo step, bounded: a step that hangs is reported and skipped, so cleanup always ends. */
async function runStep (step: { name: string, undo: Undo }): Promise<void> {
  if (process.env.BENCH_DEBUG) process.stderr.write(`cleanup: ${step.name}\n`)
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      Promise.resolve().then(step.undo),
      new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error('did not finish within 15 s')), 15_000) })
    ])
  } catch (err) {
    process.stderr.write(`cleanup "${step.name}" failed: ${(err as Error).message}\n`)
  } finally {
    clearTimeout(timer)
  }
}

/** Undo everything registered so far, newest first. Safe to call more than once. */
export async function cleanupAll (): Promise<void> {
  if (running) return running
  running = (async () => {
    while (steps.length > 0) await runStep(steps.pop()!)
  })()
  try { await running } finally { running = null }
}

function installHandlers (): void {
  if (installed) return
  installed = true
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      aborted = true
      process.stderr.write(`\n${sig}: stopping children and removing what the benchmark set up…\n`)
      void cleanupAll().finally(() => process.exit(130))
    })
  }
  // why: a crash must not leave proxies or namespaces behind; async undo steps can't run on 'exit'
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${err.stack ?? String(err)}\n`)
    void cleanupAll().finally(() => process.exit(1))
  })
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`)
    void cleanupAll().finally(() => process.exit(1))
  })
}

/** Run main(), always clean up, and set the exit code. */
export async function runMain (main: () => Promise<void>): Promise<void> {
  installHandlers()
  let failed = false
  try {
    await main()
  } catch (err) {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
    failed = true
  } finally {
    await cleanupAll()
  }
  // why: a run that failed half-way may leave timers behind (a progress bar, a load loop) that would keep it alive
  if (failed) process.exit(1)
}
