/**
 * Compound fault (issue 11): the last full replica dies in the middle of a joiner's state transfer,
 * with no other replica anywhere. The joiner must not quietly serve a partial set as if it were
 * whole. 127.0.0.1, static membership, sync mode, 3 nodes behind the balancer (default health
 * checks on /_nodecat/ready, every 500 ms).
 *
 * Why 127.0.0.1 and SIGKILL: what matters is that no live node holds the sessions the sender had
 * not sent yet; the sender's death is the simplest way to get there (a link cut during a transfer
 * is compound-transfer-partition.test.ts).
 *
 * Injected, under load (8 users through the balancer, each incrementing a counter, adding to a
 * cart and reading, one request at a time):
 * - n2 and n3 stopped (SIGTERM): n1 alone holds every session from here on;
 * - 4 users log in, then 400 sessions of 64 KB (test/lib/fill-app.mjs: 25 MB, 7 chunks of a
 *   transfer) are made on n1, then 4 more users log in: a transfer sends sessions in the order
 *   they were made, so the first users' sessions go in its first chunk and the last users' in its
 *   last;
 * - n3 started; when its /_nodecat/status shows the transfer under way (stateTransfer.state
 *   'running', sessionsReceived > 0), n1 is SIGKILLed. n2 stays down: no live node holds what n1
 *   had not sent.
 *
 * Asserted:
 * - n3 says its transfer is incomplete: /_nodecat/status stateTransfer.state 'incomplete' (not
 *   'done'), and a warning (or louder) log line that it continues with what arrived, saying how
 *   many sessions that was;
 * - n3 claims no session it does not have: every session it holds from before the kill is one n1
 *   held, with n1's stamp (the same copy; the idle 64 KB sessions are compared one by one), and
 *   no more than it received;
 * - a user whose session n3 received keeps it: no answer showed a fresh session, another user's
 *   data or a stale copy, and no acknowledged write is lost (through the balancer and on n3);
 * - a user whose session n3 did not receive is answered, from the first answer after the kill on,
 *   with a fresh session under a new id (never the old id, never anyone else's data): no live
 *   peer holds the old one;
 * - every failed request is one the retry rules allow: a POST in flight on the killed n1 (502, at
 *   most one per user), or the balancer's own 503 LB_ERR_NO_WORKER (sent nowhere) between the
 *   kill and the moment the balancer saw n3 ready.
 */
import t from 'tap'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startCluster, sleep, type ClusterNode } from './lib/cluster.js'
import { sessionRefOf } from './lib/replicas.js'
import {
  CompoundUser, fetchTransport, staleAnswers, unexpectedFailures, finalLoss, loadSummary, timeline,
  nodeStatus, fillSessions, waitTransferUnderWay, dumpRun
} from './lib/compound.js'

const FILL_APP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'fill-app.mjs')
const SESSIONS = 400
const KB = 64
const INCOMPLETE = 'no member answered the state transfer; continuing with what arrived, reconciling with every member that appears'

