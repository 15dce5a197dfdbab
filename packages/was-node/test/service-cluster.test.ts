import t from 'tap'
import { freePorts } from '../../../test/lib/ports.js'
import { testNode, until } from './helpers/service-nodes.js'
import { request, cookieValue } from './helpers/http-client.js'

const json = (cookie?: string) => ({ accept: 'application/json', ...(cookie ? { cookie: `JSESSIONID=${cookie}` } : {}) })
const form = (body: string, cookie?: string) => ({
  method: 'POST',
  body,
  headers: { ...json(cookie), 'content-type': 'application/x-www-form-urlencoded' }
})

t.test('two nodes on 127.0.0.1: a session written through A is read through B, which rebinds it to its route', async (t) => {
  const [httpA, httpB, rcvA, rcvB] = await freePorts(4)
  const a = await testNode(t, 'nodeA', { http: httpA!, receiver: rcvA! }, [rcvB!])
  const b = await testNode(t, 'nodeB', { http: httpB!, receiver: rcvB! }, [rcvA!])
  await until(() => a.node.channel.members().length === 1 && b.node.channel.members().length === 1, 'both nodes to see each other')

  // write through A: login (regenerate), a counter, a cart mutated in place
  const login = await request(a.node.url, '/login', form('user=ann'))
  t.equal(login.status, 200)
  let id = cookieValue(login.setCookies)!
  t.match(id, /\.nodeA$/, 'A minted an id with its route')
  const counted = await request(a.node.url, '/count', form('', id))
  t.equal(counted.json().count, 1)
  await request(a.node.url, '/cart', form('item=apple', id))
  const cart = await request(a.node.url, '/cart', form('item=pear', id))
  t.same(cart.json().cart, ['apple', 'pear'], 'A sees the in-place push')
  t.equal(cart.json().jvmRoute, 'nodeA')

  // read through B with the same cookie (async replication: poll until the delta is there)
  const base = id.split('.')[0]!
  const viaB = await until(async () => {
    const r = await request(b.node.url, '/api/state', { headers: json(id) })
    return Array.isArray(r.json().cart) && r.json().cart.length === 2 ? r : null
  }, 'the session to reach B')
  const state = viaB!.json()
  t.equal(state.jvmRoute, 'nodeB', 'served by B')
  t.equal(state.user, 'ann')
  t.equal(state.count, 1)
  t.same(state.cart, ['apple', 'pear'], 'the in-place change was replicated')
  const rebound = cookieValue(viaB!.setCookies)
  t.equal(rebound, `${base}.nodeB`, 'B rebinds the session to its route with a new cookie')
  t.equal(state.sessionId, rebound)
  id = rebound!

  // B writes, A reads the change (and the renamed id)
  await request(b.node.url, '/count', form('', id))
  const backOnA = await until(async () => {
    const r = await request(a.node.url, '/api/state', { headers: json(id) })
    return r.json().count === 2 ? r : null
  }, 'B\'s change to reach A')
  t.equal(backOnA!.json().user, 'ann')

  // the status endpoint: both members, counters, and no session ids
  const status = await request(a.node.url, '/_nodecat/status')
  t.equal(status.status, 200)
  const doc = status.json()
  t.equal(doc.jvmRoute, 'nodeA')
  t.equal(doc.members.length, 1)
  t.equal(doc.members[0].route, 'nodeB', 'A lists B as a member')
  t.equal(doc.members[0].http, b.node.url, 'with its advertised HTTP URL')
  t.ok(doc.members[0].aliveTime >= 0)
  t.same(doc.foreignMembers, [])
  t.equal(doc.member.route, 'nodeA')
  t.ok(doc.sessions.count >= 1, 'session count')
  t.ok(doc.replication.sent >= 1, 'replication sent counter')
  t.ok(doc.replication.received >= 1, 'replication received counter')
  t.type(doc.replication.queued, 'number')
  t.type(doc.replication.lag.maxMs, 'number')
  t.equal(doc.stateTransfer.state === 'idle' || doc.stateTransfer.state === 'done', true, 'state transfer over')
  t.notOk(status.body.includes(base), 'no session id in the status')
  t.notOk(status.body.includes('apple'), 'no session contents in the status')
  const page = await request(a.node.url, '/_nodecat/status', { headers: { accept: 'text/html' } })
  t.match(page.headers['content-type'], /text\/html/, 'a browser gets a page')
  t.match(page.body, /<h1>node nodeA/)
  t.match(page.body, /<td>nodeB<\/td>/, 'the page lists B')
  t.notOk(page.body.includes(base), 'no session id on the page')
  t.equal((await request(a.node.url, '/_nodecat/status?format=json', { headers: { accept: 'text/html' } })).json().jvmRoute, 'nodeA', '?format=json wins')
  const metrics = await request(a.node.url, '/_nodecat/metrics')
  t.equal(metrics.status, 200)
  t.match(metrics.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  t.match(metrics.body, /^nodecat_members\{route="nodeA",kind="nodecat"\} 1$/m, 'Prometheus: one nodecat member')
  t.match(metrics.body, /^nodecat_replication_messages_total\{route="nodeA",direction="sent"\} [1-9]\d*$/m)
  t.match(metrics.body, /^nodecat_ready\{route="nodeA"\} 1$/m)
  t.notOk(metrics.body.includes(base), 'no session id in the metrics')
  const statusB = (await request(b.node.url, '/_nodecat/status')).json()
  t.equal(statusB.members[0].route, 'nodeA', 'B lists A')

  // logout on A ends the session on B too
  await request(a.node.url, '/logout', form('', id))
  await until(async () => (await request(b.node.url, '/api/state', { headers: json(id) })).json().sessionId === null, 'the invalidation to reach B')
  t.pass('invalidated everywhere')

  // membership changes were logged, one line each
  t.ok(a.lines.some((l) => l.event === 'member-added' && l.member.route === 'nodeB'), 'A logged B joining')
})

t.test('a node that starts later gets the existing sessions by state transfer', async (t) => {
  const [httpA, httpC, rcvA, rcvC] = await freePorts(4)
  const a = await testNode(t, 'nodeA', { http: httpA!, receiver: rcvA! }, [rcvC!])
  const first = await request(a.node.url, '/count', form(''))
  const id = cookieValue(first.setCookies)!
  const c = await testNode(t, 'nodeC', { http: httpC!, receiver: rcvC! }, [rcvA!])
  await until(() => c.node.channel.members().length === 1, 'C to see A')
  const r = await until(async () => {
    const res = await request(c.node.url, '/api/state', { headers: json(id) })
    return res.json().count === 1 ? res : null
  }, 'the transferred session on C')
  t.equal(r!.json().jvmRoute, 'nodeC')
  t.ok(c.lines.some((l) => l.event === 'node-ready'), 'C logged that its sessions are ready')
})

t.test('sync send mode (channelSendOptions 6): when A has answered, B already has the change', async (t) => {
  const [httpA, httpB, rcvA, rcvB] = await freePorts(4)
  const a = await testNode(t, 'syncA', { http: httpA!, receiver: rcvA! }, [rcvB!], { channelSendOptions: 6 })
  const b = await testNode(t, 'syncB', { http: httpB!, receiver: rcvB! }, [rcvA!], { channelSendOptions: 'sync' })
  await until(() => a.node.channel.members().length === 1 && b.node.channel.members().length === 1, 'both nodes to see each other')
  let id: string | undefined
  for (let i = 1; i <= 5; i++) {
    const r = await request(a.node.url, '/cart', form(`item=thing${i}`, id))
    id ??= cookieValue(r.setCookies)
    // no polling: in sync mode the response waits until every peer applied the delta
    const received = Object.values(b.node.store.stats().received).reduce((x, y) => x + (y ?? 0), 0)
    t.ok(received >= i, `B had received ${received} session messages by request ${i}`)
    const onB = await request(b.node.url, '/api/state', { headers: json(id) })
    t.equal(onB.json().cart.length, i, `B sees item ${i} right after A answered`)
    id = cookieValue(onB.setCookies) ?? id // B rebinds the id to itself; A follows next time
  }
})
