import t from 'tap'
import { SessionManager } from '../src/manager/session-manager.js'
import { FakeHub } from './helpers/fake-channel.js'
import { FakeClock } from './helpers/clock.js'
import { readChunk } from '../src/manager/transfer-chunk.js'
import { cluster, memoryLogger, request, startNode, attrs } from './helpers/session-cluster.js'
import type { Node } from './helpers/session-cluster.js'

const LIMITS = { maxSessionBytes: 1024 * 1024, maxEntries: 10_000, maxChunkSessions: 5000 }
const tick = async () => await new Promise((resolve) => setImmediate(resolve))

/** a manager whose start() is not awaited yet, so the test can act during the transfer */
async function joining (t: Parameters<typeof startNode>[0], hub: FakeHub, route: string, opts = {}): Promise<Node & { started: Promise<void> }> {
  const channel = hub.channel(route)
  await channel.start()
  const { logger, logs } = memoryLogger()
  const manager = new SessionManager({ route, channel, logger, processExpiresFrequency: 0, ...opts })
  t.teardown(async () => { await manager.stop(); await channel.stop() })
  return { route, channel, manager, logs, started: manager.start() }
}

t.test('a node that starts alone is ready at once', async (t) => {
  const hub = new FakeHub()
  const n = await startNode(t, hub, 'solo')
  t.equal(n.manager.stats().ready, true)
  t.equal(n.manager.stats().transfer.state, 'idle')
})

t.test('10,000 sessions transfer in acknowledged chunks', async (t) => {
  const hub = new FakeHub()
  const a = await startNode(t, hub, 'n1')
  const ids: string[] = []
  for (let i = 0; i < 10_000; i++) ids.push((await request(a, [], (s) => { s.set('i', i); s.set('name', `user-${i}`) })).id!)
  const b = await joining(t, hub, 'n2')
  await b.started
  t.equal(b.manager.stats().sessions, 10_000, 'every session arrived')
  t.equal(b.manager.stats().transfer.state, 'done')
  const chunks = b.channel.received.filter((m) => m.t === 'all-data')
  t.equal(chunks.length, 10, 'in chunks of 1000 sessions')
  t.ok(chunks.every((c) => c.n <= 1000 && readChunk(c.b, c.n, LIMITS).length === c.n), 'no chunk over the limit')
  t.equal(b.channel.received.filter((m) => m.t === 'transfer-complete').length, 1)
  t.same(attrs(b, ids[0]!), { i: 0, name: 'user-0' })
  t.same(attrs(b, ids[9999]!), { i: 9999, name: 'user-9999' })
  t.equal(a.manager.stats().transfer.sessionsSent, 10_000)
  t.equal(b.manager.stats().backup, 10_000, 'they are backups here')
})

t.test('1,000 sessions plus changes made during the transfer are all present at the end', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'], { transferChunkSessions: 50, gapWait: 10 })
  const ids: string[] = []
  for (let i = 0; i < 1000; i++) ids.push((await request(i % 2 ? a! : b!, [], (s) => { s.set('n', 0); s.set('list', [i]) })).id!)
  await hub.settle()
  const c = await joining(t, hub, 'n3')
  let ready = false
  void c.started.then(() => { ready = true })
  const created: string[] = []
  const invalidated: string[] = []
  let round = 0
  // change sessions on both peers while the transfer runs (bounded: 40 rounds)
  while (!ready && round < 40) {
    for (let k = 0; k < 10; k++) {
      const id = ids[(round * 10 + k) * 7 % 500]!
      const node = k % 2 ? a! : b!
      await request(node, [id], (s) => { s.set('n', (s.get<number>('n') ?? 0) + 1); s.get<number[]>('list')!.push(round) })
    }
    created.push((await request(a!, [], (s) => { s.set('new', round) })).id!)
    const victim = ids[999 - round]!
    await request(b!, [victim], (s) => s.invalidate())
    invalidated.push(victim)
    round++
    await tick()
  }
  await c.started
  await hub.settle()
  const st = c.manager.stats()
  t.ok(st.transfer.queuedDuringTransfer > 0, `messages arrived during the transfer and were queued (${st.transfer.queuedDuringTransfer}, ${round} rounds)`)
  t.equal(st.sessions, a!.manager.stats().sessions, 'same session count as the peers')
  let mismatches = 0
  for (const id of a!.manager.sessionIds()) {
    const mine = c.manager.inspect(id)
    const theirs = a!.manager.inspect(id)!
    if (!mine || mine.version !== theirs.version || JSON.stringify(mine.attributes) !== JSON.stringify(theirs.attributes)) mismatches++
  }
  t.equal(mismatches, 0, 'every session equals the peer copy (nothing lost, nothing went backwards)')
  t.same(created.filter((id) => !c.manager.inspect(id)), [], `all ${created.length} sessions created during the transfer are present`)
  t.same(invalidated.filter((id) => c.manager.inspect(id)), [], `all ${invalidated.length} sessions invalidated during the transfer are gone`)
  t.equal(st.conflicts, 0, 'no conflicts')
})