t.test('the last full replica dies mid-transfer: the joiner says incomplete and serves no session it lacks', async (t) => {
  const c = await startCluster(t, { nodes: 3, mode: 'sync', nodeArgs: ['--app', FILL_APP] })
  const [n1, n2, n3] = c.nodes as [ClusterNode, ClusterNode, ClusterNode]
  const { mark } = timeline((l) => t.comment(l))
  for (const n of [n2, n3]) { n.proc!.signal('SIGTERM'); await n.proc!.exited }
  mark('n2 and n3 stopped (SIGTERM): n1 alone')

  const users = Array.from({ length: 8 }, (_, i) => new CompoundUser(`lr${i + 1}`, c.balancerUrl, fetchTransport))
  for (const u of users.slice(0, 4)) t.ok(await u.login(), `${u.name} logged in before the big sessions`)
  const filled = await fillSessions(n1.url, SESSIONS, KB)
  mark(`${filled.length} sessions of ${KB} KB made on n1`)
  for (const u of users.slice(4)) t.ok(await u.login(), `${u.name} logged in after the big sessions`)
  const oldBase = new Map(users.map((u) => [u.name, u.cookie!.slice(0, u.cookie!.indexOf('.'))]))
  const before = (await nodeStatus(n1.url, true)).replicas

  // the load: bounded, stopped below; 120 s and 3000 steps per user at most
  let stopped = false
  t.teardown(() => { stopped = true })
  const until = Date.now() + 120_000
  const loops = users.map(async (u) => {
    for (let k = 0; k < 3000 && !stopped && Date.now() < until; k++) {
      await u.step(k)
      await sleep(20)
    }
  })
  await sleep(1500)
  mark('load running')

  await n3.start({ listening: true })
  mark('n3 started (listening)')
  const underWay = await waitTransferUnderWay(n3.url)
  t.ok(underWay !== null, 'n3\'s state transfer was caught under way')
  if (underWay === null) { stopped = true; await Promise.all(loops); return }
  const killAt = Date.now()
  await n1.kill('SIGKILL')
  mark(`SIGKILL n1 (n3 had ${underWay.stateTransfer.sessionsReceived} sessions in ${underWay.stateTransfer.chunksReceived} chunks)`)

  await n3.proc!.waitFor((l) => l.event === 'node-ready', 90_000, 'node-ready of n3')
  mark('n3 ready')
  const s3 = await nodeStatus(n3.url, true)
  await c.waitWorkerState('n3', ['OK'], 30_000)
  const okAt = mark('the balancer sees n3 OK')
  await sleep(2000) // load on n3 alone
  stopped = true
  await Promise.all(loops)
  mark(`load stopped: ${loadSummary(users)}`)
  dumpRun(users, { n1: n1.lines(), n3: n3.lines(), balancer: c.balancer!.lines })

  // what n3 says
  const received = s3.stateTransfer.sessionsReceived as number
  t.equal(s3.stateTransfer.state, 'incomplete', `n3's transfer is reported incomplete, not done (${received} of ${before.count} sessions arrived)`)
  t.ok(received > 0 && received < before.count, 'part of the sessions arrived')
  const loud = n3.lines().find((l) => l.msg === INCOMPLETE)
  t.ok(loud !== undefined && loud.level >= 40, `n3 logs that it continues with what arrived, as a warning or louder (level ${String(loud?.level)})`)
  t.equal(loud?.received, received, 'the log line says how many sessions arrived')

  // n3 claims nothing it does not have: what it holds from before the kill is n1's copy
  const held = s3.replicas.sessions as Record<string, string>
  const foreign = Object.keys(held).filter((ref) => !(ref in before.sessions) && !users.some((u) => u.log.some((a) => a.sentAt >= killAt && a.state !== null && sessionRefOf(a.state.sessionId ?? '') === ref)))
  t.same(foreign, [], 'every session n3 holds was n1\'s (or was made on n3 after the kill)')
  const fillRefs = filled.map(sessionRefOf)
  const fillHeld = fillRefs.filter((r) => r in held)
  t.same(fillHeld.filter((r) => held[r] !== before.sessions[r]), [], `each of the ${fillHeld.length} big sessions n3 holds is n1's copy (same stamp and contents)`)
  t.ok(fillHeld.length < fillRefs.length, `n3 does not hold the big sessions n1 had not sent (${fillRefs.length - fillHeld.length} missing)`)

  // users: kept (n3 received the session) or lost with n1 (it did not)
  const kept = users.filter((u) => sessionRefOf(oldBase.get(u.name)!) in held)
  const lost = users.filter((u) => !kept.includes(u))
  t.comment(`users whose session n3 received: ${kept.map((u) => u.name).join(', ') || 'none'}; not received: ${lost.map((u) => u.name).join(', ') || 'none'}`)
  t.ok(kept.some((u) => users.indexOf(u) < 4), 'a user logged in before the big sessions kept the session (sent in the first chunks)')
  t.same(staleAnswers(kept), [], 'users whose session n3 received: no fresh session, no other user\'s data, no stale copy')
  t.same(await finalLoss(kept), { lostSessions: [], lostCounts: [], lostItems: [], impossible: [] }, 'users whose session n3 received: zero acknowledged writes lost (through the balancer)')
  t.same(await finalLoss(kept, n3.url), { lostSessions: [], lostCounts: [], lostItems: [], impossible: [] }, 'and on n3 directly')
  for (const u of lost) {
    const after = u.log.filter((a) => a.sentAt >= killAt && a.status === 200 && a.state !== null)
    const first = after[0]
    t.ok(first !== undefined, `${u.name}: answered after the kill`)
    if (first === undefined) continue
    const base = (first.state!.sessionId ?? '').slice(0, (first.state!.sessionId ?? '').indexOf('.'))
    t.ok(first.state!.user === null && first.state!.count <= 1 && first.state!.cart.length <= 1 && base !== oldBase.get(u.name),
      `${u.name}: the first answer after the kill is a fresh session under a new id (user ${String(first.state!.user)}, count ${first.state!.count}, cart ${first.state!.cart.length}, same id: ${String(base === oldBase.get(u.name))})`)
    t.ok(after.every((a) => a.state!.user === null), `${u.name}: never answered with another user's data`)
  }

  const failures = unexpectedFailures(users, { kills: [{ route: 'n1', at: killAt }], noWorker: [{ from: killAt, until: okAt }] })
  t.comment(`failed requests ${failures.failed}, allowed: ${JSON.stringify(failures.allowed)}`)
  t.same(failures.bad, [], 'every failed request is one the retry rules allow')
})
