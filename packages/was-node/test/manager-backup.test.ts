/**
 * The primary/backup manager (`--manager backup`) on a fake hub: two hosts with two members each,
 * k = 1. Where copies live, what one change costs, what happens when members go and come back.
 */
import t, { type Test } from 'tap'
import { FakeHub } from './helpers/fake-channel.js'
import { request, attrs, startNode, type Node } from './helpers/session-cluster.js'
import type { SessionManagerOptions } from '../src/manager/defaults.js'
import { waitUntil } from '@nodecat/testkit'

const HOSTS: Record<string, string> = { a0: 'A', a1: 'A', b0: 'B', b1: 'B' }

async function backupCluster (t: Test, k = 1, opts: Partial<SessionManagerOptions> = {}): Promise<{ hub: FakeHub, nodes: Record<string, Node> }> {
  const hub = new FakeHub()
  const nodes: Record<string, Node> = {}
  for (const route of Object.keys(HOSTS)) nodes[route] = await startNode(t, hub, route, { rebalanceGrace: 0, ...opts }, undefined, { host: HOSTS[route]!, backups: k })
  return { hub, nodes }
}

/** routes of the members holding a copy of the session `base` */
const holders = (nodes: Record<string, Node>, base: string) => Object.values(nodes).filter((n) => n.channel.started && n.manager.inspect(`${base}.x`) !== null).map((n) => n.route).sort()
const baseOf = (id: string) => id.slice(0, id.indexOf('.'))
/** messages about sessions this node sent (creations, deltas, whole copies, renames) */
const sentChanges = (n: Node) => { const s = n.manager.stats().sent; return (s.created ?? 0) + (s.delta ?? 0) + (s['session-full'] ?? 0) + (s['id-changed'] ?? 0) + (s.accessed ?? 0) }

t.test('a session lives on its primary and one buddy on the other host; a change costs k sends', async (t) => {
  const { hub, nodes } = await backupCluster(t)
  t.equal(nodes.a0!.manager.stats().manager, 'backup')
  const s = await request(nodes.a0!, [], (x) => { x.set('cart', ['a']) })
  await hub.settle()
  const base = baseOf(s.id!)
  t.same(holders(nodes, base), ['a0', 'b0'], 'a0 (primary) and b0 (its buddy on host B) hold it; a1 and b1 hold nothing')
  const before = sentChanges(nodes.a0!)
  for (let i = 0; i < 5; i++) await request(nodes.a0!, [s.id!], (x) => { x.set('n', i) })
  await hub.settle()
  t.equal(sentChanges(nodes.a0!) - before, 5, 'five changes, five messages: one per change, to the one backup (delta would send 15)')
  t.same(attrs(nodes.b0!, s.id!), { cart: ['a'], n: 4 }, 'the backup holds the newest state')
  t.same(holders(nodes, base), ['a0', 'b0'], 'still only two copies')
})

t.test('with k = 2 a change costs 2 messages; the delta manager, every peer', async (t) => {
  const { hub, nodes } = await backupCluster(t, 2)
  const s = await request(nodes.a0!, [], (x) => { x.set('v', 0) })
  await hub.settle()
  const before = sentChanges(nodes.a0!)
  for (let i = 1; i <= 4; i++) await request(nodes.a0!, [s.id!], (x) => { x.set('v', i) })
  t.equal(sentChanges(nodes.a0!) - before, 8, 'k = 2: four changes, eight messages')
  const hub2 = new FakeHub()
  const delta: Node[] = []
  for (const r of ['d1', 'd2', 'd3', 'd4']) delta.push(await startNode(t, hub2, r))
  const d = await request(delta[0]!, [], (x) => { x.set('v', 0) })
  const dBefore = sentChanges(delta[0]!)
  for (let i = 1; i <= 4; i++) await request(delta[0]!, [d.id!], (x) => { x.set('v', i) })
  t.equal(sentChanges(delta[0]!) - dBefore, 12, 'delta, 4 nodes: four changes, twelve messages')
  await hub.settle()
  await hub2.settle()
})

t.test('the primary fails: its buddy serves the session, becomes primary, and brings it back to k + 1 copies', async (t) => {
  const { hub, nodes } = await backupCluster(t)
  const s = await request(nodes.a0!, [], (x) => { x.set('cart', ['a', 'b']) })
  await hub.settle()
  const base = baseOf(s.id!)
  nodes.a0!.channel.crash()
  await nodes.a0!.manager.stop()
  await nodes.b0!.manager.rebalance()
  await hub.settle()
  t.same(holders(nodes, base), ['a1', 'b0'], 'b0 adopted the session and copied it to its own buddy a1 (host A)')
  let seen: unknown
  const r = await request(nodes.b0!, [s.id!], (x) => { seen = x.get('cart'); x.set('cart', ['a', 'b', 'c']) })
  t.same(seen, ['a', 'b'], 'the user goes on with the cart')
  t.match(r.id, /\.b0$/, 'renamed to the node that serves it')
  await hub.settle()
  t.same(attrs(nodes.a1!, r.id!), { cart: ['a', 'b', 'c'] }, 'the new backup follows the changes')
})

