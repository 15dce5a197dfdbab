/**
 * Issue 12 §4 as it was found: two nodes with the example shop, static membership on 127.0.0.1,
 * no cluster key. A third node started by another local user, whose static list names the two
 * real nodes, was accepted as a member by both (neither listed it) and received the replicated
 * sessions. Now the list is an allow-list: the intruder is refused and counted, and holds no
 * session. (What a keyless loopback cluster still cannot stop is in SECURITY.md.)
 */
import t from 'tap'
import { freePorts } from '../../../test/lib/ports.js'
import { testNode, until } from './helpers/service-nodes.js'
import { request, cookieValue } from './helpers/http-client.js'

t.test('a node that lists the real nodes but is not listed by them is refused, counted, and receives no session', async (t) => {
  const [h1, r1, h2, r2, h3, r3] = await freePorts(6)
  const [n1, n2] = await Promise.all([
    testNode(t, 'n1', { http: h1!, receiver: r1! }, [r2!]),
    testNode(t, 'n2', { http: h2!, receiver: r2! }, [r1!])
  ])
  const intruder = await testNode(t, 'intruder', { http: h3!, receiver: r3! }, [r1!, r2!], { stateTransferTimeout: 3 })
  const status = async (url: string): Promise<any> => (await request(url, '/_nodecat/status')).json()

  const form = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }
  const login = await request(n1.node.url, '/login', { method: 'POST', headers: form, body: 'user=ada' })
  const cookie = `JSESSIONID=${cookieValue(login.setCookies)!}`
  await request(n1.node.url, '/cart', { method: 'POST', headers: { ...form, cookie }, body: 'item=tea' })
  await until(async () => (await status(n2.node.url)).sessions.count === 1, 'n2 to hold the session')
  await until(async () => (await Promise.all([n1, n2].map(async (n) => (await status(n.node.url)).replication.dropped.channel['not-listed'] ?? 0))).every((d: number) => d >= 3), 'both nodes to count the intruder\'s heartbeats')

  for (const n of [n1, n2]) {
    const s = await status(n.node.url)
    t.same(s.members.map((m: { route: string }) => m.route), [n === n1 ? 'n2' : 'n1'], `${n.node.options.jvmRoute} lists only its listed peer`)
    t.ok(s.replication.dropped.channel['not-listed'] >= 3, 'the refusals are counted in its status')
  }
  const i = await status(intruder.node.url)
  t.same(i.members, [], 'the intruder is nobody\'s member')
  t.equal(i.sessions.count, 0, 'and holds no session')
  t.equal(i.replication.received, 0, 'it received no replication message at all')
  const stolen = await request(intruder.node.url, '/api/state', { headers: { cookie, accept: 'application/json' } })
  t.notMatch(stolen.body, /ada|tea/, 'asking it with the user\'s cookie shows nothing of the session')
})
