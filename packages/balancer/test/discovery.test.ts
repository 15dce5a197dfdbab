import t from 'tap'
import { EventEmitter } from 'node:events'
import type { Channel, ChannelEvents, Member, MemberMeta } from '@nodecat/tribes'
import { createChannel } from '@nodecat/tribes'
import { freePorts } from '../../../test/lib/ports.js'
import { createBalancer } from '../src/index.js'
import { call, startBackend, startBalancer, until } from './helpers.js'

/** A small in-process channel: the test says who joins and leaves. */
class FakeChannel extends EventEmitter<ChannelEvents> {
  readonly present = new Map<string, Member>()
  get local (): Member { return member('self', { role: 'balancer' }) }
  async start (): Promise<void> {}
  async stop (): Promise<void> {}
  members (): Member[] { return [...this.present.values()] }
  foreignMembers (): Member[] { return [] }
  async send (): Promise<never> { throw new Error('not used') }
  onMessage (): () => void { return () => {} }
  stats (): never { throw new Error('not used') }
  join (m: Member): void { this.present.set(m.id, m); this.emit('memberAdded', m) }
  leave (m: Member): void { this.present.delete(m.id); this.emit('memberDisappeared', m, 'shutdown') }
}

let seq = 0
function member (name: string, meta: Partial<MemberMeta> | null): Member {
  const uniqueId = (++seq).toString(16).padStart(32, '0')
  return { id: `127.0.0.1:${4000 + seq}/${uniqueId}`, host: '127.0.0.1', port: 4000 + seq, uniqueId, domain: '', aliveTime: 1, meta: meta === null ? null : { protocol: 1, role: 'node', ...meta } } as Member & { name?: string }
}

t.test('discovery with a fake channel: nodes come and go as workers, mixed with static ones', async (t) => {
  const a = await startBackend(t, 'a')
  const b = await startBackend(t, 'b')
  const s = await startBackend(t, 's')
  const channel = new FakeChannel()
  const ma = member('a', { route: 'a', http: a.url })
  channel.present.set(ma.id, ma) // already in the group before the balancer starts
  const { lb, base } = await startBalancer(t, { workers: [{ route: 's', url: s.url }], channel: channel as unknown as Channel, healthCheck: false, recoverTime: 60_000 })
  t.same(lb.workers().map((w) => [w.route, w.source]), [['s', 'static'], ['a', 'discovered']], 'members present at start are taken in')

  const mb = member('b', { route: 'b', http: b.url })
  channel.join(mb)
  t.equal((await call(`${base}/x`, { headers: { cookie: 'JSESSIONID=z.b' } })).text, 'b', 'a joining node gets traffic')

  channel.join(member('tool', { role: 'tool', route: 'x', http: 'http://127.0.0.1:1' }))
  channel.join(member('lb', { role: 'balancer' }))
  channel.join(member('foreign', null))
  channel.join(member('bad', { route: 'bad', http: 'ftp://nope' }))
  channel.join(member('nohttp', { route: 'nohttp' }))
  t.same(lb.workers().map((w) => w.route), ['s', 'a', 'b'], 'tools, balancers, foreign members and bad addresses are not workers')

  channel.leave(mb)
  t.same(lb.workers().map((w) => w.route), ['s', 'a'], 'a discovered node that leaves is removed')
  t.equal((await call(`${base}/x`, { headers: { cookie: 'JSESSIONID=z.b' } })).status, 200, 'its users are balanced elsewhere')

  // a static worker that is also a member: tribes lends it liveness
  const ms = member('s', { route: 's', http: s.url })
  channel.join(ms)
  t.equal(lb.workers()[0]!.source, 'static+discovered')
  channel.leave(ms)
  t.equal(lb.workers()[0]!.state, 'ERROR', 'a static worker whose member is gone is ERROR at once')
  t.equal(lb.workers()[0]!.route, 's', 'and stays configured')
  const before = s.seen
  await call(`${base}/x`, { headers: { cookie: 'JSESSIONID=z.s' } })
  t.equal(s.seen, before, 'no traffic while ERROR')
  channel.join(member('s2', { route: 's', http: s.url }))
  t.equal(lb.workers()[0]!.state, 'RECOVERING', 'announced again: one request may probe it')
  t.equal((await call(`${base}/x`, { headers: { cookie: 'JSESSIONID=z.s' } })).text, 's')
  t.equal(lb.workers()[0]!.state, 'OK')

  // a restarted node (new uniqueId) may announce itself before the old member times out
  const a2 = member('a2', { route: 'a', http: a.url })
  channel.join(a2)
  channel.leave(ma)
  t.equal(lb.workers().find((w) => w.route === 'a')?.state, 'OK', 'the old member leaving does not touch the new one')
})

