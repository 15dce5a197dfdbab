/**
 * The member table on its own: identity, ordering ties, bounds, and what a removed member's
 * later datagrams may do (tombstones).
 */
import t from 'tap'
import { MembershipTable, memberId } from '../src/membership/membership.js'
import type { Member, MemberMeta } from '../src/types.js'

const meta: MemberMeta = { protocol: 1, role: 'node' }
const m = (port: number, aliveTime: number, over: Partial<Member> = {}): Member => {
  const uniqueId = over.uniqueId ?? port.toString(16).padStart(32, '0')
  return { id: memberId('10.0.0.1', port, uniqueId), host: '10.0.0.1', port, uniqueId, domain: '', aliveTime, meta, ...over }
}
const table = (o: Partial<ConstructorParameters<typeof MembershipTable>[0]> = {}): MembershipTable =>
  new MembershipTable({ local: { host: '10.0.0.1', port: 1, uniqueId: '0'.repeat(31) + '1' }, domain: '', dropTime: 100, ...o })

t.test('ids: IPv4 plain, IPv6 in brackets', async (t) => {
  t.equal(memberId('10.0.0.1', 4000, 'ab'), '10.0.0.1:4000/ab')
  t.equal(memberId('0:0:0:0:0:0:0:1', 4000, 'ab'), '[0:0:0:0:0:0:0:1]:4000/ab')
})

t.test('self is ignored; equal aliveTimes sort by id, so the order is stable', async (t) => {
  const tb = table()
  t.same(tb.heard(m(1, 5, { uniqueId: '0'.repeat(31) + '1' }), false, 0), { outcome: 'ignored', reason: 'self' })
  tb.heard(m(3, 50), false, 0); tb.heard(m(2, 50), false, 0); tb.heard(m(4, 90), false, 0)
  t.same(tb.members().map((x) => x.port), [4, 2, 3])
})

t.test('bounds: maxMembers and maxForeignMembers', async (t) => {
  const tb = table({ maxMembers: 3, maxForeignMembers: 1 })
  t.equal(tb.heard(m(10, 1, { meta: null }), false, 0).outcome, 'added')
  t.same(tb.heard(m(11, 1, { meta: null }), false, 0), { outcome: 'ignored', reason: 'full' }, 'second foreign refused')
  tb.heard(m(12, 1), false, 0); tb.heard(m(13, 1), false, 0)
  t.same(tb.heard(m(14, 1), false, 0), { outcome: 'ignored', reason: 'full' }, 'fourth member refused')
  t.equal(tb.members().length + tb.foreignMembers().length, 3)
})

t.test('tombstones: after a shutdown nothing of that identity comes back; after a timeout only newer heartbeats', async (t) => {
  const tb = table()
  tb.heard(m(20, 100), false, 0)
  t.equal(tb.heard(m(20, 150), true, 10).outcome, 'removed')
  t.same(tb.heard(m(20, 9999), false, 20), { outcome: 'ignored', reason: 'replay' }, 'a shut-down identity stays gone')
  tb.heard(m(21, 100), false, 0)
  t.same(tb.expire(101).map((x) => x.port), [21], 'expired after dropTime')
  t.same(tb.heard(m(21, 100), false, 200), { outcome: 'ignored', reason: 'replay' }, 'its last heartbeat replayed: refused')
  t.equal(tb.heard(m(21, 101), false, 200).outcome, 'added', 'a newer heartbeat (it resumed): back')
  t.same(tb.heard(m(22, 5), true, 0), { outcome: 'ignored', reason: 'unknown-shutdown' })
  t.same(tb.heard(m(22, 6), false, 0), { outcome: 'ignored', reason: 'replay' }, 'a goodbye from an unknown member also buries it')
})

t.test('another domain is ignored', async (t) => {
  const tb = table({ domain: 'red' })
  t.same(tb.heard(m(30, 1, { domain: 'blue' }), false, 0), { outcome: 'ignored', reason: 'domain' })
  t.equal(tb.heard(m(31, 1, { domain: 'red' }), false, 0).outcome, 'added')
})
