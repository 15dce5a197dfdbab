/**
 * A node never answers a user as "new" while the cluster holds their session (issue 11):
 * - fetch on miss: a request naming a session only a peer holds fetches it before the app runs,
 *   and the app sees the newest version among the peers' copies;
 * - an id nobody holds never becomes a session, and asking again is answered from memory;
 * - reconcile: a node that started empty and then meets a member holding sessions gets them, and
 *   the member gets what only the node held.
 */
import t from 'tap'
import { FakeHub } from './helpers/fake-channel.js'
import { FakeClock } from './helpers/clock.js'
import { request, attrs, startNode, type Node } from './helpers/session-cluster.js'
import type { SessionApi } from '../src/session/types.js'
import { sleep } from '@nodecat/testkit'

/** what the HTTP layer does: prepare (maybe fetch), then open */
async function viaPrepare (node: Node, ids: string[], fn: (s: SessionApi) => void): Promise<{ id: string | null, isNew: boolean }> {
  await node.manager.prepare(ids)
  const rs = node.manager.open(ids)
  const isNew = rs.requestedId === null
  fn(rs.session)
  const id = rs.session.id
  await rs.end({ replicate: true })
  return { id, isNew }
}

t.test('a node asked for a session only a peer holds fetches it; the app sees the newest copy', async (t) => {
  const hub = new FakeHub()
  const clock = new FakeClock()
  const a = await startNode(t, hub, 'n1', {}, clock)
  const c = await startNode(t, hub, 'n3', {}, clock)
  // n1 and n3 hold the session; n3 holds a newer version (n1 missed the last delta)
  hub.filter = (m, _from, to) => m.t === 'delta' && to === a.channel ? 'drop' : 'deliver'
  const created = await request(c, [], (s) => { s.set('count', 1) })
  await hub.settle()
  await request(c, [created.id], (s) => { s.set('count', 2) })
  await hub.settle()
  hub.filter = null
  t.equal(a.manager.inspect(created.id!)?.version, 1, 'n1 holds an older copy')
  t.equal(c.manager.inspect(created.id!)?.version, 2, 'n3 holds the newest')

  // n2 starts empty (no state transfer: the peers' heartbeats "came late")
  const b = await startNode(t, hub, 'n2', { stateTransferTimeout: 0, sessionFetchTimeout: 5000 }, clock)
  t.equal(b.manager.stats().sessions, 0, 'n2 holds nothing')
  let seen: unknown
  const r = await viaPrepare(b, [created.id!], (s) => { seen = s.get('count'); s.set('count', Number(s.get('count')) + 1) })
  t.equal(seen, 2, 'the app saw the newest version among the peers\' copies')
  t.equal(r.isNew, false, 'the session was not new')
  t.equal(r.id, created.id!.replace(/\.n3$/, '.n2'), 'same session, rebound to n2 (the binder)')
  const stats = b.manager.stats().fetch
  t.equal(stats.requests, 1, 'one fetch')
  t.equal(stats.found, 1, 'it found the session')
  // n1's copy was one version behind: it fetches the whole session after gapWait
  for (let i = 0; i < 50 && attrs(a, r.id!)?.count !== 3; i++) { await hub.settle(); await sleep(20) }
  t.same(attrs(a, r.id!), { count: 3 }, 'the change reached n1 too (its gap closed by the usual fetch)')
})

t.test('an id nobody holds never becomes a session, and a repeat is answered from memory', async (t) => {
  const hub = new FakeHub()
  const a = await startNode(t, hub, 'n1')
  const b = await startNode(t, hub, 'n2', { sessionFetchTimeout: 5000 })
  const forged = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.n1'
  const r = await viaPrepare(b, [forged], (s) => { s.set('x', 1) })
  t.not(r.id, forged, 'a new session gets a fresh id, never the forged one')
  t.not(r.id?.split('.')[0], forged.split('.')[0])
  t.equal(b.manager.stats().fetch.notFound, 1, 'counted as not found')
  await viaPrepare(b, [forged], () => {})
  t.equal(b.manager.stats().fetch.remembered, 1, 'asked again: answered from memory, no cluster traffic')
  t.equal(b.manager.stats().fetch.requests, 1)
  t.equal(a.manager.stats().received['session-request'], 1, 'the peer was asked once')
})

