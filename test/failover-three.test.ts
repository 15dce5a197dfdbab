/**
 * Three nodes: a session created on one node survives the loss (SIGKILL) of any one node. For
 * each node in turn: build a session through the balancer, kill that node (the worst case for the
 * session: the node that served it), check through the balancer that the user is still logged in
 * with the same cart and counter on one of the two survivors, and that both survivors hold the
 * session; then restart the killed node and wait for its state transfer before the next round.
 */
import t from 'tap'
import { startCluster, ShopClient, describe } from './lib/cluster.js'

t.test('three nodes: a session survives the loss of any one node', async (t) => {
  const c = await startCluster(t, { nodes: 3, mode: 'sync' })
  const all: ShopClient[] = []
  for (const [round, victimNode] of c.nodes.entries()) {
    // a session that lives on the victim: log in directly on it through the balancer's view of
    // routes, i.e. log in on the node and then use its cookie through the balancer
    const user = new ShopClient(c.balancerUrl)
    all.push(user)
    const name = `three${round}`
    const login = await user.request('POST', '/login', { user: name }, victimNode.url)
    t.equal(login.state?.jvmRoute, victimNode.route, `round ${round + 1}: session created on ${victimNode.route}`)
    t.equal((await user.addToCart(`item${round}`)).state?.jvmRoute, victimNode.route, 'the balancer keeps it on that node')
    t.equal((await user.count()).state?.count, 1, 'counter 1')

    await victimNode.kill('SIGKILL')
    const after = await user.state()
    t.equal(after.status, 200, `after killing ${victimNode.route} the next request succeeds`)
    t.not(after.state?.jvmRoute, victimNode.route, 'served by a survivor')
    t.equal(after.state?.user, name, 'still logged in')
    t.same(after.state?.cart, [`item${round}`], 'same cart')
    t.equal(after.state?.count, 1, 'same counter')
    for (const other of c.others(victimNode.route)) {
      const peek = new ShopClient(other.url)
      peek.cookie = user.cookie
      const s = await peek.state()
      t.equal(s.state?.user, name, `${other.route} holds the session too`)
    }
    // earlier rounds' sessions are still alive as well
    for (const [i, old] of all.entries()) {
      const s = await old.state()
      t.equal(s.state?.user, `three${i}`, `round ${round + 1}: session of round ${i + 1} still logged in`)
    }

    await victimNode.start() // node-started + node-ready: the state transfer is done
    await c.waitWorkerState(victimNode.route, ['OK'], 30_000)
    await c.waitMembers(30_000)
    const back = new ShopClient(victimNode.url)
    back.cookie = user.cookie
    t.equal((await back.state()).state?.user, name, `restarted ${victimNode.route} received the session by state transfer`)
  }
  const failed = all.flatMap((u) => u.failures().map(describe))
  t.same(failed, [], 'no request failed')
})
