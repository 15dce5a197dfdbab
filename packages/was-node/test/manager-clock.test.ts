/**
 * Wall clock against monotonic clock (src/manager/clock.ts): a node whose wall clock is skewed or
 * steps (NTP after booting with a stale clock) must neither expire sessions early nor keep them
 * late, and the order of one session's changes must not depend on any wall clock (versions).
 * Each node here has its own clock: a monotonic time shared by all, and a wall time = monotonic +
 * that node's offset, which the test changes (a step) while sessions are stored.
 */
import t from 'tap'
import { FakeHub } from './helpers/fake-channel.js'
import { startNode, request, attrs } from './helpers/session-cluster.js'
import { parseClockOffset, systemClock } from '../src/manager/clock.js'
import { sleep } from '@nodecat/testkit'

const MIN = 60_000

class SkewedClock {
  offset = 0
  constructor (readonly mono: { t: number }) {}
  now (): number { return this.mono.t + this.offset }
  monotonic (): number { return this.mono.t }
}

t.test('the test hook NODECAT_TEST_CLOCK_OFFSET_MS', async (t) => {
  t.same(parseClockOffset('600000'), { offset: 600000, after: 0 }, 'a plain offset')
  t.same(parseClockOffset('-600000@5000'), { offset: -600000, after: 5000 }, 'a step after 5 s')
  t.same(parseClockOffset('n2=600000,n3=-600000@5000', 'n3'), { offset: -600000, after: 5000 }, 'per route')
  t.equal(parseClockOffset('n2=600000', 'n1'), null, 'a route not named keeps the true clock')
  t.equal(parseClockOffset('ten minutes'), null, 'malformed: ignored')
  t.equal(parseClockOffset(undefined), null, 'unset')
  const c = systemClock('n2', { NODECAT_TEST_CLOCK_OFFSET_MS: 'n2=-600000' })
  t.ok(Math.abs(c.now() - Date.now() + 600000) < 1000, 'the wall clock is 10 minutes behind')
  t.ok(Math.abs(c.monotonic() - Date.now()) < 1000, 'the monotonic clock is not offset')
})

t.test('the test hook steps the clock on SIGUSR2', async (t) => {
  t.same(parseClockOffset('n2=600000@SIGUSR2,n3=-600000@SIGUSR2', 'n2'), { offset: 600000, after: 'SIGUSR2' }, 'a step on a signal')
  t.equal(parseClockOffset('600000@SIGHUP'), null, 'another signal: malformed, ignored')
  const c = systemClock('n2', { NODECAT_TEST_CLOCK_OFFSET_MS: 'n2=600000@SIGUSR2' })
  t.ok(Math.abs(c.now() - Date.now()) < 1000, 'true until the signal')
  process.kill(process.pid, 'SIGUSR2')
  // why a bounded wait, not a fixed pause: the signal is handled on a later turn of the event loop
  for (let i = 0; i < 100 && Math.abs(c.now() - Date.now()) < 1000; i++) await sleep(50)
  t.ok(Math.abs(c.now() - Date.now() - 600000) < 1000, 'then 10 minutes ahead')
  t.ok(Math.abs(c.monotonic() - Date.now()) < 1000, 'the monotonic clock is not offset')
})

t.test('a wall clock step neither expires sessions early nor keeps them late', async (t) => {
  const hub = new FakeHub()
  const mono = { t: 1_700_000_000_000 }
  const clocks = [new SkewedClock(mono), new SkewedClock(mono)]
  const [a, b] = [await startNode(t, hub, 'n1', { clock: clocks[0], maxInactiveInterval: 60 }), await startNode(t, hub, 'n2', { clock: clocks[1], maxInactiveInterval: 60 })]
  const r = await request(a!, [], (s) => { s.set('k', 1) })
  await hub.settle()
  mono.t += 10_000
  clocks[0]!.offset = 10 * MIN // n1's wall clock steps forward
  clocks[1]!.offset = -10 * MIN // n2's steps back
  t.equal(a!.manager.processExpires(), 0, 'n1 (primary): idle 10 s, not expired by a +10 min step')
  t.equal(b!.manager.processExpires(), 0, 'n2 (backup): not expired either')
  t.same(attrs(a!, r.id!), { k: 1 }, 'n1 still serves it')
  mono.t += 51_000 // idle 61 s: past maxInactiveInterval
  t.equal(a!.manager.processExpires(), 1, 'n1 expires it after 60 s idle, as without the step')
  await hub.settle()
  t.equal(b!.manager.inspect(r.id!), null, 'and n2 drops it when told')

  const r2 = await request(b!, [], (s) => { s.set('k', 2) })
  await hub.settle()
  a!.channel.crash() // the backup must expire it on its own, at 2x the interval
  mono.t += 61_000
  t.equal(b!.manager.processExpires(), 1, 'n2 (wall clock 10 min behind) expires its session after 60 s idle, not 10 minutes late')
  t.equal(b!.manager.inspect(r2.id!), null, 'gone')
})

t.test('changes apply in version order whatever the writers\' wall clocks say', async (t) => {
  const hub = new FakeHub()
  const mono = { t: 1_700_000_000_000 }
  const clocks = [new SkewedClock(mono), new SkewedClock(mono), new SkewedClock(mono)]
  clocks[0]!.offset = 10 * MIN
  clocks[1]!.offset = -10 * MIN
  const nodes = [await startNode(t, hub, 'n1', { clock: clocks[0] }), await startNode(t, hub, 'n2', { clock: clocks[1] }), await startNode(t, hub, 'n3', { clock: clocks[2] })]
  let id: string | null = null
  for (let i = 0; i < 6; i++) {
    mono.t += 1000
    const r: { id: string | null } = await request(nodes[i % 3]!, [id], (s): void => { s.set('list', [...(s.get<number[]>('list') ?? []), i]) })
    id = r.id
    await hub.settle()
  }
  for (const n of nodes) t.same(attrs(n, id!), { list: [0, 1, 2, 3, 4, 5] }, `${n.route}: every change, in order`)
  t.equal(nodes.reduce((s, n) => s + n.manager.stats().conflicts, 0), 0, 'no change counted as a conflict')
})
