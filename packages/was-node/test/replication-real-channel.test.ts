/**
 * Session replication over real tribes channels: static membership on 127.0.0.1, real TCP,
 * msgpackr on the wire. Ports come from freePorts(); every wait is bounded and generous.
 */
import t, { type Test } from 'tap'
import { createChannel, type Channel } from '@nodecat/tribes'
import { SessionManager } from '../src/manager/session-manager.js'
import type { SessionManagerOptions } from '../src/manager/defaults.js'
import { freePorts } from '../../../test/lib/ports.js'
import { memoryLogger } from './helpers/session-cluster.js'
import type { SessionApi } from '../src/session/types.js'
import { waitUntil } from '@nodecat/testkit'

interface RealNode { route: string, channel: Channel, manager: SessionManager, logs: any[] }

const WAIT = 30_000

/** channels for `routes` on the given ports (all listed as static members of each other) */
function channels (t: Test, routes: string[], ports: number[], all: number[]): Channel[] {
  return routes.map((route, i) => {
    const ch = createChannel({
      port: ports[i]!,
      autoBind: 1,
      timeout: 15_000,
      meta: { route, role: 'node' },
      membership: { type: 'static', members: all.map((p) => `127.0.0.1:${p}`), frequency: 100, dropTime: 2000 }
    })
    t.teardown(() => ch.stop())
    return ch
  })
}

async function manage (t: Test, route: string, channel: Channel, opts: Partial<SessionManagerOptions> = {}): Promise<RealNode> {
  const { logger, logs } = memoryLogger()
  const manager = new SessionManager({ route, channel, logger, processExpiresFrequency: 0, stateTransferTimeout: 30_000, transferRetry: 500, ...opts })
  t.teardown(() => manager.stop())
  await manager.start()
  return { route, channel, manager, logs }
}

async function realCluster (t: Test, routes: string[], opts: Partial<SessionManagerOptions> = {}, spare = 0): Promise<{ nodes: RealNode[], ports: number[] }> {
  const ports = await freePorts(routes.length + spare)
  const chs = channels(t, routes, ports.slice(0, routes.length), ports)
  await Promise.all(chs.map((c) => c.start()))
  await waitUntil('full mesh', () => chs.every((c) => c.members().length === routes.length - 1), WAIT)
  // all nodes boot together: they may ask each other for state (the mutual-wait case)
  const nodes = await Promise.all(routes.map(async (route, i) => await manage(t, route, chs[i]!, opts)))
  for (const n of nodes) t.equal(n.manager.stats().transfer.state === 'timed-out', false, `${n.route} got ready without a timeout`)
  return { nodes, ports }
}

async function request<T> (node: RealNode, ids: Array<string | null>, fn: (s: SessionApi) => T): Promise<{ id: string | null, result: T }> {
  const rs = node.manager.open(ids.filter((x): x is string => typeof x === 'string'))
  const result = fn(rs.session)
  await rs.end({ replicate: true })
  return { id: rs.session.id, result }
}

const version = (n: RealNode, id: string) => n.manager.inspect(id)?.version ?? 0

t.test('real channels: writes, in-place changes, binder and invalidate across three nodes', async (t) => {
  const { nodes } = await realCluster(t, ['tomcat1', 'tomcat2', 'tomcat3'])
  const [a, b, c] = nodes
  const r = await request(a!, [], (s) => { s.set('cart', ['apple']); s.set('user', { name: 'ana' }) })
  await waitUntil('replicas', () => version(b!, r.id!) === 1 && version(c!, r.id!) === 1, WAIT)
  t.same(b!.manager.inspect(r.id!)!.attributes, { cart: ['apple'], user: { name: 'ana' } })
  const moved = await request(b!, [r.id], (s) => { s.get<string[]>('cart')!.push('pear') })
  t.match(moved.id, /\.tomcat2$/, 'binder renamed it to tomcat2')
  await waitUntil('delta everywhere', () => nodes.every((n) => version(n, moved.id!) === 2), WAIT)
  for (const n of nodes) {
    t.same(n.manager.inspect(moved.id!)!.attributes.cart, ['apple', 'pear'], `${n.route} has the in-place change`)
    t.equal(n.manager.inspect(moved.id!)!.id, moved.id, `${n.route} renamed its copy`)
  }
  const back = await request(a!, [r.id], (s) => s.get<string[]>('cart'))
  t.same(back.result, ['apple', 'pear'], 'no failback to stale data on tomcat1')
  await request(c!, [back.id], (s) => s.invalidate())
  await waitUntil('gone everywhere', () => nodes.every((n) => n.manager.inspect(r.id!) === null), WAIT)
  t.pass('invalidated on every node')
})

t.test('real channels, sync mode: the peer has the data when end() resolves', async (t) => {
  const { nodes: [a, b] } = await realCluster(t, ['n1', 'n2'], { sendMode: 'sync' })
  const r = await request(a!, [], (s) => { s.set('k', 'v1') })
  t.same(b!.manager.inspect(r.id!)?.attributes, { k: 'v1' }, 'created applied on the peer')
  await request(a!, [r.id], (s) => { s.set('k', 'v2') })
  t.same(b!.manager.inspect(r.id!)?.attributes, { k: 'v2' }, 'delta applied on the peer')
})

t.test('real channels: a node that joins gets every session, including changes made during the transfer', async (t) => {
  const { nodes, ports } = await realCluster(t, ['n1', 'n2'], { transferChunkSessions: 100 }, 1)
  const [a, b] = nodes
  const ids: string[] = []
  for (let i = 0; i < 1000; i++) ids.push((await request(i % 2 ? a! : b!, [], (s) => { s.set('i', i); s.set('hits', 0) })).id!)
  await waitUntil('peers in sync', () => a!.manager.stats().sessions === 1000 && b!.manager.stats().sessions === 1000, WAIT)
  const [joinCh] = channels(t, ['n3'], [ports[2]!], ports)
  await joinCh!.start()
  await waitUntil('n3 sees both', () => joinCh!.members().length === 2, WAIT)
  const { logger, logs } = memoryLogger()
  const c = new SessionManager({ route: 'n3', channel: joinCh!, logger, processExpiresFrequency: 0, stateTransferTimeout: 30_000, transferRetry: 500, transferChunkSessions: 100 })
  t.teardown(() => c.stop())
  let ready = false
  const started = c.start().then(() => { ready = true })
  let round = 0
  while (!ready && round < 100) { // bounded
    const id = ids[round * 3 % 1000]!
    await request(round % 2 ? a! : b!, [id], (s) => { s.set('hits', (s.get<number>('hits') ?? 0) + 1) })
    round++
  }
  await started
  await waitUntil('n3 converged', () => a!.manager.sessionIds().every((id) => {
    const mine = c.inspect(id)
    const theirs = a!.manager.inspect(id)
    return mine !== null && theirs !== null && mine.version === theirs.version
  }), 30_000)
  t.equal(c.stats().sessions, 1000, 'all 1000 sessions')
  t.equal(c.stats().transfer.state, 'done')
  t.ok(logs.some((l) => /transfer complete/.test(l.msg)), 'transfer completed')
  let same = 0
  for (const id of ids) if (JSON.stringify(c.inspect(id)?.attributes) === JSON.stringify(a!.manager.inspect(id)?.attributes)) same++
  t.equal(same, 1000, `every session equals the peer's copy (${round} writes during the transfer)`)
})
