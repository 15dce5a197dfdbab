/**
 * Whole channels with static membership in the host namespace on 127.0.0.1: discovery with meta,
 * messages in all three modes, clean stop seen as 'shutdown', domains and keys that never mix,
 * and the option checks (insecure address, bad option names).
 */
import t, { type Test } from 'tap'
import crypto from 'node:crypto'
import type { Channel, ChannelOptions, Member, DisappearReason } from '../src/index.js'
import { createChannel, generateKey, errors, isRefused } from '../src/index.js'
import { freePorts, freePort } from '../../../test/lib/ports.js'
import { waitUntil, sleep } from '@nodecat/testkit'

const KEY = generateKey()

interface Node { ch: Channel, got: Array<{ value: unknown, from: Member }>, added: Member[], gone: Array<[Member, DisappearReason]>, port: number }

async function cluster (t: Test, n: number, each: (i: number) => ChannelOptions = () => ({}), extraPeers: number[] = []): Promise<Node[]> {
  const ports = await freePorts(n)
  const members = [...ports, ...extraPeers].map((p) => `127.0.0.1:${p}`)
  const nodes = ports.map((port, i): Node => {
    const o = each(i)
    const ch = createChannel({
      port,
      autoBind: 1,
      sendMode: 'ack',
      timeout: 15_000,
      meta: { route: `n${i}` },
      ...o,
      membership: { type: 'static', members, frequency: 100, dropTime: 600, ...o.membership }
    })
    const node: Node = { ch, got: [], added: [], gone: [], port }
    ch.onMessage((value, from) => { node.got.push({ value, from }) })
    ch.on('memberAdded', (m) => node.added.push(m))
    ch.on('memberDisappeared', (m, reason) => node.gone.push([m, reason]))
    return node
  })
  await Promise.all(nodes.map((x) => x.ch.start()))
  t.teardown(() => Promise.all(nodes.map((x) => x.ch.stop())))
  return nodes
}

t.test('two channels see each other with their meta', async (t) => {
  const [a, b] = await cluster(t, 2)
  await waitUntil('both members added', () => a!.ch.members().length === 1 && b!.ch.members().length === 1)
  t.equal(a!.ch.members()[0]!.meta?.route, 'n1')
  t.equal(b!.ch.members()[0]!.meta?.route, 'n0')
  t.equal(a!.added[0]!.id, b!.ch.local.id, 'memberAdded carried the peer')
  t.equal(a!.added[0]!.meta?.role, 'node')
  t.equal(b!.ch.local.port, b!.port, 'advertises the bound port')
  t.equal(b!.ch.local.host, '127.0.0.1', 'loopback static list → 127.0.0.1')
})

t.test('three channels exchange messages in all three modes', async (t) => {
  const nodes = await cluster(t, 3)
  await waitUntil('full mesh', () => nodes.every((x) => x.ch.members().length === 2))
  for (const [i, x] of nodes.entries()) {
    for (const mode of ['async', 'ack', 'sync'] as const) {
      const r = await x.ch.send({ from: i, mode, list: [1, 'two', { three: 3 }], bytes: Buffer.from([1, 2]) }, { mode })
      t.equal(r.delivered.length, 2, `n${i} ${mode}: delivered to both peers`)
      t.same(r.failed, [])
    }
  }
  await waitUntil('every message', () => nodes.every((x) => x.got.length === 6))
  for (const [i, x] of nodes.entries()) {
    const seen = x.got.map((g) => `${(g.value as { from: number }).from}:${(g.value as { mode: string }).mode}`).sort()
    const expected = [0, 1, 2].filter((j) => j !== i).flatMap((j) => ['async', 'ack', 'sync'].map((m) => `${j}:${m}`)).sort()
    t.same(seen, expected, `n${i} got each peer's three messages`)
    const one = x.got[0]!
    t.same((one.value as { list: unknown }).list, [1, 'two', { three: 3 }], 'value decoded')
    t.equal(one.from.meta?.route, `n${(one.value as { from: number }).from}`, 'sender resolved to the known member')
    t.equal(x.ch.stats().messagesReceived, 6)
  }
  t.ok(nodes[0]!.ch.stats().messagesSent >= 6, 'sent counted')
})