t.test('the transfer peer disappearing: the next member is asked', async (t) => {
  const hub = new FakeHub()
  const clock = new FakeClock()
  const a = await startNode(t, hub, 'n1', {}, clock)
  const b = await startNode(t, hub, 'n2', {}, clock)
  const r = await request(a, [], (s) => { s.set('k', 'v') })
  await hub.settle()
  hub.filter = (m, _f, to) => (m.t === 'get-all' && to === a.channel) ? 'drop' : 'deliver'
  const c = await joining(t, hub, 'n3')
  await hub.settle()
  t.equal(c.manager.stats().ready, false, 'waiting for n1')
  a.channel.crash()
  await c.started
  t.same(attrs(c, r.id!), { k: 'v' }, 'sessions came from n2')
  t.ok(b.channel.received.some((m) => m.t === 'get-all'), 'n2 was asked')
})

t.test('a transfer that never completes times out with a clear log line and continues', async (t) => {
  const hub = new FakeHub()
  const a = await startNode(t, hub, 'n1')
  await request(a, [], (s) => { s.set('k', 1) })
  hub.filter = (m) => m.t === 'transfer-complete' ? 'drop' : 'deliver'
  const b = await joining(t, hub, 'n2', { stateTransferTimeout: 300 })
  await b.started
  t.equal(b.manager.stats().transfer.state, 'timed-out')
  t.equal(b.manager.stats().sessions, 1, 'kept what arrived')
  t.ok(b.logs.some((l) => l.level === 50 && /no complete session state/.test(l.msg)), 'logged as an error')
})

t.test('a node joining while another is still transferring gets everything', async (t) => {
  const hub = new FakeHub()
  const a = await startNode(t, hub, 'n1')
  const r = await request(a, [], (s) => { s.set('k', 1) })
  hub.filter = (m, _f, to) => (m.t === 'transfer-complete' && to.local.meta?.route === 'n2') ? 'hold' : 'deliver'
  const b = await joining(t, hub, 'n2')
  await hub.settle()
  const c = await joining(t, hub, 'n3') // asks n1 (oldest); n2 is still transferring
  await c.started
  hub.filter = null
  hub.release()
  await b.started
  t.same(attrs(b, r.id!), { k: 1 })
  t.same(attrs(c, r.id!), { k: 1 })
})

t.test('a get-all reaching a node that is still transferring is answered once it is ready', async (t) => {
  const hub = new FakeHub()
  const a = await startNode(t, hub, 'n1')
  const r = await request(a, [], (s) => { s.set('k', 1) })
  hub.filter = (m, _f, to) => (m.t === 'transfer-complete' && to.local.meta?.route === 'n2') ? 'hold' : 'deliver'
  const b = await joining(t, hub, 'n2')
  const asker = hub.channel('n3')
  await asker.start()
  t.teardown(() => asker.stop())
  await hub.settle()
  await b.channel.inject({ k: 'nodecat.session', v: 1, t: 'get-all', xfer: 42 }, asker.local)
  await hub.settle()
  t.equal(asker.received.filter((m) => m.t === 'all-data').length, 0, 'not answered with a partial state')
  hub.filter = null
  hub.release()
  await b.started
  await hub.settle()
  const data = asker.received.filter((m) => m.t === 'all-data')
  t.equal(data.length, 1, 'answered after ready')
  t.equal(readChunk(data[0].b, data[0].n, LIMITS)[0]!.id, r.id)
  t.ok(asker.received.some((m) => m.t === 'transfer-complete' && m.xfer === 42))
})

t.test('nodes booting together that ask each other do not wait for the timeout', async (t) => {
  const hub = new FakeHub()
  const nodes = await Promise.all(['n1', 'n2', 'n3'].map(async (r) => { const ch = hub.channel(r); await ch.start(); return ch }))
  const managers = nodes.map((channel, i) => new SessionManager({ route: `n${i + 1}`, channel, processExpiresFrequency: 0, stateTransferTimeout: 60_000, transferRetry: 60_000 }))
  t.teardown(async () => { for (const m of managers) await m.stop() })
  // bounded by the test timeout; the mutual-wait rule must make this resolve without the 60 s timeout
  await Promise.all(managers.map(async (m) => await m.start()))
  t.same(managers.map((m) => m.stats().transfer.state), ['done', 'done', 'done'], 'every node finished its transfer (none timed out)')
})
