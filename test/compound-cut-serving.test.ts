/**
 * Compound fault (issue 11), with real multicast in network namespaces (root only; skipped with a
 * message otherwise): the link of the node serving a user is cut, with a balancer in front, and
 * later healed. 3 nodes in namespaces of their own find each other on 228.0.0.4:45564 (keyed),
 * sync mode; the balancer in a fourth namespace discovers them (health checks on /_nodecat/ready
 * every 500 ms, --headers-timeout 5000: above tribes' 3000 ms ack timeout, since the survivors'
 * replicated changes wait that long for the cut node until they drop it); the users' requests
 * start in the balancer's namespace (test/lib/ns-shop.ts request agent).
 *
 * Injected, under load (6 users through the balancer, each incrementing a counter, adding to a
 * cart and reading, one request at a time):
 * - the node serving the first user is cut off the bridge (net.cut: the process runs on, alone);
 *   the users go on through the balancer, on the survivors, for 8 s;
 * - the link is healed (net.heal); once the healed node lists its peers again, every user also
 *   reads their session directly on the healed node after each step, with their own cookie (so the healed node takes the session
 *   over, and the balancer then sends the user there too), for 8 s.
 *
 * Asserted:
 * - the user goes on with the survivor: the first user's requests after the balancer saw the cut
 *   node down are served by a survivor, still logged in;
 * - the stale copy is never served: every 2xx answer, through the balancer or directly from the
 *   healed node, shows everything acknowledged before it was sent (counter not below, no
 *   acknowledged cart item missing, the user's own session); printed: when the healed node
 *   listed its peers again and when it was brought up to date;
 * - every failed request is one the retry rules allow: a request in flight on the cut node at the
 *   cut, or sent there before the balancer put it in ERROR (504 after the headers timeout, not
 *   replayed since it reached the worker; at most one per user); nothing else;
 * - at the end: zero acknowledged writes lost, read through the balancer and directly on each
 *   node, and identical copies of every session on the three nodes.
 *
 * Found while this was written (failed in most runs before 7dbc0f8): right after the heal the
 * healed node served its stale copy to a request whose cookie named a survivor: its fetch from
 * the peers timed out while the connections were rebuilt, and it went on with its own copy. Now a
 * node whose lost peers come back after it had none left treats its copies as suspect: each is
 * checked with the peers first, and refused unprocessed (503 WAS_ERR_SESSION_UNVERIFIED) when no
 * peer confirms it in time.
 */
import t from 'tap'
import { netnsSkipReason } from './lib/netns.js'
import { sleep } from './lib/cluster.js'
import { startNsCluster } from './lib/compound-ns.js'
import {
  startCompoundLoad, staleAnswers, unexpectedFailures, finalLoss, loadSummary, timeline, dumpRun
} from './lib/compound.js'

const skip = netnsSkipReason()

