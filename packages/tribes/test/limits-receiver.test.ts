/**
 * Limits of the replication receiver that must hold under attack, over real loopback sockets:
 * inbound connections per peer address, a partial frame that never completes (slowloris), and
 * the bytes buffered for frames in progress. Each limit closes only the offending connection,
 * counts a drop by reason, and leaves honest peers served.
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
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return false
}

t.test('the channel options carry the receiver limits, validated by name', async (t) => {
  const o = resolveChannelOptions({ membership: { type: 'static', members: ['127.0.0.1:4001'] } })
  t.equal(o.maxConnectionsPerPeer, DEFAULTS.maxConnectionsPerPeer)
  t.equal(o.frameTimeout, DEFAULTS.frameTimeout)
  t.ok(DEFAULTS.maxConnectionsPerPeer < DEFAULTS.maxConnections, 'one address cannot take every connection by default')
  t.throws(() => resolveChannelOptions({ maxConnectionsPerPeer: 0 }), /maxConnectionsPerPeer must be an integer/)
  t.throws(() => resolveChannelOptions({ frameTimeout: 10 }), /frameTimeout must be an integer/)
})

t.test('connections beyond maxConnectionsPerPeer from one address are closed and counted; other addresses still connect', async (t) => {
  const { r, counters } = await startReceiver(t, { maxConnectionsPerPeer: 3 })
  const flood: Client[] = []
  for (let i = 0; i < 10; i++) flood.push(await connect(t, r.port, '127.0.0.2'))
  const closedFlags = await Promise.all(flood.map(async (c) => await closedWithin(c, 5000)))
  t.equal(closedFlags.filter((x) => !x).length, 3, 'three connections from 127.0.0.2 are kept')
  t.equal(closedFlags.filter((x) => x).length, 7, 'the other seven are closed by the receiver')
  t.equal(counters.dropped['peer-connection-limit'], 7, 'each refused connection is counted')
  t.equal(r.connections, 3)
  const kept = flood.filter((_c, i) => !closedFlags[i])
  t.ok(await acked(kept[0]!, 'kept'), 'a kept connection from the flooding address still delivers')
  const honest = await connect(t, r.port, '127.0.0.3')
  t.ok(await acked(honest, 'honest'), 'another address is served while 127.0.0.2 is at its limit')
  kept[1]!.socket.destroy()
  await kept[1]!.closed
  await new Promise((resolve) => setTimeout(resolve, 50))
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
  while (r.buffered < 11 + 4000 && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10))
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
  while (r.buffered > 0 && Date.now() < end2) await new Promise((resolve) => setTimeout(resolve, 10))
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
  while (r.buffered < 4000 && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10))
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
  while (got.length < 2 && Date.now() < end2) await new Promise((resolve) => setTimeout(resolve, 10))
  t.same(got.map((m) => m.length), [5, 4000], 'both honest messages delivered')
  t.throws(() => resolveChannelOptions({ maxMessageSize: 1 << 20, maxBufferedBytes: 1 << 19 }), /maxBufferedBytes must be/, 'maxBufferedBytes below maxMessageSize is refused by name')
  t.equal(resolveChannelOptions({ membership: { type: 'static', members: ['127.0.0.1:4001'] } }).maxBufferedBytes, DEFAULTS.maxBufferedBytes)
})
