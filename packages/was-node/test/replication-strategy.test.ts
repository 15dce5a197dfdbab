// The seam for a second manager (manager/replication-strategy.ts): who receives each change and
// whom a missing session is asked of is one strategy; the delta strategy is every node peer.
import t from 'tap'
import type { Member } from '@nodecat/tribes'
import { SessionManager } from '../src/manager/session-manager.js'
import { deltaStrategy, type ReplicationStrategy } from '../src/manager/replication-strategy.js'
import { FakeHub } from './helpers/fake-channel.js'
import { request, startNode, type Node } from './helpers/session-cluster.js'

t.test('the delta strategy sends every change to, and fetches from, every node peer', async (t) => {
  const peers = [{ id: 'a' }, { id: 'b' }] as unknown as Member[]
  t.same(deltaStrategy.targets({ id: 'x.n1', type: 'delta' }, peers).map((m) => m.id), ['a', 'b'])
  t.same(deltaStrategy.fetchFrom('x.n1', peers).map((m) => m.id), ['a', 'b'])
})

t.test('a manager with another strategy sends a session\'s changes only to the members it picks', async (t) => {
  const hub = new FakeHub()
  const b = await startNode(t, hub, 'n2')
  const c = await startNode(t, hub, 'n3')
  const picked: string[] = []
  const onlyN2: ReplicationStrategy = {
    name: 'only-n2',
    placed: false,
    targets: (change, members) => { picked.push(change.type); return members.filter((m) => m.meta?.route === 'n2') },
    fetchFrom: (_id, members) => members,
    placement: (_route, members) => ({ mine: true, others: members })
  }
  const channel = hub.channel('n1')
  await channel.start()
  const manager = new SessionManager({ route: 'n1', channel, processExpiresFrequency: 0, stateTransferTimeout: 0 }, onlyN2)
  t.teardown(async () => { await manager.stop(); await channel.stop() })
  await manager.start()
  const a: Node = { route: 'n1', channel, manager, logs: [] }
  const created = await request(a, [], (s) => { s.set('k', 1) })
  await request(a, [created.id], (s) => { s.set('k', 2) })
  await hub.settle()
  t.same(picked, ['created', 'delta'], 'asked once per change')
  t.equal(b.manager.inspect(created.id!)?.version, 2, 'the picked member holds the session')
  t.equal(c.manager.inspect(created.id!), null, 'the other member received nothing')
})