t.test('cut the serving node\'s link behind a balancer, then heal: the user goes on, the stale copy is never served', { skip }, async (t) => {
  const c = await startNsCluster(t, { nodes: 3, balancerArgs: ['--headers-timeout', '5000'] })
  const { net, nodes, balancer } = c
  const { mark } = timeline((l) => t.comment(l))
  mark('three nodes up, discovered by the balancer')

  // bounded: stopped below; 120 s and 3000 steps per user at most
  const load = startCompoundLoad(c.lbUrl, c.transport, { users: 6, durationMs: 120_000, prefix: 'cs' })
  t.teardown(load.stop)
  await load.loggedIn
  await sleep(2000) // some load before the cut
  const first = load.users[0]!
  const victim = nodes.find((n) => n.route === first.route)!
  const survivors = nodes.filter((n) => n !== victim)
  mark(`load running: ${load.requests()} requests; ${first.name} is served by ${victim.route}; sessions per node ${nodes.map((n) => `${n.route}:${load.users.filter((u) => u.route === n.route).length}`).join(' ')}`)

  const cutAt = Date.now()
  await net.cut(victim.ns)
  mark(`${victim.route}'s link cut`)
  const errorAt = (await balancer.waitFor((l) => l.route === victim.route && l.to === 'ERROR' && (l.time as number) >= cutAt, 30_000, `the balancer puts ${victim.route} in ERROR`)).time as number
  mark(`the balancer put ${victim.route} in ERROR`)
  await sleep(Math.max(0, cutAt + 8000 - Date.now())) // the users go on with the survivors
  const afterError = first.log.filter((a) => a.sentAt >= errorAt && a.status === 200 && a.state !== null)
  t.ok(afterError.length > 0 && afterError.every((a) => a.state!.user === first.name && survivors.some((s) => s.route === a.state!.jvmRoute)),
    `${first.name} went on with a survivor (${afterError.length} answers after ${victim.route} was put in ERROR, served by ${[...new Set(afterError.map((a) => a.state!.jvmRoute))].join(',')})`)

  const healAt = Date.now()
  await net.heal(victim.ns)
  mark(`${victim.route}'s link healed`)
  // when the healed node lists its peers again (read from the balancer's namespace)
  let rejoinedAt = 0
  for (let i = 0; i < 300 && rejoinedAt === 0; i++) {
    if ((await c.members(victim)).length === 2) rejoinedAt = Date.now()
    else await sleep(50)
  }
  t.ok(rejoinedAt > 0, `${victim.route} lists both peers again`)
  // why from here: until it hears a peer, a node cut off from all of them cannot tell a heal from
  // its peers' death, and serves what it holds (docs/READINESS.md); the balancer sends it no user
  // before its health checks pass again
  for (const u of load.users) u.readAlso = victim.url
  mark(`${victim.route} lists both peers again (${rejoinedAt - healAt} ms after the heal); every user also reads directly on ${victim.route} from now on`)
  await sleep(Math.max(0, healAt + 8000 - Date.now()))
  load.stop()
  await load.done
  for (const u of load.users) u.readAlso = null
  mark(`load stopped: ${loadSummary(load.users)}`)
  dumpRun(load.users, { ...Object.fromEntries(nodes.map((n) => [n.route, n.proc.lines])), balancer: balancer.lines })
  for (const s of survivors) {
    for (const l of s.proc.lines.filter((x) => /dropped is back/.test(String(x.msg)))) t.comment(`${s.route} resync to ${victim.route} at +${(((l.time as number) - healAt) / 1000).toFixed(2)} s after the heal: pushed ${l.pushed}, removed ${l.removed}, not acknowledged ${l.failed} (attempt ${l.attempt})`)
  }

  for (const n of nodes) {
    const s = await c.status(n)
    t.comment(`${n.route}: fetches ${JSON.stringify(s?.replication?.fetch)}, conflicts ${String(s?.replication?.conflicts)}, dropped ${JSON.stringify(s?.replication?.dropped)}`)
  }
  const direct = load.users.flatMap((u) => u.log.filter((a) => a.base === victim.url))
  t.ok(direct.length > 0, `the healed ${victim.route} was read directly (${direct.length} reads, ${direct.filter((a) => a.status === 200).length} answered 200)`)
  const stale = staleAnswers(load.users)
  t.same(stale, [], 'no answer, through the balancer or directly from the healed node, showed a stale copy, a fresh session or another user\'s data')
  if (stale.length > 0) t.comment(`first stale answer: ${stale[0]}; heal at ${healAt}, ${victim.route} listed its peers at ${rejoinedAt}`)
  const failures = unexpectedFailures(load.users, { kills: [], frozen: [{ route: victim.route, from: cutAt, until: errorAt }] })
  t.comment(`failed requests ${failures.failed}, allowed: ${JSON.stringify(failures.allowed)}`)
  t.same(failures.bad, [], 'every failed request is one the retry rules allow')
  t.same(await finalLoss(load.users), { lostSessions: [], lostCounts: [], lostItems: [], impossible: [] }, 'zero acknowledged writes lost (read through the balancer)')
  for (const n of nodes) {
    t.same(await finalLoss(load.users, n.url), { lostSessions: [], lostCounts: [], lostItems: [], impossible: [] }, `${n.route} serves every user's newest data`)
  }
  let digests: any[] = []
  for (let i = 0; i < 80; i++) {
    digests = await Promise.all(nodes.map(async (n) => (await c.status(n, true))?.replicas ?? null))
    if (digests.every((d) => d !== null && d.digest === digests[0].digest)) break
    await sleep(250)
  }
  t.ok(digests.every((d) => d !== null && d.digest === digests[0].digest), `the three nodes hold identical copies (${digests.map((d, i) => `${nodes[i]!.route}=${String(d?.count)}`).join(' ')})`)
})
