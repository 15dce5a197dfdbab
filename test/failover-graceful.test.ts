/**
 * SIGTERM of a node under light load (4 users, a request every ~50 ms each, about 5 s): the node
 * finishes what it has in flight and leaves the cluster cleanly, so no request fails (not even a
 * POST), no session is lost and nothing acknowledged is lost; the users of the stopped node end
 * up on the survivor. The node exits with code 0.
 */
import t from 'tap'
import { startCluster, startLoad, lossReport, sleep, describe } from './lib/cluster.js'

t.test('SIGTERM under light load: no request fails', async (t) => {
  const c = await startCluster(t, { nodes: 2, mode: 'sync' })
  const load = startLoad(c.balancerUrl, { clients: 4, durationMs: 5000, pauseMs: 50, prefix: 'g' })
  const until = Date.now() + 30_000
  while (load.users.some((u) => u.loggedInAt === null) && Date.now() < until) await sleep(50)
  t.ok(load.users.every((u) => u.loggedInAt !== null), 'every user logged in')
  await sleep(1500)
  const victim = load.users[0]!.client.route!
  const node = c.node(victim)
  const termAt = Date.now()
  node.proc!.signal('SIGTERM')
  const exit = await node.proc!.exited
  t.same(exit, { code: 0, signal: null }, `${victim} exits 0 after SIGTERM`)
  await load.done

  const requests = load.users.reduce((n, u) => n + u.client.log.length, 0)
  const failed = load.users.flatMap((u) => u.client.log.flatMap((a, i) => a.status === 200 ? [] : [`${u.name}: ${describe(a)}, sent ${(u.startedAt[i] ?? NaN) - termAt} ms after SIGTERM`]))
  t.comment(`SIGTERM of ${victim}: ${requests} requests, ${failed.length} failed`)
  t.same(failed, [], 'no request failed')
  const loss = await lossReport(load.users)
  t.same(loss, { lostSessions: [], lostCounts: [], lostItems: [], impossible: [] }, 'no session and no acknowledged write lost')
  const survivor = c.others(victim)[0]!.route
  t.ok(load.users.every((u) => u.client.route === survivor), 'every cookie names the survivor at the end')
})
