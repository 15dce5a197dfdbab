/**
 * SIGKILL of the node that holds a user's session: the next request through the balancer is
 * served by the survivor, the user is still logged in with the same cart, and the cookie now
 * names the survivor. Every request is counted; none may fail. (The balancer retries a request
 * whose connect failed on another worker, and a GET that got no answer; a POST that reached the
 * dead node and got no answer may legitimately 502, but here every POST is sent only after the
 * kill has completed, so the worker's socket is already closed and each attempt either fails to
 * connect, which is retried, or goes to the survivor. So: zero failures allowed.)
 * Run twice: with the workers given to the balancer as flags, and with the balancer joining the
 * cluster (static membership on 127.0.0.1) and taking the nodes it discovers as workers.
 */
import t from 'tap'
import { startCluster, ShopClient, describe } from './lib/cluster.js'

for (const discover of [false, true]) {
  t.test(`SIGKILL of the serving node: same login, same cart, cookie names the survivor (${discover ? 'balancer discovers its workers through the cluster' : 'static workers'})`, async (t) => {
    const c = await startCluster(t, { nodes: 2, mode: 'sync', discover })
    if (discover) {
      for (const n of c.nodes) await c.balancer!.waitFor((l) => l.msg === 'worker added' && l.route === n.route, 30_000, `balancer discovers ${n.route}`)
    }
    const user = new ShopClient(c.balancerUrl)

    const login = await user.login('ann')
    t.equal(login.status, 200, 'login through the balancer')
    const first = login.state!.jvmRoute
    t.equal(user.route, first, 'the cookie names the node that served the login')
    for (const item of ['tea', 'milk', 'bread']) t.equal((await user.addToCart(item)).status, 200, `add ${item}`)
    const before = await user.state()
    t.same(before.state?.cart, ['tea', 'milk', 'bread'], 'cart built')
    t.equal(before.state?.jvmRoute, first, 'sticky: the same node served every request')

    await c.node(first).kill('SIGKILL')
    const survivor = c.others(first)[0]!.route

    const after = await user.state()
    t.equal(after.status, 200, 'the first request after the kill succeeds')
    t.equal(after.state?.jvmRoute, survivor, 'served by the survivor')
    t.equal(after.state?.user, 'ann', 'still logged in')
    t.same(after.state?.cart, ['tea', 'milk', 'bread'], 'same cart')
    t.equal(user.route, survivor, 'the cookie now names the survivor')

    const more = await user.addToCart('jam')
    t.equal(more.status, 200, 'a POST after failover succeeds')
    t.same(more.state?.cart, ['tea', 'milk', 'bread', 'jam'], 'and keeps adding to the same cart')
    for (let i = 0; i < 5; i++) {
      const s = await user.state()
      t.equal(s.state?.jvmRoute, survivor, `request ${i + 1} after failover sticks to the survivor`)
    }

    const failed = user.failures()
    t.comment(`${user.log.length} requests, ${failed.length} failed`)
    t.same(failed.map(describe), [], 'no request failed')
  })
}