t.test('sync waits for the handler; a throwing handler fails for that member only', async (t) => {
  const [a, b, c] = await cluster(t, 3)
  await waitUntil('full mesh', () => [a, b, c].every((x) => x!.ch.members().length === 2))
  let applied = false
  b!.ch.onMessage(async (v) => { if (v === 'apply') { await sleep(30); applied = true } })
  c!.ch.onMessage((v) => { if (v === 'boom') throw new Error('app refused') })
  const r1 = await a!.ch.send('apply', { mode: 'sync', to: a!.ch.members().find((m) => m.id === b!.ch.local.id)! })
  t.equal(r1.delivered.length, 1)
  t.ok(applied, 'side effect visible when send resolves')
  const r2 = await a!.ch.send('boom', { mode: 'sync' })
  t.same(r2.delivered.map((m) => m.id), [b!.ch.local.id], 'b processed it')
  t.equal(r2.failed.length, 1)
  t.equal(r2.failed[0]!.member.id, c!.ch.local.id, 'the failure names c')
  t.equal(r2.failed[0]!.error.code, 'TRIBES_ERR_REMOTE_PROCESSING')
})

t.test('a clean stop is seen as memberDisappeared reason shutdown', async (t) => {
  const [a, b] = await cluster(t, 2)
  await waitUntil('pair', () => a!.ch.members().length === 1)
  const bId = b!.ch.local.id
  await b!.ch.stop()
  await waitUntil('b gone', () => a!.gone.length > 0)
  t.equal(a!.gone[0]![0].id, bId)
  t.equal(a!.gone[0]![1], 'shutdown')
  t.same(a!.ch.members(), [])
  await t.rejects(b!.ch.send('x'), { code: 'TRIBES_ERR_CLOSED' }, 'a stopped channel refuses sends')
})

t.test('members of a different domain are ignored', async (t) => {
  const ports = await freePorts(1)
  const nodes = await cluster(t, 2, () => ({ domain: 'blue' }), ports)
  const other = createChannel({ port: ports[0]!, autoBind: 1, domain: 'green', membership: { type: 'static', members: [...nodes.map((x) => `127.0.0.1:${x.port}`), `127.0.0.1:${ports[0]}`], frequency: 100, dropTime: 600 } })
  await other.start()
  t.teardown(() => other.stop())
  await waitUntil('blue pair', () => nodes.every((x) => x.ch.members().length === 1))
  await waitUntil('green heartbeats refused', () => (nodes[0]!.ch.stats().dropped['membership-domain'] ?? 0) >= 2 && (other.stats().dropped['membership-domain'] ?? 0) >= 2)
  t.same(nodes[0]!.ch.members().map((m) => m.domain), ['blue'], 'only the blue peer')
  t.same(other.members(), [], 'green sees nobody')
  t.equal(nodes[0]!.added.length, 1, 'one memberAdded only')
})

t.test('a channel with a different key never admits the other', async (t) => {
  const k1 = generateKey()
  const k2 = generateKey()
  const [a, b, c] = await cluster(t, 3, (i) => ({ key: i < 2 ? k1 : k2 }))
  await waitUntil('a and b pair', () => a!.ch.members().length === 1 && b!.ch.members().length === 1)
  await waitUntil('c refused on both sides', () => (a!.ch.stats().dropped.decrypt ?? 0) >= 2 && (c!.ch.stats().dropped.decrypt ?? 0) >= 2)
  t.same(a!.ch.members().map((m) => m.id), [b!.ch.local.id], 'a admits only b')
  t.same(c!.ch.members(), [], 'c admits nobody')
  const r = await c!.ch.send('let me in', { mode: 'sync', to: a!.ch.local })
  t.equal(r.failed[0]?.error.code, 'TRIBES_ERR_REMOTE_PROCESSING', 'a refuses c\'s message (FAIL_ACK)')
  t.same(a!.got, [], 'nothing from c reached a\'s handlers')
  const ok = await a!.ch.send('hello b', { mode: 'sync' })
  t.equal(ok.delivered.length, 1)
  t.same(b!.got.map((g) => g.value), ['hello b'])
})

t.test('async queue full: dropped, counted, reported per member', async (t) => {
  const [a, b] = await cluster(t, 2, (i) => (i === 0 ? { queueMaxMessages: 5 } : {}))
  await waitUntil('pair', () => a!.ch.members().length === 1)
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => a!.ch.send(i, { mode: 'async' })))
  t.equal(results.filter((r) => r.delivered.length === 1).length, 5, 'five queued')
  const dropped = results.filter((r) => r.failed.length === 1)
  t.equal(dropped.length, 45, 'forty-five dropped')
  t.equal(dropped[0]!.failed[0]!.error.code, 'TRIBES_ERR_QUEUE_FULL')
  t.equal(a!.ch.stats().queueDropped, 45)
  await waitUntil('the five arrive', () => b!.got.length === 5)
  t.same(b!.got.map((g) => g.value), [0, 1, 2, 3, 4], 'in order')
})

