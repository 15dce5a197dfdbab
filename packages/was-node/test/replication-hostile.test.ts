import t from 'tap'
import { Packr } from 'msgpackr'
import { cluster, request } from './helpers/session-cluster.js'
import { sleep } from '@nodecat/testkit'

const value = (v: unknown) => new Packr({ mapsAsObjects: false, moreTypes: true, useRecords: true }).pack(v)
const H = { k: 'nodecat.session', v: 1 }

t.test('forged, truncated, oversized and wrong-typed messages are dropped and counted; sessions unchanged', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'], { sessionRequestTimeout: 50, gapWait: 5, maxSessionBytes: 64 * 1024 })
  const r = await request(a!, [], (s) => { s.set('cart', ['apple']); s.set('user', 'ana') })
  await hub.settle()
  const id = r.id!
  const stamp = [1, 1, 'n1']
  const before = JSON.stringify(b!.manager.inspect(id))
  const evil = hub.channel('evil')
  await evil.start()
  t.teardown(() => evil.stop())
  const huge = new Array(20_000).fill([1, 'x'])
  const cases: Array<[string, unknown]> = [
    ['unknown-type', { ...H, t: 'drop-database' }],
    ['unknown-type', { ...H, t: 42 }],
    ['unsupported-protocol', { ...H, v: 99, t: 'delta' }],
    ['bad-id', { ...H, t: 'delta', id: 42, from: stamp, to: [2, 2, 'x'], a: [] }],
    ['bad-id', { ...H, t: 'delta', id: '../../etc/passwd', from: stamp, to: [2, 2, 'x'], a: [] }],
    ['bad-from', { ...H, t: 'delta', id, from: [1, 'one'], to: [2, 2, 'x'], a: [] }],
    ['bad-to', { ...H, t: 'delta', id, from: stamp, to: null, a: [] }],
    ['bad-actions', { ...H, t: 'delta', id, from: stamp, to: [2, 2, 'x'], a: huge }],
    ['bad-actions', { ...H, t: 'delta', id, from: stamp, to: [2, 2, 'x'], a: 'set cart' }],
    ['bad-action', { ...H, t: 'delta', id, from: stamp, to: [2, 2, 'x'], a: [[0, 'cart']] }],
    ['bad-action', { ...H, t: 'delta', id, from: stamp, to: [2, 2, 'x'], a: [[0, 'cart', 'not bytes']] }],
    ['bad-action', { ...H, t: 'delta', id, from: stamp, to: [2, 2, 'x'], a: [[7, 'cart']] }],
    ['bad-action', { ...H, t: 'delta', id, from: stamp, to: [2, 2, 'x'], a: [[0, 'x'.repeat(300), value(1)]] }],
    ['bad-action', { ...H, t: 'delta', id, from: stamp, to: [2, 2, 'x'], a: [[0, 'big', Buffer.alloc(65 * 1024)]] }],
    ['undecodable-value', { ...H, t: 'delta', id, from: stamp, to: [2, 2, 'x'], a: [[0, 'cart', Buffer.from([0x92, 0x01])]] }],
    ['delta-too-large', { ...H, t: 'delta', id, from: stamp, to: [2, 2, 'x'], a: [[0, 'a', value('x'.repeat(60_000))], [0, 'b', value('y'.repeat(60_000))], [0, 'c', value('z'.repeat(60_000))]] }],
    ['bad-session', { ...H, t: 'created', s: 'a session' }],
    ['bad-session-id', { ...H, t: 'created', s: { id: 'nope', created: 0, idle: 0, max: 1, principal: null, stamp, history: [], attrs: [] } }],
    ['bad-session-times', { ...H, t: 'created', s: { id, created: -5, idle: 'x', max: 1, principal: null, stamp, history: [], attrs: [] } }],
    ['bad-session-attrs', { ...H, t: 'created', s: { id, created: 0, idle: 0, max: 1, principal: null, stamp: [9, 9, 'z'], history: [], attrs: [['cart']] } }],
    ['bad-session-history', { ...H, t: 'created', s: { id, created: 0, idle: 0, max: 1, principal: null, stamp: [9, 9, 'z'], history: new Array(100).fill(stamp), attrs: [] } }],
    ['bad-why', { ...H, t: 'expired', id, at: stamp, why: 'because' }],
    ['bad-at', { ...H, t: 'accessed', id, at: 'now' }],
    ['bad-from', { ...H, t: 'id-changed', from: null, to: id }],
    ['bad-xfer', { ...H, t: 'get-all', xfer: -1 }],
    ['bad-chunk', { ...H, t: 'all-data', xfer: 1, seq: 0, s: new Array(6000).fill(null) }],
    ['bad-req', { ...H, t: 'session-request', id, req: 'x' }],
    ['unsolicited-session-full', { ...H, t: 'session-full', id, req: 123456, s: { id, created: 0, idle: 0, max: 1, principal: null, stamp: [99, 9, 'evil'], history: [], attrs: [['cart', value(['forged'])]] } }],
    ['stale-transfer', { ...H, t: 'all-data', xfer: 7, seq: 0, s: [{ id, created: 0, idle: 0, max: 1, principal: null, stamp: [99, 9, 'evil'], history: [], attrs: [] }] }],
    ['stale-transfer', { ...H, t: 'transfer-complete', xfer: 7, count: 1 }]
  ]
  const expected: Record<string, number> = {}
  for (const [reason, msg] of cases) {
    expected[reason] = (expected[reason] ?? 0) + 1
    await b!.channel.inject(msg, evil.local)
  }
  // not ours at all: ignored without counting
  for (const other of [null, 42, 'hello', [1, 2], { t: 'delta' }, Buffer.from('x')]) await b!.channel.inject(other, evil.local)
  await hub.settle()
  t.same(b!.manager.stats().dropped, expected, 'each case dropped under its reason')
  t.equal(JSON.stringify(b!.manager.inspect(id)), before, 'the stored session is unchanged')
  t.equal(b!.manager.stats().sessions, 1, 'nothing was created')
  t.ok(b!.logs.some((l) => l.msg === 'replication message dropped' && l.reason === 'bad-action'), 'drops are logged with their reason')
  // and the node still works
  await request(a!, [id], (s) => { s.get<string[]>('cart')!.push('pear') })
  await hub.settle()
  t.same(b!.manager.inspect(id)!.attributes.cart, ['apple', 'pear'], 'replication continues')
})

t.test('deltas for unknown session ids are held, asked for, and dropped when nobody has them', async (t) => {
  const { hub, nodes: [, b] } = await cluster(t, ['n1', 'n2'], { sessionRequestTimeout: 50, gapWait: 5 })
  const evil = hub.channel('evil')
  await evil.start()
  t.teardown(() => evil.stop())
  for (let i = 0; i < 20; i++) {
    const fake = `${'B'.repeat(23)}${String.fromCharCode(65 + i)}.n9`
    await b!.channel.inject({ ...H, t: 'delta', id: fake, from: [4, 1, 'n9'], to: [5, 2, 'n9'], a: [[0, 'x', value(1)]] }, evil.local)
  }
  const end = Date.now() + 20_000
  while ((b!.manager.stats().gapsUnrecoverable < 20 || b!.manager.stats().held > 0) && Date.now() < end) await sleep(20)
  const st = b!.manager.stats()
  t.equal(st.sessions, 0, 'no session was created from a forged delta')
  t.equal(st.gapsUnrecoverable, 20, 'each one given up after asking every member')
  t.equal(st.held, 0, 'nothing left held')
})
