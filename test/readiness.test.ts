/**
 * Readiness (127.0.0.1, static membership, sync mode, 3 nodes behind the balancer): a node that is
 * receiving its state transfer answers GET /_nodecat/ready with 503, refuses app requests with the
 * "not processed" 503, and the balancer, whose default health check reads /_nodecat/ready, sends
 * it no user; once the transfer is done it answers 200, holds every session and takes users again.
 *
 * To hold n3 inside its transfer for a while, its sender (n1, the longest-running member) is
 * frozen (SIGSTOP) right after it started sending; the transfer goes on when n1 is thawed.
 */
import t from 'tap'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startCluster, ShopClient, describe, sleep, type ClusterNode } from './lib/cluster.js'

const FILL_APP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'fill-app.mjs')
const SESSIONS = 800

const get = async (url: string): Promise<{ status: number, body: any, header: string | null }> => {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  const text = await res.text()
  let body: any = null
  try { body = JSON.parse(text) } catch {}
  return { status: res.status, body, header: res.headers.get('x-nodecat-draining') }
}

t.test('a node in state transfer is not ready, refuses users unprocessed, and gets none from the balancer', async (t) => {
  const c = await startCluster(t, { nodes: 3, mode: 'sync', nodeArgs: ['--app', FILL_APP] })
  const [n1, n2, n3] = c.nodes as [ClusterNode, ClusterNode, ClusterNode]
  t.equal((await get(`${n3.url}/_nodecat/ready`)).status, 200, 'a node with its sessions is ready')
  // sessions to transfer (64 KB each: 50 MB in all), on n2
  await Promise.all(Array.from({ length: 8 }, async (_, k) => {
    for (let i = k; i < SESSIONS; i += 8) {
      const u = new ShopClient(n2.url)
      const a = await u.request('POST', '/fill?kb=64')
      if (a.status !== 200) throw new Error(describe(a))
    }
  }))
  // users whose sessions live on n3
  const users: ShopClient[] = []
  for (let i = 0; i < 4; i++) {
    const u = new ShopClient(c.balancerUrl)
    await u.request('POST', '/login', { user: `ready${i}` }, n3.url)
    users.push(u)
  }
  await n3.kill('SIGKILL')
  await n3.start({ listening: true })
  // catch the transfer under way (its first chunks in), then freeze its sender, n1 (the
  // longest-running member): n3 waits for the next chunk, and asks again only after 3 s
  let seen: any = null
  for (let i = 0; i < 20_000 && seen === null; i++) {
    const s = await get(`${n3.url}/_nodecat/status`).catch(() => null)
    if (s?.body?.stateTransfer?.state === 'running' && s.body.stateTransfer.sessionsReceived > 0) seen = s.body
    else if (s?.body?.ready === true) break
  }
  t.ok(seen !== null, 'the transfer was caught under way')
  if (seen === null) return
  n1.proc!.signal('SIGSTOP')
  t.teardown(() => { if (n1.up) n1.proc!.signal('SIGCONT') })

  const ready = await get(`${n3.url}/_nodecat/ready`)
  t.equal(ready.status, 503, 'GET /_nodecat/ready answers 503 during the transfer')
  t.same(ready.body, { ready: false, state: 'starting' })
  const status = await get(`${n3.url}/_nodecat/status`)
  t.equal(status.status, 200, '/_nodecat/status stays informative (200)')
  t.equal(status.body.stateTransfer.state, 'running', 'the transfer is running')
  t.equal(status.body.ready, false)
  const direct = await fetch(`${n3.url}/api/state`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5000) })
  t.equal(direct.status, 503, 'an app request gets 503')
  t.equal(direct.headers.get('x-nodecat-draining'), 'starting', 'marked "not processed" for the balancer')
  t.equal(((await direct.json()) as { code?: string }).code, 'WAS_ERR_NOT_READY')

  // the balancer checks /_nodecat/ready every 500 ms: over several checks, n3 never counts as usable
  const states = new Set<string>()
  for (let i = 0; i < 6; i++) {
    states.add((await c.status()).workers.find((w: any) => w.route === 'n3').state)
    await sleep(300)
  }
  t.notOk(states.has('OK'), `the balancer does not count n3 usable during the transfer (${[...states].join(', ')})`)
  t.equal((await get(`${n3.url}/_nodecat/status`)).body.stateTransfer.state, 'running', 'and the transfer was still running')

  n1.proc!.signal('SIGCONT')
  await n3.proc!.waitFor((l) => l.event === 'node-ready', 120_000, 'n3 ready')
  t.equal((await get(`${n3.url}/_nodecat/ready`)).status, 200, 'ready once the transfer is done')
  const s3 = await get(`${n3.url}/_nodecat/status`)
  t.ok(s3.body.sessions.count >= SESSIONS + users.length, `n3 holds every session (${s3.body.sessions.count})`)
  await c.waitWorkerState('n3', ['OK'], 30_000)
  t.pass('the balancer takes n3 back after its health check passes')
  // the users of n3 stay logged in, served by n3 again
  for (const [i, u] of users.entries()) {
    const a = await u.state()
    t.ok(a.status === 200 && a.state?.user === `ready${i}`, `${describe(a)}: still logged in`)
  }
})
