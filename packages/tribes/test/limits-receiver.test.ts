/**
 * Limits of the replication receiver that must hold under attack, over real loopback sockets:
 * inbound connections per peer address, a partial frame that never completes (slowloris), and
 * the bytes buffered for frames in progress. Each limit closes only the offending connection,
 * counts a drop by reason, and leaves honest peers served. Strangers cannot take a member's
 * place: a connection must prove itself with its first frame (with a cluster key, an authentic
 * one) within firstFrameTimeout, and unproven connections are evicted before a member is refused.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import crypto from 'node:crypto'
import { pino } from 'pino'
import { Receiver, type ReceiverOptions } from '../src/transport/receiver.js'
import { TransportCounters } from '../src/transport/counters.js'
import { encodeChannelDataFrame } from '../src/codec/channel-data.js'
import { ACK_FRAME, FRAME_START } from '../src/codec/frame.js'
import { DEFAULTS, resolveChannelOptions } from '../src/options.js'
import { Sender } from '../src/transport/sender.js'
import { createChannel, generateKey, Keyring, encodeEnvelopeFrame, encodeMember, packValue, TCP_FAIL_DETECT, type Channel, type ChannelOptions, type Member } from '../src/index.js'
import { sleep, waitUntil } from '@nodecat/testkit'

const log = pino({ level: 'silent' })
const blob = Buffer.from('sender-blob')
/** a USE_ACK (2) message: the receiver answers it with an ACK frame */
const ackedFrame = (text: string) =>
  encodeChannelDataFrame({ options: 2, timestamp: Date.now(), uniqueId: crypto.randomBytes(16), sender: blob, message: Buffer.from(text) })

async function startReceiver (t: Test, extra: Partial<ReceiverOptions> = {}) {
  const counters = new TransportCounters()
  const got: string[] = []
  const r = new Receiver({ address: '127.0.0.1', port: 0, autoBind: 1, maxFrameSize: 1 << 16, maxConnections: 64, logger: log, counters, onMessage: (_b, cd) => { got.push(cd.message.toString()) }, ...extra })
  await r.start()
  t.teardown(() => r.stop())
  return { r, counters, got }
}

interface Client { socket: net.Socket, closed: Promise<void>, data: () => Buffer }

/** a raw client from a chosen loopback source address */
async function connect (t: Test, port: number, localAddress = '127.0.0.1'): Promise<Client> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress })
  t.teardown(() => { socket.destroy() })
  const chunks: Buffer[] = []
  socket.on('data', (c) => chunks.push(c))
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  return { socket, closed, data: () => Buffer.concat(chunks) }
}

/** resolves true when closed within ms, false otherwise */
async function closedWithin (c: Client, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const r = await Promise.race([c.closed.then(() => true), new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms) })])
  clearTimeout(timer)
  return r
}

async function acked (c: Client, text: string): Promise<boolean> {
  const before = c.data().length
  c.socket.write(ackedFrame(text))
  const end = Date.now() + 10_000
  while (Date.now() < end) {
    if (c.data().length >= before + ACK_FRAME.length) return c.data().subarray(before, before + ACK_FRAME.length).equals(ACK_FRAME)
    if (c.socket.destroyed) return false
    await sleep(10)
  }
  return false
}

