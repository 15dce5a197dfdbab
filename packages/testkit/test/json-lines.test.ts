/**
 * testkit's JsonLines and spawnWatched, which every process-starting test and benchmark relies on:
 * lines split anywhere come out whole, waitFor finds past and future lines, an ended stream or an
 * exited process fails a wait with the reason instead of hanging, and maxLines bounds what is kept.
 */
import t from 'tap'
import { JsonLines, spawnWatched } from '../src/index.js'

t.test('a line split at every byte boundary is parsed once, whole', async (t) => {
  const text = '{"event":"a","n":1}\nnot json\n\n{"event":"b"}\n'
  for (let cut = 0; cut <= text.length; cut++) {
    const l = new JsonLines()
    l.push(text.slice(0, cut))
    l.push(text.slice(cut))
    t.same(l.lines, [{ event: 'a', n: 1 }, { msg: 'not json' }, { event: 'b' }], `cut at ${cut}`)
  }
})

t.test('waitFor: a past line at once, a future line when it comes, a timeout names what was awaited', async (t) => {
  const l = new JsonLines({ label: 'demo' })
  l.push('{"event":"started"}\n')
  t.same(await l.waitFor((x) => x.event === 'started'), { event: 'started' })
  const later = l.waitFor((x) => x.event === 'ready', 5000)
  l.push('{"event":"rea')
  l.push('dy"}\n')
  t.same(await later, { event: 'ready' })
  await t.rejects(l.waitFor((x) => x.event === 'never', 50, 'the never line'), /demo: no the never line within 50 ms/)
})

t.test('close: pending and later waits fail with the reason; a last line without newline is kept', async (t) => {
  const l = new JsonLines({ label: 'p' })
  const pending = l.waitFor((x) => x.event === 'ready', 5000, 'ready')
  l.push('{"event":"last"}')
  l.close('exited (code 1, signal null)')
  await t.rejects(pending, /p exited \(code 1, signal null\) before ready/)
  await t.rejects(l.waitFor((x) => x.event === 'x', 5000, 'x'), /before x/)
  t.same(l.lines, [{ event: 'last' }])
})

t.test('maxLines keeps the newest lines only', async (t) => {
  const l = new JsonLines({ maxLines: 10 })
  for (let i = 0; i < 1000; i++) l.push(`{"i":${i}}\n`)
  t.ok(l.lines.length <= 13, `kept ${l.lines.length}`)
  t.same(l.lines.at(-1), { i: 999 })
})

t.test('spawnWatched: lines of a real child, its exit, and a wait that the exit ends', async (t) => {
  const p = spawnWatched(process.execPath, ['-e', 'console.log(JSON.stringify({ event: "hello" })); console.error("oops"); process.exitCode = 3'], { label: 'child' })
  t.teardown(() => p.stop())
  t.same(await p.waitFor((l) => l.event === 'hello'), { event: 'hello' })
  t.same(await p.exited, { code: 3, signal: null })
  t.notOk(p.running())
  t.match(p.stderr(), /oops/)
  await t.rejects(p.waitFor((l) => l.event === 'never', 5000, 'never'), /child \(pid \d+\) exited \(code 3, signal null\) before never/)
})

t.test('stop: SIGTERM, then SIGKILL for a child that ignores it', async (t) => {
  const p = spawnWatched(process.execPath, ['-e', 'process.on("SIGTERM", () => {}); console.log("{}"); setInterval(() => {}, 1000)'])
  t.teardown(() => p.stop(100))
  await p.waitFor(() => true)
  await p.stop(200)
  t.same(await p.exited, { code: null, signal: 'SIGKILL' })
})
