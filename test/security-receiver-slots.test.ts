/**
 * Holding a receiver's connection slots, as an attacker on the same machine would (issue 12 §3):
 * two nodecat-was processes on 127.0.0.1 (static membership, sync replication, no key, as in the
 * probe that found it). A local process keeps 40 idle TCP connections open to n1's receiver,
 * reopening each one the receiver closes, so every slot 127.0.0.1 may hold on n1 is taken by a
 * stranger whenever one frees. n2 is SIGKILLed and started again: its new connections to n1 come
 * from 127.0.0.1 too.
 *
 * Asserted: the restarted n2 completes a state transfer holding every session, both nodes hold
 * identical copies (replica digest), every user's session is served by n2, and while the
 * strangers keep at it neither node drops the other (no flapping). Before the fix the strangers
 * held n1's slots for 127.0.0.1 and n2 could not reach n1.
 */
import t from 'tap'
import net from 'node:net'
import { startCluster, ShopClient, describe, sleep, HOST, type ClusterNode } from './lib/cluster.js'

const statusOf = async (n: ClusterNode, replicas = false): Promise<any> =>
  await (await fetch(`${n.url}/_nodecat/status${replicas ? '?replicas=1' : ''}`, { signal: AbortSignal.timeout(10_000) })).json()

/** idle connections to host:port, each reopened `reopenMs` after it is closed; bounded in count and time */
class SlotHolder {
  readonly #sockets = new Set<net.Socket>()
  #stopped = false
  opened = 0
  closedByPeer = 0
  /** most connections open at once (connected, not closed) */
  maxOpen = 0

  constructor (readonly port: number, readonly want: number, readonly reopenMs: number, readonly maxOpens: number) {
    for (let i = 0; i < want; i++) this.#open()
  }

  get open (): number {
    let n = 0
    for (const s of this.#sockets) if (!s.connecting && !s.destroyed) n++
    return n
  }

  #open (): void {
    if (this.#stopped || this.opened >= this.maxOpens) return
    this.opened++
    const s = net.connect({ host: HOST, port: this.port })
    this.#sockets.add(s)
    s.on('error', () => {})
    s.on('connect', () => { this.maxOpen = Math.max(this.maxOpen, this.open) })
    s.on('close', () => {
      this.#sockets.delete(s)
      if (this.#stopped) return
      this.closedByPeer++
      setTimeout(() => this.#open(), this.reopenMs).unref()
    })
  }

  stop (): void {
    this.#stopped = true
    for (const s of this.#sockets) s.destroy()
  }
}

t.test('idle strangers holding a receiver\'s slots do not keep a restarted peer from its sessions or its membership', async (t) => {
  const c = await startCluster(t, { nodes: 2, noBalancer: true, mode: 'sync' })
  const [n1, n2] = c.nodes as [ClusterNode, ClusterNode]
  await c.waitMembers()
  const users: ShopClient[] = []
  for (let i = 0; i < 19; i++) {
    const u = new ShopClient(c.nodes[i % 2]!.url)
    const login = await u.login(`held${i}`)
    t.equal(login.status, 200, `held${i} logged in on ${c.nodes[i % 2]!.route}`)
    await u.addToCart(`item${i}`)
    users.push(u)
  }

  const holder = new SlotHolder(n1.receiverPort, 40, 200, 5000)
  t.teardown(() => holder.stop())
  // the strangers take every slot n2's connections do not hold
  const until = Date.now() + 10_000
  while (holder.open < 30 && Date.now() < until) await sleep(50)
  t.ok(holder.open >= 30, `the strangers hold ${holder.open} idle connections on n1's receiver`)

  await n2.kill('SIGKILL')
  const killedAt = Date.now()
  // the slots the dead n2 held are taken by strangers too
  await sleep(1000)
  t.ok(holder.open >= 30, `${holder.open} idle connections held when n2 comes back`)
  let restarted = true
  try {
    await n2.start({ timeoutMs: 60_000 })
  } catch (err) {
    restarted = false
    t.fail(`n2 did not become ready: ${(err as Error).message}`)
  }
  t.comment(`n2 ready ${Date.now() - killedAt} ms after SIGKILL; strangers: ${holder.opened} connections opened, ${holder.closedByPeer} closed by n1, at most ${holder.maxOpen} open at once`)
  if (!restarted) return
  const s2 = await statusOf(n2)
  const newId = s2.member.id as string
  t.equal(s2.stateTransfer?.state, 'done', 'n2 ran a state transfer')
  t.ok(s2.stateTransfer?.sessionsReceived >= users.length, `n2 received every session (${s2.stateTransfer?.sessionsReceived} of ${users.length})`)

  let digests: any[] = []
  for (let i = 0; i < 40; i++) {
    digests = await Promise.all(c.nodes.map(async (n) => (await statusOf(n, true)).replicas))
    if (digests.every((d) => d.digest === digests[0].digest) && digests[0].count === users.length) break
    await sleep(250)
  }
  t.ok(digests.every((d) => d.digest === digests[0].digest), 'identical copies on both nodes')
  t.equal(digests[0].count, users.length, 'every session on both nodes')

  // the strangers keep at it for a few drop times: the members must not lose each other
  const lost: string[] = []
  const watchUntil = Date.now() + 8000
  while (Date.now() < watchUntil) {
    const [m1, m2] = await Promise.all([statusOf(n1), statusOf(n2)])
    if (!(m1.members as any[]).some((m) => m.id === newId)) lost.push(`n1 did not list n2 at +${Date.now() - killedAt} ms`)
    if (!(m2.members as any[]).some((m) => m.route === 'n1')) lost.push(`n2 did not list n1 at +${Date.now() - killedAt} ms`)
    await sleep(250)
  }
  t.same(lost, [], 'neither node dropped the other while the strangers held on')
  const drops = [...n1.lines(), ...n2.lines()].filter((l) => typeof l.msg === 'string' && /dropping|member left/.test(l.msg) && (l.member === newId || l.member === s2.members?.[0]?.id))
  t.same(drops.map((l) => l.msg), [], 'no member was dropped')
  t.ok(holder.closedByPeer > 0, 'the receiver closed strangers\' connections (first-frame timeout or eviction)')

  for (const [i, u] of users.entries()) {
    const s = await u.state(n2.url)
    t.ok(s.status === 200 && s.state?.user === `held${i}` && JSON.stringify(s.state?.cart) === JSON.stringify([`item${i}`]),
      `held${i}: served by n2 with the same session (${describe(s)} ${JSON.stringify(s.state?.cart)})`)
  }
  holder.stop()
})