t.test('the channel options carry the receiver limits, validated by name', async (t) => {
  const o = resolveChannelOptions({ membership: { type: 'static', members: ['127.0.0.1:4001'] } })
  t.equal(o.maxConnectionsPerPeer, DEFAULTS.maxConnectionsPerPeer)
  t.equal(o.frameTimeout, DEFAULTS.frameTimeout)
  t.equal(o.firstFrameTimeout, DEFAULTS.firstFrameTimeout)
  t.ok(DEFAULTS.firstFrameTimeout <= 10_000, 'an idle stranger is closed within seconds by default')
  t.ok(DEFAULTS.maxConnectionsPerPeer < DEFAULTS.maxConnections, 'one address cannot take every connection by default')
  t.throws(() => resolveChannelOptions({ maxConnectionsPerPeer: 0 }), /maxConnectionsPerPeer must be an integer/)
  t.throws(() => resolveChannelOptions({ frameTimeout: 10 }), /frameTimeout must be an integer/)
  t.throws(() => resolveChannelOptions({ firstFrameTimeout: 10 }), /firstFrameTimeout must be an integer/)
  t.throws(() => resolveChannelOptions({ firstFrameTimeout: 'soon' as unknown as number }), { code: 'TRIBES_ERR_INVALID_OPTION', message: /firstFrameTimeout/ })
})

t.test('connections beyond maxConnectionsPerPeer from one address are refused and counted once every one there is proven; other addresses still connect', async (t) => {
  const { r, counters } = await startReceiver(t, { maxConnectionsPerPeer: 3 })
  const kept: Client[] = []
  for (let i = 0; i < 3; i++) {
    const c = await connect(t, r.port, '127.0.0.2')
    t.ok(await acked(c, `proof ${i}`), `connection ${i} from 127.0.0.2 proves itself with a frame`)
    kept.push(c)
  }
  const flood: Client[] = []
  for (let i = 0; i < 7; i++) flood.push(await connect(t, r.port, '127.0.0.2'))
  const closedFlags = await Promise.all(flood.map(async (c) => await closedWithin(c, 5000)))
  t.equal(closedFlags.filter((x) => x).length, 7, 'the seven beyond the limit are closed by the receiver')
  t.equal(counters.dropped['peer-connection-limit'], 7, 'each refused connection is counted')
  t.equal(counters.dropped['connection-evicted'], undefined, 'no proven connection was evicted for them')
  t.equal(r.connections, 3)
  t.ok(await acked(kept[0]!, 'kept'), 'a kept connection from the flooding address still delivers')
  const honest = await connect(t, r.port, '127.0.0.3')
  t.ok(await acked(honest, 'honest'), 'another address is served while 127.0.0.2 is at its limit')
  kept[1]!.socket.destroy()
  await kept[1]!.closed
  await sleep(50)
  const again = await connect(t, r.port, '127.0.0.2')
  t.ok(await acked(again, 'again'), 'a slot freed by a close can be used again')
})

t.test('a frame that never completes within frameTimeout closes its connection (slowloris); idle connections between frames are kept', async (t) => {
  const { r, counters, got } = await startReceiver(t, { frameTimeout: 300 })
  const idle = await connect(t, r.port)
  t.ok(await acked(idle, 'first'), 'a complete frame is delivered')

  // a frame header announcing 1000 bytes, then 10 of them, then silence
  const header = Buffer.alloc(11)
  FRAME_START.copy(header, 0)
  header.writeInt32BE(1000, 7)
  const stuck = await connect(t, r.port)
  stuck.socket.write(Buffer.concat([header, Buffer.alloc(10)]))
  t.ok(await closedWithin(stuck, 10_000), 'the stuck connection is closed')

  // a drip: one byte every 50 ms keeps the socket busy but the frame never completes in time
  const drip = await connect(t, r.port)
  drip.socket.write(header)
  const timer = setInterval(() => { if (!drip.socket.destroyed) drip.socket.write(Buffer.alloc(1)) }, 50)
  t.teardown(() => clearInterval(timer))
  t.ok(await closedWithin(drip, 10_000), 'a dripping connection is closed too')
  clearInterval(timer)

  // only the start marker: a frame whose header never arrives
  const partialHeader = await connect(t, r.port)
  partialHeader.socket.write(FRAME_START.subarray(0, 3))
  t.ok(await closedWithin(partialHeader, 10_000), 'a connection stuck inside the header is closed')

  t.equal(counters.dropped['frame-timeout'], 3, 'each counted as frame-timeout')
  t.equal(counters.dropped['frame-truncated'], undefined, 'and not also as truncated')
  t.notOk(idle.socket.destroyed, 'the idle connection that sent whole frames is still open')
  t.ok(await acked(idle, 'second'), 'and still delivers')
  t.same(got, ['first', 'second'], 'nothing from the stuck connections was delivered')
})

