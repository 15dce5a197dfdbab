/**
 * The primary/backup manager with real processes: 4 nodes on 2 "hosts" (--host-id A for n1, n2 and
 * B for n3, n4), --manager backup --backups 1, sync mode, behind a balancer that discovers them.
 * The placement deals them host by host (n1, n3, n2, n4): n1 backs up on n3, n3 on n2, n2 on n4,
 * n4 on n1. The rolling restart is in backup-manager-rolling.test.ts.
 */
import t from 'tap'
import { startCluster, ShopClient, describe, type Cluster } from './lib/cluster.js'
import { waitUntil } from '@nodecat/testkit'
import { startNode } from './lib/proc.js'

const HOST_OF: Record<string, string> = { n1: 'A', n2: 'A', n3: 'B', n4: 'B' }
const backupArgs = (route: string) => ['--manager', 'backup', '--backups', '1', '--host-id', HOST_OF[route]!]

async function status (url: string): Promise<any> {
  return await (await fetch(`${url}/_nodecat/status?replicas=1`, { signal: AbortSignal.timeout(5000) })).json()
}

/** for each session reference, how many running nodes hold a copy */
async function copies (c: Cluster): Promise<Map<string, number>> {
  const count = new Map<string, number>()
  for (const n of c.nodes.filter((x) => x.up)) {
    for (const ref of Object.keys((await status(n.url)).replicas.sessions)) count.set(ref, (count.get(ref) ?? 0) + 1)
  }
  return count
}

t.test('backup manager: a change costs k sends; the user survives the loss of its node, and of its whole host', async (t) => {
  const c = await startCluster(t, { nodes: 4, mode: 'sync', discover: true, nodeArgs: backupArgs })
  await c.waitMembers(30_000)
  for (const n of c.nodes) await c.waitWorkerState(n.route, ['OK'], 30_000)

  // users spread over the nodes
  const users: ShopClient[] = []
  for (let i = 0; i < 8; i++) {
    const u = new ShopClient(c.balancerUrl)
    t.equal((await u.login(`u${i}`)).status, 200, `u${i} logs in`)
    t.equal((await u.addToCart('a')).status, 200)
    users.push(u)
  }
  const per = await copies(c)
  t.equal(per.size, 8, 'eight sessions in the cluster')
  t.ok([...per.values()].every((n) => n === 2), `every session has exactly k + 1 = 2 copies (${JSON.stringify([...per.values()])})`)

  // a change costs k = 1 message, whatever the cluster size
  const u0 = users[0]!
  const serving = c.node(u0.route!)
  const before = (await status(serving.url)).replication.sentByType
  for (let i = 0; i < 10; i++) t.equal((await u0.count()).status, 200)
  const after = (await status(serving.url)).replication.sentByType
  const changes = (x: any) => (x.delta ?? 0) + (x['session-full'] ?? 0) + (x.created ?? 0)
  t.equal(changes(after) - changes(before), 10, `10 changes on ${serving.route}: 10 messages (k = 1), not 10 × 3`)

  // SIGKILL the node of one user: the next request succeeds on the node that holds the copy
  const victim = c.node(users[0]!.route!)
  const victims = users.filter((u) => u.route === victim.route)
  await victim.kill('SIGKILL')
  for (const u of victims) {
    const g = await u.state()
    t.equal(g.status, 200, `after SIGKILL of ${victim.route} a GET succeeds: ${describe(g)}`)
    const a = await u.addToCart('b')
    t.equal(a.status, 200, `after SIGKILL of ${victim.route}, ${a.state?.user} adds to the cart: ${describe(a)}`)
    t.match(a.state?.user ?? '', /^u\d$/, 'still logged in')
    t.same(a.state?.cart, ['a', 'b'], 'with the cart')
  }
  // every session back to k + 1 copies on the survivors
  await waitUntil('every session back to 2 copies', async () => [...(await copies(c)).values()].every((n) => n === 2) && (await copies(c)).size === 8, 30_000)
  t.pass('after the loss of a member every session is back to k + 1 = 2 copies')

  // the victim comes back (same route, empty process); copies settle back to where the rule puts them
  await victim.start()
  await c.waitMembers(30_000)
  await c.waitWorkerState(victim.route, ['OK'], 30_000)
  // what the loss of a host needs: every session has a copy on each host (the placement puts the
  // buddies on the other host; an extra copy the placement moved away is dropped after the grace)
  const onBothHosts = async (): Promise<boolean> => {
    const hosts = new Map<string, Set<string>>()
    for (const n of c.nodes.filter((x) => x.up)) {
      for (const ref of Object.keys((await status(n.url)).replicas.sessions)) hosts.set(ref, (hosts.get(ref) ?? new Set()).add(HOST_OF[n.route]!))
    }
    return hosts.size === 8 && [...hosts.values()].every((h) => h.size === 2)
  }
  try {
    await waitUntil('every session on both hosts again', onBothHosts, 60_000)
  } catch (err) {
    for (const n of c.nodes.filter((x) => x.up)) { const st = await status(n.url); t.comment(`${n.route}: ${JSON.stringify(Object.keys(st.replicas.sessions))} rebalance ${JSON.stringify(st.sessions.rebalance)} members ${st.members.map((m: any) => m.route).join(',')}`) }
    throw err
  }

  // now lose a whole host: both nodes that share it, at once
  const host = HOST_OF[users[1]!.route!]!
  const doomed = c.nodes.filter((n) => HOST_OF[n.route] === host)
  t.equal(doomed.filter((n) => n.up).length, 2, `both nodes of host ${host} are up before the host is lost`)
  t.comment(`killing host ${host}: ${doomed.map((n) => n.route).join(', ')}`)
  await Promise.all(doomed.map(async (n) => await n.kill('SIGKILL')))
  let ok = 0
  for (const u of users) {
    const a = await u.state()
    if (a.status === 200 && a.state?.user !== undefined && a.state.cart.includes('a')) ok++
    else t.comment(`lost: ${describe(a)}`)
  }
  t.equal(ok, users.length, 'every user is still logged in with the cart after the loss of a whole host')
})

t.test('a node whose cluster runs another manager refuses to start, naming both', async (t) => {
  const c = await startCluster(t, { nodes: 2, mode: 'sync', noBalancer: true })
  await c.waitMembers(30_000)
  const odd = c.nodes[1]!
  await odd.kill('SIGTERM')
  const args = ['--jvm-route', odd.route, '--http', `127.0.0.1:${odd.httpPort}`, '--receiver', `127.0.0.1:${odd.receiverPort}`, '--auto-bind', '1',
    '--static', `127.0.0.1:${c.nodes[0]!.receiverPort}`, '--manager', 'backup']
  const p = startNode(t, 'was-node', 'cli.js', args)
  const exit = await p.exited
  t.not(exit.code, 0, 'it exits with an error')
  t.match(p.stderr(), /runs the backup \(--backups 1\) session manager, but member n1 .* runs delta/, 'the message names this node\'s manager and the member that runs the other')
})
