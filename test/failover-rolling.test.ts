/**
 * Rolling restart under light load: every node in turn is stopped with SIGTERM and started again,
 * and the next one goes down only after the restarted node has its sessions (its `node-ready`
 * line: state transfer done) and the balancer sees it OK again. At the end every session still
 * exists with everything that was acknowledged, and no request failed (the stops are graceful).
 */
import t from 'tap'
import { startCluster, startLoad, lossReport, sleep, describe, rollingRestart } from './lib/cluster.js'

t.test('rolling restart of every node under light load: every session survives with its data', async (t) => {
  const c = await startCluster(t, { nodes: 2, mode: 'sync' })
  // bounded: stopped below once the roll is done, 60 s and 2000 steps per user at most
  const load = startLoad(c.balancerUrl, { clients: 3, durationMs: 60_000, pauseMs: 100, prefix: 'r' })
  const until = Date.now() + 30_000
  while (load.users.some((u) => u.loggedInAt === null) && Date.now() < until) await sleep(50)
  t.ok(load.users.every((u) => u.loggedInAt !== null), 'every user logged in')
  await sleep(1000)

  await rollingRestart(t, c)
  load.stop()
  await load.done

  const requests = load.users.reduce((n, u) => n + u.client.log.length, 0)
  const failed = load.users.flatMap((u) => u.client.failures().map((a) => `${u.name}: ${describe(a)}`))
  t.comment(`rolling restart of ${c.nodes.length} nodes: ${requests} requests, ${failed.length} failed`)
  t.same(failed, [], 'no request failed')
  const loss = await lossReport(load.users)
  t.same(loss, { lostSessions: [], lostCounts: [], lostItems: [], impossible: [] }, 'every session survived with its acknowledged data')
  // every node now holds every session: read each user's session directly on each node
  for (const node of c.nodes) {
    for (const u of load.users) {
      const a = await u.client.request('GET', '/api/state', undefined, node.url)
      t.equal(a.state?.user, u.name, `${node.route} serves ${u.name}'s session`)
    }
  }
})
