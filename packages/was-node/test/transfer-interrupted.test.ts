/**
 * A streamed state transfer interrupted at every chunk boundary: the answering member killed or
 * leaving after chunk k, the joining member killed or stopped after chunk k, a chunk lost on the
 * way. Every run ends with the joiner holding exactly what the surviving members hold (the same
 * digest: every session, none older, none twice), or a clean retry; never a partial state taken
 * for a complete one. In-process managers on the fake hub, 45 sessions in chunks of 10.
 */
import t from 'tap'
import { Packr } from 'msgpackr'
import type { Test } from 'tap'
import { SessionManager } from '../src/manager/session-manager.js'
import type { FakeHub } from './helpers/fake-channel.js'
import type { FakeClock } from './helpers/clock.js'
import { cluster, memoryLogger, request } from './helpers/session-cluster.js'
import type { Node } from './helpers/session-cluster.js'

const SESSIONS = 45
const CHUNK = 10
const CHUNKS = Math.ceil(SESSIONS / CHUNK)
const OPTS = { transferChunkSessions: CHUNK, transferRetry: 200, stateTransferTimeout: 20_000, gapWait: 10 }

const packr = new Packr({ useRecords: false })
const tick = async (): Promise<void> => await new Promise((resolve) => setImmediate(resolve))
async function until (what: string, ok: () => boolean, rounds = 5000): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (ok()) return
    await tick()
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** a joining manager whose start() is not awaited, with the cluster's clock */
async function joining (t: Test, hub: FakeHub, clock: FakeClock, route: string): Promise<Node & { started: Promise<void> }> {
  const channel = hub.channel(route)
  await channel.start()
  const { logger, logs } = memoryLogger()
  const manager = new SessionManager({ route, channel, logger, clock, processExpiresFrequency: 0, ...OPTS })
  t.teardown(async () => { await manager.stop(); await channel.stop() })
  return { route, channel, manager, logs, started: manager.start() }
}

/** n1 (longest-running: the one asked first) and n2, both holding SESSIONS sessions */
async function twoHolders (t: Test): Promise<{ hub: FakeHub, clock: FakeClock, a: Node, b: Node, ids: string[] }> {
  const { hub, clock, nodes: [a, b] } = await cluster(t, ['n1', 'n2'], OPTS)
  const ids: string[] = []
  for (let i = 0; i < SESSIONS; i++) ids.push((await request(i % 2 ? a! : b!, [], (s) => { s.set('i', i); s.set('name', `user-${i}`) })).id!)
  await hub.settle()
  return { hub, clock, a: a!, b: b!, ids }
}

/** what `j` holds equals what `peer` holds (same sessions, versions and values), and it is done */
async function holdsAll (t: Test, hub: FakeHub, j: Node, peer: Node, what: string): Promise<void> {
  await hub.settle()
  const mine = j.manager.replicas()
  const theirs = peer.manager.replicas()
  t.equal(mine.count, theirs.count, `${what}: every session`)
  t.same(mine.sessions, theirs.sessions, `${what}: the same version of each`)
  t.equal(mine.digest, theirs.digest, `${what}: identical copies`)
  t.equal(j.manager.stats().transfer.state, 'done', `${what}: the transfer completed`)
  t.equal(j.manager.stats().ready, true, `${what}: ready`)
}

for (const how of ['killed', 'leaves'] as const) {
  t.test(`the answering member ${how} after chunk k: the joiner asks the next member`, async (t) => {
    for (let k = 0; k <= CHUNKS; k++) {
      await t.test(`k = ${k}`, async (t) => {
        const { hub, clock, a, b, ids } = await twoHolders(t)
        let j: Node | null = null
        // why: what a sends the joiner after chunk k never arrives (a is gone before it could)
        hub.filter = (m, from, to) => (from === a.channel && j !== null && to === j.channel && ((m.t === 'all-data' && m.seq >= k) || m.t === 'transfer-complete')) ? 'drop' : 'deliver'
        const joiner = j = await joining(t, hub, clock, 'n3')
        await until(`chunk ${k} from n1`, () => joiner.manager.stats().transfer.chunksReceived >= k)
        t.equal(joiner.manager.stats().transfer.chunksReceived, k, `the joiner got ${k} chunks`)
        t.equal(joiner.manager.stats().ready, false, 'not ready on part of the sessions')
        // a change on the survivor between the chunks: the joiner must end with it, not the older copy
        await request(b, [ids[k]!], (s) => { s.set('i', 1000 + k) })
        if (how === 'killed') a.channel.crash()
        else await a.channel.stop()
        await a.manager.stop()
        await joiner.started
        await holdsAll(t, hub, joiner, b, `sender ${how} after ${k} of ${CHUNKS}`)
        t.same(joiner.manager.inspect(ids[k]!)?.attributes, { i: 1000 + k, name: `user-${k}` }, 'the change made meanwhile is there')
        t.ok(joiner.logs.some((l) => l.msg === 'state transfer peer left; asking the next member'), 'asked the next member')
      })
    }
  })
}

