/**
 * Transport over real loopback sockets: autoBind, ordered complete delivery in ack mode, the
 * ACK/FAIL_ACK rules, bad streams closing only their own connection, connect failures, the
 * reconnect-and-resend on a broken connection, ack timeouts, and the async queue's drops.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import crypto from 'node:crypto'
import { pino } from 'pino'
import { Receiver, type InboundHandler } from '../src/transport/receiver.js'
import { Sender } from '../src/transport/sender.js'
import { DispatchQueue } from '../src/transport/dispatch-queue.js'
import { TransportCounters } from '../src/transport/counters.js'
import { encodeChannelDataFrame } from '../src/codec/channel-data.js'
import { ACK_FRAME, FrameParser, encodeFrame } from '../src/codec/frame.js'
import { freePort } from '../../../test/lib/ports.js'
import { sleep } from '@nodecat/testkit'

const log = pino({ level: 'silent' })
const blob = Buffer.from('sender-blob')
const frameOf = (options: number, message: Buffer) =>
  encodeChannelDataFrame({ options, timestamp: Date.now(), uniqueId: crypto.randomBytes(16), sender: blob, message })

async function startReceiver (t: Test, onMessage: InboundHandler, extra: Partial<{ port: number, autoBind: number, maxFrameSize: number }> = {}) {
  const counters = new TransportCounters()
  const r = new Receiver({ address: '127.0.0.1', port: extra.port ?? 0, autoBind: extra.autoBind ?? 1, maxFrameSize: extra.maxFrameSize ?? 1 << 20, maxConnections: 64, logger: log, counters, onMessage })
  await r.start()
  t.teardown(() => r.stop())
  return { r, counters, target: { host: '127.0.0.1', port: r.port } }
}

function newSender (t: Test, onPeerFailure?: (address: string, err: Error) => void, reconnectDelay?: number) {
  const s = new Sender({ connectTimeout: 5000, logger: log, counters: new TransportCounters(), onPeerFailure, ...(reconnectDelay === undefined ? {} : { reconnectDelay }) })
  t.teardown(() => s.close())
  return s
}

t.test('autoBind skips a taken port', async (t) => {
  const holder = net.createServer()
  const p = await freePort()
  await new Promise<void>((resolve, reject) => { holder.once('error', reject); holder.listen(p, '127.0.0.1', resolve) })
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())))
  const { r } = await startReceiver(t, () => {}, { port: p, autoBind: 20 })
  t.not(r.port, p, 'did not take the held port')
  t.ok(r.port > p && r.port < p + 20, `bound ${r.port}, within ${p}..${p + 19}`)
  const fail = new Receiver({ address: '127.0.0.1', port: p, autoBind: 1, maxFrameSize: 1024, maxConnections: 1, logger: log, counters: new TransportCounters(), onMessage: () => {} })
  await t.rejects(fail.start(), { code: 'TRIBES_ERR_BIND' }, 'autoBind 1 on a taken port fails with TRIBES_ERR_BIND')
})

t.test('10,000 messages of mixed sizes arrive complete and in order per sender (ack mode)', async (t) => {
  const N = 5000 // per sender, two senders
  const got = new Map<number, number[]>()
  let bad = 0
  const { target } = await startReceiver(t, (_body, cd) => {
    const m = cd.message
    const who = m.readUInt8(0)
    const seq = m.readUInt32BE(1)
    const digest = crypto.createHash('sha256').update(m.subarray(37)).digest()
    if (!digest.equals(m.subarray(5, 37))) bad++
    let list = got.get(who)
    if (list === undefined) got.set(who, list = [])
    list.push(seq)
  }, { maxFrameSize: 1 << 17 })
  const rnd = (n: number) => crypto.randomInt(n)
  const message = (who: number, seq: number) => {
    const size = rnd(10) === 0 ? 1000 + rnd(64 * 1024 - 1000) : 10 + rnd(990)
    const payload = crypto.randomBytes(size)
    const m = Buffer.allocUnsafe(37 + size)
    m.writeUInt8(who, 0); m.writeUInt32BE(seq, 1)
    crypto.createHash('sha256').update(payload).digest().copy(m, 5)
    payload.copy(m, 37)
    return m
  }
  const run = async (who: number) => {
    const conn = newSender(t).connection(target)
    const window: Array<Promise<void>> = []
    for (let seq = 0; seq < N; seq++) {
      window.push(conn.sendAcked(frameOf(3, message(who, seq)), 60_000))
      if (window.length >= 200) await Promise.all(window.splice(0))
    }
    await Promise.all(window)
  }
  await Promise.all([run(1), run(2)])
  t.equal(bad, 0, 'every message intact')
  for (const who of [1, 2]) {
    const list = got.get(who) ?? []
    t.equal(list.length, N, `sender ${who}: all ${N} arrived`)
    t.ok(list.every((s, i) => s === i), `sender ${who}: in order`)
  }
})

t.test('sync waits for the handler; a throwing handler gives FAIL_ACK; ack mode acks before handling', async (t) => {
  let applied = 0
  const { target } = await startReceiver(t, async (_b, cd) => {
    const text = cd.message.toString()
    if (text === 'slow') { await sleep(50); applied++ }
    if (text === 'throw') throw new Error('app failed')
    if (text === 'reject') await Promise.reject(new Error('app failed later'))
  })
  const conn = newSender(t).connection(target)
  await conn.sendAcked(frameOf(7, Buffer.from('slow')), 30_000)
  t.equal(applied, 1, 'the handler side effect is visible when the sync send resolves')
  await t.rejects(conn.sendAcked(frameOf(7, Buffer.from('throw')), 30_000), { code: 'TRIBES_ERR_REMOTE_PROCESSING', message: new RegExp(`127\\.0\\.0\\.1:${target.port}`) }, 'sync + throw = FAIL_ACK naming the member')
  await t.rejects(conn.sendAcked(frameOf(7, Buffer.from('reject')), 30_000), { code: 'TRIBES_ERR_REMOTE_PROCESSING' }, 'sync + rejection = FAIL_ACK')
  await t.resolves(conn.sendAcked(frameOf(3, Buffer.from('throw')), 30_000), 'ack mode: acked before the handler runs, so a failing handler still acks')
  await conn.sendAcked(frameOf(7, Buffer.from('slow')), 30_000)
  t.equal(applied, 2, 'the connection still works after failures')
})

t.test('messages of one connection are handled strictly in order even when sync handlers are slow', async (t) => {
  const order: string[] = []
  const { target } = await startReceiver(t, async (_b, cd) => {
    const text = cd.message.toString()
    if (text.startsWith('sync')) await sleep(5 + crypto.randomInt(20))
    order.push(text)
  })
  const conn = newSender(t).connection(target)
  const sends: Array<Promise<void>> = []
  const expected: string[] = []
  for (let i = 0; i < 60; i++) {
    const mode = i % 3
    const text = `${mode === 0 ? 'sync' : mode === 1 ? 'ack' : 'async'}-${i}`
    expected.push(text)
    const f = frameOf(mode === 0 ? 7 : mode === 1 ? 3 : 9, Buffer.from(text))
    if (mode === 2) conn.sendAsync(f)
    else sends.push(conn.sendAcked(f, 30_000))
  }
  await Promise.all(sends)
  t.same(order, expected, 'handled in the order sent, across all three modes')
})

t.test('a garbage stream and an oversized frame close only their own connection', async (t) => {
  let good = 0
  const { target, counters, r } = await startReceiver(t, () => { good++ }, { maxFrameSize: 4096 })
  const raw = async (bytes: Buffer) => await new Promise<void>((resolve) => {
    const s = net.connect(target.port, '127.0.0.1', () => s.write(bytes))
    s.on('error', () => {})
    s.on('close', () => resolve())
  })
  const conn = newSender(t).connection(target)
  await conn.sendAcked(frameOf(3, Buffer.from('before')), 30_000)
  const oversized = Buffer.from(encodeFrame(Buffer.alloc(0)).subarray(0, 11))
  oversized.writeInt32BE(1 << 30, 7)
  const sends: Array<Promise<void>> = []
  for (let i = 0; i < 100; i++) sends.push(conn.sendAcked(frameOf(3, Buffer.from(`m${i}`)), 30_000))
  await Promise.all([raw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), raw(oversized), ...sends])
  await conn.sendAcked(frameOf(3, Buffer.from('after')), 30_000)
  t.equal(good, 102, 'every message of the good connection arrived')
  t.equal(counters.dropped['frame-malformed'], 1, 'garbage counted')
  t.equal(counters.dropped['frame-too-large'], 1, 'oversized frame counted')
  t.ok(conn.connected, 'the good connection is still open')
  t.equal(r.connections, 1, 'only the good connection is left')
})

t.test('send to a dead port gives TRIBES_ERR_CONNECT and reports the peer', async (t) => {
  const port = await freePort()
  const failures: string[] = []
  // why a long reconnect delay here: the check below must land inside it even on a loaded machine
  const conn = newSender(t, (address) => failures.push(address), 10_000).connection({ host: '127.0.0.1', port })
  await t.rejects(conn.sendAcked(frameOf(3, Buffer.from('x')), 5000), { code: 'TRIBES_ERR_CONNECT' })
  t.same(failures, [`127.0.0.1:${port}`], 'peer failure reported once')
  t.equal(conn.sendAsync(frameOf(9, Buffer.from('y')))?.code, 'TRIBES_ERR_CONNECT', 'within the reconnect delay, async sends fail at once')
})

t.test('a connection that breaks before the ack is re-opened and the message resent once', async (t) => {
  let connections = 0
  let frames = 0
  const server = net.createServer((s) => {
    const n = ++connections
    const p = new FrameParser({ maxFrameSize: 1 << 20 })
    s.on('data', (chunk) => {
      p.push(chunk).forEach(() => {
        frames++
        if (n === 1) s.resetAndDestroy() // first connection: drop it with a RST before acking
        else s.write(ACK_FRAME)
      })
    })
    s.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const failures: string[] = []
  const { port } = server.address() as net.AddressInfo
  const conn = newSender(t, (address) => failures.push(address)).connection({ host: '127.0.0.1', port })
  await t.resolves(conn.sendAcked(frameOf(3, Buffer.from('once')), 30_000), 'acked after the resend')
  t.equal(connections, 2, 'reconnected once')
  t.equal(frames, 2, 'the message was written twice (processing may be duplicated, as in Tomcat)')
  t.same(failures, [`127.0.0.1:${port}`], 'the reset was reported so membership can verify the member')
})

t.test('no ack within timeout gives TRIBES_ERR_SEND_TIMEOUT; a late ack is not mistaken for the next', async (t) => {
  const held: net.Socket[] = []
  let count = 0
  const server = net.createServer((s) => {
    held.push(s)
    const p = new FrameParser({ maxFrameSize: 1 << 20 })
    s.on('data', (chunk) => {
      p.push(chunk).forEach(() => {
        // first message: ack only after 300 ms; later ones at once
        if (count++ === 0) setTimeout(() => s.write(ACK_FRAME), 300)
        else s.write(ACK_FRAME)
      })
    })
    s.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { for (const s of held) s.destroy(); server.close(() => resolve()) }))
  const { port } = server.address() as net.AddressInfo
  const conn = newSender(t).connection({ host: '127.0.0.1', port })
  await t.rejects(conn.sendAcked(frameOf(3, Buffer.from('slow')), 50), { code: 'TRIBES_ERR_SEND_TIMEOUT' })
  await t.resolves(conn.sendAcked(frameOf(3, Buffer.from('next')), 30_000), 'the next message gets its own ack')
  t.equal(conn.pendingAcks, 0, 'nothing left waiting')
})

t.test('dispatch queue: full → dropped and counted, never blocking; order kept', async (t) => {
  const delivered: number[] = []
  const q = new DispatchQueue<{ bytes: number, droppable: boolean, n: number }>({
    maxBytes: 1000, maxMessages: 10, logger: log, deliver: (batch) => { for (const i of batch) delivered.push(i.n) }
  })
  let accepted = 0
  for (let n = 0; n < 100; n++) if (q.push({ bytes: 10, droppable: true, n })) accepted++
  t.equal(accepted, 10, 'ten fit (maxMessages)')
  t.equal(q.dropped, 90, 'ninety dropped and counted')
  t.ok(q.push({ bytes: 10, droppable: false, n: 100 }), 'an ack-mode message is never dropped')
  t.equal(q.size, 11)
  await q.idle()
  t.same(delivered, [...Array.from({ length: 10 }, (_, i) => i), 100], 'delivered in order')
  t.equal(q.bytes, 0)
  for (let n = 0; n < 5; n++) q.push({ bytes: 300, droppable: true, n })
  t.equal(q.dropped, 92, 'maxBytes: the 4th and 5th of 300 bytes do not fit in 1000')
  await q.idle()
  await q.close()
  t.notOk(q.push({ bytes: 1, droppable: false, n: 0 }), 'closed queue refuses')
})

t.test('inbound connections beyond maxConnections are refused and counted; idle ones are kept', async (t) => {
  const counters = new TransportCounters()
  let got = 0
  const r = new Receiver({ address: '127.0.0.1', port: 0, autoBind: 1, maxFrameSize: 1024, maxConnections: 2, logger: log, counters, onMessage: () => { got++ } })
  await r.start()
  t.teardown(() => r.stop())
  const a = newSender(t).connection({ host: '127.0.0.1', port: r.port })
  const b = newSender(t).connection({ host: '127.0.0.1', port: r.port })
  await a.sendAcked(frameOf(3, Buffer.from('a')), 30_000)
  await b.sendAcked(frameOf(3, Buffer.from('b')), 30_000)
  const third = newSender(t).connection({ host: '127.0.0.1', port: r.port })
  await t.rejects(third.sendAcked(frameOf(3, Buffer.from('c')), 30_000), 'the third connection is closed by the receiver')
  t.equal(counters.dropped['connection-limit'], 2, 'counted: the connection and the sender\'s one reconnect-and-resend')
  t.equal(r.connections, 2, 'two connections open')
  await sleep(300)
  await a.sendAcked(frameOf(3, Buffer.from('a2')), 30_000)
  t.equal(got, 3, 'the two kept connections still deliver after idling')
})
