/**
 * Child processes of a benchmark: started by PID, their stdout read as JSON lines (workers
 * report with one JSON object per line), and always stopped by that PID at the end, also on
 * Ctrl-C. Nothing here ever signals a process it did not start. The process handling itself is
 * @nodecat/testkit's spawnWatched, shared with the tests; this adds the benchmark's clean-up.
 */
import type { SpawnOptions } from 'node:child_process'
import { spawnWatched, type WatchedProcess } from '@nodecat/testkit'
import { onCleanup, isAborted } from './cleanup.js'

export { livePids } from '@nodecat/testkit'

export interface Child extends WatchedProcess {
  readonly name: string
  isRunning (): boolean
  /** write one JSON line to the child's stdin (start it with stdio[0] = 'pipe') */
  send (message: unknown): void
}

export function startChild (name: string, command: string, args: string[], options: SpawnOptions & { maxLines?: number } = {}): Child {
  if (isAborted()) throw new Error(`interrupted: not starting ${name}`)
  const p = spawnWatched(command, args, { ...options, label: name, stderrLimit: 20_000 })
  const handle: Child = {
    ...p,
    name,
    isRunning: p.running,
    send (message: unknown) {
      if (!p.child.stdin) throw new Error(`${name} (pid ${p.pid}) has no stdin pipe`)
      p.child.stdin.write(JSON.stringify(message) + '\n')
    },
    stop: async (graceMs = 3000) => await p.stop(graceMs)
  }
  const undo = onCleanup(`stop ${name} (pid ${p.pid})`, () => handle.stop())
  void p.exited.then(() => undo())
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
