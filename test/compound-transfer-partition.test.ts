/**
 * Compound fault (issue 11), with real multicast in network namespaces (root only; skipped with a
 * message otherwise): a partition during a state transfer. The joiner's sender is cut off the
 * network mid-transfer (it keeps running, unreachable: no connection refused, only silence), while
 * another full replica is reachable. 3 nodes in namespaces of their own (multicast, keyed, sync
 * mode), the balancer in a fourth (discovering them; health checks on /_nodecat/ready every
 * 500 ms; --headers-timeout 5000, above tribes' 3000 ms ack timeout), the users' requests start
 * in the balancer's namespace.
 *
 * Injected, under load (6 users through the balancer, each incrementing a counter, adding to a
 * cart and reading, one request at a time):
 * - x3 stopped (SIGTERM), then 400 sessions of 64 KB (test/lib/fill-app.mjs: 25 MB, 7 chunks of
 *   a transfer) made on x1 and replicated to x2, so x3's transfer takes a while;
 * - x3 started; when its /_nodecat/status shows the transfer under way (stateTransfer.state
 *   'running', sessionsReceived > 0), its sender (the longest-running member, x1) is cut off the
 *   bridge (net.cut);
 * - once x3 is ready (and at least 8 s after the cut), x1's link is healed; once x1 lists its
 *   peers again, every user also reads their session directly on x1 after each step, with their
 *   own cookie.
 *
 * Asserted:
 * - the transfer was caught under way, from x1; x3 then asked x2 and its transfer ended 'done'
 *   (it did not become ready with the part x1 had sent), with every session;
 * - no answer the users got, through the balancer or directly from the healed x1, showed a fresh
 *   session, another user's data or a stale copy (every 2xx answer shows everything acknowledged
 *   before it was sent);
 * - every failed request is one the retry rules allow: a request in flight on x1 at the cut, or
 *   sent there before the balancer put it in ERROR (504 after the headers timeout, not replayed
 *   since it reached the worker; at most one per user); nothing else;
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
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { netnsSkipReason } from './lib/netns.js'
import { sleep } from './lib/cluster.js'
import { startNsCluster } from './lib/compound-ns.js'
import {
  startCompoundLoad, staleAnswers, unexpectedFailures, finalLoss, loadSummary, timeline, dumpRun
} from './lib/compound.js'

const skip = netnsSkipReason()
const FILL_APP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'fill-app.mjs')
const SESSIONS = 400
const KB = 64
const ASKING = 'asking the longest-running member for all sessions'

t.test('the joiner\'s state-transfer sender is cut off mid-transfer: under load, sync, nothing lost, no stale copy after the heal', { skip }, async (t) => {
  const c = await startNsCluster(t, { nodes: 3, app: FILL_APP, balancerArgs: ['--headers-timeout', '5000'] })
  const { net, nodes, balancer } = c
  const [x1, x2, x3] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0]]
  const { mark } = timeline((l) => t.comment(l))
  mark('three nodes up, discovered by the balancer')
  x3.proc.signal('SIGTERM')
  await x3.proc.exited
  const x3Before = x3.proc.lines
  mark('x3 stopped (SIGTERM)')
  let made = 0
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (made < SESSIONS) {
      made++
      const r = await c.transport(`${x1.url}/fill?kb=${KB}`, 'POST', null)
      if (r.status !== 200) throw new Error(`POST /fill on x1: ${r.status} ${r.code ?? ''} ${r.error ?? ''}`)
    }
  }))
  mark(`${made} sessions of ${KB} KB made on x1 (replicated to x2)`)

  // bounded: stopped below; 120 s and 3000 steps per user at most
  const load = startCompoundLoad(c.lbUrl, c.transport, { users: 6, durationMs: 120_000, prefix: 'tp' })
  t.teardown(load.stop)
  await load.loggedIn
  await sleep(1500) // some load before the faults
  mark(`load running: ${load.requests()} requests so far`)

  await x3.start()
  mark('x3 started (listening)')
  let underWay: any = null
  for (let i = 0; i < 20_000 && underWay === null; i++) {
    const s = await c.status(x3)
    if (s?.stateTransfer?.state === 'running' && s.stateTransfer.sessionsReceived > 0) underWay = s
    else if (s?.ready === true) break
  }
  t.ok(underWay !== null, 'x3\'s state transfer was caught under way')
  if (underWay === null) { load.stop(); await load.done; return }
  const routeOfMember = new Map<string, string>(underWay.members.map((m: any) => [m.id, m.route]))
  const sender = routeOfMember.get(x3.proc.lines.filter((l) => l.msg === ASKING).at(-1)?.member as string)
  t.equal(sender, 'x1', 'x3 was receiving from the longest-running member, x1')
  const cutAt = Date.now()
  await net.cut(x1.ns)
  mark(`x1's link cut (x3 had ${underWay.stateTransfer.sessionsReceived} sessions in ${underWay.stateTransfer.chunksReceived} chunks)`)
  const errorLine = balancer.waitFor((l) => l.route === 'x1' && l.to === 'ERROR' && (l.time as number) >= cutAt, 30_000, 'the balancer puts x1 in ERROR')

  await x3.proc.waitFor((l) => l.event === 'node-ready', 90_000, 'node-ready of x3')
  mark('x3 ready')
  const s3 = await c.status(x3)
  t.equal(s3.stateTransfer.state, 'done', 'x3\'s transfer completed (not given up with the part x1 had sent)')
  const asks = x3.proc.lines.filter((l) => l.msg === ASKING).map((l) => routeOfMember.get(l.member as string) ?? l.member)
  t.ok(asks.includes('x2'), `x3 asked x2 after x1 was cut off (asks: ${asks.join(', ')})`)
  t.ok(s3.sessions.count >= SESSIONS + load.users.length, `x3 holds every session (${s3.sessions.count})`)
  const errorAt = (await errorLine).time as number
  mark(`(the balancer had put x1 in ERROR ${errorAt - cutAt} ms after the cut)`)

  await sleep(Math.max(2000, cutAt + 8000 - Date.now()))
  const healAt = Date.now()
  await net.heal(x1.ns)
  mark('x1\'s link healed')
  let rejoinedAt = 0
  for (let i = 0; i < 300 && rejoinedAt === 0; i++) {
    if ((await c.members(x1)).length === 2) rejoinedAt = Date.now()
    else await sleep(50)
  }
  t.ok(rejoinedAt > 0, 'x1 lists both peers again')
  // why from here: until it hears a peer, a node cut off from all of them cannot tell a heal from
  // its peers' death, and serves what it holds (docs/READINESS.md); the balancer sends it no user
  // before its health checks pass again
  for (const u of load.users) u.readAlso = x1.url
  mark(`x1 lists both peers again (${rejoinedAt - healAt} ms after the heal); every user also reads directly on x1 from now on`)
  await sleep(Math.max(0, healAt + 6000 - Date.now()))
  load.stop()
  await load.done
  for (const u of load.users) u.readAlso = null
  mark(`load stopped: ${loadSummary(load.users)}`)
  dumpRun(load.users, { x1: x1.proc.lines, x2: x2.proc.lines, x3before: x3Before, x3: x3.proc.lines, balancer: balancer.lines })

  for (const n of nodes) {
    const s = await c.status(n)
    t.comment(`${n.route}: fetches ${JSON.stringify(s?.replication?.fetch)}, conflicts ${String(s?.replication?.conflicts)}, dropped ${JSON.stringify(s?.replication?.dropped)}`)
  }
  const direct = load.users.flatMap((u) => u.log.filter((a) => a.base === x1.url))
  t.ok(direct.length > 0, `the healed x1 was read directly (${direct.length} reads, ${direct.filter((a) => a.status === 200).length} answered 200)`)
  t.same(staleAnswers(load.users), [], 'no answer, through the balancer or directly from the healed x1, showed a stale copy, a fresh session or another user\'s data')
  const failures = unexpectedFailures(load.users, { kills: [], frozen: [{ route: 'x1', from: cutAt, until: errorAt }] })
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
