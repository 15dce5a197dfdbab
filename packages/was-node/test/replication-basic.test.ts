import t from 'tap'
import { cluster, request, attrs } from './helpers/session-cluster.js'

t.test('a write on one node is readable on the others (2 and 3 nodes)', async (t) => {
  for (const n of [2, 3]) {
    const { hub, nodes } = await cluster(t, ['tomcat1', 'tomcat2', 'tomcat3'].slice(0, n))
    const [a] = nodes
    const r = await request(a!, [], (s) => { s.set('user', { name: 'ana' }); s.set('count', 1) })
    t.equal(r.cookie.action, 'set', 'new session sets the cookie')
    t.match(r.id, /^[A-Za-z0-9_-]{24}\.tomcat1$/, 'id is 144 random bits base64url + .route')
    await hub.settle()
    for (const node of nodes.slice(1)) {
      t.same(attrs(node, r.id!), { user: { name: 'ana' }, count: 1 }, `${node.route} has the session (${n} nodes)`)
      t.equal(node.manager.inspect(r.id!)!.primary, false, 'a replica is a backup')
    }
    const r2 = await request(nodes[n - 1]!, [r.id], (s) => { t.equal(s.get('count'), 1); s.set('count', 2) })
    t.equal(r2.rebound, true, 'served by another node: rebound')
    await hub.settle()
    for (const node of nodes) t.equal(attrs(node, r2.id!)!.count, 2, `${node.route} sees the second write`)
  }
})

t.test('changes inside a value are replicated without set()', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'])
  const r = await request(a!, [], (s) => { s.set('cart', { items: ['apple'], meta: { total: 1 } }); s.set('tags', new Set(['x'])); s.set('m', new Map([['k', [1]]])) })
  await hub.settle()
  await request(a!, [r.id], (s) => {
    const cart = s.get<{ items: string[], meta: { total: number } }>('cart')!
    cart.items.push('pear')
    cart.meta.total = 2
    s.get<Set<string>>('tags')!.add('y')
    s.get<Map<string, number[]>>('m')!.get('k')!.push(2)
  })
  await hub.settle()
  const copy = attrs(b!, r.id!)!
  t.same(copy.cart, { items: ['apple', 'pear'], meta: { total: 2 } }, 'nested push and field change reached the peer')
  t.same([...(copy.tags as Set<string>)], ['x', 'y'], 'Set change reached the peer')
  t.same([...(copy.m as Map<string, number[]>)], [['k', [1, 2]]], 'Map entry change reached the peer')
  const before = b!.manager.stats().deltasApplied
  await request(a!, [r.id], (s) => { s.get('cart') }) // read only: no delta
  await hub.settle()
  t.equal(b!.manager.stats().deltasApplied, before, 'a read-only request sends no delta')
})

t.test('only the last change per attribute travels, remove and invalidate replicate', async (t) => {
  const { hub, nodes: [a, b, c] } = await cluster(t, ['n1', 'n2', 'n3'])
  const r = await request(a!, [], (s) => { s.set('x', 1); s.set('x', 2); s.set('x', 3); s.set('y', 'gone'); s.delete('y') })
  await hub.settle()
  const created = b!.channel.received.find((m) => m.t === 'created')
  t.same(created.s.attrs.map((e: any) => e[0]), ['x'], 'created carries x once and no y')
  await request(a!, [r.id], (s) => { s.set('z', 1); s.set('z', 2); s.delete('x') })
  await hub.settle()
  const delta = b!.channel.received.find((m) => m.t === 'delta')
  t.equal(delta.a.length, 2, 'delta carries one action per name')
  t.same(attrs(c!, r.id!), { z: 2 }, 'remove replicated')
  const destroyed: any[] = []
  b!.manager.on('sessionDestroyed', (e) => destroyed.push(e))
  const inv = await request(c!, [r.id], (s) => { s.invalidate() })
  t.same(inv.cookie, { action: 'clear' }, 'invalidate clears the cookie')
  await hub.settle()
  for (const node of [a!, b!, c!]) t.equal(node.manager.inspect(r.id!), null, `${node.route} removed it`)
  t.same(destroyed, [{ id: r.id!.replace('.n1', '.n3'), reason: 'invalidated', replicated: true }], 'replica listener saw the invalidation')
  const again = await request(a!, [r.id], (s) => s.get('z'))
  t.equal(again.result, undefined, 'the old id names nothing')
  t.equal(again.id, null, 'an unknown id never becomes a session id (no fixation)')
  t.same(again.cookie, { action: 'none' })
})

t.test('regenerate: new id, same contents, old id gone everywhere', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'])
  const r = await request(a!, [], (s) => { s.set('cart', [1]) })
  await hub.settle()
  const r2 = await request(a!, [r.id], (s) => { s.regenerate(); s.principal = { user: 'ana' } })
  t.not(r2.id, r.id)
  t.match(r2.id, /\.n1$/)
  t.same(r2.cookie, { action: 'set', id: r2.id })
  await hub.settle()
  for (const node of [a!, b!]) {
    t.equal(node.manager.inspect(r.id!), null, `${node.route}: old id gone`)
    t.same(node.manager.inspect(r2.id!)?.attributes, { cart: [1] }, `${node.route}: contents kept`)
    t.same(node.manager.inspect(r2.id!)?.principal, { user: 'ana' }, `${node.route}: principal replicated`)
  }
  const stale = await request(b!, [r.id], (s) => s.get('cart'))
  t.equal(stale.id, null, 'the old id opens nothing')
})

t.test('listeners fire locally and on replicas, saying where the change came from', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'])
  const seen: Record<string, any[]> = { n1: [], n2: [] }
  for (const node of [a!, b!]) {
    for (const ev of ['sessionCreated', 'attributeAdded', 'attributeReplaced', 'attributeRemoved', 'sessionDestroyed'] as const) {
      node.manager.on(ev, (e: any) => seen[node.route]!.push({ ev, ...e }))
    }
  }
  const r = await request(a!, [], (s) => { s.set('k', 'v1') })
  await request(a!, [r.id], (s) => { s.set('k', 'v2') })
  await request(a!, [r.id], (s) => { s.delete('k') })
  await hub.settle()
  const id = r.id!
  const expected = (replicated: boolean) => [
    { ev: 'sessionCreated', id, replicated },
    { ev: 'attributeAdded', id, name: 'k', value: 'v1', oldValue: undefined, replicated },
    { ev: 'attributeReplaced', id, name: 'k', value: 'v2', oldValue: 'v1', replicated },
    { ev: 'attributeRemoved', id, name: 'k', value: undefined, oldValue: 'v2', replicated }
  ]
  t.same(seen.n1, expected(false), 'local events')
  t.same(seen.n2, expected(true), 'replica events, marked replicated')
})

t.test('notifyListenersOnReplication=false keeps replica listeners quiet', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'], { notifyListenersOnReplication: false })
  const seen: any[] = []
  b!.manager.on('sessionCreated', (e) => seen.push(e))
  b!.manager.on('attributeAdded', (e) => seen.push(e))
  const r = await request(a!, [], (s) => { s.set('k', 1) })
  await hub.settle()
  t.same(attrs(b!, r.id!), { k: 1 }, 'data replicated')
  t.same(seen, [], 'no replica events')
})