t.test('send to a dead member gives TRIBES_ERR_CONNECT in its result', async (t) => {
  const [a] = await cluster(t, 1)
  const port = await freePort()
  const ghost: Member = { id: `127.0.0.1:${port}/00`, host: '127.0.0.1', port, uniqueId: '00'.repeat(16), domain: '', aliveTime: 1, meta: null }
  const r = await a!.ch.send('anyone?', { mode: 'ack', to: ghost })
  t.same(r.delivered, [])
  t.equal(r.failed[0]!.member, ghost)
  t.equal(r.failed[0]!.error.code, 'TRIBES_ERR_CONNECT')
  t.ok(isRefused(r.failed[0]!.error), 'refused: proof that no receiver runs there')
  t.equal(a!.ch.stats().sendFailures, 1)
  // what is not proof: a connect that timed out (a partition), an ack that never came (a frozen process)
  t.notOk(isRefused(errors.connect(ghost.id, Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }))), 'a timed-out connect is not')
  t.notOk(isRefused(errors.sendTimeout(ghost.id, 3000)), 'a send timeout is not')
  t.notOk(isRefused(Object.assign(new Error('x'), { code: 'TRIBES_ERR_CONNECT', cause: { code: 'ECONNREFUSED' } })), 'only a TribesError counts')
})

t.test('options: insecure address, bad values named, start twice', async (t) => {
  t.throws(() => createChannel({ address: '10.11.12.13', membership: { type: 'static', members: [] } }), { code: 'TRIBES_ERR_INSECURE' })
  t.doesNotThrow(() => createChannel({ address: '10.11.12.13', insecure: true, membership: { type: 'static', members: [] } }), 'insecure: true allows it')
  t.doesNotThrow(() => createChannel({ address: '10.11.12.13', key: generateKey(), membership: { type: 'static', members: [] } }), 'a key allows it')
  t.throws(() => createChannel({ timeout: -1 }), { code: 'TRIBES_ERR_INVALID_OPTION', message: /timeout/ })
  t.throws(() => createChannel({ address: '0.0.0.0' }), { code: 'TRIBES_ERR_INVALID_OPTION', message: /address/ })
  t.throws(() => createChannel({ membership: { type: 'static', members: ['nowhere'] } }), { code: 'TRIBES_ERR_INVALID_OPTION', message: /membership\.members/ })
  t.throws(() => createChannel({ key: 'c2hvcnQ=' }), { code: 'TRIBES_ERR_KEY_INVALID' })
  t.throws(() => createChannel({ sendMode: 'fast' as 'ack' }), { code: 'TRIBES_ERR_INVALID_OPTION', message: /sendMode/ })
  const [a] = await cluster(t, 1)
  await t.rejects(a!.ch.start(), { code: 'TRIBES_ERR_CHANNEL_STATE' })
  t.throws(() => createChannel({ membership: { type: 'static', members: [] } }).local, { code: 'TRIBES_ERR_NOT_STARTED' })
  t.ok(crypto.randomUUID(), 'done')
})

t.test('async batches and ack/sync messages to one member keep the order they were sent in', async (t) => {
  const [a, b] = await cluster(t, 2, () => ({ key: KEY }))
  await waitUntil('pair', () => a!.ch.members().length === 1 && b!.ch.members().length === 1)
  const sends: Array<Promise<unknown>> = []
  for (let i = 0; i < 300; i++) {
    const mode = i % 25 === 0 ? 'sync' : i % 10 === 0 ? 'ack' : 'async'
    sends.push(a!.ch.send({ i, blob: Buffer.alloc(i * 37) }, { mode }))
  }
  const results = await Promise.all(sends) as Array<{ delivered: Member[] }>
  t.ok(results.every((r) => r.delivered.length === 1), 'every send delivered or queued')
  await waitUntil('all 300', () => b!.got.length === 300)
  t.same(b!.got.map((g) => (g.value as { i: number }).i), Array.from({ length: 300 }, (_, i) => i), 'received in send order')
  t.equal(b!.got[299]!.from.id, a!.ch.local.id, 'sender of batched messages resolved')
})

t.test('a value larger than maxMessageSize is refused at send with a coded error', async (t) => {
  const [a, b] = await cluster(t, 2, () => ({ maxMessageSize: 4096 }))
  await waitUntil('pair', () => a!.ch.members().length === 1)
  await t.rejects(a!.ch.send(Buffer.alloc(8192)), { code: 'TRIBES_ERR_FRAME_TOO_LARGE' })
  const r = await a!.ch.send(Buffer.alloc(1024), { mode: 'sync' })
  t.equal(r.delivered.length, 1, 'smaller values still go')
  for (let i = 0; i < 40; i++) await a!.ch.send(Buffer.alloc(1000, i), { mode: 'async' })
  await waitUntil('40 async values', () => b!.got.length === 41)
  t.equal(b!.ch.stats().dropped['frame-too-large'], undefined, 'async batches were split to fit the receiver\'s maxMessageSize')
})
