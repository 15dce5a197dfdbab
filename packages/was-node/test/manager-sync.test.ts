import t from 'tap'
import { cluster } from './helpers/session-cluster.js'

t.test('sync mode: end() resolves only after every live peer applied the delta', async (t) => {
  const { nodes: [a, b, c] } = await cluster(t, ['n1', 'n2', 'n3'], { sendMode: 'sync' })
  const rs = a!.manager.open([])
  rs.session.set('cart', ['x'])
  const cookie = await rs.end({ replicate: true })
  const id = rs.session.id!
  t.same(cookie, { action: 'set', id })
  // no settling: the peers must already have it
  t.same(b!.manager.inspect(id)?.attributes, { cart: ['x'] }, 'n2 has the new session when end() resolves')
  t.same(c!.manager.inspect(id)?.attributes, { cart: ['x'] }, 'n3 too')
  const rs2 = b!.manager.open([id])
  rs2.session.get<string[]>('cart')!.push('y')
  await rs2.end({ replicate: true })
  t.same(a!.manager.inspect(id)?.attributes, { cart: ['x', 'y'] }, 'a delta is applied on peers when end() resolves')
  t.same(c!.manager.inspect(id)?.attributes, { cart: ['x', 'y'] })
})

t.test('async mode (default) does not wait: the control case', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'])
  const rs = a!.manager.open([])
  rs.session.set('k', 1)
  await rs.end({ replicate: true })
  t.equal(b!.manager.inspect(rs.session.id!), null, 'not there yet when end() resolves')
  await hub.settle()
  t.ok(b!.manager.inspect(rs.session.id!), 'arrives later')
})

t.test('sync mode: a peer that is gone is not waited for; a failing peer is logged and counted', async (t) => {
  const { hub, nodes: [a, b, c] } = await cluster(t, ['n1', 'n2', 'n3'], { sendMode: 'sync' })
  // why: the joins' own traffic (transfer answers, reconciles) must be over, or a send of theirs
  // to the crashed peer fails and is counted too
  await hub.settle()
  const before = a!.manager.stats().sendFailures
  b!.channel.crash()
  c!.channel.onMessage((m: any) => { if (m.t === 'created') throw new Error('peer broke') })
  const rs = a!.manager.open([])
  rs.session.set('k', 1)
  const cookie = await rs.end({ replicate: true })
  t.equal(cookie.action, 'set', 'the request completes')
  t.equal(a!.manager.stats().sendFailures - before, 1, 'the failing peer counted')
  t.ok(a!.logs.some((l) => l.code === 'TRIBES_ERR_REMOTE_PROCESSING' && /not delivered/.test(l.msg)), 'and logged with its code')
})
