import t from 'tap'
import { SessionManager } from '../src/manager/session-manager.js'
import { parseSessionId } from '../src/session/id.js'
import { cluster, request, attrs } from './helpers/session-cluster.js'

t.test('a manager without a channel works as a single node', async (t) => {
  const m = new SessionManager({ route: 'solo', processExpiresFrequency: 0 })
  t.teardown(() => m.stop())
  await m.start()
  await m.ready
  const rs = m.open([])
  t.equal(rs.session.id, null, 'no session until the app writes')
  t.equal(rs.requestedId, null)
  rs.session.set('a', 1)
  t.equal(rs.session.isNew, true)
  t.match(rs.session.id, /\.solo$/)
  const id = rs.session.id!
  t.same(await rs.end({ replicate: true }), { action: 'set', id })
  const again = m.open(['junk', id])
  t.equal(again.requestedId, id)
  t.equal(again.session.isNew, false)
  t.equal(again.session.get('a'), 1)
  t.same(await again.end({ replicate: true }), { action: 'none' })
})

t.test('SessionApi: get/set/has/delete/keys, interval, principal', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'])
  const r = await request(a!, [], (s) => {
    t.equal(s.maxInactiveInterval, 1800, 'default interval')
    s.set('a', 1); s.set('b', 2)
    s.delete('b')
    t.same(s.keys(), ['a'])
    t.equal(s.has('a'), true)
    t.equal(s.has('b'), false)
    s.maxInactiveInterval = 60
    s.principal = { name: 'ana', roles: ['admin'] }
  })
  await hub.settle()
  const copy = b!.manager.inspect(r.id!)!
  t.equal(copy.maxInactiveInterval, 60)
  t.same(copy.principal, { name: 'ana', roles: ['admin'] })
  await request(b!, [r.id], (s) => {
    t.same(s.principal, { name: 'ana', roles: ['admin'] })
    ;(s.principal as { roles: string[] }).roles.push('ops')
  })
  await hub.settle()
  t.same(a!.manager.inspect(r.id!)!.principal, { name: 'ana', roles: ['admin', 'ops'] }, 'principal changed in place is replicated')
  await request(a!, [r.id], (s) => { s.principal = null })
  await hub.settle()
  t.equal(b!.manager.inspect(r.id!)!.principal, null, 'logout replicates')
  t.throws(() => a!.manager.open([]).session.set('', 1), { code: 'WAS_ERR_INVALID_ATTRIBUTE_NAME' })
})

t.test('ids: >= 128 random bits, base64url, route suffix; no fixation', async (t) => {
  const { nodes: [a] } = await cluster(t, ['web-1'])
  const ids = new Set<string>()
  for (let i = 0; i < 200; i++) ids.add((await request(a!, [], (s) => { s.set('i', i) })).id!)
  t.equal(ids.size, 200, 'all different')
  const bad = [...ids].filter((id) => {
    const p = parseSessionId(id)
    return !p || p.route !== 'web-1' || !/^[A-Za-z0-9_-]+$/.test(p.base) || Buffer.from(p.base, 'base64url').length * 8 < 128
  })
  t.same(bad, [], 'every id is base64url of >= 128 bits + .web-1')
  const planted = 'ATTACKERCHOSENID00000000.web-1'
  const r = await request(a!, [planted], (s) => { s.set('user', 'victim') })
  t.not(r.id, planted, 'a client-chosen id never becomes a session id')
  t.same(r.cookie, { action: 'set', id: r.id })
})

t.test('requests on one node are isolated until they end; the last end wins per attribute', async (t) => {
  const { nodes: [a] } = await cluster(t, ['n1'])
  const r = await request(a!, [], (s) => { s.set('x', 0); s.set('y', 0) })
  const one = a!.manager.open([r.id!])
  const two = a!.manager.open([r.id!])
  one.session.set('x', 1)
  t.equal(two.session.get('x'), 0, 'an unfinished write is not visible to another request')
  two.session.set('y', 2)
  await one.end({ replicate: true })
  await two.end({ replicate: true })
  t.same(attrs(a!, r.id!), { x: 1, y: 2 }, 'both requests\' changes kept (different attributes)')
  t.equal(a!.manager.inspect(r.id!)!.version, 3)
  await t.rejects(one.end({ replicate: true }), { code: 'WAS_ERR_REQUEST_ENDED' })
  t.throws(() => one.session.set('z', 1), { code: 'WAS_ERR_REQUEST_ENDED' })
})

