/**
 * The SIGKILL failover scenario on a real network with real multicast discovery (root only): two
 * nodes in their own network namespaces find each other by multicast (no --static), the balancer
 * in a third namespace discovers its workers by multicast too (--discover, --multicast-bind), all
 * traffic authenticated with a key made by `nodecat-tribes keygen`. The HTTP client runs inside
 * the balancer's namespace (test/lib/shop-request.mjs through `ip netns exec`): log in, build a
 * cart, SIGKILL the serving node, and the user is still logged in with the same cart, the cookie
 * naming the survivor.
 */
import t from 'tap'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTestNet, netnsSkipReason } from './lib/netns.js'
import { clusterKeyFile } from './lib/proc.js'
import { SHOP_APP } from './lib/cluster.js'

const skip = netnsSkipReason()
const CLIENT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'shop-request.mjs')

t.test('SIGKILL failover in network namespaces with multicast discovery', { skip }, async (t) => {
  const keyFile = clusterKeyFile(t, 'nodecat-netns-')

  const net = await createTestNet(t, { members: 3 })
  const [nsA, nsB, nsLb] = net.names as [string, string, string]
  const nodes = [nsA, nsB].map((ns, i) => {
    const addr = net.address(ns)
    const route = `m${i + 1}`
    return {
      route,
      ns,
      proc: net.spawnNode(ns, 'was-node', 'cli.js', [
        '--jvm-route', route, '--http', `${addr}:8080`, '--receiver', `${addr}:4000`, '--bind', addr,
        '--key-file', keyFile, '--app', SHOP_APP, '--channel-send-options', 'sync', '--frequency', '500', '--drop-time', '3000'
      ])
    }
  })
  // one after the other: the second takes the (empty) session state from the first
  for (const n of nodes) {
    await n.proc.waitFor((l) => l.event === 'node-started', 60_000, `node-started of ${n.route}`)
    await n.proc.waitFor((l) => l.event === 'node-ready', 60_000, `node-ready of ${n.route}`)
  }
  await nodes[0]!.proc.waitFor((l) => l.msg === 'member added' && l.route === 'm2', 30_000, 'm1 sees m2 by multicast')
  const lbAddr = net.address(nsLb)
  const balancer = net.spawnNode(nsLb, 'balancer', 'cli.js', [
    '--listen', `${lbAddr}:8080`, '--admin', '127.0.0.1:8090', '--discover', '--multicast-bind', lbAddr,
    '--cluster-address', lbAddr, '--key-file', keyFile, '--health-interval', '500', '--connect-timeout', '1000'
  ])
  await balancer.waitFor((l) => l.msg === 'balancer started', 30_000, 'balancer started')
  for (const n of nodes) await balancer.waitFor((l) => l.msg === 'worker added' && l.route === n.route, 30_000, `balancer discovers ${n.route}`)
  t.pass('the balancer discovered both nodes by multicast')

  let cookie = ''
  let requests = 0
  const failures: string[] = []
  const send = async (method: 'GET' | 'POST', urlPath: string, form?: Record<string, string>): Promise<any> => {
    requests++
    const out = await net.exec(nsLb, process.execPath, [CLIENT, `http://${lbAddr}:8080${urlPath}`, method, cookie, form === undefined ? '' : JSON.stringify(form)])
    const r = JSON.parse(out.trim().split('\n').pop()!)
    if (r.cookie !== null) cookie = r.cookie
    if (r.status !== 200) failures.push(`${method} ${urlPath} -> ${r.status} ${r.error ?? JSON.stringify(r.body)}`)
    return r
  }

  const login = await send('POST', '/login', { user: 'netns' })
  t.equal(login.status, 200, 'login through the balancer, from its namespace')
  const first = login.body.jvmRoute as string
  t.ok(cookie.endsWith(`.${first}`), `the cookie names ${first}`)
  await send('POST', '/cart', { item: 'tea' })
  const built = await send('POST', '/cart', { item: 'milk' })
  t.same(built.body.cart, ['tea', 'milk'], 'cart built')

  const victim = nodes.find((n) => n.route === first)!
  const survivor = nodes.find((n) => n !== victim)!
  victim.proc.signal('SIGKILL')
  await victim.proc.exited
  const after = await send('GET', '/api/state')
  t.equal(after.status, 200, 'the next request succeeds')
  t.equal(after.body.jvmRoute, survivor.route, 'served by the survivor')
  t.equal(after.body.user, 'netns', 'still logged in')
  t.same(after.body.cart, ['tea', 'milk'], 'same cart')
  t.ok(cookie.endsWith(`.${survivor.route}`), 'the cookie names the survivor')
  const more = await send('POST', '/cart', { item: 'jam' })
  t.same(more.body.cart, ['tea', 'milk', 'jam'], 'and the cart keeps growing there')
  t.comment(`${requests} requests, ${failures.length} failed`)
  t.same(failures, [], 'no request failed')
})
