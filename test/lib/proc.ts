/**
 * Real child processes for tests: start a built CLI (packages/<pkg>/dist/...), read its JSON log
 * lines, wait for a line that matches, and stop it by PID at teardown, even when the test fails.
 * Only processes started here are ever signalled. The process handling itself is
 * @nodecat/testkit's spawnWatched, shared with bench/.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { spawnWatched, type WatchedProcess, type WatchedOptions } from '@nodecat/testkit'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Absolute path of a built file, e.g. dist('tribes', 'cli.js'). Fails clearly when not built. */
export function dist (pkg: string, file: string): string {
  const p = path.join(repoRoot, 'packages', pkg, 'dist', file)
  if (!existsSync(p)) throw new Error(`${p} does not exist: run "pnpm build" (scripts/test.sh does) before this test`)
  return p
}

/** A started process: its JSON stdout lines, stderr, exit, waitFor(), signal(), stop(). */
export type TestProcess = WatchedProcess

export function startProcess (command: string, args: string[], options: WatchedOptions & { teardown?: (fn: () => Promise<void>) => void } = {}): TestProcess {
  const { teardown, ...rest } = options
  const proc = spawnWatched(command, args, { ...rest, env: { ...process.env, NODE_OPTIONS: '', ...rest.env } })
  teardown?.(() => proc.stop())
  return proc
}

/** Start a built node script of a package: startNode(t, 'tribes', 'cli.js', ['members', '--json']). */
export function startNode (t: { teardown: (fn: () => Promise<void>) => void }, pkg: string, file: string, args: string[], options: WatchedOptions = {}): TestProcess {
  return startProcess(process.execPath, [dist(pkg, file), ...args], { ...options, teardown: (fn) => t.teardown(fn) })
}
