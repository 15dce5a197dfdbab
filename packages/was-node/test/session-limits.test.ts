import t from 'tap'
import { cluster, request, attrs } from './helpers/session-cluster.js'

t.test('maxSessionBytes: end() rejects with WAS_ERR_SESSION_TOO_LARGE and nothing is applied or replicated', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'], { maxSessionBytes: 4096 })
  const r = await request(a!, [], (s) => { s.set('small', 'ok') })
  await hub.settle()
  const rs = a!.manager.open([r.id!])
  rs.session.set('big', 'x'.repeat(5000))
  rs.session.set('small', 'changed')
  await t.rejects(rs.end({ replicate: true }), { code: 'WAS_ERR_SESSION_TOO_LARGE', statusCode: 500 })
  await hub.settle()
  t.same(attrs(a!, r.id!), { small: 'ok' }, 'local copy untouched')
  t.same(attrs(b!, r.id!), { small: 'ok' }, 'peer copy untouched')
  t.equal(a!.manager.inspect(r.id!)!.version, 1, 'no version was used')
  // growth in place counts too
  await request(a!, [r.id], (s) => { s.set('list', []) })
  const grow = a!.manager.open([r.id!])
  const list = grow.session.get<string[]>('list')!
  for (let i = 0; i < 100; i++) list.push('y'.repeat(50))
  await t.rejects(grow.end({ replicate: true }), { code: 'WAS_ERR_SESSION_TOO_LARGE' })
  t.same(attrs(a!, r.id!)!.list, [], 'in-place growth refused too')
  // a new session that is too large is never created
  const fresh = a!.manager.open([])
  fresh.session.set('big', 'z'.repeat(5000))
  await t.rejects(fresh.end({ replicate: true }), { code: 'WAS_ERR_SESSION_TOO_LARGE' })
  t.equal(a!.manager.stats().sessions, 1)
  t.equal(a!.manager.stats().rejected.tooLarge, 3)
})

t.test('maxActiveSessions: WAS_ERR_TOO_MANY_SESSIONS when creating', async (t) => {
  const { nodes: [a] } = await cluster(t, ['n1'], { maxActiveSessions: 2 })
  await request(a!, [], (s) => { s.set('k', 1) })
  const second = await request(a!, [], (s) => { s.set('k', 2) })
  const rs = a!.manager.open([])
  t.throws(() => rs.session.set('k', 3), { code: 'WAS_ERR_TOO_MANY_SESSIONS', statusCode: 503 })
  t.equal(a!.manager.stats().sessions, 2)
  t.equal(a!.manager.stats().rejected.tooMany, 1)
  await request(a!, [second.id], (s) => { s.set('k', 22) })
  t.same(attrs(a!, second.id!), { k: 22 }, 'existing sessions still work at the limit')
})

t.test('values that cannot be replicated are refused with WAS_ERR_ATTRIBUTE_NOT_SERIALIZABLE', async (t) => {
  const { nodes: [a] } = await cluster(t, ['n1'])
  class Cart { items: string[] = [] }
  const cyclic: any = { name: 'loop' }
  cyclic.self = cyclic
  const bad: Array<[string, unknown, RegExp]> = [
    ['fn', () => 1, /function/],
    ['sym', Symbol('s'), /symbol/],
    ['cls', new Cart(), /Cart instance/],
    ['cycle', cyclic, /cycle/],
    ['nested', { a: [{ b: () => 2 }] }, /value\.a\[0\]\.b is a function/],
    ['deep', JSON.parse('['.repeat(80) + ']'.repeat(80)), /deeper/]
  ]
  const rs = a!.manager.open([])
  for (const [name, v, msg] of bad) {
    t.throws(() => rs.session.set(name, v), { code: 'WAS_ERR_ATTRIBUTE_NOT_SERIALIZABLE', message: msg }, name)
  }
  t.equal(rs.session.id, null, 'no session was created by refused writes')
  const okValues = { n: 1, s: 'x', b: true, nul: null, d: new Date(5), buf: Buffer.from('hi'), big: 10n, m: new Map([[1, 'x']]), set: new Set([1]), arr: [1, [2]], obj: Object.create(null) }
  for (const [k, v] of Object.entries(okValues)) rs.session.set(k, v)
  await rs.end({ replicate: true })
  const stored = a!.manager.inspect(rs.session.id!)!.attributes
  t.same(Object.keys(stored).sort(), Object.keys(okValues).sort(), 'plain data of every supported kind is stored')
  t.ok(stored.d instanceof Date && stored.m instanceof Map && stored.set instanceof Set, 'Date, Map, Set keep their types')
  // a value made unserializable in place is caught at end()
  const later = a!.manager.open([rs.session.id!])
  later.session.get<unknown[]>('arr')!.push(() => 3)
  await t.rejects(later.end({ replicate: true }), { code: 'WAS_ERR_ATTRIBUTE_NOT_SERIALIZABLE' })
  t.same(a!.manager.inspect(rs.session.id!)!.attributes.arr, [1, [2]], 'nothing applied')
  t.equal(a!.manager.stats().rejected.notSerializable, bad.length + 1)
})
