/**
 * Smoke test of the benchmarks that drive nodecat-was nodes (bench/): tiny, bounded runs whose
 * JSON results must be consistent — every session created reaches the joining node, remote mode
 * drives nodes on 127.0.0.1 that this test starts itself, and a --kill-command really kills the
 * victim. Behaviour only: no timing is asserted (benchmarks measure, they never pass or fail).
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { repoRoot, startNode, startProcess, type TestProcess } from './lib/proc.js'
import { freePorts } from './lib/ports.js'

const benchDist = path.join(repoRoot, 'bench', 'dist')

// why: the benchmarks run compiled (bench/dist), which the root `tsc -b` does not build
execFileSync(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'bench'], { cwd: repoRoot, stdio: 'inherit' })

function resultsDir (tt: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nodecat-bench-smoke-'))
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function runBench (tt: { teardown: (fn: () => Promise<void>) => void }, dir: string, script: string, args: string[]): Promise<Record<string, any>> {
  const p = startProcess(process.execPath, [path.join(benchDist, script), ...args], { env: { BENCH_RESULTS_DIR: dir, CI: 'true' }, teardown: (fn) => tt.teardown(fn) })
  const exit = await p.exited
  if (exit.code !== 0) throw new Error(`${script} exited with ${exit.code}: ${p.stderr().slice(-2000)}`)
  const json = readdirSync(dir).filter((f) => f.endsWith('.json'))
  if (json.length !== 1) throw new Error(`expected one JSON result in ${dir}, found ${json.join(', ')}`)
  return JSON.parse(readFileSync(path.join(dir, json[0]!), 'utf8'))
}

/** nodecat-was nodes with the bench app on 127.0.0.1, as a user would start them on Pis. */
async function startBenchNodes (tt: { teardown: (fn: () => Promise<void>) => void }, count: number): Promise<Array<{ url: string, proc: TestProcess }>> {
  const ports = await freePorts(count * 2)
  const receivers = ports.slice(count).map((p) => `127.0.0.1:${p}`)
  const key = randomBytes(32).toString('base64')
  const nodes = Array.from({ length: count }, (_, i) => ({
    url: `http://127.0.0.1:${ports[i]}`,
    proc: startNode(tt, 'was-node', 'cli.js', ['--jvm-route', `pi${i + 1}`, '--http', `127.0.0.1:${ports[i]}`, '--app', path.join(repoRoot, 'bench', 'app', 'bench-app.js'),
      '--static', receivers.join(','), '--receiver', receivers[i]!, '--auto-bind', '1', '--key', key, '--log-level', 'info'])
  }))
  await Promise.all(nodes.map((n) => n.proc.waitFor((l) => l.event === 'node-ready', 60_000)))
  return nodes
}

t.test('bench:transfer: the joining node receives every session the cluster holds', async (tt) => {
  const dir = resultsDir(tt)
  const r = await runBench(tt, dir, 'transfer.js', ['--counts', '400', '--reps', '1'])
  const res = r.raw.results as Array<{ count: number, outcomes: Array<{ name: string, samples: Array<{ kind: string, r: Record<string, any> }>, errors: string[] }> }>
  tt.equal(res.length, 1)
  tt.equal(res[0]!.count, 400)
  const get = (name: string) => res[0]!.outcomes.find((o) => o.name === `400 ${name}`)!
  for (const name of ['join', 'msgpackr', 'raw TCP']) tt.same(get(name).errors, [], `${name} ran without errors`)
  const join = get('join').samples[0]!.r
  tt.equal(join.state, 'done', 'the transfer ended by transfer-complete, not a timeout')
  tt.equal(join.sessionsReceived, 400, 'every session arrived')
  tt.equal(join.sessionsHeld, 400, 'and the joining node holds them')
  tt.ok(join.transferMs >= 0 && join.startToReadyMs >= join.transferMs, 'spawn → ready includes the transfer')
  tt.ok(join.peakRss >= join.rssAfter && join.peakHeap >= join.heapAfter * 0.9, 'peaks are not below the final values')
  const codec = get('msgpackr').samples[0]!.r
  tt.equal(codec.decoded, 400, 'the codec baseline round-trips the same number of sessions')
  tt.ok(get('raw TCP').samples[0]!.r.bytes >= codec.bytes, 'raw TCP moves at least the encoded byte count')
  tt.match(readFileSync(path.join(dir, 'transfer.md'), 'utf8'), /\| 400 \|/, 'the Markdown summary has the row')
})

t.test('bench:replication --targets drives running nodes over HTTP', async (tt) => {
  const nodes = await startBenchNodes(tt, 2)
  const dir = resultsDir(tt)
  const r = await runBench(tt, dir, 'replication.js', ['--targets', nodes.map((n) => n.url).join(','), '--sizes', '100', '--seconds', '1', '--reps', '1'])
  tt.equal(r.name, 'replication-remote')
  const outcomes = r.raw.outcomes as Array<{ name: string, samples: Array<{ r: Record<string, any> }>, errors: string[] }>
  const write = outcomes.find((o) => o.name === 'write 100')!
  const lag = outcomes.find((o) => o.name === 'lag 100')!
  tt.same([...write.errors, ...lag.errors], [])
  tt.ok(write.samples[0]!.r.written > 0, 'the writer wrote')
  tt.equal(write.samples[0]!.r.complete, true, 'the peer applied every delta written')
  tt.ok(lag.samples[0]!.r.samples > 0, 'lag samples were taken')
})

t.test('bench:failover --targets --kill-command kills the busiest node and measures the way back', async (tt) => {
  const nodes = await startBenchNodes(tt, 3)
  const dir = resultsDir(tt)
  const r = await runBench(tt, dir, 'failover.js', ['--targets', nodes.map((n) => n.url).join(','), '--signal', 'kill', '--reps', '1', '--users', '6', '--after', '6', '--kill-command', 'kill -s {signal} {pid}'])
  tt.equal(r.name, 'failover-remote')
  const o = r.raw.outcomes[0] as Record<string, any>
  tt.equal(o.signal, 'kill')
  const victim = nodes[Number(String(o.victim).slice(2)) - 1]!
  tt.equal((await victim.proc.exited).signal, 'SIGKILL', 'the kill command reached the victim by its PID')
  tt.ok(o.requests > 0 && o.affectedUsers > 0)
  tt.equal(o.notRecovered, 0, 'every affected user was served again')
  tt.not(o.gone.membershipMs, null, 'a survivor dropped the victim from its membership within the run')
  // the balancer names its worker states OK / ERROR / RECOVERING: a healthy victim must read as healthy
  tt.equal(o.balancerStateBefore, undefined, 'the victim\'s worker was OK in the balancer before the kill')
  tt.not(o.gone.balancerMs, null, 'the balancer marked the victim\'s worker not OK within the run')
})
