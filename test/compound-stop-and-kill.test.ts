/**
 * Compound fault (issue 11): one node frozen (SIGSTOP) and another killed (SIGKILL) at the same
 * moment. 127.0.0.1, static membership, sync mode, 3 nodes behind the balancer (health checks on
 * /_nodecat/ready every 500 ms; --headers-timeout 5000, above tribes' 3000 ms ack timeout: while
 * the frozen node is still a member, each replicated change on the survivor waits that long for
 * its acknowledgement before the answer goes out).
 *
 * Injected, under load (9 users through the balancer, each incrementing a counter, adding to a
 * cart and reading, one request at a time; their sessions spread over the three nodes):
 * - n1 SIGSTOPped and n2 SIGKILLed back to back (the same moment), so n3 alone serves;
 * - n2 started again 2 s later (while n1 is still frozen: it must count n1 down and take its
 *   sessions from n3);
 * - n1 SIGCONTed 6 s after the freeze (before the balancer's 10 s recover time would let a live
 *   request probe it), with whatever it received while frozen (requests and replication frames)
 *   still in its sockets.
 *
 * Asserted:
 * - no answer the users got showed a fresh session, another user's data or a stale copy (every
 *   2xx answer shows everything acknowledged before it was sent, whichever node served it; the
 *   resumed n1 included);
 * - every failed request is counted and one the retry rules allow: a POST in flight on the
 *   killed n2 (502, at most one per user), or a request in flight on the frozen n1, or sent there
 *   before the balancer put n1 in ERROR, whose cookie named n1 or n2 (504 after the headers
 *   timeout, not replayed since it reached the worker; at most one per user); nothing else;
 * - at the end, with every node ready: zero acknowledged writes lost, read through the balancer
 *   and directly on each node, and identical copies of every session on the three nodes.
 *
 * Found while this was written (failed about one run in two before 7dbc0f8): a request that was in
 * flight on n1 when it froze was answered 504 by the balancer, and the user's next request went to
 * n3, which applied and acknowledged it; on SIGCONT, n1 ran the abandoned request on its stale copy
 * before reading the replication frames waiting in its socket, and that write won (equal versions,
 * later clock), taking the acknowledged change with it. Now a request handled after a stall is
 * refused unprocessed (503 WAS_ERR_STALLED), and the node checks its copies with its peers for a
 * while before serving them.
 */
import t from 'tap'
import { startCluster, sleep, type ClusterNode } from './lib/cluster.js'
import {
  startCompoundLoad, fetchTransport, loadSummary, timeline, nodeStatus, waitReady, dumpRun, assertNothingLost
} from './lib/compound.js'

const FREEZE_MS = 6000

t.test('SIGSTOP one node and SIGKILL another at the same moment: under load, sync, nothing lost', async (t) => {
  const c = await startCluster(t, { nodes: 3, mode: 'sync', balancerArgs: ['--headers-timeout', '5000'] })
  const [n1, n2, n3] = c.nodes as [ClusterNode, ClusterNode, ClusterNode]
  const { mark } = timeline((l) => t.comment(l))
  // bounded: stopped below; 120 s and 3000 steps per user at most
  const load = startCompoundLoad(c.balancerUrl, fetchTransport, { users: 9, durationMs: 120_000, prefix: 'sk' })
  t.teardown(load.stop)
  await load.loggedIn
  await sleep(2000) // some load before the faults
  const spread = c.nodes.map((n) => `${n.route}:${load.users.filter((u) => u.route === n.route).length}`).join(' ')
  mark(`load running: ${load.requests()} requests so far; sessions per node ${spread}`)

  const stopAt = Date.now()
  n1.proc!.signal('SIGSTOP')
  t.teardown(() => { n1.proc?.signal('SIGCONT') })
  const killAt = Date.now()
  await n2.kill('SIGKILL')
  const n2Killed = n2.lines()
  mark('SIGSTOP n1, SIGKILL n2')
  const errorLine = c.balancer!.waitFor((l) => l.route === 'n1' && l.to === 'ERROR' && (l.time as number) >= stopAt, 30_000, 'the balancer puts n1 in ERROR')
  const restartN2 = sleep(2000).then(async () => { await n2.start({ listening: true }); mark('n2 restarted (listening)') })

  await sleep(Math.max(0, stopAt + FREEZE_MS - Date.now()))
  n1.proc!.signal('SIGCONT')
  mark('SIGCONT n1')
  const errorAt = (await errorLine).time as number
  mark(`(the balancer had put n1 in ERROR ${errorAt - stopAt} ms after SIGSTOP)`)
  await restartN2
  const notReady = await waitReady(c.nodes.map((n) => n.url))
  t.same(notReady, [], 'every node is ready again')
  for (const n of c.nodes) await c.waitWorkerState(n.route, ['OK'], 30_000)
  mark('every node ready and OK in the balancer')
  await sleep(2000) // some load with every node back
  load.stop()
  await load.done
  mark(`load stopped: ${loadSummary(load.users)}`)

  dumpRun(load.users, { n1: n1.lines(), n2killed: n2Killed, n2: n2.lines(), n3: n3.lines(), balancer: c.balancer!.lines })
  const conflicts = await Promise.all(c.nodes.map(async (n) => `${n.route}:${String((await nodeStatus(n.url))?.replication?.conflicts)}`))
  t.comment(`conflicting writes counted per node (copies that diverged while n1 was frozen): ${conflicts.join(' ')}`)
  await assertNothingLost(t, load.users, { kills: [{ route: 'n2', at: killAt }], frozen: [{ route: 'n1', from: stopAt, until: errorAt }] }, c.nodes, [0, 2])
})