t.test('a whole host fails: every session of both its members survives on the other host', async (t) => {
  const { hub, nodes } = await backupCluster(t)
  const ids: string[] = []
  for (const route of ['a0', 'a1']) for (let i = 0; i < 5; i++) ids.push((await request(nodes[route]!, [], (x) => { x.set('from', route); x.set('i', i) })).id!)
  await hub.settle()
  for (const route of ['a0', 'a1']) { nodes[route]!.channel.crash(); await nodes[route]!.manager.stop() }
  await Promise.all([nodes.b0!.manager.rebalance(), nodes.b1!.manager.rebalance()])
  await hub.settle()
  for (const id of ids) {
    t.same(holders(nodes, baseOf(id)), ['b0', 'b1'], `${id.slice(-2)}: both members of host B hold it`)
  }
  // the balancer sends a0's users to a0's first buddy (b0): it serves them
  let cart: unknown
  await request(nodes.b0!, [ids[0]!], (x) => { cart = x.get('from') })
  t.equal(cart, 'a0', 'served from the copy')
})

t.test('a member that joins gets only what it should hold; copies out of place are dropped', async (t) => {
  const hub = new FakeHub()
  const nodes: Record<string, Node> = {}
  for (const route of ['a0', 'b0']) nodes[route] = await startNode(t, hub, route, { rebalanceGrace: 0 }, undefined, { host: HOSTS[route]!, backups: 1 })
  const ids: string[] = []
  for (let i = 0; i < 6; i++) ids.push((await request(nodes.a0!, [], (x) => { x.set('i', i) })).id!)
  for (let i = 0; i < 6; i++) ids.push((await request(nodes.b0!, [], (x) => { x.set('i', i) })).id!)
  await hub.settle()
  for (const id of ids) t.same(holders(nodes, baseOf(id)), ['a0', 'b0'], 'two members: both hold everything')
  // b1 joins host B: a0's buddy is still b0; b0's buddy is still a0; b1 is nobody's buddy, primary of nothing
  nodes.b1 = await startNode(t, hub, 'b1', { rebalanceGrace: 0 }, undefined, { host: 'B', backups: 1 })
  await Promise.all(Object.values(nodes).map(async (n) => await n.manager.rebalance()))
  await hub.settle()
  t.equal(nodes.b1.manager.stats().sessions, 0, 'the joiner holds nothing it should not (its state transfer was filtered)')
  // a1 joins host A: b0's sessions now back up on... b0's buddy is the first host-A member after it on the ring: a0 still
  // b1 serves a session of its own, then leaves cleanly: its buddy a0 keeps it; nobody else needs a copy
  const own = await request(nodes.b1, [], (x) => { x.set('mine', true) })
  await hub.settle()
  t.same(holders(nodes, baseOf(own.id!)), ['a0', 'b1'], 'b1\'s session is backed up on a0 (the other host)')
  // a b0 restart: its sessions come back to it, and the adopter's extra copies go
  nodes.b0!.channel.crash()
  await nodes.b0!.manager.stop()
  await Promise.all(['a0', 'b1'].map(async (r) => await nodes[r]!.manager.rebalance()))
  await hub.settle()
  const b0ids = ids.slice(6)
  for (const id of b0ids) t.same(holders(nodes, baseOf(id)), ['a0', 'b1'], 'b0 gone: its sessions on a0 (adopter) and a0\'s new buddy b1')
  nodes.b0 = await startNode(t, hub, 'b0', { rebalanceGrace: 0 }, undefined, { host: 'B', backups: 1 })
  await waitUntil('the restarted b0 holds its sessions again', async () => {
    await Promise.all(['a0', 'b0', 'b1'].map(async (r) => await nodes[r]!.manager.rebalance()))
    await hub.settle()
    return b0ids.every((id) => nodes.b0!.manager.inspect(id) !== null)
  }, 10_000)
  // two passes: the first marks the copies out of place, the next (grace 0) drops them
  await Promise.all(['a0', 'b0', 'b1'].map(async (r) => await nodes[r]!.manager.rebalance()))
  await hub.settle()
  for (const id of b0ids) t.same(holders(nodes, baseOf(id)), ['a0', 'b0'], 'back to b0 and its buddy a0; b1\'s extra copy dropped')
  t.ok(nodes.b1.manager.stats().rebalance.dropped > 0, 'counted')
})

t.test('a member asked for a session held elsewhere fetches it, newest version', async (t) => {
  const { hub, nodes } = await backupCluster(t)
  const s = await request(nodes.a0!, [], (x) => { x.set('v', 1) })
  await request(nodes.a0!, [s.id!], (x) => { x.set('v', 2) })
  await hub.settle()
  t.equal(nodes.b1!.manager.inspect(s.id!), null, 'b1 holds no copy')
  const prepared = nodes.b1!.manager.prepare([s.id!])
  t.ok(prepared, 'b1 must fetch first')
  await prepared
  let v: unknown
  await request(nodes.b1!, [s.id!], (x) => { v = x.get('v') })
  t.equal(v, 2, 'the newest version')
})

t.test('sync mode: the answer waits until the backup holds the whole session, even a backup that lacked it', async (t) => {
  const { hub, nodes } = await backupCluster(t, 1, { sendMode: 'sync' })
  const s = await request(nodes.a0!, [], (x) => { x.set('v', 1) })
  t.same(attrs(nodes.b0!, s.id!), { v: 1 }, 'created: on the backup before the request ended')
  nodes.b0!.channel.crash()
  await nodes.b0!.manager.stop()
  // a0's new buddy on host B is b1, which never saw the session: the next change sends it whole
  const r = await request(nodes.a0!, [s.id!], (x) => { x.set('v', 2) })
  t.same(attrs(nodes.b1!, r.id!), { v: 2 }, 'the new backup holds the whole session when the request ends')
  await hub.settle()
})
