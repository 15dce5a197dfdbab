import t from 'tap'
import { cluster, request, attrs } from './helpers/session-cluster.js'
import { waitUntil } from '@nodecat/testkit'

const WAIT = { everyMs: 10 }

t.test('a dropped delta (version gap) is recovered by session-request', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'], { gapWait: 20 })
  const r = await request(a!, [], (s) => { s.set('step', 1) })
  await hub.settle()
  let dropped = 0
  hub.filter = (m, _from, to) => (m.t === 'delta' && to === b!.channel && dropped++ === 0) ? 'drop' : 'deliver'
  await request(a!, [r.id], (s) => { s.set('step', 2); s.set('only-in-v2', true) })
  await request(a!, [r.id], (s) => { s.set('step', 3) })
  await waitUntil('the gap recovered and version 3', () => b!.manager.stats().gapsRecovered > 0 && b!.manager.inspect(r.id!)?.version === 3, WAIT)
  t.same(attrs(b!, r.id!), { step: 3, 'only-in-v2': true }, 'nothing lost: the change from the dropped delta is there')
  t.ok(b!.channel.received.some((m) => m.t === 'session-full'), 'the whole session was fetched')
  t.ok(a!.channel.received.some((m) => m.t === 'session-request'), 'from the sender')
  t.equal(b!.manager.stats().held, 0, 'nothing left held')
})

t.test('reordered deltas (v3 before v2) apply in version order', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'], { gapWait: 60_000 })
  const r = await request(a!, [], (s) => { s.set('log', ['v1']) })
  await hub.settle()
  let first = true
  hub.filter = (m, _from, to) => (m.t === 'delta' && to === b!.channel && first) ? ((first = false), 'hold') : 'deliver'
  await request(a!, [r.id], (s) => { s.get<string[]>('log')!.push('v2') })
  await request(a!, [r.id], (s) => { s.get<string[]>('log')!.push('v3'); s.set('last', 3) })
  await hub.settle()
  t.same(attrs(b!, r.id!), { log: ['v1'] }, 'v3 is held while v2 is missing')
  t.equal(b!.manager.stats().held, 1)
  hub.filter = null
  t.equal(hub.release(), 1)
  await hub.settle()
  t.same(attrs(b!, r.id!), { log: ['v1', 'v2', 'v3'], last: 3 }, 'final state correct')
  const st = b!.manager.stats()
  t.equal(st.reordered, 1, 'the held delta applied once v2 arrived')
  t.equal(st.gapsRecovered, 0, 'no fetch was needed')
  t.equal(st.held, 0)
})

t.test('a delta for an unknown session (created lost) is not dropped', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'], { gapWait: 10 })
  hub.filter = (m, _f, to) => m.t === 'created' && to === b!.channel ? 'drop' : 'deliver'
  const r = await request(a!, [], (s) => { s.set('a', 1) })
  await request(a!, [r.id], (s) => { s.set('b', 2) })
  await waitUntil('version 2 on b', () => b!.manager.inspect(r.id!)?.version === 2, WAIT)
  t.same(attrs(b!, r.id!), { a: 1, b: 2 })
})

t.test('concurrent writes on two nodes: deterministic winner, conflict counted and logged', async (t) => {
  const { hub, nodes } = await cluster(t, ['n1', 'n2', 'n3'], { gapWait: 10 })
  const [a, b, c] = nodes
  const r = await request(a!, [], (s) => { s.set('cart', ['shared']) })
  await hub.settle()
  // both nodes write the same version while they cannot hear each other (a failover race)
  hub.filter = (m) => m.k === 'nodecat.session' ? 'hold' : 'deliver'
  const wa = await request(a!, [r.id], (s) => { s.get<string[]>('cart')!.push('from-n1') })
  const wb = await request(b!, [r.id], (s) => { s.get<string[]>('cart')!.push('from-n2') })
  t.equal(a!.manager.inspect(wa.id!)!.version, 2)
  t.equal(b!.manager.inspect(wb.id!)!.version, 2)
  hub.filter = null
  hub.release()
  await waitUntil('every node on the same version 2', () => nodes.every((n) => n.manager.stats().held === 0) && nodes.every((n) => n.manager.inspect(r.id!)?.version === 2 &&
    JSON.stringify(attrs(n, r.id!)) === JSON.stringify(attrs(b!, r.id!))), WAIT)
  // same version, same clock → the greater route (n2) wins everywhere
  for (const n of nodes) t.same(attrs(n, r.id!), { cart: ['shared', 'from-n2'] }, `${n.route} converged on the winner`)
  t.ok(a!.manager.stats().conflicts >= 1, 'the loser counted it')
  t.ok(b!.manager.stats().conflicts >= 1, 'the winner counted the losing write')
  t.ok(c!.manager.stats().conflicts >= 1, 'a bystander counted it')
  t.ok(a!.logs.some((l) => /concurrent writes/.test(l.msg) && l.level === 40), 'logged as a warning on the loser')
  t.ok(b!.logs.some((l) => /concurrent writes/.test(l.msg)), 'logged on the winner')
})

t.test('a higher version wins over a newer clock', async (t) => {
  const { hub, clock, nodes: [a, b] } = await cluster(t, ['n1', 'n2'], { gapWait: 10 })
  const r = await request(a!, [], (s) => { s.set('v', 0) })
  await hub.settle()
  hub.filter = (m) => m.k === 'nodecat.session' ? 'hold' : 'deliver'
  await request(a!, [r.id], (s) => { s.set('v', 'a1') })
  await request(a!, [r.id], (s) => { s.set('v', 'a2') })
  clock.advance(5000)
  await request(b!, [r.id], (s) => { s.set('v', 'b-later-clock') })
  hub.filter = null
  hub.release()
  await waitUntil('both nodes on version 3, nothing held', () => [a!, b!].every((n) => n.manager.stats().held === 0 && n.manager.inspect(r.id!)?.version === 3), WAIT)
  for (const n of [a!, b!]) t.equal(attrs(n, r.id!)!.v, 'a2', `${n.route}: version 3 beats version 2`)
  t.ok(b!.manager.stats().conflicts >= 1)
})

t.test('a late delta cannot resurrect a session invalidated meanwhile', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'], { gapWait: 10 })
  const r = await request(a!, [], (s) => { s.set('k', 1) })
  await hub.settle()
  hub.filter = (m, from) => (m.t === 'delta' && from === b!.channel) ? 'hold' : 'deliver'
  await request(b!, [r.id], (s) => { s.set('k', 2) }) // held on its way to n1
  await request(a!, [r.id], (s) => s.invalidate()) // n1 logs the user out
  await hub.settle()
  hub.filter = null
  hub.release()
  await hub.settle()
  t.equal(a!.manager.inspect(r.id!), null, 'n1 did not bring it back')
  t.equal(b!.manager.inspect(r.id!), null, 'n2 removed it too')
  t.ok(a!.manager.stats().ignoredRemoved >= 1, 'the late delta was ignored and counted')
})
