/**
 * The primary/backup manager under a rolling restart: 4 nodes on 2 "hosts" (--host-id A for n1, n2
 * and B for n3, n4), --manager backup --backups 1, sync mode, behind a discovering balancer; every
 * node in turn is stopped with SIGTERM and started again while users keep writing.
 */
import t from 'tap'
import { startCluster, describe, sleep, startLoad, lossReport, rollingRestart } from './lib/cluster.js'
import { waitUntil } from '@nodecat/testkit'

const HOST_OF: Record<string, string> = { n1: 'A', n2: 'A', n3: 'B', n4: 'B' }
const backupArgs = (route: string) => ['--manager', 'backup', '--backups', '1', '--host-id', HOST_OF[route]!]

t.test('backup manager: rolling restart of every node under load, sync mode: no session lost', async (t) => {
  const c = await startCluster(t, { nodes: 4, mode: 'sync', discover: true, nodeArgs: backupArgs })
  await c.waitMembers(30_000)
  for (const n of c.nodes) await c.waitWorkerState(n.route, ['OK'], 30_000)
  // bounded: stopped after the roll, 120 s and 2000 steps per user at most
  const load = startLoad(c.balancerUrl, { clients: 4, durationMs: 120_000, pauseMs: 100, prefix: 'b' })
  await waitUntil('every user logged in', () => load.users.every((u) => u.loggedInAt !== null), 30_000)
  await sleep(500)
  await rollingRestart(t, c, 300)
  load.stop()
  await load.done
  const requests = load.users.reduce((n, u) => n + u.client.log.length, 0)
  const failed = load.users.flatMap((u) => u.client.failures().map((a) => `${u.name}: ${describe(a)}`))
  t.comment(`rolling restart of 4 backup-manager nodes: ${requests} requests, ${failed.length} failed`)
  t.same(failed, [], 'no request failed (the stops are graceful)')
  t.same(await lossReport(load.users), { lostSessions: [], lostCounts: [], lostItems: [], impossible: [] }, 'every session survived with its acknowledged data')
})
