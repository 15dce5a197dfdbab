import t from 'tap'
import { cluster, request, attrs } from './helpers/session-cluster.js'

const MIN = 60_000

t.test('expiry happens once, on the primary, and is seen everywhere', async (t) => {
  const { hub, clock, nodes } = await cluster(t, ['n1', 'n2', 'n3'])
  const [a, b, c] = nodes
  const events: any[] = []
  for (const n of nodes) n.manager.on('sessionDestroyed', (e) => events.push({ on: n.route, ...e }))
  const r = await request(a!, [], (s) => { s.set('k', 1) })
  await hub.settle()
  clock.advance(30 * MIN + 1000)
  t.equal(b!.manager.processExpires() + c!.manager.processExpires(), 0, 'backups wait (2x the interval)')
  t.equal(a!.manager.processExpires(), 1, 'the primary expires it after maxInactiveInterval')
  await hub.settle()
  for (const n of nodes) t.equal(n.manager.inspect(r.id!), null, `${n.route}: gone`)
  t.same(events, [
    { on: 'n1', id: r.id, reason: 'expired', replicated: false },
    { on: 'n2', id: r.id, reason: 'expired', replicated: true },
    { on: 'n3', id: r.id, reason: 'expired', replicated: true }
  ], 'one sessionDestroyed per node')
  clock.advance(60 * MIN)
  for (const n of nodes) n.manager.processExpires()
  await hub.settle()
  t.equal(events.length, 3, 'never expired twice')
  const late = await request(b!, [r.id], (s) => s.get('k'))
  t.equal(late.id, null, 'an expired id never comes back')
})

t.test('a backup expires on its own at twice the interval when the primary is gone', async (t) => {
  const { hub, clock, nodes: [a, b] } = await cluster(t, ['n1', 'n2'])
  const r = await request(a!, [], (s) => { s.set('k', 1); s.maxInactiveInterval = 600 })
  await hub.settle()
  t.equal(b!.manager.inspect(r.id!)!.maxInactiveInterval, 600, 'the interval is replicated')
  a!.channel.crash()
  clock.advance(1199 * 1000)
  t.equal(b!.manager.processExpires(), 0, 'not yet at 2x - 1s')
  clock.advance(2000)
  t.equal(b!.manager.processExpires(), 1, 'expired at 2x')
  t.equal(b!.manager.stats().sent.expired, undefined, 'a backup expires silently')
})

t.test('accessed messages keep backups alive, rate-limited', async (t) => {
  const { hub, clock, nodes: [a, b] } = await cluster(t, ['n1', 'n2'])
  const r = await request(a!, [], (s) => { s.set('k', 1) })
  await hub.settle()
  clock.advance(100 * 1000)
  await request(a!, [r.id], (s) => s.get('k'))
  await hub.settle()
  t.equal(b!.manager.stats().received.accessed, undefined, 'a read soon after the last message sends nothing')
  clock.advance(900 * 1000)
  await request(a!, [r.id], (s) => s.get('k'))
  await hub.settle()
  t.equal(b!.manager.stats().received.accessed, 1, 'a read after half the interval sends accessed')
  clock.advance(2700 * 1000) // 3700 s after creation, 2700 s after the access
  t.equal(b!.manager.processExpires(), 0, 'the backup keeps it (idle 2700 s < 3600 s)')
  t.same(attrs(b!, r.id!), { k: 1 })
})

t.test('a request served by a backup makes it primary and tells the others', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'])
  const r = await request(a!, [], (s) => { s.set('k', 1) })
  await hub.settle()
  const r2 = await request(b!, [r.id], (s) => s.get('k'))
  await hub.settle()
  t.equal(b!.manager.inspect(r2.id!)!.primary, true)
  t.equal(a!.manager.inspect(r2.id!)!.primary, false, 'the old primary is a backup now (id-changed / accessed)')
})

t.test('maxInactiveInterval <= 0 never expires', async (t) => {
  const { clock, nodes: [a] } = await cluster(t, ['n1'])
  const r = await request(a!, [], (s) => { s.set('k', 1); s.maxInactiveInterval = 0 })
  clock.advance(365 * 24 * 60 * MIN)
  t.equal(a!.manager.processExpires(), 0)
  t.ok(a!.manager.inspect(r.id!))
})

t.test('an expired session is not opened even before the sweep', async (t) => {
  const { clock, nodes: [a] } = await cluster(t, ['n1'])
  const r = await request(a!, [], (s) => { s.set('k', 1) })
  clock.advance(31 * MIN)
  const again = await request(a!, [r.id], (s) => { t.equal(s.get('k'), undefined); s.set('k', 2) })
  t.not(again.id, r.id, 'a fresh id is minted, the expired one is not reused')
})

t.test('stop(): peers keep sessions unless expireSessionsOnShutdown', async (t) => {
  for (const expireSessionsOnShutdown of [false, true]) {
    const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'], { expireSessionsOnShutdown })
    const destroyed: any[] = []
    a!.manager.on('sessionDestroyed', (e) => destroyed.push(e))
    const r = await request(a!, [], (s) => { s.set('k', 1) })
    await hub.settle()
    await a!.manager.stop()
    await hub.settle()
    t.same(destroyed, [{ id: r.id, reason: 'shutdown', replicated: false }], 'local listeners fire on shutdown')
    t.equal(b!.manager.inspect(r.id!) !== null, !expireSessionsOnShutdown, `expireSessionsOnShutdown=${expireSessionsOnShutdown}`)
  }
})
