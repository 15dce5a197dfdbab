/**
 * Smoke test of bench:managers: a tiny, bounded run (2 nodes, 1 s, one repetition, 200 sessions to
 * re-replicate) whose JSON result must be consistent — both managers ran and sent one message per
 * change to their one peer, and after the SIGKILL every session got back to 2 copies. Behaviour
 * only: no timing is asserted (benchmarks measure, they never pass or fail).
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { buildBench, resultsDir, runBench } from './lib/bench-run.js'

buildBench()

interface Outcome { name: string, samples: Array<Record<string, any> | null>, errors: string[], unavailable?: string }

t.test('bench:managers: both managers write, and every session gets back to 2 copies after a member is killed', async (tt) => {
  const dir = resultsDir(tt)
  const r = await runBench(tt, dir, 'managers.js', ['--nodes', '2', '--seconds', '1', '--reps', '1', '--counts', '200', '--recovery-reps', '1'])
  const cost = r.raw.cost as Array<{ mode: string, nodes: number, managers: string[], outcomes: Outcome[], setupErrors: string[] }>
  tt.equal(cost.length, 1, 'one cluster size, one mode')
  tt.same(cost[0]!.managers, ['delta', 'backup'])
  tt.same(cost[0]!.setupErrors, [], 'both clusters started')
  for (const manager of ['delta', 'backup']) {
    const o = cost[0]!.outcomes.find((x) => x.name === `sync n=2 ${manager}`)!
    tt.same(o.errors, [], `${manager} ran without errors`)
    const s = o.samples[0]!
    tt.ok(s.changes > 0, `${manager}: the writer made changes`)
    tt.equal(s.failed + s.sendFailures, 0, `${manager}: no request or send failed`)
    tt.equal(s.peers, 1, `${manager}: the writer saw its peer`)
    tt.equal(s.managerSends, s.changes, `${manager}: one send per change`)
    tt.equal(s.wireMessages, s.changes, `${manager}: with one peer, one message per change on the wire`)
    tt.ok(s.cpuUs > 0, `${manager}: CPU time measured`)
  }
  const recovery = r.raw.recovery as Outcome[]
  const rec = recovery.find((x) => x.name === '200 sessions')!
  tt.same(rec.errors, [], 're-replication ran without errors')
  const s = rec.samples[0]!
  tt.equal(s.copiesBefore, 400, 'every session had exactly 2 copies before the kill')
  tt.equal(s.survivingSessions, 200, 'no session had both copies on the killed node')
  tt.ok(s.singleCopy > 0 && s.copiesLost > 0, 'the kill left sessions with one copy')
  tt.ok(s.copiesRatioAtRestore >= 1, 'every session back to at least 2 copies on the survivors')
  tt.ok(s.killToExactMs !== null, 'then exactly 2: the copies out of place were dropped')
  tt.ok(s.pushed >= s.singleCopy, 'the survivors pushed at least one whole session per session left with one copy')
  tt.ok(s.gone.length === 3, 'each survivor saw the member go')
  const md = readFileSync(path.join(dir, 'managers.md'), 'utf8')
  tt.match(md, /\| 2 \| delta \|/, 'the Markdown summary has the delta row')
  tt.match(md, /\| 2 \| backup \|/, 'and the backup row')
  tt.match(md, /\| 200 \| node2 \(host B\) \|/, 'and the re-replication row')
})