t.test('bytes buffered for unfinished frames never exceed one max frame per connection', async (t) => {
  const max = 4096
  const { r, counters } = await startReceiver(t, { maxFrameSize: max, frameTimeout: 60_000 })
  const c = await connect(t, r.port)
  const header = Buffer.alloc(11)
  FRAME_START.copy(header, 0)
  header.writeInt32BE(max, 7)
  c.socket.write(header)
  for (let i = 0; i < 8; i++) c.socket.write(Buffer.alloc(500))
  const end = Date.now() + 5000
  while (r.buffered < 11 + 4000 && Date.now() < end) await sleep(10)
  t.equal(r.buffered, 11 + 4000, 'the frame in progress is held')
  t.ok(r.buffered <= max + 18, 'within one frame')
  // a header over the limit fails at once, before any body is buffered
  const big = await connect(t, r.port)
  const bigHeader = Buffer.from(header)
  bigHeader.writeInt32BE(max + 1, 7)
  big.socket.write(bigHeader)
  t.ok(await closedWithin(big, 5000), 'an oversized length closes the connection')
  t.equal(counters.dropped['frame-too-large'], 1)
  c.socket.destroy()
  await c.closed
  const end2 = Date.now() + 5000
  while (r.buffered > 0 && Date.now() < end2) await sleep(10)
  t.equal(r.buffered, 0, 'a closed connection releases what it buffered')
})

t.test('bytes buffered over every connection are bounded by maxBufferedBytes: the connection that would pass it is closed', async (t) => {
  const max = 4096
  const { r, counters, got } = await startReceiver(t, { maxFrameSize: max, maxBufferedBytes: 6000, frameTimeout: 60_000 })
  const headerOf = (length: number) => { const h = Buffer.alloc(11); FRAME_START.copy(h, 0); h.writeInt32BE(length, 7); return h }
  // a: a legitimate big frame in progress
  const frame = ackedFrame('x'.repeat(4000))
  const a = await connect(t, r.port)
  a.socket.write(frame.subarray(0, 4000))
  const end = Date.now() + 5000
  while (r.buffered < 4000 && Date.now() < end) await sleep(10)
  t.equal(r.buffered, 4000)
  // b: an attacker adding partial frames from several connections
  const b = await connect(t, r.port, '127.0.0.2')
  b.socket.write(Buffer.concat([headerOf(max), Buffer.alloc(2500)]))
  t.ok(await closedWithin(b, 5000), 'the connection that would pass the total is closed')
  t.equal(counters.dropped['buffer-limit'], 1, 'counted as buffer-limit')
  t.ok(r.buffered <= 6000, `total buffered ${r.buffered} stays within maxBufferedBytes`)
  // a small frame from another connection still fits
  const c = await connect(t, r.port, '127.0.0.3')
  t.ok(await acked(c, 'small'), 'a frame that fits is still received')
  // and a finishes its big frame
  a.socket.write(frame.subarray(4000))
  const end2 = Date.now() + 5000
  while (got.length < 2 && Date.now() < end2) await sleep(10)
  t.same(got.map((m) => m.length), [5, 4000], 'both honest messages delivered')
  t.throws(() => resolveChannelOptions({ maxMessageSize: 1 << 20, maxBufferedBytes: 1 << 19 }), /maxBufferedBytes must be/, 'maxBufferedBytes below maxMessageSize is refused by name')
  t.equal(resolveChannelOptions({ membership: { type: 'static', members: ['127.0.0.1:4001'] } }).maxBufferedBytes, DEFAULTS.maxBufferedBytes)
})

