/**
 * The balancer restarted under load (127.0.0.1, 3 nodes, sync): 9 users through the balancer
 * (bounded: 2000 steps and 8 s each). The balancer is SIGKILLed and started again on the same
 * port with the same flags; it keeps no session state, so routing must follow from the cookie
 * alone (its jvmRoute suffix).
 *
 * Counted: requests that failed while it was down (connection refused is expected then).
 * Asserted: every failure is a connection error (status 0), sent while no balancer was listening
 * or in flight when it was killed (at most one per user); after it is back every answer is a 2xx from the node the user's cookie names, and no session or
 * acknowledged write is lost.
 */
import t from 'tap'
import { startCluster, startLoad, lossReport, sleep, describe } from './lib/cluster.js'
import { startNode } from './lib/proc.js'

t.test('balancer SIGKILLed and restarted under load: routing from the cookie alone', async (t) => {
  const c = await startCluster(t, { nodes: 3, mode: 'sync' })
  const balancerArgs = [
    '--listen', c.balancerUrl.replace('http://', ''), '--admin', c.adminUrl.replace('http://', ''),
    ...c.nodes.flatMap((o) => ['--worker', `${o.route}=${o.url}`]), '--health-interval', '500', '--connect-timeout', '1000'
  ]
  const load = startLoad(c.balancerUrl, { clients: 9, durationMs: 8000, pauseMs: 20, prefix: 'br' })
  const until = Date.now() + 30_000
  while (load.users.some((u) => u.loggedInAt === null) && Date.now() < until) await sleep(50)
  t.ok(load.users.every((u) => u.loggedInAt !== null), 'every user logged in')
  await sleep(1000)
  const spread = ['n1', 'n2', 'n3'].map((r) => `${r}:${load.users.filter((u) => u.client.route === r).length}`).join(' ')

  const downAt = Date.now()
  c.balancer!.signal('SIGKILL')
  await c.balancer!.exited
  await sleep(500) // down for a moment under load
  const restarted = startNode(t, 'balancer', 'cli.js', balancerArgs)
  await restarted.waitFor((l) => l.msg === 'balancer started', 30_000, 'balancer started again')
  const upAt = Date.now()
  await load.done

  const all = load.users.flatMap((u) => u.client.log.map((a, i) => ({ u, a, at: u.startedAt[i]! })))
  const failed = all.filter(({ a }) => a.status < 200 || a.status >= 300)
  const during = failed.filter(({ at }) => at >= downAt && at <= upAt)
  t.comment(`sessions per node ${spread}; balancer down ${upAt - downAt} ms; ${all.length} requests, ${failed.length} failed (${during.length} sent while it was down)`)
  t.ok(during.length > 0, 'requests were sent while the balancer was down (the load really ran through the restart)')
  t.same(failed.filter(({ a }) => a.status !== 0).map(({ u, a }) => `${u.name}: ${describe(a)}`), [], 'every failure is a connection error, never an error answer')
  // a request in flight when the balancer died loses its connection (reset): one per user at most
  const inFlight = failed.filter(({ at }) => at < downAt)
  t.comment(`in flight at the kill and reset: ${inFlight.length}`)
  t.ok(load.users.every((u) => inFlight.filter(({ u: x }) => x === u).length <= 1), 'before the kill, only the one request each user had in flight failed')
  t.same(failed.filter(({ at }) => at > upAt).map(({ u, a }) => `${u.name}: ${describe(a)}`), [], 'no request sent after the balancer was back failed')
  const afterUp = all.filter(({ at }) => at > upAt)
  t.ok(afterUp.length > 0, `${afterUp.length} requests after the balancer was back`)
  const misrouted = afterUp.filter(({ a }) => a.state !== null && a.state.sessionId !== null && !String(a.state.sessionId).endsWith(`.${a.state.jvmRoute}`))
  t.same(misrouted.map(({ u, a }) => `${u.name}: ${a.state!.sessionId!.slice(-4)} served by ${a.state!.jvmRoute}`), [], 'after it is back every request is served by the node its session id names')
  t.ok(load.users.every((u) => u.client.route !== null && afterUp.some(({ u: x, a }) => x === u && a.state?.jvmRoute === u.client.route)), 'every user is on the node their cookie names')
  const sticky = load.users.every((u) => { const r = afterUp.filter(({ u: x }) => x === u).map(({ a }) => a.state?.jvmRoute); return new Set(r).size === 1 })
  t.ok(sticky, 'and stays there (no node failed, so no user moved)')
  const loss = await lossReport(load.users)
  t.same(loss, { lostSessions: [], lostCounts: [], lostItems: [], impossible: [] }, 'no session or acknowledged write lost')
})
