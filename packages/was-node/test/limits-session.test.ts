/**
 * Session limits that must hold the same on every node: a session the local node accepts must be
 * one its peers accept too, or a failover silently loses it. Attributes per session are bounded
 * (WAS_ERR_TOO_MANY_ATTRIBUTES at set()), below what a peer accepts in one message.
 */
import t from 'tap'
import { cluster, request, attrs } from './helpers/session-cluster.js'
import { SESSION_LIMITS } from '../src/session/request.js'

t.test('many tiny attributes: refused at the limit with a coded error, and the peer holds exactly the local copy', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'])
  const rs = a!.manager.open([])
  let refused: unknown
  let set = 0
  // 10 001 one-character values fit the default maxSessionBytes (256 KiB) easily
  for (let i = 0; i < 10_001; i++) {
    try { rs.session.set(`a${i}`, i % 10); set++ } catch (err) { refused = err; break }
  }
  await rs.end({ replicate: true })
  await hub.settle()
  t.match(refused, { code: 'WAS_ERR_TOO_MANY_ATTRIBUTES' }, 'the attribute over the limit is refused where the app sees it')
  t.equal(set, SESSION_LIMITS.maxAttributes, `exactly ${SESSION_LIMITS.maxAttributes} were set`)
  const id = rs.session.id!
  t.equal(Object.keys(attrs(a!, id) ?? {}).length, set, 'the local copy holds them')
  t.same(attrs(b!, id), attrs(a!, id), 'the peer holds exactly the same session')
  t.same(b!.manager.stats().dropped, {}, 'the peer dropped nothing')
})

t.test('the limit counts attributes across requests; deleting one frees a slot', async (t) => {
  const { hub, nodes: [a, b] } = await cluster(t, ['n1', 'n2'])
  const half = Math.ceil(SESSION_LIMITS.maxAttributes / 2)
  const first = await request(a!, [], (s) => { for (let i = 0; i < half; i++) s.set(`x${i}`, 1) })
  const id = first.id!
  const second = a!.manager.open([id])
  t.throws(() => { for (let i = 0; i < half + 5; i++) second.session.set(`y${i}`, 2) }, { code: 'WAS_ERR_TOO_MANY_ATTRIBUTES' })
  second.session.set('x0', 'overwrite') // an existing name is not a new attribute
  second.session.delete('x1')
  second.session.set('z', 'fits again')
  t.throws(() => second.session.set('z2', 'one too many'), { code: 'WAS_ERR_TOO_MANY_ATTRIBUTES' })
  await second.end({ replicate: true })
  await hub.settle()
  t.equal(Object.keys(attrs(a!, id)!).length, SESSION_LIMITS.maxAttributes)
  t.same(attrs(b!, id), attrs(a!, id), 'the peer follows')
  t.same(b!.manager.stats().dropped, {})
})
