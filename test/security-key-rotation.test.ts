/**
 * Cluster key rotation on a serving cluster, in processes on 127.0.0.1: three shop nodes (sync
 * replication) and a balancer that discovers them through the cluster, each process with its own
 * key file, under load from four users the whole time. The operator's procedure (SECURITY.md):
 *   1. every key file becomes "A\nB" (send A, accept B)  — machine by machine
 *   2. every key file becomes "B\nA" (send B, accept A)  — machine by machine
 *   3. every key file becomes "B"                         — machine by machine
 * After each file change the next waits until every user has had a whole request answered in that
 * mixed state. No restart. Asserted: every user was served in every mixed state of the rollout,
 * every request of the load answered 2xx, nothing acknowledged lost, no
 * frame or datagram refused by any node, membership never lost, every node holds the same
 * sessions with the same contents at the end; and then a member holding only A is refused.
 */
import t from 'tap'
import crypto from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { createChannel } from '@nodecat/tribes'
import { startCluster, startLoad, lossReport, describe, sleep, HOST } from './lib/cluster.js'
import { freePorts } from './lib/ports.js'

const A = crypto.randomBytes(32).toString('base64')
const B = crypto.randomBytes(32).toString('base64')
const RELOADED = 'cluster key file changed: new keys in use'

t.test('three nodes and the balancer move from key A to key B under load, without a restart', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-rotation-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const fileOf = (name: string): string => path.join(dir, `${name}.key`)
  for (const name of ['n1', 'n2', 'n3', 'balancer']) writeFileSync(fileOf(name), `${A}\n`, { mode: 0o600 })
  const c = await startCluster(t, {
    nodes: 3,
    mode: 'sync',
    discover: true,
    nodeArgs: (route) => ['--key-file', fileOf(route)],
    balancerArgs: ['--key-file', fileOf('balancer')]
  })
  await c.waitMembers()
  for (const n of c.nodes) await c.waitWorkerState(n.route, ['OK'])

  const load = startLoad(c.balancerUrl, { clients: 4, durationMs: 90_000, maxSteps: 5000, pauseMs: 20, prefix: 'rot' })
  await sleep(500)
  const processes = [...c.nodes.map((n) => ({ name: n.route, lines: () => n.lines() })), { name: 'balancer', lines: () => c.balancer!.lines }]
  const steps = [`${A}\n${B}\n`, `${B}\n${A}\n`, `${B}\n`]
  // the mixed states in which some user had no whole request answered (sent after the change)
  const unserved: string[] = []
  for (const [i, content] of steps.entries()) {
    for (const p of processes) {
      writeFileSync(fileOf(p.name), content)
      const until = Date.now() + 15_000
      while (p.lines().filter((l) => l.msg === RELOADED).length < i + 1) {
        if (Date.now() > until) throw new Error(`${p.name} did not pick up step ${i + 1}`)
        await sleep(50)
      }
      // the next machine only once every user was served in this mixed state (bounded wait); why
      // +2: a user's requests are sequential, so the second answered after the change was sent after it
      const mark = load.users.map((u) => u.client.log.length)
      const servedBy = Date.now() + 30_000
      while (load.users.some((u, k) => u.client.log.length < mark[k]! + 2) && Date.now() < servedBy) await sleep(20)
      const idle = load.users.filter((u, k) => u.client.log.length < mark[k]! + 2).map((u) => u.name)
      if (idle.length > 0) unserved.push(`${p.name} at step ${i + 1}: ${idle.join(', ')}`)
    }
  }
  await sleep(500)
  load.stop()
  await load.done

  const requests = load.users.reduce((n, u) => n + u.client.log.length, 0)
  t.same(unserved, [], 'every user was served in every mixed state of the rollout')
  t.comment(`${requests} requests during the rollout`)
  t.same(load.users.flatMap((u) => u.client.failures()).map(describe), [], 'every request of the load answered 2xx')
  const loss = await lossReport(load.users)
  t.same(loss, { lostSessions: [], lostCounts: [], lostItems: [], impossible: [] }, 'nothing acknowledged was lost')

  for (const n of c.nodes) {
    const s = await (await fetch(`${n.url}/_nodecat/status`, { signal: AbortSignal.timeout(5000) })).json() as any
    const dropped = s.replication.dropped.channel
    t.equal((dropped.decrypt ?? 0) + (dropped.auth ?? 0) + (dropped.replay ?? 0), 0, `${n.route} refused no frame or datagram (${JSON.stringify(dropped)})`)
    t.equal(n.lines().filter((l) => /member (left|disappeared)|dropping/.test(String(l.msg))).length, 0, `${n.route} never lost a member`)
    const last = n.lines().filter((l) => l.msg === RELOADED).at(-1)
    t.equal(last?.previousKeys, 0, `${n.route} ends with B alone`)
  }
  // the same sessions with the same contents on every node (read from each node directly)
  for (const u of load.users.filter((x) => x.loggedInAt !== null)) {
    const cookie = u.client.cookie
    const seen = []
    for (const n of c.nodes) {
      const res = await fetch(`${n.url}/api/state`, { headers: { accept: 'application/json', cookie: `JSESSIONID=${cookie}` }, signal: AbortSignal.timeout(5000) })
      const st = await res.json() as any
      seen.push(JSON.stringify({ user: st.user, count: st.count, cart: st.cart }))
    }
    t.equal(new Set(seen).size, 1, `${u.name}: identical on n1, n2, n3`)
  }

  // after the rollout: a member holding only A is refused by everyone
  const [stalePort] = await freePorts(1)
  const stale = createChannel({
    address: HOST,
    port: stalePort!,
    autoBind: 1,
    key: A,
    meta: { route: 'stale' },
    logger: pino({ level: 'silent' }),
    membership: { type: 'static', members: c.nodes.map((n) => `${HOST}:${n.receiverPort}`), frequency: 200, dropTime: 3000 }
  })
  await stale.start()
  t.teardown(() => stale.stop())
  const statusOf = async (url: string): Promise<any> => await (await fetch(`${url}/_nodecat/status`, { signal: AbortSignal.timeout(5000) })).json()
  for (const n of c.nodes) {
    let s = await statusOf(n.url)
    for (let i = 0; i < 100 && (s.replication.dropped.channel.decrypt ?? 0) < 3; i++) { await sleep(100); s = await statusOf(n.url) }
    t.ok((s.replication.dropped.channel.decrypt ?? 0) >= 3, `${n.route} refused its heartbeats (decrypt drops)`)
    t.notOk(s.members.some((m: any) => m.route === 'stale'), `${n.route} does not list it`)
  }
  t.same(stale.members(), [], 'the A-only member sees nobody')
})
