/**
 * A hung node (SIGSTOP), in sync mode. Balancer flags keep it short: active health checks every
 * 500 ms (default check timeout 1000 ms, 2 failures to fall), --headers-timeout 5000 (must exceed
 * tribes' 3000 ms ack timeout: while the hung node is a member, each replicated change on the
 * survivor waits that long for its ACK before the answer goes out), --recover-time 2000.
 *
 * Behaviour found and asserted:
 * - a request sent to the hung node gets no answer; it is not retried (it reached the worker) and
 *   is answered 504 after the headers timeout. Meanwhile the health checks put the worker in
 *   ERROR, and from then on every request goes to the survivor and succeeds. Every failure is such
 *   a request: a 504, sticky to the hung node, sent before ERROR (how many fit in that time is
 *   printed, not asserted).
 * - a change made on the survivor while the node is stopped is what the resumed node serves: a
 *   request with the old `.<hung route>` cookie sent straight to the resumed node's HTTP port
 *   (right after SIGCONT, with no pause), and through the balancer once it sees the node OK again,
 *   both show the new cart.
 * - finally the survivor is SIGKILLed: the user's next request lands on the resumed node, still
 *   logged in, and must see the cart as changed while that node was stopped.
 *
 * Whether the cluster drops the stopped node depends on tribes' failure detector, and both were
 * seen while this was written:
 * - connect-only probe (the kernel accepts connections for a stopped process): the survivor logs
 *   "member silent but its receiver answers; keeping it" and keeps it (as Tomcat's
 *   TcpFailureDetector with performReadTest=false does). Every replicated change then waits for
 *   the 3000 ms ack timeout, and the deltas sit in the stopped node's socket buffer; after SIGCONT
 *   it applies them, so nothing is stale. All assertions pass.
 * - probe that requires an ACK (performReadTest): the survivor logs "member silent and its
 *   receiver does not answer; dropping it", stops replicating to it, and when it resumes logs
 *   "member added" for the same member id. Before commit b8a80a0 nothing brought the resumed node
 *   up to date: it kept serving its stale copy (cart [a] instead of [a, b]) directly, through the
 *   balancer, and after the survivor died (a write acknowledged in sync mode, lost). Since then the
 *   re-added member gets the changes it missed, and this file asserts it in both cases.
 */
import t from 'tap'
import { startCluster, ShopClient, describe } from './lib/cluster.js'

t.test('SIGSTOP: the balancer routes around the hung node, and after SIGCONT it serves no stale session', async (t) => {
  const c = await startCluster(t, { nodes: 2, mode: 'sync', balancerArgs: ['--headers-timeout', '5000', '--recover-time', '2000'] })
  const user = new ShopClient(c.balancerUrl)
  t.equal((await user.login('hung')).status, 200, 'login')
  t.equal((await user.addToCart('a')).status, 200, 'add a')
  const victim = c.node(user.route!)
  const survivor = c.others(victim.route)[0]!
  const oldCookie = user.cookie!

  victim.proc!.signal('SIGSTOP')
  const stoppedAt = Date.now()
  const errorLine = c.balancer!.waitFor((l) => l.route === victim.route && l.to === 'ERROR', 60_000, `${victim.route} -> ERROR`)
  const tries: Array<{ at: number, status: number, route: string | null, sentTo: string | null, text: string }> = []
  let okInARow = 0
  // bounded: 40 requests and 60 s at most; stop after 5 successes in a row
  for (let i = 0; i < 40 && Date.now() - stoppedAt < 60_000 && okInARow < 5; i++) {
    const at = Date.now()
    const sentTo = user.route // the route its cookie named: where the sticky balancer sends it
    const a = await user.state()
    tries.push({ at, status: a.status, route: a.state?.jvmRoute ?? null, sentTo, text: `+${at - stoppedAt} ms: ${describe(a)} ${a.state?.jvmRoute ?? ''}` })
    okInARow = a.status === 200 ? okInARow + 1 : 0
  }
  t.comment(tries.map((x) => x.text).join('\n'))
  const erroredAt = (await errorLine).time as number
  t.comment(`the balancer put ${victim.route} in ERROR ${erroredAt - stoppedAt} ms after SIGSTOP`)
  t.equal(okInARow, 5, 'requests succeed again through the survivor')
  const failed = tries.filter((x) => x.status !== 200)
  t.ok(failed.every((x) => x.status === 504), 'the only failures are 504s (a request sent to the hung node, not retried)')
  t.ok(failed.every((x) => x.at < erroredAt), 'every failed request was sent before the balancer put the hung node in ERROR')
  t.ok(failed.every((x) => x.sentTo === victim.route), `every failed request was sticky to the hung ${victim.route} (it reached that worker, so it is not retried)`)
  t.comment(`${failed.length} request(s) failed before the balancer put ${victim.route} in ERROR`)
  t.ok(tries.filter((x) => x.at >= erroredAt).every((x) => x.status === 200 && x.route === survivor.route), `every request sent after that succeeded on ${survivor.route}`)
  t.equal(user.route, survivor.route, 'the cookie names the survivor')

  const changed = await user.addToCart('b')
  t.equal(changed.status, 200, 'a change on the survivor while the node is stopped succeeds')
  t.same(changed.state?.cart, ['a', 'b'], 'cart a, b on the survivor')

  const members = ((await (await fetch(`${survivor.url}/_nodecat/status`)).json()) as any).members.map((m: any) => m.route)
  // whether the survivor dropped the stopped member depends on tribes' failure detector (see the header)
  const dropped = !members.includes(victim.route)
  t.comment(`${Date.now() - stoppedAt} ms after SIGSTOP, members of ${survivor.route}: ${JSON.stringify(members)}: the hung node was ${dropped ? 'dropped' : 'kept'}`)

  victim.proc!.signal('SIGCONT')
  const direct = new ShopClient(victim.url)
  direct.cookie = oldCookie
  const d = await direct.state()
  t.equal(d.status, 200, `the resumed ${victim.route} answers a request with the old cookie`)
  t.equal(d.state?.user, 'hung', 'still logged in there')
  t.same(d.state?.cart, ['a', 'b'], 'the resumed node serves the new cart, not the stale one')

  await c.waitWorkerState(victim.route, ['OK'], 60_000)
  const viaLb = new ShopClient(c.balancerUrl)
  viaLb.cookie = oldCookie
  const v = await viaLb.state()
  t.equal(v.status, 200, 'through the balancer with the old cookie')
  t.same(v.state?.cart, ['a', 'b'], 'the new cart again')
  t.comment(`through the balancer the old cookie was served by ${v.state?.jvmRoute}`)
  const u = await user.state()
  t.same(u.state?.cart, ['a', 'b'], 'the user\'s own cookie still sees the new cart')

  // the resumed node must now be a full replica: lose the survivor, and the user carries on there
  await survivor.kill('SIGKILL')
  const last = await user.state()
  t.equal(last.status, 200, `after SIGKILL of ${survivor.route} the user's next request succeeds`)
  t.equal(last.state?.jvmRoute, victim.route, `served by the resumed ${victim.route}`)
  t.equal(last.state?.user, 'hung', 'still logged in')
  t.same(last.state?.cart, ['a', 'b'], 'with the cart changed while it was stopped')
})
