/**
 * A node that restarts faster than dropTime (127.0.0.1, static membership, sync mode, 3 nodes,
 * balancer): n1 is SIGKILLed and started again at once with the same jvmRoute and ports, before
 * the others could drop it (--drop-time 3000). The new process has a new member id (tribes'
 * uniqueId), so it must not be taken for the old member's continuation: it gets a state transfer
 * and serves no stale or missing state.
 *
 * Asserted: the restarted n1 completes a state transfer holding every session; every node then
 * holds identical copies (replica digest); a change made on n2 right after the restart is what n1
 * serves; every user keeps their data through the balancer; after a few drop times every node
 * lists n1 exactly once (the dead process's entry is gone, not kept alive by the new process
 * answering on the same port).
 */
import t from 'tap'
import { startCluster, ShopClient, describe, sleep, type ClusterNode } from './lib/cluster.js'

const statusOf = async (n: ClusterNode, replicas = false): Promise<any> =>
  await (await fetch(`${n.url}/_nodecat/status${replicas ? '?replicas=1' : ''}`, { signal: AbortSignal.timeout(10_000) })).json()

t.test('a node restarted faster than dropTime gets a state transfer, not the old member\'s place', async (t) => {
  const c = await startCluster(t, { nodes: 3, mode: 'sync' })
  const [n1, n2, n3] = c.nodes as [ClusterNode, ClusterNode, ClusterNode]
  const users: ShopClient[] = []
  for (let i = 0; i < 12; i++) {
    const n = c.nodes[i % 3]!
    const u = new ShopClient(c.balancerUrl)
    await u.request('POST', '/login', { user: `fast${i}` }, n.url)
    await u.addToCart(`a${i}`)
    users.push(u)
  }
  t.ok(users.every((u) => u.route !== null), '12 users, 4 on each node')
  const oldMember = (await statusOf(n1)).member.id as string

  await n1.kill('SIGKILL')
  const killedAt = Date.now()
  const restarting = n1.start()
  // meanwhile a change on n2 to a session that lived on n1
  const moved = users[0]!
  const peek = new ShopClient(n2.url); peek.cookie = moved.cookie
  const changed = await peek.addToCart('while-restarting')
  t.equal(changed.status, 200, 'a change on n2 while n1 restarts')
  moved.cookie = peek.cookie
  await restarting
  t.comment(`n1 was back (node-ready) ${Date.now() - killedAt} ms after SIGKILL`)
  const s1 = await statusOf(n1, true)
  t.not(s1.member.id, oldMember, 'the restarted process is a new member (new id)')
  t.equal(s1.stateTransfer.state, 'done', 'the restarted n1 ran a state transfer')
  t.ok(s1.stateTransfer.sessionsReceived >= users.length, `it received every session (${s1.stateTransfer.sessionsReceived})`)

  // a change right after the restart, on n2, must be what n1 serves
  const after = await peek.addToCart('after-restart')
  t.same(after.state?.cart, ['a0', 'while-restarting', 'after-restart'], 'a change on n2 after the restart')
  const onN1 = new ShopClient(n1.url); onN1.cookie = peek.cookie
  // replicas first (reading on n1 moves the session there)
  let digests: any[] = []
  for (let i = 0; i < 20; i++) {
    digests = await Promise.all(c.nodes.map(async (n) => (await statusOf(n, true)).replicas))
    if (digests.every((d) => d.digest === digests[0].digest)) break
    await sleep(250)
  }
  t.comment(`replica digests: ${digests.map((d, i) => `${c.nodes[i]!.route}=${d.digest.slice(0, 12)}/${d.count}`).join(' ')}`)
  t.ok(digests.every((d) => d.digest === digests[0].digest), 'identical copies on every node')
  t.equal(digests[0].count, users.length, 'every session on every node')
  t.same((await onN1.state()).state?.cart, ['a0', 'while-restarting', 'after-restart'], 'n1 serves the change made on n2 (no stale copy)')

  // every user through the balancer
  for (const [i, u] of users.entries()) {
    const s = await u.state()
    const want = i === 0 ? ['a0', 'while-restarting', 'after-restart'] : [`a${i}`]
    t.ok(s.status === 200 && s.state?.user === `fast${i}` && JSON.stringify(s.state?.cart) === JSON.stringify(want), `fast${i}: logged in with the same cart (${describe(s)} ${JSON.stringify(s.state?.cart)})`)
  }

  // the dead process's member entry must go: after a few drop times every node lists n1 once
  const until = Date.now() + 20_000
  let counts: number[] = []
  while (Date.now() < until) {
    counts = await Promise.all([n2, n3].map(async (n) => ((await statusOf(n)).members as any[]).filter((m) => m.route === 'n1').length))
    if (counts.every((x) => x === 1)) break
    await sleep(500)
  }
  t.same(counts, [1, 1], `n2 and n3 list n1 exactly once ${Date.now() - killedAt} ms after the kill`)
  const ids = await Promise.all([n2, n3].map(async (n) => ((await statusOf(n)).members as any[]).filter((m) => m.route === 'n1').map((m) => m.id)))
  t.ok(ids.every((l) => l.length === 1 && l[0] === s1.member.id), 'and that entry is the new process')
  const failed = users.flatMap((u) => u.failures().map(describe))
  t.same(failed, [], 'no user request failed')
})
