/**
 * Write coalescing: the frames for one member made in the same event-loop turn leave in one
 * socket write (counted by the channel's socketWrites / framesWritten and the sender's counts),
 * and still arrive complete and in send order, keyed and unkeyed, with values larger than a
 * socket buffer among them; sync sends in one batch each get their own ack; a peer that closes in
 * the middle of a batch fails the sends it did not answer, each with a coded error, none lost.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import crypto from 'node:crypto'
import { pino } from 'pino'
import type { Channel, ChannelOptions, Member, SendResult } from '../src/index.js'
import { createChannel, generateKey } from '../src/index.js'
import { Sender } from '../src/transport/sender.js'
import { TransportCounters } from '../src/transport/counters.js'
import { encodeChannelDataFrame } from '../src/codec/channel-data.js'
import { ACK_FRAME, FrameParser } from '../src/codec/frame.js'
import { freePorts } from '../../../test/lib/ports.js'
import { waitUntil } from '@nodecat/testkit'

const log = pino({ level: 'silent' })

interface Node { ch: Channel, got: unknown[] }

async function cluster (t: Test, n: number, o: ChannelOptions = {}): Promise<Node[]> {
  const ports = await freePorts(n)
  const members = ports.map((p) => `127.0.0.1:${p}`)
  const nodes = ports.map((port): Node => {
    const ch = createChannel({ port, autoBind: 1, timeout: 30_000, ...o, membership: { type: 'static', members, frequency: 100, dropTime: 3000 } })
    const node: Node = { ch, got: [] }
    ch.onMessage((value) => { node.got.push(value) })
    return node
  })
  await Promise.all(nodes.map((x) => x.ch.start()))
  t.teardown(() => Promise.all(nodes.map((x) => x.ch.stop())))
  await waitUntil('full mesh', () => nodes.every((x) => x.ch.members().length === n - 1), 20_000)
  return nodes
}

/** a value whose payload proves its own integrity: i, size, sha256(payload), payload */
function valueOf (i: number, size: number): { i: number, sha: string, payload: Buffer } {
  const payload = crypto.randomBytes(size)
  return { i, sha: crypto.createHash('sha256').update(payload).digest('hex'), payload }
}

function intact (v: unknown): boolean {
  const x = v as { sha: string, payload: Uint8Array }
  return crypto.createHash('sha256').update(x.payload).digest('hex') === x.sha
}

// sizes: mostly small, some of a few KiB, and two larger than a loopback socket's send buffer
const SIZES = [10, 200, 3000, 50, 6 * 1024 * 1024, 17, 40_000, 1, 900, 5 * 1024 * 1024 + 3, 64, 70_000, 5, 128, 12_000]

for (const keyed of [false, true]) {
  t.test(`${keyed ? 'keyed' : 'unkeyed'}: async and sync sends of one turn to one member share one write and arrive complete, in order`, async (t) => {
    const [a, b] = await cluster(t, 2, keyed ? { key: generateKey() } : {})
    const peer = a!.ch.members()[0]!
    // warm the connection, so the count below is that of one turn only
    await a!.ch.send('warm', { mode: 'sync' })
    await waitUntil('warm-up received', () => b!.got.length === 1)
    b!.got.length = 0
    const before = a!.ch.stats()
    const sends: Array<Promise<SendResult>> = []
    const N = 3 * SIZES.length // within the async queue's 64 MiB
    let syncCount = 0
    for (let i = 0; i < N; i++) {
      const mode = i % 4 === 3 ? 'sync' : 'async'
      if (mode === 'sync') syncCount++
      sends.push(a!.ch.send(valueOf(i, SIZES[i % SIZES.length]!), { mode, to: peer }))
    }
    const results = await Promise.all(sends)
    t.same(results.flatMap((r, i) => r.failed.map((f) => `${i}: ${f.error.code} ${f.error.message}`)), [], 'no send failed')
    t.ok(results.every((r) => r.delivered.length === 1), 'every send delivered (sync: acknowledged)')
    await waitUntil(`all ${N} received`, () => b!.got.length === N, 30_000)
    t.same(b!.got.map((v) => (v as { i: number }).i), Array.from({ length: N }, (_, i) => i), 'received in send order')
    t.ok(b!.got.every(intact), 'every payload intact')
    const after = a!.ch.stats()
    const writes = after.socketWrites! - before.socketWrites!
    const frames = after.framesWritten! - before.framesWritten!
    t.equal(writes, 1, 'the frames of the turn went out in one socket write')
    t.ok(frames >= syncCount + 2, `that write held ${frames} frames (${syncCount} sync frames, and the async batches between them)`)
    t.same(b!.ch.stats().dropped, {}, 'the receiver dropped nothing')
  })
}

