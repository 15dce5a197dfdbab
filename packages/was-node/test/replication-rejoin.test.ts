/**
 * A member dropped without a goodbye (hung, cut off) that comes back as itself missed every change
 * made meanwhile. The nodes that served those changes send it their newer copies, and the sessions
 * removed meanwhile, when it is re-added; it must never serve the copy it held when it went silent.
 */
import t from 'tap'
import { cluster, request, attrs } from './helpers/session-cluster.js'

t.test('a member dropped and re-added under the same id is brought up to date', async (t) => {
  const { hub, nodes: [t1, t2] } = await cluster(t, ['tomcat1', 'tomcat2'])
  const cart = await request(t1!, [], (s) => { s.set('cart', ['a']) })
  const gone = await request(t1!, [], (s) => { s.set('user', 'bob') })
  const quiet = await request(t1!, [], (s) => { s.set('n', 1) })
  await hub.settle()

  // t1 freezes: t2 stops hearing it and drops it; nothing t2 sends reaches t1 meanwhile
  hub.filter = (_m, _from, to) => (to === t1!.channel ? 'drop' : 'deliver')
  t2!.channel.emit('memberDisappeared', t1!.channel.local, 'timeout')
  const moved = await request(t2!, [cart.id], (s) => { s.get<string[]>('cart')!.push('b') })
  await request(t2!, [gone.id], (s) => { s.invalidate() })
  await hub.settle()
  t.same(attrs(t1!, cart.id!), { cart: ['a'] }, 'while dropped, t1 holds the old copy')
  t.ok(t1!.manager.inspect(gone.id!), 'and the session logged out meanwhile')

  // t1 resumes: t2 hears its heartbeat again and re-adds the same member
  hub.filter = null
  t2!.channel.emit('memberAdded', t1!.channel.local)
  await hub.settle()
  t.same(attrs(t1!, moved.id!), { cart: ['a', 'b'] }, 't1 has the change made while it was away')
  t.equal(t1!.manager.inspect(cart.id!)?.id, moved.id, 'under the id the binder gave it')
  t.equal(t1!.manager.inspect(gone.id!), null, 'the session invalidated meanwhile is gone on t1 too')
  t.same(attrs(t1!, quiet.id!), { n: 1 }, 'an untouched session is left as it was')
  const served = await request(t1!, [moved.id], (s) => s.get<string[]>('cart'))
  t.same(served.result, ['a', 'b'], 't1 serves the new cart, not its stale one')
  t.ok(t2!.logs.some((l) => /dropped is back/.test(l.msg) && l.pushed === 1 && l.removed >= 1), 'logged with what was sent')
})

t.test('a member that left cleanly and a new member get nothing pushed (they use state transfer)', async (t) => {
  const { hub, nodes: [t1, t2] } = await cluster(t, ['tomcat1', 'tomcat2'])
  await request(t2!, [], (s) => { s.set('x', 1) })
  await hub.settle()
  t2!.channel.emit('memberDisappeared', t1!.channel.local, 'shutdown')
  t2!.channel.emit('memberAdded', t1!.channel.local)
  await hub.settle()
  t.notOk(t2!.logs.some((l) => /dropped is back/.test(l.msg)), 'no push after a clean leave')
})
