/**
 * Compound fault (issue 11): a node SIGKILLed in the middle of a rolling restart. 127.0.0.1,
 * static membership, sync mode, 3 nodes behind the balancer (default health checks on
 * /_nodecat/ready, every 500 ms).
 *
 * The rolling restart is scripted as the docs say (docs/READINESS.md): each node in turn is
 * stopped with SIGTERM, started again, and the next one goes down only once GET /_nodecat/ready on
 * the restarted node answers 200.
 *
 * Injected, under load (8 users through the balancer, each incrementing a counter, adding to a
 * cart and reading, one request at a time):
 * - n1 is rolled (SIGTERM, restart, ready);
 * - n2 is stopped (SIGTERM) and, while it is down for its restart, n3 is SIGKILLed: n1, restarted
 *   a moment ago from a state transfer, is the only node left holding the sessions;
 * - n2 is started again right away (it must take the sessions from n1), and n3 is started again
 *   1.5 s after its kill without waiting for anything (as a supervisor would), so its start may
 *   overlap n2's state transfer;
 * - the roll goes on once n2 is ready: n3 (once ready) is stopped with SIGTERM and restarted.
 *
 * Asserted:
 * - no answer the users got showed a fresh session, another user's data or a stale copy (every
 *   2xx answer shows everything acknowledged before it was sent);
 * - every failed request is one the retry rules allow: a POST in flight on the killed n3 (502, at
 *   most one per user); the graceful stops cost nothing (a stopping node's "not processed" 503 is
 *   retried by the balancer);
 * - at the end, with every node ready: zero acknowledged writes lost, read through the balancer and
 *   directly on each node, and identical copies of every session on the three nodes.
 */
import t from 'tap'
import { startCluster, sleep, type ClusterNode } from './lib/cluster.js'
import {
  startCompoundLoad, fetchTransport, loadSummary, timeline, waitReady, dumpRun, assertNothingLost
} from './lib/compound.js'

t.test('SIGKILL a third node while one is down for its rolling restart: under load, sync, nothing lost', async (t) => {
  const c = await startCluster(t, { nodes: 3, mode: 'sync' })
  const [n1, n2, n3] = c.nodes as [ClusterNode, ClusterNode, ClusterNode]
  const { mark } = timeline((l) => t.comment(l))
  // bounded: stopped below; 120 s and 3000 steps per user at most
  const load = startCompoundLoad(c.balancerUrl, fetchTransport, { users: 8, durationMs: 120_000, prefix: 'rk' })
  t.teardown(load.stop)
  await load.loggedIn
  await sleep(1500) // some load before the roll
  mark(`load running: ${load.requests()} requests so far`)

  const logs: Record<string, Array<Record<string, unknown>>> = {}
  const stop = async (n: ClusterNode): Promise<void> => {
    n.proc!.signal('SIGTERM')
    const exit = await n.proc!.exited
    logs[`${n.route}-run${n.starts}`] = n.lines()
    t.same(exit, { code: 0, signal: null }, `${n.route} stopped cleanly (SIGTERM)`)
    mark(`${n.route} stopped (SIGTERM)`)
  }
  const startReady = async (n: ClusterNode): Promise<void> => {
    await n.start({ listening: true })
    t.same(await waitReady([n.url]), [], `${n.route} answers /_nodecat/ready 200 after its restart`)
    mark(`${n.route} restarted and ready`)
  }

  // n1: a plain step of the roll
  await stop(n1)
  await startReady(n1)
  // n2: down for its restart when n3 is killed
  await stop(n2)
  const killAt = Date.now()
  await n3.kill('SIGKILL')
  logs[`n3-run${n3.starts}`] = n3.lines()
  mark('SIGKILL n3 while n2 is down: n1 alone holds the sessions')
  const restartN3 = sleep(1500).then(async () => { await n3.start({ listening: true }); mark('n3 restarted by its supervisor (listening)') })
  await startReady(n2)
  await restartN3
  // n3: the last step of the roll, once it is ready after its restart
  t.same(await waitReady([n3.url]), [], 'n3 is ready after its restart')
  mark('n3 ready')
  await stop(n3)
  await startReady(n3)

  t.same(await waitReady(c.nodes.map((n) => n.url)), [], 'every node is ready')
  for (const n of c.nodes) await c.waitWorkerState(n.route, ['OK'], 30_000)
  mark('roll done: every node ready and OK in the balancer')
  await sleep(1500) // some load with every node back
  load.stop()
  await load.done
  mark(`load stopped: ${loadSummary(load.users)}`)
  dumpRun(load.users, { ...logs, n1: n1.lines(), n2: n2.lines(), n3: n3.lines(), balancer: c.balancer!.lines })

  await assertNothingLost(t, load.users, { kills: [{ route: 'n3', at: killAt }] }, c.nodes, [0, 1])
})
