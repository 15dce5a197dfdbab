/**
 * The failure detector with real TCP on 127.0.0.1: a silent member whose receiver answers the
 * TCP_FAIL_DETECT probe with an ACK is kept; one whose port is closed, or that accepts the
 * connection but never answers (a frozen process), is dropped; suspect() drops a dead member at once.
 */
import t from 'tap'
import net from 'node:net'
import { ackProbe, tcpProbe } from '../src/membership/failure-detector.js'
import { createChannel } from '../src/channel.js'
import { ACK_FRAME, FrameParser } from '../src/codec/frame.js'
import { decodeChannelData } from '../src/codec/channel-data.js'
import { isTcpFailDetect } from '../src/codec/envelope.js'
import { encodeMember } from '../src/codec/member.js'
import { freePort } from '../../../test/lib/ports.js'
import { makeService, ManualClock, MemoryBus, record } from './membership-helpers.js'

const portOf = (srv: net.Server): number => (srv.address() as net.AddressInfo).port
const close = async (srv: net.Server): Promise<void> => { await new Promise<void>((resolve) => srv.close(() => resolve())) }

/** A receiver that ACKs every frame it reads, as a running nodecat (or Tomcat) receiver does. */
async function listen (): Promise<net.Server> {
  const srv = net.createServer((s) => {
    const parser = new FrameParser({ maxFrameSize: 1 << 16 })
    s.on('data', (chunk) => { parser.push(chunk).forEach(() => s.write(ACK_FRAME)) })
    s.on('error', () => {})
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  return srv
}

/** A port whose connections the kernel accepts but nobody ever answers: a SIGSTOPped process. */
async function frozen (): Promise<net.Server> {
  // why resume(): a paused socket never sees the peer's FIN, and close() would wait for it forever
  const srv = net.createServer((s) => { s.on('error', () => {}); s.resume() })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  return srv
}

const blob = encodeMember({ aliveTime: 1, port: 4000, securePort: -1, udpPort: -1, host: Buffer.from([127, 0, 0, 1]), command: Buffer.alloc(0), domain: Buffer.alloc(0), uniqueId: Buffer.alloc(16, 7), payload: Buffer.alloc(0) })

t.test('ackProbe: true only when the receiver answers; it sends Tomcat\'s probe message as our member', async (t) => {
  const answering = await listen()
  const mute = await frozen()
  t.teardown(async () => { await close(answering); await close(mute) })
  const probe = ackProbe(() => blob, 300)
  t.equal(await probe('127.0.0.1', portOf(answering), 2000), true, 'answered with ACK')
  t.equal(await probe('127.0.0.1', portOf(mute), 2000), false, 'connected, but no ACK: frozen')
  t.equal(await probe('127.0.0.1', await freePort(), 2000), false, 'refused')

  // what a real receiver sees: one ChannelData frame, TCP_FAIL_DETECT with USE_ACK, sender = us
  const seen: Buffer[] = []
  const capture = net.createServer((s) => {
    const parser = new FrameParser({ maxFrameSize: 1 << 16 })
    s.on('data', (chunk) => { for (const body of parser.push(chunk)) { seen.push(body); s.write(ACK_FRAME) } })
    s.on('error', () => {})
  })
  await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve))
  t.teardown(() => close(capture))
  t.equal(await probe('127.0.0.1', portOf(capture), 2000), true)
  t.equal(seen.length, 1)
  const cd = decodeChannelData(seen[0]!)
  t.ok(isTcpFailDetect(cd), 'the TCP_FAIL_DETECT message')
  t.equal(cd.options, 3, 'BYTE_MESSAGE | USE_ACK')
  t.same(cd.sender, blob, 'sent as our member')
})

t.test('a real nodecat channel answers the probe and hands nothing to its handlers', async (t) => {
  const port = await freePort()
  const channel = createChannel({ address: '127.0.0.1', port, autoBind: 1, membership: { type: 'static', members: [`127.0.0.1:${port}`] } })
  const handled: unknown[] = []
  channel.onMessage((m) => { handled.push(m) })
  await channel.start()
  t.teardown(() => channel.stop())
  t.equal(await ackProbe(() => blob)('127.0.0.1', channel.local.port, 2000), true, 'ACK from a running receiver')
  t.same(handled, [], 'the probe is swallowed')
  t.same(channel.stats().dropped, {}, 'and not counted as a drop')
})

t.test('a silent member that accepts connections but never answers (frozen) is dropped', async (t) => {
  const receiver = await frozen()
  t.teardown(() => close(receiver))
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a', probe: undefined, connectTimeout: 3000 })
  const b = makeService(bus, clock, { name: 'b', port: portOf(receiver) })
  const ra = record(a)
  await a.start(); await b.start()
  b.transport.mute = true
  clock.advance(1500)
  await a.checkNow()
  t.same(ra.gone.map((g) => [g.member.meta?.route, g.reason]), [['b', 'timeout']])
})

t.test('tcpProbe: true for a listening port, false for a closed one', async (t) => {
  const srv = await listen()
  t.teardown(() => close(srv))
  t.equal(await tcpProbe('127.0.0.1', portOf(srv), 2000), true)
  t.equal(await tcpProbe('127.0.0.1', await freePort(), 2000), false)
})

t.test('a silent member whose receiver answers is kept; once the receiver closes it is dropped', async (t) => {
  const receiver = await listen()
  const port = portOf(receiver)
  let open = true
  t.teardown(async () => { if (open) await close(receiver) })
  const bus = new MemoryBus(); const clock = new ManualClock()
  // real TCP probes: no probe override
  const a = makeService(bus, clock, { name: 'a', probe: undefined, connectTimeout: 3000 })
  const b = makeService(bus, clock, { name: 'b', port })
  const ra = record(a)
  await a.start(); await b.start()
  b.transport.mute = true
  clock.advance(1500)
  await a.checkNow()
  t.same(a.members().map((m) => m.port), [port], 'kept: the receiver answered the probe')
  t.same(ra.gone, [])
  await close(receiver); open = false
  clock.advance(100)
  await a.checkNow()
  t.same(ra.gone.map((g) => [g.member.port, g.reason]), [[port, 'timeout']], 'dropped once the connect is refused')
  t.equal(a.stats().probes, 2)
})

t.test('a silent member whose port is closed is dropped on the first check', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a', probe: undefined })
  const b = makeService(bus, clock, { name: 'b', port: await freePort() })
  const ra = record(a)
  await a.start(); await b.start()
  b.transport.mute = true
  clock.advance(1001)
  await a.checkNow()
  t.same(ra.gone.map((g) => g.reason), ['timeout'])
  t.same(a.members(), [])
})

t.test('suspect() drops a member with a dead receiver at once, and keeps one with a live receiver', async (t) => {
  const live = await listen()
  t.teardown(() => close(live))
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a', probe: undefined })
  const alive = makeService(bus, clock, { name: 'alive', port: portOf(live) })
  const dead = makeService(bus, clock, { name: 'dead', port: await freePort() })
  const ra = record(a)
  await a.start(); await alive.start(); await dead.start()
  const [m1, m2] = [a.members().find((m) => m.meta?.route === 'alive')!, a.members().find((m) => m.meta?.route === 'dead')!]
  // no clock advance: both heartbeated just now, the suspicion comes from a failed send
  t.equal(await a.suspect(m1), true)
  t.equal(await a.suspect(m2), false)
  t.same(ra.gone.map((g) => [g.member.meta?.route, g.reason]), [['dead', 'failure-detected']])
  t.same(a.members().map((m) => m.meta?.route), ['alive'])
})