t.test('keyed: a batch to two members is sealed once and both receive every value in order', async (t) => {
  const [a, b, c] = await cluster(t, 3, { key: generateKey() })
  await a!.ch.send('warm', { mode: 'sync' })
  await waitUntil('warm-up received', () => b!.got.length === 1 && c!.got.length === 1)
  b!.got.length = 0
  c!.got.length = 0
  const before = a!.ch.stats()
  const N = 200
  for (let i = 0; i < N; i++) void a!.ch.send(valueOf(i, i % 10 === 0 ? 20_000 : 100), { mode: 'async' })
  await waitUntil('both got all', () => b!.got.length === N && c!.got.length === N, 30_000)
  for (const x of [b!, c!]) {
    t.same(x.got.map((v) => (v as { i: number }).i), Array.from({ length: N }, (_, i) => i), 'in order')
    t.ok(x.got.every(intact), 'intact')
    t.same(x.ch.stats().dropped, {}, 'no replay or decrypt drop: one sealed frame is valid at each member')
  }
  const after = a!.ch.stats()
  t.equal(after.socketWrites! - before.socketWrites!, 2, 'one write per member')
})

t.test('sync sends in one batch each get their own ack: a failure is reported for its message only', async (t) => {
  const [a, b] = await cluster(t, 2)
  const peer = a!.ch.members()[0]!
  const applied: number[] = []
  b!.ch.onMessage(async (v) => {
    const i = (v as { i: number }).i
    await new Promise((resolve) => setTimeout(resolve, i % 3)) // unequal handler times
    if (i % 5 === 2) throw new Error(`refused ${i}`)
    applied.push(i)
  })
  await a!.ch.send({ i: -1 }, { mode: 'sync' })
  const before = a!.ch.stats()
  const sends = Array.from({ length: 40 }, (_, i) => a!.ch.send({ i, pad: Buffer.alloc(i * 500) }, { mode: 'sync', to: peer }))
  const results = await Promise.all(sends)
  for (const [i, r] of results.entries()) {
    if (i % 5 === 2) {
      t.equal(r.failed[0]?.error.code, 'TRIBES_ERR_REMOTE_PROCESSING', `send ${i}: its own FAIL_ACK`)
      t.equal(r.delivered.length, 0)
    } else {
      t.equal(r.delivered.length, 1, `send ${i}: its own ACK`)
    }
  }
  t.same(applied.filter((i) => i >= 0), Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 5 !== 2), 'applied in order, each once')
  const after = a!.ch.stats()
  t.equal(after.framesWritten! - before.framesWritten!, 40, 'forty frames')
  t.equal(after.socketWrites! - before.socketWrites!, 1, 'in one write')
})

