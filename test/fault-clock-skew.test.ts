/**
 * Clock skew and clock steps between nodes (no root needed: 127.0.0.1, static membership). The
 * test hook NODECAT_TEST_CLOCK_OFFSET_MS (packages/was-node/src/manager/clock.ts) makes n2's wall
 * clock step 10 minutes forward and n3's 10 minutes back, STEP ms after their session managers
 * were created (what NTP does to a Raspberry Pi that booted with a stale clock); n1 keeps the
 * true clock. Sessions idle out after 8 s (--max-inactive-interval 8).
 *
 * Asserted:
 * - early: a session used on n2 two seconds before its clock jumped +10 min (kept alive by reads
 *   every 2 s until then) is still there right after the jump (idle is measured on a monotonic clock, not as wall-clock differences);
 * - late: a session used on n3 two seconds before its clock jumped -10 min is expired once it has
 *   been idle longer than the interval (not 10 minutes later), on every node;
 * - ordering: one session written round-robin on n1, n2 (+10 min) and n3 (-10 min) keeps every
 *   change in order, with the same copy on every node and no conflict counted (versions order a
 *   session's changes; the wall clock only breaks ties between concurrent writes).
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { startCluster, ShopClient, describe, sleep } from './lib/cluster.js'

const STEP = 15_000
const MAX = 8
const ref = (cookie: string): string => 'sess:' + createHash('sha256').update(cookie.slice(0, cookie.indexOf('.'))).digest('hex').slice(0, 12)
const until = async (at: number): Promise<void> => { const d = at - Date.now(); if (d > 0) await sleep(d) }

t.test('clock skew and steps: no early or late expiry, changes in version order', async (t) => {
  const saved = process.env.NODECAT_TEST_CLOCK_OFFSET_MS
  process.env.NODECAT_TEST_CLOCK_OFFSET_MS = `n2=600000@${STEP},n3=-600000@${STEP}`
  t.teardown(() => { if (saved === undefined) delete process.env.NODECAT_TEST_CLOCK_OFFSET_MS; else process.env.NODECAT_TEST_CLOCK_OFFSET_MS = saved })
  const c = await startCluster(t, { nodes: 3, mode: 'sync', noBalancer: true, nodeArgs: ['--max-inactive-interval', String(MAX)] })
  const [n1, n2, n3] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0], typeof c.nodes[0]]
  // when each skewed node's clock steps: its warning line was logged (true wall time) at manager creation
  const stepAt = async (n: typeof n1): Promise<number> => {
    const l = await n.proc!.waitFor((x) => /NODECAT_TEST_CLOCK_OFFSET_MS/.test(String(x.msg)), 5000, `clock hook warning of ${n.route}`)
    return (l.time as number) + (l.afterMs as number)
  }
  const [step2, step3] = [await stepAt(n2), await stepAt(n3)]
  t.notOk(n1.lines().some((x) => /NODECAT_TEST_CLOCK_OFFSET_MS/.test(String(x.msg))), 'n1 keeps the true clock')

  const early = new ShopClient(n2.url)
  const late = new ShopClient(n3.url)
  t.equal((await early.login('early')).status, 200, 'a session on n2')
  t.equal((await late.login('late')).status, 200, 'a session on n3')
  t.comment(`sessions made ${Math.min(step2, step3) - Date.now()} ms before the first step`)
  t.ok(Date.now() < Math.min(step2, step3) - 3000, 'both sessions exist well before the clocks step')

  // reads every 2 s keep a session alive (idle < 8 s) until a moment
  const keepAlive = async (u: ShopClient, end: number): Promise<void> => {
    while (Date.now() < end - 2000) { await u.state(); await sleep(Math.min(2000, end - Date.now())) }
    await until(end)
  }
  // early: used on n2 2 s before its +10 min step, read right after it
  // late: used on n3 2 s before its -10 min step, then left idle
  let touched = 0
  await Promise.all([
    (async () => {
      await keepAlive(early, step2 - 2000)
      t.same((await early.addToCart('e')).state?.cart, ['e'], 'used on n2 two seconds before its clock jumps forward')
      await until(step2 + 500)
      const e = await early.state()
      t.equal(e.state?.user, 'early', 'right after the +10 min jump n2 still serves it (idle ~2.5 s of 8 s)')
      t.same(e.state?.cart, ['e'], 'with its cart')
    })(),
    (async () => {
      await keepAlive(late, step3 - 2000)
      touched = Date.now()
      t.same((await late.addToCart('l')).state?.cart, ['l'], 'used on n3 two seconds before its clock jumps back')
    })()
  ])

  // ordering: round-robin writes on the three clocks (true, +10 min, -10 min)
  await until(step3 + 200)
  const rr = new ShopClient(n1.url)
  t.equal((await rr.login('rr')).status, 200, 'round-robin user logs in on n1')
  const items: string[] = []
  for (let i = 0; i < 6; i++) {
    const n = c.nodes[i % 3]!
    items.push(`i${i}`)
    const a = await rr.request('POST', '/cart', { item: `i${i}` }, n.url)
    t.same(a.state?.cart, items, `write ${i + 1} on ${n.route}: every earlier change is there`)
  }
  const replicas = async (): Promise<any[]> => await Promise.all(c.nodes.map(async (n) => (await (await fetch(`${n.url}/_nodecat/status?replicas=1`)).json() as any)))
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
  const failed = [early, late, rr].flatMap((u) => u.failures().map(describe))
  t.same(failed, [], 'no request failed')
})
