import t from 'tap'
import { cluster, request, attrs, startNode } from './helpers/session-cluster.js'

t.test('binder: an id of another route is re-suffixed to this node and announced', async (t) => {
  const { hub, nodes: [t1, t2] } = await cluster(t, ['tomcat1', 'tomcat2'])
  const changes: any[] = []
  t1!.manager.on('sessionIdChanged', (e) => changes.push({ on: 't1', ...e }))
  t2!.manager.on('sessionIdChanged', (e) => changes.push({ on: 't2', ...e }))
  const r = await request(t1!, [], (s) => { s.set('counter', 1) })
  const base = r.id!.split('.')[0]
  await hub.settle()
  const moved = await request(t2!, [r.id], (s) => { s.set('counter', s.get<number>('counter')! + 1) })
  t.equal(moved.rebound, true)
  t.equal(moved.id, `${base}.tomcat2`, 'same base, this route')
  t.same(moved.cookie, { action: 'set', id: `${base}.tomcat2` }, 'the client gets the new id')
  await hub.settle()
  t.equal(t1!.manager.inspect(r.id!)!.id, `${base}.tomcat2`, 'tomcat1 renamed its copy too')
  t.same(attrs(t1!, `${base}.tomcat2`), { counter: 2 })
  t.same(changes, [
    { on: 't2', oldId: r.id, newId: `${base}.tomcat2`, replicated: false },
    { on: 't1', oldId: r.id, newId: `${base}.tomcat2`, replicated: true }
  ])
  t.ok(t1!.channel.received.some((m) => m.t === 'id-changed' && m.from === r.id && m.to === `${base}.tomcat2`), 'id-changed on the wire')
})

t.test('binder: a concurrent request that still carries the old id uses the renamed session', async (t) => {
  const { hub, nodes: [t1, t2] } = await cluster(t, ['tomcat1', 'tomcat2'])
  const r = await request(t1!, [], (s) => { s.set('n', 1) })
  await hub.settle()
  const first = t2!.manager.open([r.id!])
  const second = t2!.manager.open([r.id!]) // opened before the first ended
  t.equal(first.session.id, second.session.id)
  t.equal(second.session.get('n'), 1)
  t.equal(second.rebound, true)
  t.same(await first.end({ replicate: true }), { action: 'set', id: first.session.id })
  t.same(await second.end({ replicate: true }), { action: 'set', id: first.session.id })
  await hub.settle()
  t.equal(t2!.manager.stats().sent['id-changed'], 1, 'renamed and announced once')
})

t.test('no failback to stale data: tomcat1 sees the id it minted again after the session moved', async (t) => {
  const { hub, nodes: [t1, t2] } = await cluster(t, ['tomcat1', 'tomcat2'])
  const r = await request(t1!, [], (s) => { s.set('cart', ['a']) })
  await hub.settle()
  // tomcat1 is out of the balancer's rotation for a while: requests go to tomcat2
  const on2 = await request(t2!, [r.id], (s) => { s.get<string[]>('cart')!.push('b') })
  await request(t2!, [on2.id], (s) => { s.get<string[]>('cart')!.push('c') })
  await hub.settle()
  // tomcat1 is back and a client still sends the old `.tomcat1` id
  const back = await request(t1!, [r.id], (s) => s.get<string[]>('cart'))
  t.same(back.result, ['a', 'b', 'c'], 'the current data, not tomcat1\'s stale copy')
  t.equal(back.id, r.id, 'renamed back to .tomcat1 (Tomcat does the same)')
  t.same(back.cookie, { action: 'none' }, 'the client already has that id')
  await hub.settle()
  t.equal(t2!.manager.inspect(r.id!)!.id, r.id, 'tomcat2 follows the rename')
})

t.test('no failback to stale data: a restarted tomcat1 gets the moved session by state transfer', async (t) => {
  const { hub, clock, nodes: [t1, t2] } = await cluster(t, ['tomcat1', 'tomcat2'])
  const r = await request(t1!, [], (s) => { s.set('v', 'old') })
  await hub.settle()
  t1!.channel.crash()
  await t1!.manager.stop()
  await request(t2!, [r.id], (s) => { s.set('v', 'new') })
  const again = await startNode(t, hub, 'tomcat1', {}, clock)
  const back = await request(again, [r.id], (s) => s.get('v'))
  t.equal(back.result, 'new')
})

t.test('a candidate list: invalid and unknown ids are skipped, the first live one wins', async (t) => {
  const { nodes: [n] } = await cluster(t, ['n1'])
  const a = await request(n!, [], (s) => { s.set('which', 'a') })
  const b = await request(n!, [], (s) => { s.set('which', 'b') })
  const unknown = 'AAAAAAAAAAAAAAAAAAAAAAAA.n1'
  const r = await request(n!, ['garbage', '', '.n1', unknown, b.id, a.id], (s) => s.get('which'))
  t.equal(r.result, 'b')
  t.equal(r.id, b.id)
})
