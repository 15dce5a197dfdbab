/**
 * Real child processes for tests: start a built CLI (packages/<pkg>/dist/...), read its JSON log
 * lines, wait for a line that matches, and stop it by PID at teardown, even when the test fails.
 * Only processes started here are ever signalled. The process handling itself is
 * @nodecat/testkit's spawnWatched, shared with bench/.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { execFileSync } from 'node:child_process'
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

/**
 * A fresh cluster key made by `nodecat-tribes keygen`, as a user makes one, in a temp file
 * (mode 0600) that the test's teardown removes; returns the file's path for --key-file.
 */
export function clusterKeyFile (t: { teardown: (fn: () => void) => void }, prefix = 'nodecat-key-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const keyFile = path.join(dir, 'cluster.key')
  writeFileSync(keyFile, execFileSync(process.execPath, [dist('tribes', 'cli.js'), 'keygen'], { encoding: 'utf8' }).trim() + '\n', { mode: 0o600 })
  return keyFile
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