function newSender (t: Test, counters = new TransportCounters()): Sender {
  const s = new Sender({ connectTimeout: 5000, logger: log, counters })
  t.teardown(() => s.close())
  return s
}

t.test('a connection that delivers no valid frame within firstFrameTimeout is closed and counted; a first frame under way is given its frameTimeout', async (t) => {
  const { r, counters, got } = await startReceiver(t, { firstFrameTimeout: 300, frameTimeout: 60_000 })
  const member = await connect(t, r.port)
  t.ok(await acked(member, 'hello'), 'a connection whose first frame is valid')

  const idle = await connect(t, r.port)
  const partialHeader = await connect(t, r.port)
  partialHeader.socket.write(FRAME_START.subarray(0, 5))
  // a whole frame whose ChannelData does not decode: not a valid message
  const junk = await connect(t, r.port)
  junk.socket.write(Buffer.concat([FRAME_START, Buffer.from([0, 0, 0, 3]), Buffer.from('abc'), Buffer.from('TLF2003', 'latin1')]))
  // a big first frame, half sent, finished after the first-frame deadline
  const big = ackedFrame('b'.repeat(4000))
  const slow = await connect(t, r.port)
  slow.socket.write(big.subarray(0, 2000))

  t.ok(await closedWithin(idle, 10_000), 'a connection that sends nothing is closed')
  t.ok(await closedWithin(partialHeader, 10_000), 'one stuck inside its first header is closed')
  t.ok(await closedWithin(junk, 10_000), 'one whose first frame is not a valid message is closed')
  t.equal(counters.dropped['first-frame-timeout'], 3, 'each counted as first-frame-timeout')
  t.equal(counters.dropped['frame-truncated'], undefined, 'and not also as truncated')
  t.notOk(slow.socket.destroyed, 'a first frame under way is not cut at the first-frame deadline')
  slow.socket.write(big.subarray(2000))
  await waitUntil('the big first frame', () => got.length === 2, 10_000)
  await sleep(400)
  t.notOk(slow.socket.destroyed, 'and once it is handled, its connection is proven and kept')

  await sleep(400)
  t.notOk(member.socket.destroyed, 'the connection that proved itself is kept while idle, past the deadline')
  t.ok(await acked(member, 'again'), 'and still delivers')
  t.same(got, ['hello', 'b'.repeat(4000), 'again'])
  t.equal(r.connections, 2)
})

t.test('idle strangers holding every slot of an address are evicted for a member sharing that address; proven connections never are', async (t) => {
  const { r, counters, got } = await startReceiver(t, { maxConnectionsPerPeer: 4, firstFrameTimeout: 60_000 })
  const target = { host: '127.0.0.1', port: r.port }
  // a member is connected (proven by its first message) before the strangers come
  const member = newSender(t).connection(target)
  await member.sendAcked(ackedFrame('m1'), 10_000)
  const strangers: Client[] = []
  for (let i = 0; i < 8; i++) strangers.push(await connect(t, r.port))
  await waitUntil('the strangers beyond the limit to be evicted', () => (counters.dropped['connection-evicted'] ?? 0) === 5, 10_000)
  t.equal(r.connections, 4, 'the address holds its limit: the member and three strangers')
  const open = await Promise.all(strangers.map(async (c) => !(await closedWithin(c, 200))))
  t.same(open, [false, false, false, false, false, true, true, true], 'the oldest strangers made room for the newest')
  t.equal(counters.dropped['peer-connection-limit'], undefined, 'nothing was refused')

  // a second member on the same address (a restarted node) connects while strangers hold every other slot
  const restarted = newSender(t).connection(target)
  await restarted.sendAcked(ackedFrame('m2'), 10_000)
  await member.sendAcked(ackedFrame('m3'), 10_000)
  t.same(got, ['m1', 'm2', 'm3'], 'both members deliver')
  t.equal(counters.dropped['connection-evicted'], 6, 'one more stranger made room')
  t.equal(r.provenConnections, 2)

  // strangers keep coming: they evict each other, never a member
  for (let i = 0; i < 6; i++) await connect(t, r.port)
  await waitUntil('the new strangers to evict the old ones', () => (counters.dropped['connection-evicted'] ?? 0) === 12, 10_000)
  await member.sendAcked(ackedFrame('m4'), 10_000)
  await restarted.sendAcked(ackedFrame('m5'), 10_000)
  t.equal(r.provenConnections, 2, 'both members are still connected')
  t.equal(r.connections, 4)
})