t.test('a peer that closes in the middle of a batch: answered sends resolve, the others fail with a coded error', async (t) => {
  const ANSWER = 7
  const sizes = [100, 300_000, 20, 8 * 1024 * 1024, 50, 4000, 1, 2_000_000, 10, 10, 10, 10, 10, 10, 10, 10]
  let frames = 0
  const received: number[] = []
  let parseError: Error | null = null
  const held = new Set<net.Socket>()
  const server = net.createServer((s) => {
    held.add(s)
    const p = new FrameParser({ maxFrameSize: 16 * 1024 * 1024 })
    s.on('data', (chunk) => {
      if (s.destroyed) return
      let bodies: Buffer[]
      try { bodies = p.push(chunk) } catch (err) { parseError = err as Error; s.destroy(); return }
      for (const body of bodies) {
        frames++
        received.push(body.readUInt32BE(body.length - 4))
        if (frames <= ANSWER) { s.write(ACK_FRAME); continue }
        // why: stop listening first, so the sender's one reconnect is refused
        server.close()
        s.destroy()
        return
      }
    })
    s.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of held) s.destroy(); server.close() })
  const { port } = server.address() as net.AddressInfo
  const sender = new Sender({ connectTimeout: 5000, logger: log, counters: new TransportCounters(), reconnectDelay: 10 })
  t.teardown(() => sender.close())
  const conn = sender.connection({ host: '127.0.0.1', port })
  const frameOf = (i: number): Buffer[] => {
    const message = Buffer.alloc(sizes[i]! + 4, i)
    message.writeUInt32BE(i, message.length - 4)
    const whole = encodeChannelDataFrame({ options: 2, timestamp: Date.now(), uniqueId: crypto.randomBytes(16), sender: Buffer.from('blob'), message })
    // written as parts, as the channel does, to check that parts make one frame
    return [whole.subarray(0, 30), whole.subarray(30, whole.length - 3), whole.subarray(whole.length - 3)]
  }
  conn.cork()
  const sends = sizes.map((_, i) => conn.sendAcked(frameOf(i), 30_000).then(() => 'acked', (err: { code?: string }) => err.code ?? 'uncoded'))
  conn.uncork()
  t.equal(sender.counts.writes, 1, 'the batch was handed to the socket as one write')
  t.equal(sender.counts.frames, sizes.length, 'holding every frame')
  const outcomes = await Promise.all(sends)
  t.equal(parseError, null, 'the peer saw only whole frames')
  t.same(received.slice(0, ANSWER + 1), Array.from({ length: ANSWER + 1 }, (_, i) => i), 'the peer got the first frames whole and in order')
  t.same(outcomes.slice(0, ANSWER), Array(ANSWER).fill('acked'), 'each answered send resolved')
  const rest = outcomes.slice(ANSWER)
  t.ok(rest.every((o) => o === 'TRIBES_ERR_CONNECT' || o === 'TRIBES_ERR_CONNECTION_LOST'), `the unanswered ones failed with a coded error: ${[...new Set(rest)].join(', ')}`)
  t.equal(rest.length, sizes.length - ANSWER, 'none left pending')
  t.equal(conn.pendingAcks, 0, 'nothing waits for an ack')
})

t.test('a member whose connection breaks while a batch of async and sync sends is queued: the sync ones fail, nothing hangs', async (t) => {
  const [a, b] = await cluster(t, 2)
  const peer: Member = a!.ch.members()[0]!
  await a!.ch.send('warm', { mode: 'sync' })
  const stopping = b!.ch.stop()
  const sends: Array<Promise<SendResult>> = []
  for (let i = 0; i < 30; i++) sends.push(a!.ch.send(valueOf(i, i % 4 === 0 ? 300_000 : 100), { mode: i % 3 === 0 ? 'sync' : 'async', to: peer }))
  const results = await Promise.all(sends)
  await stopping
  for (const [i, r] of results.entries()) {
    t.equal(r.delivered.length + r.failed.length, 1, `send ${i}: delivered or failed, never both or neither`)
    for (const f of r.failed) t.match(f.error.code, /^TRIBES_ERR_/, `send ${i}: coded error ${f.error.code}`)
  }
  const got = b!.got.filter((v) => typeof v === 'object') as Array<{ i: number }>
  t.ok(got.every((v, k) => k === 0 || v.i > got[k - 1]!.i), 'what the stopping member applied is in send order')
  t.ok(got.every(intact), 'and whole')
})
