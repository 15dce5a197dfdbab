/**
 * A node killed during state transfer, on either end (127.0.0.1, static membership, sync mode).
 * Three nodes; n3 is stopped, 3000 sessions of 16 KB are made on n1 (replicated to n2), then:
 *
 * (a) the SENDER dies: n3 starts and asks the longest-running member (n1) for every session; n3 is
 *     frozen for a moment so the transfer cannot finish, and n1 is SIGKILLed while it sends (see
 *     startAndFreezeMidTransfer: polling cannot catch a 48 MB transfer mid-way on loopback, the
 *     receiver's event loop is busy installing chunks). n3 must not become ready
 *     with a partial set: it asks the next member (n2) again and ends with every session, the
 *     same copies as n2 (replica digest).
 * (b) the RECEIVER dies: n1 starts (n2 is now the longest-running member) and is SIGKILLed while
 *     n2 sends it chunks. n2 is unaffected (it logs the aborted transfer, keeps serving,
 *     its sessions unchanged); a restarted n1 completes its transfer with every session.
 */
import t from 'tap'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startCluster, ShopClient, describe, sleep, type ClusterNode } from './lib/cluster.js'

const SESSIONS = 3000
/** KB of random text per session (test/lib/fill-app.mjs): 48 MB in all, so a transfer takes a while */
const KB = 16
const FILL_APP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'fill-app.mjs')

const statusOf = async (n: ClusterNode, replicas = false): Promise<any> =>
  await (await fetch(`${n.url}/_nodecat/status${replicas ? '?replicas=1' : ''}`, { signal: AbortSignal.timeout(10_000) })).json()

const ASKING = 'asking the longest-running member for all sessions'

/**
 * Start `n` and pin a moment its transfer is under way: once it asked for all sessions and the
 * sender logged that it is sending them, freeze the receiver (SIGSTOP). The sender sends chunk
 * after chunk, each acknowledged (sync) before the next, so while the receiver is frozen the
 * transfer cannot finish: whatever is killed now is killed mid-transfer. Returns a thaw function.
 */
async function startAndFreezeMidTransfer (n: ClusterNode, sender: ClusterNode): Promise<() => void> {
  const from = sender.lines().length
  const started = n.start({ ready: false })
  await n.proc!.waitFor((l) => l.msg === ASKING, 60_000, `${n.route} asks for all sessions`)
  await sender.proc!.waitFor((l) => l.msg === 'sending all sessions to a starting member' && sender.lines().indexOf(l) >= from, 30_000, `${sender.route} sends all sessions`)
  n.proc!.signal('SIGSTOP')
  await sleep(200)
  return () => { n.proc!.signal('SIGCONT'); void started.catch(() => {}) }
}

t.test('a node killed during state transfer, sender or receiver', async (t) => {
  const c = await startCluster(t, { nodes: 3, mode: 'sync', noBalancer: true, nodeArgs: ['--app', FILL_APP] })
  const [n1, n2, n3] = c.nodes as [ClusterNode, ClusterNode, ClusterNode]
  await n3.kill('SIGTERM') // a goodbye: the others drop it at once
  // thousands of sessions on n1 (each POST /fill makes one of KB kilobytes), 16 at a time; bounded in count
  const t0 = Date.now()
  let made = 0
  let failed = 0
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (made + failed < SESSIONS) {
      const i = made + failed
      const u = new ShopClient(n1.url)
      made++
      const a = await u.request('POST', `/fill?kb=${KB}`)
      if (a.status !== 200 || u.cookie === null) { made--; failed++; t.comment(`session ${i}: ${describe(a)}`) }
    }
  }))
  t.equal(failed, 0, `${made} sessions made on n1 in ${Date.now() - t0} ms`)
  const n2Before = (await statusOf(n2, true)).replicas
  t.equal(n2Before.count, SESSIONS, 'n2 holds every session (sync replication)')
  t.equal((await statusOf(n1, true)).replicas.digest, n2Before.digest, 'n1 and n2 hold identical copies')

  // (a) the sender dies mid-transfer
  const thawA = await startAndFreezeMidTransfer(n3, n1)
  await n1.kill('SIGKILL')
  thawA()
  t.comment('(a) n1 SIGKILLed while n3 waited for its chunks')
  await n3.proc!.waitFor((l) => l.event === 'node-ready', 90_000, 'node-ready of n3')
  const s3 = await statusOf(n3, true)
  t.equal(s3.stateTransfer.state, 'done', '(a) n3\'s transfer completed (did not time out)')
  t.equal(s3.replicas.count, SESSIONS, '(a) n3 holds every session')
  t.equal(s3.replicas.digest, (await statusOf(n2, true)).replicas.digest, '(a) identical to n2\'s copies')
  const asked = n3.lines().filter((l) => l.msg === 'asking the longest-running member for all sessions').map((l) => l.member as string)
  t.ok(new Set(asked).size >= 2, `(a) n3 asked another member after the sender died (${asked.length} asks)`)

  // (b) the receiver dies mid-transfer; n2 is the longest-running member now
  await c.waitMembers(30_000)
  const probe = new ShopClient(n2.url)
  t.equal((await probe.login('probe')).status, 200, '(b) a user on n2 before')
  const freezeB = await startAndFreezeMidTransfer(n1, n2)
  await n1.kill('SIGKILL')
  freezeB() // (nothing to thaw: it is dead)
  t.comment('(b) n1 SIGKILLed while n2 was sending it chunks')
  await n2.proc!.waitFor((l) => l.msg === 'state transfer to a member aborted', 30_000, 'n2 logs the aborted transfer')
  t.pass('(b) n2 logs that the transfer to the dead node was aborted')
  const answered = await probe.addToCart('after')
  t.equal(answered.status, 200, '(b) n2 keeps serving')
  t.same(answered.state?.cart, ['after'], '(b) with the user\'s data')
  const s2 = await statusOf(n2, true)
  t.equal(s2.replicas.count, SESSIONS + 1, '(b) n2 still holds every session')
  await sleep(500)
  t.equal(s2.replicas.digest, (await statusOf(n3, true)).replicas.digest, '(b) n2 and n3 still identical')
  t.ok(n2.up, '(b) n2 is still running')
  await n1.start() // node-ready: the transfer is done
  const s1 = await statusOf(n1, true)
  t.equal(s1.stateTransfer.state, 'done', '(b) the restarted n1 completed its transfer')
  t.equal(s1.replicas.count, SESSIONS + 1, '(b) n1 holds every session again')
  t.equal(s1.replicas.digest, (await statusOf(n2, true)).replicas.digest, '(b) identical to n2\'s copies')
  t.same(probe.failures().map(describe), [], 'no request of the probe user failed')
})