t.test('a held session is never fetched; a fetch is shared by concurrent requests', async (t) => {
  const hub = new FakeHub()
  const a = await startNode(t, hub, 'n1')
  const held = await request(a, [], (s) => { s.set('k', 'v') })
  t.equal(a.manager.prepare([held.id!]), null, 'nothing to wait for: no promise')
  const b = await startNode(t, hub, 'n2', { stateTransferTimeout: 0, sessionFetchTimeout: 5000 })
  const first = b.manager.prepare([held.id!])
  const second = b.manager.prepare([held.id!])
  t.ok(first !== null && second !== null)
  await Promise.all([first, second])
  t.equal(b.manager.stats().fetch.requests, 1, 'one fetch for both requests')
  t.same(attrs(b, held.id!), { k: 'v' })
})

t.test('with no live peer there is nothing to fetch', async (t) => {
  const hub = new FakeHub()
  const a = await startNode(t, hub, 'solo')
  t.equal(a.manager.prepare(['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.x']), null)
})

t.test('a peer that does not answer bounds the wait', async (t) => {
  const hub = new FakeHub()
  const a = await startNode(t, hub, 'n1')
  const held = await request(a, [], (s) => { s.set('k', 'v') })
  const b = await startNode(t, hub, 'n2', { stateTransferTimeout: 0, sessionFetchTimeout: 30 })
  hub.filter = (m) => m.t === 'session-request' ? 'drop' : 'deliver'
  await b.manager.prepare([held.id!])
  t.equal(b.manager.stats().fetch.timedOut, 1, 'counted as timed out')
  t.equal(b.manager.stats().sessions, 0)
})

t.test('a node that started empty and then meets a member holding sessions gets them (and gives what only it held)', async (t) => {
  const hub = new FakeHub()
  const a = await startNode(t, hub, 'n1')
  const ids: string[] = []
  for (let i = 0; i < 25; i++) ids.push((await request(a, [], (s) => { s.set('i', i) })).id!)
  // n2 starts empty and, until it hears n1, takes a session of its own that n1 never saw
  hub.filter = (_m, from, to) => (from === a.channel || to === a.channel) ? 'drop' : 'deliver'
  const b = await startNode(t, hub, 'n2', { stateTransferTimeout: 0 })
  const own = await request(b, [], (s) => { s.set('own', true) })
  t.equal(b.manager.stats().sessions, 1)
  hub.filter = null
  // n2 hears n1 now (late): the member was running before n2 started
  b.channel.emit('memberAdded', a.channel.local)
  for (let i = 0; i < 20 && (b.manager.stats().sessions < 26 || a.manager.stats().sessions < 26); i++) await hub.settle()
  t.equal(b.manager.stats().sessions, 26, 'n2 got every session n1 held')
  t.same(attrs(b, ids[24]!), { i: 24 })
  t.same(attrs(a, own.id!), { own: true }, 'and n1 got the one only n2 held')
  t.equal(b.manager.stats().reconcile.digestsSent, 1, 'n2 sent its digest')
  t.equal(a.manager.stats().reconcile.digestsSent, 1, 'n1 answered with its own')
  t.ok(b.manager.stats().ready, 'n2 stayed ready throughout')
})

t.test('reconcile removes a copy the member removed a moment ago', async (t) => {
  const hub = new FakeHub()
  const a = await startNode(t, hub, 'n1')
  const b = await startNode(t, hub, 'n2')
  const s = await request(a, [], (x) => { x.set('k', 1) })
  await hub.settle()
  t.ok(b.manager.inspect(s.id!), 'n2 holds a copy')
  // n2 misses the logout
  hub.filter = (m) => m.t === 'expired' ? 'drop' : 'deliver'
  await request(a, [s.id!], (x) => { x.invalidate() })
  await hub.settle()
  hub.filter = null
  t.ok(b.manager.inspect(s.id!), 'n2 still holds the logged-out session')
  b.channel.emit('memberAdded', a.channel.local)
  for (let i = 0; i < 10 && b.manager.inspect(s.id!) !== null; i++) await hub.settle()
  t.equal(b.manager.inspect(s.id!), null, 'after the digests crossed, the copy is gone')
  t.equal(a.manager.inspect(s.id!), null, 'and it was not pushed back to n1')
})