t.test('idle strangers holding every connection of the receiver are evicted for a member from another address', async (t) => {
  const { r, counters, got } = await startReceiver(t, { maxConnections: 4, maxConnectionsPerPeer: 4, firstFrameTimeout: 60_000 })
  const strangers: Client[] = []
  for (const host of ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']) strangers.push(await connect(t, r.port, host))
  await waitUntil('four strangers', () => r.connections === 4, 10_000)
  const member = newSender(t).connection({ host: '127.0.0.1', port: r.port })
  await member.sendAcked(ackedFrame('member'), 10_000)
  t.same(got, ['member'], 'the member connected and delivered')
  t.equal(counters.dropped['connection-evicted'], 1, 'one stranger was evicted for it')
  t.ok(await closedWithin(strangers[0]!, 5000), 'the oldest one')
  t.equal(counters.dropped['connection-limit'], undefined, 'nothing was refused')
})

// ---- the same rules through a real channel (proof by an envelope that opens; with a key, an authentic one) ----

const memberBlob = encodeMember({ aliveTime: 10, port: 1, securePort: -1, udpPort: -1, host: Buffer.from([127, 0, 0, 1]), command: Buffer.alloc(0), domain: Buffer.alloc(0), uniqueId: crypto.randomBytes(16), payload: Buffer.alloc(0) })
const envelopeHeader = (options = 7) => ({ options, timestamp: Date.now(), uniqueId: crypto.randomBytes(16), sender: memberBlob })

async function startChannel (t: Test, o: ChannelOptions): Promise<Channel> {
  // why listed: static membership admits only listed senders, and the frames here are sent as 127.0.0.1:1
  const ch = createChannel({ port: 0, autoBind: 1, membership: { type: 'static', members: ['127.0.0.1:1'] }, ...o })
  await ch.start()
  t.teardown(() => ch.stop())
  return ch
}

/** write a sync frame and resolve with 'ack', 'fail' or 'closed' */
async function syncReply (c: Client, frame: Buffer): Promise<string> {
  const before = c.data().length
  c.socket.write(frame)
  const end = Date.now() + 10_000
  while (Date.now() < end) {
    const d = c.data()
    if (d.length >= before + ACK_FRAME.length) return d.subarray(before, before + ACK_FRAME.length).equals(ACK_FRAME) ? 'ack' : 'fail'
    if (c.socket.destroyed) return 'closed'
    await sleep(10)
  }
  return 'none'
}

t.test('keyed channel: a connection whose first frame does not authenticate is answered, closed and counted', async (t) => {
  const key = generateKey()
  const ch = await startChannel(t, { key, firstFrameTimeout: 400 })
  const got: unknown[] = []
  ch.onMessage((v) => { got.push(v) })
  const port = ch.local.port

  const plain = await connect(t, port)
  t.equal(await syncReply(plain, encodeEnvelopeFrame(envelopeHeader(), 'app', packValue('unsealed'))), 'fail', 'an unsealed first frame gets FAIL_ACK')
  t.ok(await closedWithin(plain, 5000), 'and its connection is closed at once')
  const wrongKey = await connect(t, port)
  t.equal(await syncReply(wrongKey, encodeEnvelopeFrame(envelopeHeader(), 'app', packValue('x'), new Keyring({ key: generateKey() }))), 'fail')
  t.ok(await closedWithin(wrongKey, 5000), 'a first frame sealed with another key: closed')
  const foreign = await connect(t, port)
  foreign.socket.write(encodeChannelDataFrame({ options: 0, timestamp: Date.now(), uniqueId: crypto.randomBytes(16), sender: memberBlob, message: Buffer.from('a Java object') }))
  t.ok(await closedWithin(foreign, 5000), 'a first frame that is not nodecat\'s: closed')
  t.equal(ch.stats().dropped['first-frame-unauthenticated'], 3, 'each counted')
  t.equal(ch.stats().dropped.decrypt, 2, 'the messages themselves are counted as before')

  // Tomcat's failure-detector probe is answered but proves nothing: the first-frame clock runs on
  const probe = await connect(t, port)
  t.equal(await syncReply(probe, encodeChannelDataFrame({ options: 1 | 2, timestamp: Date.now(), uniqueId: crypto.randomBytes(16), sender: memberBlob, message: TCP_FAIL_DETECT })), 'ack', 'a liveness probe is acked')
  const idle = await connect(t, port)
  t.ok(await closedWithin(idle, 5000), 'an idle connection is closed after the channel\'s firstFrameTimeout')
  t.ok(await closedWithin(probe, 5000), 'so is one that only probed')
  t.equal(ch.stats().dropped['first-frame-timeout'], 2)

  // an authentic first frame proves the connection: later bad frames are refused one by one, the connection stays
  const member = await connect(t, port)
  const sealed = (v: unknown) => encodeEnvelopeFrame(envelopeHeader(), 'app', packValue(v), new Keyring({ key }))
  t.equal(await syncReply(member, sealed('hello')), 'ack')
  t.equal(await syncReply(member, encodeEnvelopeFrame(envelopeHeader(), 'app', packValue('unsealed'))), 'fail', 'a later unsealed frame is refused')
  await sleep(600)
  t.notOk(member.socket.destroyed, 'but a proven connection is kept, idle past firstFrameTimeout too')
  t.equal(await syncReply(member, sealed('still')), 'ack')
  t.same(got, ['hello', 'still'])
  t.equal(ch.stats().dropped['first-frame-unauthenticated'], 3, 'nothing more counted')
})

t.test('a real channel pair: a member restarting while idle strangers hold every slot of its address still joins and delivers', async (t) => {
  const key = generateKey()
  const [pa, pb] = await Promise.all([0, 0].map(async () => await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)) })
  })))
  const common: ChannelOptions = { key, maxConnectionsPerPeer: 4, timeout: 10_000 }
  const membership = (peer: number) => ({ type: 'static' as const, members: [`127.0.0.1:${peer}`], frequency: 100, dropTime: 2000 })
  const a = await startChannel(t, { ...common, port: pa!, membership: membership(pb!) })
  const got: unknown[] = []
  a.onMessage((v) => { got.push(v) })
  // strangers on 127.0.0.1 (the address b connects from) take every slot a's receiver allows it
  const strangers: Client[] = []
  for (let i = 0; i < 4; i++) strangers.push(await connect(t, pa!))
  t.equal(strangers.filter((c) => c.socket.destroyed).length, 0, 'four idle strangers hold the address\'s slots')

  const b = await startChannel(t, { ...common, port: pb!, membership: membership(pa!) })
  const seen = new Promise<Member>((resolve) => a.once('memberAdded', resolve))
  const bOnA = await Promise.race([seen, sleep(10_000).then(() => null)])
  t.ok(bOnA, 'a hears b\'s heartbeats: b joined')
  await waitUntil('b to see a', () => b.members().length === 1, 10_000)
  const sent = await b.send('from b', { mode: 'sync' })
  t.equal(sent.failed.length, 0, 'a sync message from b to a is delivered')
  t.same(got, ['from b'])
  t.ok((a.stats().dropped['connection-evicted'] ?? 0) >= 1, 'strangers were evicted to make room')
})
