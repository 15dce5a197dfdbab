/**
 * Compound fault (issue 11): a node is killed and restarted, and while it is still receiving its
 * state transfer the node sending it is killed too. 127.0.0.1, static membership, sync mode, 3
 * nodes behind the balancer (default health checks on /_nodecat/ready, every 500 ms).
 *
 * Injected, under load (8 users through the balancer, each incrementing a counter, adding to a
 * cart and reading, one request at a time):
 * - 400 sessions of 64 KB (test/lib/fill-app.mjs: 25 MB, 7 chunks of a transfer) made first, so
 *   a transfer takes a while;
 * - n1 SIGKILLed, and started again at once (as a supervisor would);
 * - when n1's /_nodecat/status shows its transfer under way (stateTransfer.state 'running' and
 *   sessionsReceived > 0), the member it is receiving from (the longest-running member: n2) is
 *   SIGKILLed; n2 is started again 1.5 s later without waiting for anything.
 *
 * Asserted:
 * - the transfer was caught under way and its sender was the node killed; n1 asked another
 *   member afterwards and its transfer ended 'done' (not given up), holding every session;
 * - no answer the users got showed a fresh session, another user's data or a stale copy (every
 *   2xx answer shows everything acknowledged before it was sent);
 * - every failed request is one the retry rules allow: a POST in flight on a killed node (502, at
 *   most one per user per kill); nothing else;
 * - at the end, with every node ready: zero acknowledged writes lost, read through the balancer
 *   and directly on each node (each node serves every user's newest data), and the three nodes
 *   hold identical copies of every session.
 */
import t from 'tap'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startCluster, sleep, type ClusterNode } from './lib/cluster.js'
import {
  startCompoundLoad, fetchTransport, staleAnswers, unexpectedFailures, finalLoss, loadSummary, timeline,
  nodeStatus, waitReady, fillSessions, waitTransferUnderWay, waitSameReplicas, replicaDiff
} from './lib/compound.js'

const FILL_APP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'fill-app.mjs')
const SESSIONS = 400
const KB = 64
const ASKING = 'asking the longest-running member for all sessions'

t.test('kill n1, restart it, kill its state-transfer sender mid-transfer: under load, sync, nothing lost', async (t) => {
  const c = await startCluster(t, { nodes: 3, mode: 'sync', nodeArgs: ['--app', FILL_APP] })
  const [n1, , n3] = c.nodes as [ClusterNode, ClusterNode, ClusterNode]
  const { mark } = timeline((l) => t.comment(l))
  const filled = await fillSessions(n3.url, SESSIONS, KB)
  mark(`${filled.length} sessions of ${KB} KB made on n3 (replicated to n1, n2)`)

  // bounded: stopped below; 120 s and 3000 steps per user at most
  const load = startCompoundLoad(c.balancerUrl, fetchTransport, { users: 8, durationMs: 120_000, prefix: 'kt' })
  t.teardown(load.stop)
  await load.loggedIn
  await sleep(1500) // some load before the faults
  mark(`load running: ${load.requests()} requests so far`)

  const kills: Array<{ route: string, at: number }> = []
  const killAt = async (n: ClusterNode): Promise<void> => {
    kills.push({ route: n.route, at: Date.now() })
    await n.kill('SIGKILL')
    mark(`SIGKILL ${n.route}`)
  }
  await killAt(n1)
  await n1.start({ listening: true })
  mark('n1 restarted (listening)')
  const underWay = await waitTransferUnderWay(n1.url)
  t.ok(underWay !== null, 'n1\'s state transfer was caught under way')
  if (underWay === null) { load.stop(); await load.done; return }
  // whom n1 is receiving from: its latest ask
  const asked = n1.lines().filter((l) => l.msg === ASKING).map((l) => l.member as string)
  const routeOfMember = new Map<string, string>(underWay.members.map((m: any) => [m.id, m.route]))
  const sender = c.node(routeOfMember.get(asked.at(-1)!) ?? '?')
  await killAt(sender)
  mark(`(n1 had ${underWay.stateTransfer.sessionsReceived} sessions in ${underWay.stateTransfer.chunksReceived} chunks from ${sender.route})`)
  t.equal(sender.route, 'n2', 'n1 was receiving from the longest-running member, n2, which was killed')
  const restartSender = sleep(1500).then(async () => { await sender.start({ listening: true }); mark(`${sender.route} restarted (listening)`) })

  await n1.proc!.waitFor((l) => l.event === 'node-ready', 90_000, 'node-ready of n1')
  mark('n1 ready')
  await restartSender
  const notReady = await waitReady(c.nodes.map((n) => n.url))
  t.same(notReady, [], 'every node is ready again')
  mark('every node ready')
  for (const n of c.nodes) await c.waitWorkerState(n.route, ['OK'], 30_000)
  await sleep(1500) // some load with every node back
  load.stop()
  await load.done
  mark(`load stopped: ${loadSummary(load.users)}`)

  const s1 = await nodeStatus(n1.url)
  t.equal(s1.stateTransfer.state, 'done', 'n1\'s transfer completed (not given up with part of the sessions)')
  const asks = n1.lines().filter((l) => l.msg === ASKING).map((l) => routeOfMember.get(l.member as string) ?? l.member)
  t.ok(asks.includes('n3'), `n1 asked n3 after its sender died (asks: ${asks.join(', ')})`)
  t.ok(s1.sessions.count >= SESSIONS + load.users.length, `n1 holds every session (${s1.sessions.count})`)

  t.same(staleAnswers(load.users), [], 'no answer showed a fresh session, another user\'s data or a stale copy')
  const failures = unexpectedFailures(load.users, { kills })
  t.comment(`failed requests ${failures.failed}, allowed: ${JSON.stringify(failures.allowed)}`)
  t.same(failures.bad, [], 'every failed request is one the retry rules allow')
  t.same(await finalLoss(load.users), { lostSessions: [], lostCounts: [], lostItems: [], impossible: [] }, 'zero acknowledged writes lost (read through the balancer)')
  for (const n of c.nodes) {
    t.same(await finalLoss(load.users, n.url), { lostSessions: [], lostCounts: [], lostItems: [], impossible: [] }, `${n.route} serves every user's newest data`)
  }
  mark('final reads done')
  const { same, replicas } = await waitSameReplicas(c.nodes.map((n) => n.url))
  mark('replicas compared')
  t.ok(same, `the three nodes hold identical copies (${replicas.map((r, i) => `${c.nodes[i]!.route}=${String(r?.count)}`).join(' ')})`)
  if (!same) t.comment(`n1 vs n3: ${replicaDiff(replicas[0], replicas[2]).join('; ')}`)
})
