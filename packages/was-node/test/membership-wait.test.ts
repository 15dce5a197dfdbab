/**
 * What a node waits for at start before it asks for the cluster's sessions (membership-wait.ts):
 * with static membership it never starts empty merely because a heartbeat is late. A listed peer
 * whose receiver answers is waited for past the start window; one that is down is not.
 */
import t from 'tap'
import { EventEmitter } from 'node:events'
import type { Channel, Member, ReceiverState } from '@nodecat/tribes'
import { awaitInitialMembers } from '../src/service/membership-wait.js'
import type { ResolvedNodeOptions } from '../src/service/options.js'

/** a channel whose members and probe answers the test sets */
class ScriptedChannel extends EventEmitter {
  present: Member[] = []
  states = new Map<number, ReceiverState>()
  probes = 0
  constructor (readonly listed: number[]) { super() }
  members (): Member[] { return this.present }
  listedPeers (): Array<{ host: string, port: number }> { return this.listed.map((port) => ({ host: '127.0.0.1', port })) }
  async probe (p: { host: string, port: number }): Promise<ReceiverState> { this.probes++; return this.states.get(p.port) ?? 'down' }
  join (port: number, role = 'node'): void {
    const m = { id: `127.0.0.1:${port}/x`, host: '127.0.0.1', port, uniqueId: 'x', domain: '', aliveTime: 10_000, meta: { protocol: 1, role, route: `r${port}` } } as unknown as Member
    this.present.push(m)
    this.emit('memberAdded', m)
  }
}

const membership = (members: number[], dropTime = 300): ResolvedNodeOptions['membership'] => ({
  type: 'static', address: '228.0.0.4', port: 45564, frequency: 100, dropTime, bind: null, ttl: 1, domain: '', members: members.map((p) => `127.0.0.1:${p}`)
})

t.test('a listed peer whose heartbeats are held back longer than the start window is waited for', async (t) => {
  const ch = new ScriptedChannel([4001])
  ch.states.set(4001, 'answering')
  // the peer's heartbeat arrives after 4 × dropTime
  setTimeout(() => ch.join(4001), 1200)
  const r = await awaitInitialMembers(ch as unknown as Channel, membership([4001], 300))
  t.equal(r.members, 1, 'it waited for the late heartbeat and started knowing the peer (not empty)')
  t.same(r.down, [])
})

t.test('listed peers that refuse connections are down: start at once', async (t) => {
  const ch = new ScriptedChannel([4001, 4002])
  const r = await awaitInitialMembers(ch as unknown as Channel, membership([4001, 4002], 10_000))
  t.same(r.down, ['127.0.0.1:4001', '127.0.0.1:4002'], 'both found down')
  t.equal(r.members, 0)
})

t.test('a peer that accepts connections but never answers (frozen) is down after dropTime', async (t) => {
  const ch = new ScriptedChannel([4001])
  ch.states.set(4001, 'silent')
  const r = await awaitInitialMembers(ch as unknown as Channel, membership([4001], 300))
  t.ok(ch.probes > 1, `it kept probing before giving up (${ch.probes} probes)`)
  t.same(r.down, ['127.0.0.1:4001'])
})

t.test('with another node known, a late-answering peer is waited for at most dropTime (it is reconciled later)', async (t) => {
  const ch = new ScriptedChannel([4001, 4002])
  ch.states.set(4002, 'answering')
  ch.join(4001)
  const r = await awaitInitialMembers(ch as unknown as Channel, membership([4001, 4002], 300))
  t.equal(r.members, 1)
  t.same(r.unheard, ['127.0.0.1:4002'], 'the answering but unheard peer is reported')
})

t.test('all listed peers members: done without waiting', async (t) => {
  const ch = new ScriptedChannel([4001, 4002])
  ch.join(4001); ch.join(4002)
  const r = await awaitInitialMembers(ch as unknown as Channel, membership([4001, 4002], 60_000))
  t.equal(r.members, 2)
  t.equal(ch.probes, 0, 'no probe needed')
})

t.test('a stop during the wait ends it', async (t) => {
  const ch = new ScriptedChannel([4001])
  ch.states.set(4001, 'answering')
  let stopping = false
  setTimeout(() => { stopping = true }, 100)
  const r = await awaitInitialMembers(ch as unknown as Channel, membership([4001], 60_000), () => stopping)
  t.equal(r.members, 0)
})