t.test('backup-manager members: a gone primary\'s users go to the member the placement names (its first buddy on another host)', async (t) => {
  const backends: Record<string, Awaited<ReturnType<typeof startBackend>>> = {}
  for (const r of ['a0', 'a1', 'b0', 'b1']) backends[r] = await startBackend(t, r)
  const channel = new FakeChannel()
  const meta = (route: string) => ({ route, http: backends[route]!.url, host: route[0]!.toUpperCase(), props: { manager: 'backup', backups: '1' } })
  const ms = Object.fromEntries(['a0', 'a1', 'b0', 'b1'].map((r) => [r, member(r, meta(r))]))
  for (const m of Object.values(ms)) channel.present.set(m.id, m)
  const { base } = await startBalancer(t, { channel: channel as unknown as Channel, healthCheck: false, recoverTime: 60_000 })
  t.equal((await call(`${base}/x`, { headers: { cookie: 'JSESSIONID=z.a0' } })).text, 'a0', 'sticky while the primary is there')
  channel.leave(ms.a0!)
  for (let i = 0; i < 4; i++) t.equal((await call(`${base}/x`, { headers: { cookie: 'JSESSIONID=z.a0' } })).text, 'b0', 'a0 gone: to b0, which holds the copy (not balanced at random)')
  channel.leave(ms.b0!)
  // both a0 and b0 gone: a0's sessions were adopted by b0, whose buddy… the rule, computed from who is left, names b1
  t.equal((await call(`${base}/x`, { headers: { cookie: 'JSESSIONID=z.b0' } })).text, 'a1', 'b0 gone: its first buddy on the other host, a1')
  // delta-manager members get no placement: the usual balancing
  const d = member('d0', { route: 'd0', http: backends.a1!.url })
  channel.join(d)
  channel.leave(d)
  t.equal((await call(`${base}/x`, { headers: { cookie: 'JSESSIONID=z.d0' } })).status, 200, 'an unknown delta route is balanced as before')
})

t.test('discovery with real tribes channels on 127.0.0.1 (static membership)', async (t) => {
  const node = await startBackend(t, 'n1')
  const [p1, p2] = await freePorts(2)
  const members = [`127.0.0.1:${p1}`, `127.0.0.1:${p2}`]
  const membership = { type: 'static' as const, members, frequency: 100, dropTime: 2000 }
  const lbChannel = createChannel({ address: '127.0.0.1', port: p1, autoBind: 1, meta: { role: 'balancer' }, membership })
  const nodeChannel = createChannel({ address: '127.0.0.1', port: p2, autoBind: 1, meta: { role: 'node', route: 'n1', http: node.url }, membership })
  await lbChannel.start()
  t.teardown(() => lbChannel.stop())
  const lb = createBalancer({ port: 0, channel: lbChannel, healthCheck: false })
  await lb.start()
  t.teardown(() => lb.stop(500))
  t.same(lb.workers(), [], 'no workers before the node joins')
  await nodeChannel.start()
  let nodeStopped = false
  t.teardown(async () => { if (!nodeStopped) await nodeChannel.stop() })
  await until(() => lb.workers().some((w) => w.route === 'n1'), 'the node to become a worker', 30_000)
  t.equal(lb.workers()[0]!.address, node.url)
  t.equal((await call(`http://127.0.0.1:${lb.address!.port}/x`)).text, 'n1', 'traffic reaches it')
  await nodeChannel.stop()
  nodeStopped = true
  await until(() => lb.workers().length === 0, 'the node to disappear', 30_000)
  t.pass('the stopped node is gone from the workers')
})

t.test('with health checks, a discovered member takes no traffic until its readiness check passes', async (t) => {
  const fresh = await startBackend(t, 'fresh')
  fresh.ready = false // its readiness page answers 503: it is still receiving its sessions
  const old = await startBackend(t, 'old')
  const channel = new FakeChannel()
  const mOld = member('old', { route: 'old', http: old.url })
  channel.present.set(mOld.id, mOld)
  const { lb, base } = await startBalancer(t, { channel: channel as unknown as Channel, healthCheck: { interval: 50, rise: 2, fall: 1 }, recoverTime: 60_000 })
  await until(() => lb.workers().find((w) => w.route === 'old')?.state === 'OK', 'the old member to pass its checks', 10_000)
  channel.join(member('fresh', { route: 'fresh', http: fresh.url }))
  t.equal(lb.workers().find((w) => w.route === 'fresh')?.state, 'ERROR', 'a member that appears waits for its health check')
  for (let i = 0; i < 10; i++) {
    const r = await call(`${base}/x`, { headers: { cookie: 'JSESSIONID=z.fresh' } })
    t.equal(r.text, 'old', 'its users are served elsewhere while it is not ready')
  }
  t.equal(fresh.seen, 0, 'no request reached it')
  fresh.ready = true
  await until(() => lb.workers().find((w) => w.route === 'fresh')?.state === 'OK', 'the fresh member to pass its checks', 10_000)
  t.equal((await call(`${base}/x`, { headers: { cookie: 'JSESSIONID=z.fresh' } })).text, 'fresh', 'and takes its users once ready')
})
