/**
 * Compound fault (issue 11): a joining node's state-transfer sender dies mid-transfer while another
 * full replica is alive. 127.0.0.1, static membership, sync mode, 3 nodes behind the balancer
 * (default health checks on /_nodecat/ready, every 500 ms).
 *
 * Why 127.0.0.1 and SIGKILL: the fault here is the sender's death; a link cut during a transfer
 * (the sender alive but unreachable) needs namespaces and is compound-transfer-partition.test.ts.
 *
 * Injected, under load (8 users through the balancer, each incrementing a counter, adding to a
 * cart and reading, one request at a time):
 * - n3 stopped (SIGTERM), then 400 sessions of 64 KB (test/lib/fill-app.mjs: 25 MB, 7 chunks of
 *   a transfer) made on n1 and replicated to n2, so n3's transfer takes a while;
 * - n3 started; when its /_nodecat/status shows the transfer under way (stateTransfer.state
 *   'running', sessionsReceived > 0), its sender (the longest-running member, n1) is SIGKILLed;
 *   n1 is started again 1.5 s later (as a supervisor would).
 *
 * Asserted:
 * - the transfer was caught under way, from n1; n3 then asked n2 and its transfer ended 'done'
 *   (it did not become ready with the part n1 had sent), with every session, the same copies as
 *   n2's;
 * - no answer the users got showed a fresh session, another user's data or a stale copy (every
 *   2xx answer shows everything acknowledged before it was sent);
 * - every failed request is one the retry rules allow: a POST in flight on the killed n1 (502, at
 *   most one per user); nothing else;
 * - at the end, with every node ready: zero acknowledged writes lost, read through the balancer and
 *   directly on each node, and identical copies of every session on the three nodes.
 */
import t from 'tap'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startCluster, sleep, type ClusterNode } from './lib/cluster.js'
import {
  startCompoundLoad, fetchTransport, loadSummary, timeline, nodeStatus, waitReady, fillSessions, waitTransferUnderWay, dumpRun, assertNothingLost
} from './lib/compound.js'

const FILL_APP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'fill-app.mjs')
const SESSIONS = 400
const KB = 64
const ASKING = 'asking the longest-running member for all sessions'

t.test('a joiner\'s transfer sender is SIGKILLed mid-transfer, another replica alive: under load, sync, nothing lost', async (t) => {
  const c = await startCluster(t, { nodes: 3, mode: 'sync', nodeArgs: ['--app', FILL_APP] })
  const [n1, n2, n3] = c.nodes as [ClusterNode, ClusterNode, ClusterNode]
  const { mark } = timeline((l) => t.comment(l))
  n3.proc!.signal('SIGTERM')
  await n3.proc!.exited
  mark('n3 stopped (SIGTERM)')
  const filled = await fillSessions(n1.url, SESSIONS, KB)
  mark(`${filled.length} sessions of ${KB} KB made on n1 (replicated to n2)`)

  // bounded: stopped below; 120 s and 3000 steps per user at most
  const load = startCompoundLoad(c.balancerUrl, fetchTransport, { users: 8, durationMs: 120_000, prefix: 'sd' })
  t.teardown(load.stop)
  await load.loggedIn
  await sleep(1500) // some load before the faults
  mark(`load running: ${load.requests()} requests so far`)

  await n3.start({ listening: true })
  mark('n3 started (listening)')
  const underWay = await waitTransferUnderWay(n3.url)
  t.ok(underWay !== null, 'n3\'s state transfer was caught under way')
  if (underWay === null) { load.stop(); await load.done; return }
  const routeOfMember = new Map<string, string>(underWay.members.map((m: any) => [m.id, m.route]))
  const sender = routeOfMember.get(n3.lines().filter((l) => l.msg === ASKING).at(-1)?.member as string)
  t.equal(sender, 'n1', 'n3 was receiving from the longest-running member, n1')
  const killAt = Date.now()
  await n1.kill('SIGKILL')
  const n1Killed = n1.lines()
  mark(`SIGKILL n1 (n3 had ${underWay.stateTransfer.sessionsReceived} sessions in ${underWay.stateTransfer.chunksReceived} chunks)`)
  const restartN1 = sleep(1500).then(async () => { await n1.start({ listening: true }); mark('n1 restarted by its supervisor (listening)') })

  await n3.proc!.waitFor((l) => l.event === 'node-ready', 90_000, 'node-ready of n3')
  mark('n3 ready')
  const s3 = await nodeStatus(n3.url)
  t.equal(s3.stateTransfer.state, 'done', 'n3\'s transfer completed (not given up with the part n1 had sent)')
  const asks = n3.lines().filter((l) => l.msg === ASKING).map((l) => routeOfMember.get(l.member as string) ?? l.member)
  t.ok(asks.includes('n2'), `n3 asked n2 after n1 died (asks: ${asks.join(', ')})`)
  t.ok(s3.sessions.count >= SESSIONS + load.users.length, `n3 holds every session (${s3.sessions.count})`)

  await restartN1
  t.same(await waitReady(c.nodes.map((n) => n.url)), [], 'every node is ready again')
  for (const n of c.nodes) await c.waitWorkerState(n.route, ['OK'], 30_000)
  mark('every node ready and OK in the balancer')
  await sleep(1500) // some load with every node back
  load.stop()
  await load.done
  mark(`load stopped: ${loadSummary(load.users)}`)
  dumpRun(load.users, { n1killed: n1Killed, n1: n1.lines(), n2: n2.lines(), n3: n3.lines(), balancer: c.balancer!.lines })

  await assertNothingLost(t, load.users, { kills: [{ route: 'n1', at: killAt }] }, c.nodes, [2, 1])
})
