/**
 * Smoke test of bench:transfer: a tiny, bounded run whose JSON result must be consistent — every
 * session the cluster holds reaches the joining node, the baselines handle the same set. Behaviour
 * only: no timing is asserted (benchmarks measure, they never pass or fail).
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { buildBench, resultsDir, runBench } from './lib/bench-run.js'

buildBench()

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