t.test('end({ replicate: false }) keeps the change local and sends it with the next replicated request', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'])
  const r = await request(a!, [], (s) => { s.set('x', 1) })
  await hub.settle()
  await request(a!, [r.id], (s) => { s.set('x', 2); s.set('y', 'static') }, false)
  await hub.settle()
  t.same(attrs(a!, r.id!), { x: 2, y: 'static' }, 'applied locally')
  t.same(attrs(b!, r.id!), { x: 1 }, 'not replicated by an excluded request')
  await request(a!, [r.id], (s) => { s.set('z', 3) })
  await hub.settle()
  t.same(attrs(b!, r.id!), { x: 2, y: 'static', z: 3 }, 'sent with the next replicated request')
  t.equal(b!.manager.stats().conflicts, 0)
  t.equal(b!.manager.stats().gapsRecovered, 0, 'as one delta, no gap')
  // a new session created by an excluded request reaches peers on the next replicated one
  const n = await request(a!, [], (s) => { s.set('k', 1) }, false)
  await hub.settle()
  t.equal(b!.manager.inspect(n.id!), null)
  await request(a!, [n.id], (s) => s.get('k'))
  await hub.settle()
  t.same(attrs(b!, n.id!), { k: 1 })
})

t.test('options are validated with messages naming the option', async (t) => {
  t.throws(() => new SessionManager({ route: 'bad.route' }), { code: 'WAS_ERR_INVALID_OPTION', message: /route/ })
  t.throws(() => new SessionManager({ route: 'r', sendMode: 'fast' as never }), { message: /sendMode must be one of/ })
  t.throws(() => new SessionManager({ route: 'r', maxSessionBytes: 10 }), { message: /maxSessionBytes/ })
  t.throws(() => new SessionManager({ route: 'r', stateTransferTimeout: -1 }), { message: /stateTransferTimeout/ })
})

t.test('bad arguments and use after stop() get coded errors', async (t) => {
  const m = new SessionManager({ route: 'r1', processExpiresFrequency: 0 })
  await m.start()
  const rs = m.open([])
  t.throws(() => { rs.session.maxInactiveInterval = 1.5 }, { code: 'WAS_ERR_INVALID_ARGUMENT' })
  t.throws(() => { rs.session.maxInactiveInterval = 'x' as never }, { code: 'WAS_ERR_INVALID_ARGUMENT' })
  t.throws(() => rs.session.get(42 as never), { code: 'WAS_ERR_INVALID_ATTRIBUTE_NAME' })
  t.same(m.open('not-a-list' as never).session.id, null, 'a non-array candidate list opens nothing')
  await m.stop()
  t.throws(() => m.open([]), { code: 'WAS_ERR_MANAGER_NOT_RUNNING', statusCode: 503 })
})

t.test('set() then a change in place: the value at end is stored; a primitive only read is no change', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'])
  const r = await request(a!, [], (s) => {
    const cart = { items: ['apple'] }
    s.set('cart', cart)
    s.set('n', 1)
    cart.items.push('pear')
  })
  await hub.settle()
  t.same(attrs(b!, r.id!), { cart: { items: ['apple', 'pear'] }, n: 1 }, 'the peer holds the object as it was when the request ended')
  const deltas = (): number => a!.manager.stats().sent.delta ?? 0
  const before = deltas()
  await request(a!, [r.id], (s) => { t.equal(s.get('n'), 1) })
  t.equal(deltas(), before, 'reading a number sends no delta')
  await request(a!, [r.id], (s) => { s.set('n', (s.get<number>('n') ?? 0) + 1) })
  await hub.settle()
  t.equal(deltas(), before + 1, 'a write sends one delta')
  t.same(attrs(b!, r.id!), { cart: { items: ['apple', 'pear'] }, n: 2 }, 'the peer has the written number')
})
