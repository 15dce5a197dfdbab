/**
 * Running the compiled benchmarks (bench/dist) from smoke tests: build them, run one with its
 * results in a temp dir, read its JSON result, and start nodecat-was nodes with the bench app on
 * 127.0.0.1 as stand-ins for remote machines. Everything started is stopped by PID at teardown.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { repoRoot, startNode, startProcess, type TestProcess } from './proc.js'
import { freePorts } from './ports.js'

export const benchDist = path.join(repoRoot, 'bench', 'dist')

type Teardown = { teardown: (fn: () => void | Promise<void>) => void }

/** Newest modification time of the .ts/.js files under `dir` (not dist or node_modules). */
function newest (dir: string): number {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'dist' || e.name === 'node_modules' || e.name === 'results') continue
    const p = path.join(dir, e.name)
    if (e.isDirectory()) t = Math.max(t, newest(p))
    else if (/\.(ts|js)$/.test(e.name)) t = Math.max(t, statSync(p).mtimeMs)
  }
  return t
}

const sleep = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms) }

/**
 * The benchmarks run compiled (bench/dist), which the root `tsc -b` does not build. Builds when
 * bench/dist is older than bench's sources or the packages' builds; a lock directory keeps two test
 * files (tap runs them in parallel) from writing bench/dist at the same time.
 */
export function buildBench (): void {
  // why: tsc -b leaves its outputs untouched when they are up to date, so keep a stamp of our own
  const stamp = path.join(repoRoot, 'bench', 'dist', '.smoke-test-built')
  const sources = Math.max(newest(path.join(repoRoot, 'bench')), ...['tribes', 'was-node', 'testkit'].map((p) => {
    try { return statSync(path.join(repoRoot, 'packages', p, 'dist', 'index.js')).mtimeMs } catch { return Infinity }
  }))
  const fresh = (): boolean => { try { return statSync(stamp).mtimeMs >= sources } catch { return false } }
  if (fresh()) return
  const lock = path.join(os.tmpdir(), 'nodecat-bench-build.lock')
  const until = Date.now() + 180_000
  for (;;) {
    try { mkdirSync(lock); break } catch {}
    // why: a lock left by a killed run must not block every later run
    try { if (Date.now() - statSync(lock).mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true }) } catch {}
    if (Date.now() > until) throw new Error(`${lock} is held for 3 minutes: another build hangs or was killed (remove the directory)`)
    sleep(200)
  }
  try {
    if (!fresh()) {
      execFileSync(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'bench'], { cwd: repoRoot, stdio: 'inherit' })
      writeFileSync(stamp, `${new Date().toISOString()}\n`)
    }
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

export function resultsDir (t: Teardown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nodecat-bench-smoke-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Start bench/dist/<script> writing its results to `dir`. */
export function startBench (t: Teardown, dir: string, script: string, args: string[]): TestProcess {
  return startProcess(process.execPath, [path.join(benchDist, script), ...args], { env: { BENCH_RESULTS_DIR: dir, CI: 'true' }, teardown: (fn) => t.teardown(fn) })
}

/** Run a benchmark to its end and return its one JSON result. */
export async function runBench (t: Teardown, dir: string, script: string, args: string[]): Promise<Record<string, any>> {
  const p = startBench(t, dir, script, args)
  const exit = await p.exited
  if (exit.code !== 0) throw new Error(`${script} exited with ${exit.code}: ${p.stderr().slice(-2000)}`)
  const json = readdirSync(dir).filter((f) => f.endsWith('.json'))
  if (json.length !== 1) throw new Error(`expected one JSON result in ${dir}, found ${json.join(', ')}`)
  return JSON.parse(readFileSync(path.join(dir, json[0]!), 'utf8'))
}

/** nodecat-was nodes with the bench app on 127.0.0.1, started as a user would start them on Pis. */
export async function startBenchNodes (t: Teardown, count: number): Promise<Array<{ url: string, proc: TestProcess }>> {
  const ports = await freePorts(count * 2)
  const receivers = ports.slice(count).map((p) => `127.0.0.1:${p}`)
  const key = randomBytes(32).toString('base64')
  const nodes = Array.from({ length: count }, (_, i) => ({
    url: `http://127.0.0.1:${ports[i]}`,
    proc: startNode(t, 'was-node', 'cli.js', ['--jvm-route', `pi${i + 1}`, '--http', `127.0.0.1:${ports[i]}`, '--app', path.join(repoRoot, 'bench', 'app', 'bench-app.js'),
      '--static', receivers.join(','), '--receiver', receivers[i]!, '--auto-bind', '1', '--key', key, '--log-level', 'info'])
  }))
  await Promise.all(nodes.map((n) => n.proc.waitFor((l) => l.event === 'node-ready', 60_000)))
  return nodes
}