t.test('a user who fails over to a node with an older copy gets the newest one a peer holds', async (t) => {
  const hub = new FakeHub()
  const a = await startNode(t, hub, 'n1')
  const b = await startNode(t, hub, 'n2')
  const c = await startNode(t, hub, 'n3', { sessionFetchTimeout: 5000 })
  const s = await request(a, [], (x) => { x.set('count', 1) })
  await hub.settle()
  // n3 misses the next change (a lost message), n2 gets it
  hub.filter = (m, _from, to) => m.t === 'delta' && to === c.channel ? 'drop' : 'deliver'
  await request(a, [s.id!], (x) => { x.set('count', 2) })
  await hub.settle()
  hub.filter = null
  t.equal(c.manager.inspect(s.id!)?.version, 1, 'n3 holds a stale copy')
  // n1 dies; the balancer sends the user to n3, whose copy is stale
  await a.manager.stop(); a.channel.crash()
  let seen: unknown
  const r = await viaPrepare(c, [s.id!], (x) => { seen = x.get('count'); x.set('count', Number(x.get('count')) + 1) })
  t.equal(seen, 2, 'the app saw the newest copy (from n2), not its own stale one')
  t.equal(r.id, s.id!.replace(/\.n1$/, '.n3'), 'renamed to n3 as after any failover')
  t.equal(c.manager.stats().fetch.found, 1)
  await hub.settle()
  t.same(attrs(b, r.id!), { count: 3 }, 'and no write is lost on n2 either')
  t.equal(c.manager.stats().conflicts + b.manager.stats().conflicts, 0, 'no conflict: the write built on the newest copy')
})

t.test('while its copies are suspect, a node serves a held session only once a peer confirmed it; unconfirmed: refused unprocessed', async (t) => {
  const hub = new FakeHub()
  const a = await startNode(t, hub, 'n1')
  const b = await startNode(t, hub, 'n2', { sessionFetchTimeout: 2000 })
  const s = await request(a, [], (x) => { x.set('count', 1) })
  await hub.settle()
  // b misses a change, then stalls (the service calls suspect())
  hub.filter = (m, _from, to) => m.t === 'delta' && to === b.channel ? 'drop' : 'deliver'
  await request(a, [s.id!], (x) => { x.set('count', 2) })
  await hub.settle()
  hub.filter = null
  const own = s.id!.replace(/\.n1$/, '.n2')
  t.equal(b.manager.prepare([own]), null, 'not suspect: a session under this node\'s own route is served as held')
  b.manager.suspect('test', 60_000)
  let seen: unknown
  await viaPrepare(b, [own], (x) => { seen = x.get('count') })
  t.equal(seen, 2, 'suspect: the peer\'s newer copy was fetched first')
  // the peer does not answer: the request is refused, not served from a copy nobody confirmed
  hub.filter = (m) => m.t === 'session-request' ? 'drop' : 'deliver'
  await t.rejects(b.manager.prepare([own])!, { code: 'WAS_ERR_SESSION_UNVERIFIED', statusCode: 503, unprocessed: 'unverified' })
})

t.test('a peer that refuses the connection (its process is gone) counts as an answer: a suspect node serves what it holds, or a newer copy another peer has', async (t) => {
  const hub = new FakeHub()
  const a = await startNode(t, hub, 'n1')
  // why a long fetch timeout: were the refusal not counted, the request would wait it out and be refused
  const b = await startNode(t, hub, 'n2', { sessionFetchTimeout: 60_000 })
  const c = await startNode(t, hub, 'n3')
  const s = await request(a, [], (x) => { x.set('count', 1) })
  await hub.settle()
  const own = s.id!.replace(/\.n1$/, '.n2')
  b.manager.suspect('test', 600_000)
  // a was SIGKILLed a moment ago: b still lists it, but its address refuses; c answers
  hub.filter = (m, _from, to) => m.t === 'session-request' && to === a.channel ? 'refuse' : 'deliver'
  let seen: unknown
  await viaPrepare(b, [own], (x) => { seen = x.get('count') })
  t.equal(seen, 1, 'served, checked with the peer that answered')
  const before = b.manager.stats().fetch
  // c's copy is newer (b missed the change); a refuses: the newer copy wins
  hub.filter = (m, _from, to) => (m.t === 'delta' && to === b.channel) ? 'drop' : 'deliver'
  await request(c, [s.id!], (x) => { x.set('count', 2) })
  await hub.settle()
  hub.filter = (m, _from, to) => m.t === 'session-request' && to === a.channel ? 'refuse' : 'deliver'
  await viaPrepare(b, [own], (x) => { seen = x.get('count') })
  t.equal(seen, 2, 'the newer copy of the peer that answered is served')
  // every peer refuses: nobody running holds a newer copy, so b's own is the cluster's best
  hub.filter = (m) => m.t === 'session-request' ? 'refuse' : 'deliver'
  await viaPrepare(b, [own], (x) => { seen = x.get('count') })
  t.equal(seen, 2, 'with every peer gone, the node serves its own copy instead of refusing the user')
  const after = b.manager.stats().fetch
  t.equal(after.timedOut, before.timedOut, 'no fetch waited out its timeout')
  t.equal(after.timedOut, 0, 'none at all')
})
