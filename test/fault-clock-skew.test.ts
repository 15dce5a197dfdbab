/**
 * Clock skew and clock steps between nodes (no root needed: 127.0.0.1, static membership). The
 * test hook NODECAT_TEST_CLOCK_OFFSET_MS (packages/was-node/src/manager/clock.ts) makes n2's wall
 * clock step 10 minutes forward and n3's 10 minutes back when the test sends them SIGUSR2 (what
 * NTP does to a Raspberry Pi that booted with a stale clock); n1 keeps the true clock. Sessions
 * idle out after 8 s (--max-inactive-interval 8). The test steps the clocks once its sessions are
 * in place, so how long the cluster took to start does not matter.
 *
 * Asserted:
 * - the step: each skewed node stamps changes with the true time until its signal, and 10
 *   minutes off after it (read from the stamps `?replicas=1` shows);
 * - early: a session used on n2 two seconds before its clock jumped +10 min is still there right
 *   after the jump (idle is measured on a monotonic clock, not as wall-clock differences);
 * - late: a session used on n3 two seconds before its clock jumped -10 min is expired once it has
 *   been idle longer than the interval (not 10 minutes later), on every node;
 * - ordering: one session written round-robin on n1, n2 (+10 min) and n3 (-10 min) keeps every
 *   change in order, with the same copy on every node and no conflict counted (versions order a
 *   session's changes; the wall clock only breaks ties between concurrent writes).
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { startCluster, ShopClient, describe, sleep } from './lib/cluster.js'

const MAX = 8
const MIN10 = 600_000
const ref = (cookie: string): string => 'sess:' + createHash('sha256').update(cookie.slice(0, cookie.indexOf('.'))).digest('hex').slice(0, 12)
const until = async (at: number): Promise<void> => { const d = at - Date.now(); if (d > 0) await sleep(d) }

t.test('clock skew and steps: no early or late expiry, changes in version order', async (t) => {
  const saved = process.env.NODECAT_TEST_CLOCK_OFFSET_MS
  process.env.NODECAT_TEST_CLOCK_OFFSET_MS = `n2=${MIN10}@SIGUSR2,n3=-${MIN10}@SIGUSR2`
  t.teardown(() => { if (saved === undefined) delete process.env.NODECAT_TEST_CLOCK_OFFSET_MS; else process.env.NODECAT_TEST_CLOCK_OFFSET_MS = saved })
  const c = await startCluster(t, { nodes: 3, mode: 'sync', noBalancer: true, nodeArgs: ['--max-inactive-interval', String(MAX)] })
  const [n1, n2, n3] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0], typeof c.nodes[0]]
  // the hook's warning line says the SIGUSR2 handler is in place (before it, SIGUSR2 would end the node)
  const hooked = async (n: typeof n1): Promise<void> => {
    await n.proc!.waitFor((x) => /NODECAT_TEST_CLOCK_OFFSET_MS/.test(String(x.msg)) && x.afterMs === 'SIGUSR2', 30_000, `clock hook warning of ${n.route}`)
  }
  await hooked(n2)
  await hooked(n3)
  t.notOk(n1.lines().some((x) => /NODECAT_TEST_CLOCK_OFFSET_MS/.test(String(x.msg))), 'n1 keeps the true clock')

  const replicas = async (): Promise<any[]> => await Promise.all(c.nodes.map(async (n) => (await (await fetch(`${n.url}/_nodecat/status?replicas=1`)).json() as any)))
  // a node's wall clock, as it shows in the stamp ("v3@n2:<at> <hash>") of a change it just made
  const clockOf = async (n: typeof n1, probe: ShopClient): Promise<number> => {
    await probe.addToCart('tick')
    const doc = await (await fetch(`${n.url}/_nodecat/status?replicas=1`)).json() as any
    const stamp = String(doc.replicas.sessions[ref(probe.cookie!)])
    const at = /:(\d+) /.exec(stamp)
    if (at === null) throw new Error(`no stamp time in ${stamp}`)
    return Number(at[1]) - Date.now()
  }
  // step a node's clock and wait (bounded, generously) until its changes carry the new time
  const step = async (n: typeof n1, probe: ShopClient, sign: 1 | -1): Promise<void> => {
    await n.kill('SIGUSR2')
    const end = Date.now() + 30_000
    let off = await clockOf(n, probe)
    while (off * sign < MIN10 / 2 && Date.now() < end) { await sleep(50); off = await clockOf(n, probe) }
    t.ok(off * sign > MIN10 / 2, `${n.route} stamps changes ${Math.round(off / 60_000)} min off after SIGUSR2`)
  }
  const probe2 = new ShopClient(n2.url)
  const probe3 = new ShopClient(n3.url)
  t.equal((await probe2.login('probe2')).status, 200, 'a probe session on n2')
  t.equal((await probe3.login('probe3')).status, 200, 'a probe session on n3')
  for (const [n, probe] of [[n2, probe2], [n3, probe3]] as const) {
    const off = await clockOf(n, probe)
    t.ok(Math.abs(off) < MIN10 / 2, `${n.route} stamps changes with the true time before its signal (${off} ms)`)
  }

  const early = new ShopClient(n2.url)
  const late = new ShopClient(n3.url)
  t.equal((await early.login('early')).status, 200, 'a session on n2')
  t.equal((await late.login('late')).status, 200, 'a session on n3')

  // early: used on n2 2 s before its +10 min step, read right after it
  // late: used on n3 2 s before its -10 min step, then left idle
  let touched = 0
  await Promise.all([
    (async () => {
      t.same((await early.addToCart('e')).state?.cart, ['e'], 'used on n2 two seconds before its clock jumps forward')
      const used = Date.now()
      await sleep(2000)
      await step(n2, probe2, 1)
      const e = await early.state()
      t.equal(e.state?.user, 'early', `right after the +10 min jump n2 still serves it (idle ${Date.now() - used} ms of ${MAX} s)`)
      t.same(e.state?.cart, ['e'], 'with its cart')
    })(),
    (async () => {
      touched = Date.now()
      t.same((await late.addToCart('l')).state?.cart, ['l'], 'used on n3 two seconds before its clock jumps back')
      await sleep(2000)
      await step(n3, probe3, -1)
    })()
  ])

  // ordering: round-robin writes on the three clocks (true, +10 min, -10 min)
  const rr = new ShopClient(n1.url)
  t.equal((await rr.login('rr')).status, 200, 'round-robin user logs in on n1')
  const items: string[] = []
  for (let i = 0; i < 6; i++) {
    const n = c.nodes[i % 3]!
    items.push(`i${i}`)
    const a = await rr.request('POST', '/cart', { item: `i${i}` }, n.url)
    t.same(a.state?.cart, items, `write ${i + 1} on ${n.route}: every earlier change is there`)
  }
  const docs = await replicas()
  const copies = docs.map((d) => d.replicas.sessions[ref(rr.cookie!)])
  t.ok(copies[0] !== undefined && copies.every((x) => x === copies[0]), `the same copy on every node (${copies.join(' | ')})`)
  t.equal(docs.reduce((s, d) => s + d.replication.conflicts, 0), 0, 'no change counted as a conflict')

  // late, continued: idle past the interval (+3 s), the session is gone, not kept 10 minutes longer
  await until(touched + MAX * 1000 + 3000)
  const l = await late.state()
  t.equal(l.status, 200, 'n3 answers')
  t.equal(l.state?.user ?? null, null, `idle ${Math.round((Date.now() - touched) / 1000)} s > ${MAX} s on n3 (clock stepped back): expired, not logged in`)
  await sleep(500)
  const after = await replicas()
  for (const [i, d] of after.entries()) t.notOk(ref(late.cookie ?? 'x.y') in d.replicas.sessions && late.cookie !== null, `${c.nodes[i]!.route} no longer holds it`)
  const gone = after.map((d) => Object.keys(d.replicas.sessions).length)
  t.comment(`sessions held after the late expiry: ${gone.join(', ')}`)
  const failed = [early, late, rr, probe2, probe3].flatMap((u) => u.failures().map(describe))
  t.same(failed, [], 'no request failed')
})