for (const how of ['killed', 'stopped'] as const) {
  t.test(`the joiner is ${how} after chunk k: the answer ends, and a new start gets everything`, async (t) => {
    for (let k = 0; k <= CHUNKS; k++) {
      await t.test(`k = ${k}`, async (t) => {
        const { hub, clock, a, ids } = await twoHolders(t)
        let first: Node | null = null
        // why: after chunk k the joiner's process is gone: what comes later is refused
        hub.filter = (m, from, to) => (first !== null && to === first.channel && from === a.channel && ((m.t === 'all-data' && m.seq >= k) || m.t === 'transfer-complete')) ? 'refuse' : 'deliver'
        const j1 = first = await joining(t, hub, clock, 'n3')
        await until(`chunk ${k}`, () => j1.manager.stats().transfer.chunksReceived >= k)
        t.equal(j1.manager.stats().transfer.chunksReceived, k, `the joiner got ${k} chunks`)
        if (how === 'killed') j1.channel.crash()
        else await j1.channel.stop()
        await j1.manager.stop()
        await j1.started
        t.equal(j1.channel.received.filter((m) => m.t === 'transfer-complete').length, 0, 'the first joiner never heard complete')
        // the answering member gives up on the gone joiner (or finished what it had), and stays healthy
        await hub.settle()
        await request(a, [ids[0]!], (s) => { s.set('i', -1) })
        const j2 = await joining(t, hub, clock, 'n4')
        await j2.started
        await holdsAll(t, hub, j2, a, `joiner ${how} after ${k} of ${CHUNKS}, then a new one`)
        t.equal(j2.manager.inspect(ids[0]!)?.attributes.i, -1, 'with the newest version')
      })
    }
  })
}

t.test('a chunk lost on the way (any k): the joiner asks again instead of finishing short', async (t) => {
  for (let k = 0; k < CHUNKS; k++) {
    await t.test(`chunk ${k} lost`, async (t) => {
      const { hub, clock, a } = await twoHolders(t)
      let dropped = 0
      let j: Node | null = null
      hub.filter = (m, from, to) => {
        if (from === a.channel && j !== null && to === j.channel && m.t === 'all-data' && m.seq === k && dropped === 0) { dropped++; return 'drop' }
        return 'deliver'
      }
      const joiner = j = await joining(t, hub, clock, 'n3')
      await joiner.started
      t.equal(dropped, 1, 'one chunk was lost')
      await holdsAll(t, hub, joiner, a, `chunk ${k} of ${CHUNKS} lost`)
      const reason = k === CHUNKS - 1 ? 'transfer-incomplete' : 'transfer-gap'
      t.equal(joiner.manager.stats().dropped[reason], 1, `counted as ${reason}`)
      t.equal(joiner.manager.stats().transfer.sessionsReceived, k * CHUNK + SESSIONS, 'the chunks before the lost one, then every session again')
    })
  }
})

t.test('an unreadable chunk is refused whole and the joiner asks again', async (t) => {
  const { hub, clock, a } = await twoHolders(t)
  let j: Node | null = null
  let spoiled = 0
  // why: the hub hands the filter a decoded copy; the spoiled one goes on the same lane, in order
  hub.filter = (m, from, to) => {
    if (from === a.channel && j !== null && to === j.channel && m.t === 'all-data' && m.seq === 1 && spoiled === 0) {
      spoiled++
      const b = Buffer.from(m.b)
      b.writeUInt32LE(b.length + 7, 5) // the tables' offset past the end
      void a.channel.deliverNow(packr.pack({ ...m, b }), j.channel)
      return 'drop'
    }
    return 'deliver'
  }
  const joiner = j = await joining(t, hub, clock, 'n3')
  await joiner.started
  t.equal(spoiled, 1)
  await holdsAll(t, hub, joiner, a, 'after an unreadable chunk')
  t.equal(joiner.manager.stats().dropped['bad-chunk-format'], 1, 'counted')
})
