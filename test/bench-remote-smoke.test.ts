/**
 * Smoke test of the benchmarks' remote mode (--targets): three nodecat-was nodes with the bench
 * app, started here on 127.0.0.1 as stand-ins for Pis, driven over HTTP by bench:replication and
 * bench:failover (whose --kill-command must really reach the victim by its PID), and a failing
 * run that must end by itself. Behaviour only: no timing is asserted.
 */
import t from 'tap'
import { readdirSync } from 'node:fs'
import { buildBench, resultsDir, runBench, startBench, startBenchNodes } from './lib/bench-run.js'

buildBench()

t.test('remote mode against nodes this test runs', async (t) => {
  const nodes = await startBenchNodes(t, 3)
  const targets = nodes.map((n) => n.url).join(',')

  await t.test('a benchmark that fails half-way reports the error and exits (no hang on its progress bar or load)', async (tt) => {
    const dir = resultsDir(tt)
    const p = startBench(tt, dir, 'failover.js', ['--targets', targets, '--signal', 'kill', '--reps', '1', '--users', '2', '--warm', '1', '--after', '1', '--kill-command', 'exit 3'])
    const exit = await Promise.race([p.exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 60_000))])
    tt.not(exit, null, 'the benchmark ended by itself')
    tt.equal(exit?.code, 1, 'with exit code 1')
    tt.match(p.stderr(), /kill command failed/, 'saying why')
    tt.same(readdirSync(dir), [], 'and wrote no results')
    for (const n of nodes) tt.equal(n.proc.running(), true, 'the targets were not touched')
  })

  await t.test('bench:replication --targets drives the running nodes over HTTP', async (tt) => {
    const r = await runBench(tt, resultsDir(tt), 'replication.js', ['--targets', targets, '--sizes', '100', '--seconds', '1', '--reps', '1'])
    tt.equal(r.name, 'replication-remote')
    const outcomes = r.raw.outcomes as Array<{ name: string, samples: Array<{ r: Record<string, any> }>, errors: string[] }>
    const write = outcomes.find((o) => o.name === 'write 100')!
    const lag = outcomes.find((o) => o.name === 'lag 100')!
    tt.same([...write.errors, ...lag.errors], [])
    tt.ok(write.samples[0]!.r.written > 0, 'the writer wrote')
    tt.equal(write.samples[0]!.r.complete, true, 'both peers applied every delta written')
    tt.ok(lag.samples[0]!.r.samples > 0, 'lag samples were taken')
  })

  await t.test('bench:failover --targets --kill-command: a hung node is resumed, a killed one dies, and the way back is measured', async (tt) => {
    const r = await runBench(tt, resultsDir(tt), 'failover.js', ['--targets', targets, '--signal', 'stop,kill', '--reps', '1', '--users', '6', '--warm', '2', '--after', '7', '--kill-command', 'kill -s {signal} {pid}'])
    tt.equal(r.name, 'failover-remote')
    const [stop, kill] = r.raw.outcomes as Array<Record<string, any>>
    const node = (o: Record<string, any>) => nodes[Number(String(o.victim).slice(2)) - 1]!
    tt.equal(stop!.signal, 'stop')
    // the CONT must reach the stopped node although it cannot tell its pid while stopped; the kill
    // repetition only starts once every target answers and sees the others again
    tt.equal(kill!.signal, 'kill', 'the run went on after resuming the stopped node')
    if (stop!.victim !== kill!.victim) tt.equal(node(stop!).proc.running(), true, 'the resumed node is alive')
    tt.equal((await node(kill!).proc.exited).signal, 'SIGKILL', 'the kill command reached the victim by its PID')
    for (const o of [stop!, kill!]) {
      tt.ok(o.requests > 0 && o.affectedUsers > 0, `${o.signal}: users were affected`)
      tt.equal(o.notRecovered, 0, `${o.signal}: every affected user was served again`)
      tt.not(o.gone.membershipMs, null, `${o.signal}: a survivor dropped the victim from its membership within the run`)
      // (a hung node's users wait for their 5 s client timeout, hence --after 7)
      // the balancer names its worker states OK / ERROR / RECOVERING: a healthy victim must read as healthy
      tt.equal(o.balancerStateBefore, undefined, `${o.signal}: the victim's worker was OK in the balancer before the signal`)
      tt.not(o.gone.balancerMs, null, `${o.signal}: the balancer marked the victim's worker not OK within the run`)
    }
  })
})
