/**
 * The hook for foreign members' messages (Channel.onForeignMessage): what the inbound path offers a
 * handler for a real Tomcat frame, when it offers nothing (unknown sender, no handler, a nodecat
 * envelope, Tomcat's failure-detector probe), what it counts, and that a taken message neither
 * proves nor closes its connection. The reply path itself runs against a real Tomcat in
 * test/tomcat-neighbour-netns.test.ts (a foreign member is only ever learnt from multicast).
 */
import t from 'tap'
import net from 'node:net'
import crypto from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { createInboundHandler, type InboundOptions } from '../src/inbound.js'
import { TransportCounters } from '../src/transport/counters.js'
import { decodeChannelData } from '../src/codec/channel-data.js'
import { decodeMemberBlob } from '../src/membership/datagram.js'
import { createChannel, encodeEnvelopeFrame, packValue, FrameParser, isAck, Keyring, generateKey, type ForeignMessage, type ForeignMessageHandler, type Member } from '../src/index.js'

const fixtures = fileURLToPath(new URL('./fixtures/tomcat10/', import.meta.url))
const frameOf = (file: string): Buffer => readFileSync(fixtures + file)
const bodyOf = (frame: Buffer): Buffer => new FrameParser({ maxFrameSize: 1 << 20 }).push(frame)[0]!
const getAll = frameOf('tcp-from-tomcat/get-all-sessions-from-tomcat2.bin')
const tomcat2: Member = decodeMemberBlob(decodeChannelData(bodyOf(getAll)).sender).member

interface Peer { proven: boolean, refused: string[], prove: () => void, refuse: (r: string) => void }
const peer = (): Peer => {
  const p: Peer = { proven: false, refused: [], prove: () => { p.proven = true }, refuse: (r) => { p.refused.push(r) } }
  return p
}

function inbound (over: Partial<InboundOptions> = {}) {
  const counters = new TransportCounters()
  const foreignHandlers = new Set<ForeignMessageHandler>()
  const replies: Array<{ to: Member, message: Buffer, options: number | undefined }> = []
  const handle = createInboundHandler({
    keyring: undefined,
    counters,
    logger: pino({ level: 'silent' }),
    domain: '',
    handlers: new Set(),
    known: new Map(),
    onHeartbeat: () => {},
    foreignHandlers,
    foreignSender: (blob) => { const m = decodeMemberBlob(blob).member; return m.uniqueId === tomcat2.uniqueId ? tomcat2 : m },
    replyForeign: async (to, message, options) => { replies.push({ to, message: Buffer.from(message), options }) },
    ...over
  })
  const deliver = (frame: Buffer, conn = peer()) => {
    const body = bodyOf(Buffer.from(frame))
    return { result: handle(body, decodeChannelData(body), '10.77.0.12', conn), conn, body }
  }
  return { counters, foreignHandlers, replies, deliver }
}

t.test('a Tomcat GET_ALL_SESSIONS is offered with its bytes, options and sender; the reply goes to that member', async (t) => {
  const { counters, foreignHandlers, replies, deliver } = inbound({ keyring: new Keyring({ key: generateKey() }) })
  const seen: ForeignMessage[] = []
  foreignHandlers.add((m) => { seen.push(m); void m.reply(Buffer.from('answer')); return true })
  const { conn, body } = deliver(getAll)
  t.equal(seen.length, 1)
  const m = seen[0]!
  const cd = decodeChannelData(bodyOf(getAll))
  t.equal(m.options, 8, 'ASYNCHRONOUS, as Tomcat sends it')
  t.equal(m.timestamp, cd.timestamp)
  t.same(m.uniqueId, cd.uniqueId)
  t.same(m.message, cd.message, 'the Java-serialized message, as sent')
  t.equal(m.message.readUInt16BE(0), 0xaced, 'starts with the Java stream magic')
  body.fill(0)
  t.equal(m.message.readUInt16BE(0), 0xaced, 'a copy: the received bytes can be reused at once')
  t.same(m.uniqueId, decodeChannelData(bodyOf(getAll)).uniqueId, 'the message id too')
  t.equal(m.sender, tomcat2, 'the member as membership lists it')
  t.equal(m.from, '10.77.0.12')
  t.same(replies.map((r) => [r.to, r.message.toString(), r.options]), [[tomcat2, 'answer', undefined]])
  t.same(counters.dropped, {}, 'a taken message is no drop')
  t.same(conn.refused, [], 'a taken message does not close the (Tomcat\'s pooled) connection, even with a cluster key')
  t.equal(conn.proven, false, 'nor proves it')
})

t.test('handlers are asked in order until one takes the message; none: a foreign-message drop', async (t) => {
  const { counters, foreignHandlers, deliver } = inbound({ keyring: new Keyring({ key: generateKey() }) })
  const asked: string[] = []
  foreignHandlers.add(() => { asked.push('first'); return false })
  foreignHandlers.add(() => { asked.push('second'); return false })
  const { conn } = deliver(getAll)
  t.same(asked, ['first', 'second'])
  t.equal(counters.dropped['foreign-message'], 1)
  t.same(conn.refused, ['first-frame-unauthenticated'], 'with a key, a stranger\'s connection nobody took a message of is closed, as before')
  foreignHandlers.add(() => { asked.push('third'); return true })
  deliver(getAll)
  t.same(asked.slice(2), ['first', 'second', 'third'])
  t.equal(counters.dropped['foreign-message'], 1, 'the taken one is not counted')
})

t.test('a sender that is no listed foreign member is offered nothing', async (t) => {
  const { counters, foreignHandlers, replies, deliver } = inbound({ foreignSender: () => undefined })
  let called = 0
  foreignHandlers.add(() => { called++; return true })
  deliver(getAll)
  t.equal(called, 0)
  t.same(replies, [])
  t.same(counters.dropped, { 'foreign-unknown-sender': 1 })
})

t.test('no handler: every Tomcat message is a foreign-message drop, as before the hook', async (t) => {
  const { counters, deliver } = inbound()
  deliver(getAll)
  deliver(frameOf('tcp-from-tomcat/session-delta-counter.bin'))
  t.same(counters.dropped, { 'foreign-message': 2 })
})

t.test('never offered: the failure-detector probe and nodecat envelopes', async (t) => {
  const { counters, foreignHandlers, deliver } = inbound()
  let called = 0
  foreignHandlers.add(() => { called++; return true })
  deliver(frameOf('tcp-from-tomcat/tcp-fail-detect-from-tomcat1.bin'))
  const ours = encodeEnvelopeFrame({ options: 9, timestamp: Date.now(), uniqueId: crypto.randomBytes(16), sender: decodeChannelData(bodyOf(getAll)).sender }, 'app', packValue('x'))
  deliver(ours)
  t.equal(called, 0)
  t.same(counters.dropped, {})
})

t.test('a handler that throws: counted, and the throw reaches the receiver (FAIL_ACK in sync mode)', async (t) => {
  const { counters, foreignHandlers, deliver } = inbound()
  foreignHandlers.add(() => { throw new Error('boom') })
  t.throws(() => deliver(frameOf('tcp-between-tomcats/all-session-data-empty.bin')), /boom/)
  t.same(counters.dropped, { 'foreign-handler-failed': 1 })
})

t.test('a channel: onForeignMessage registers and removes; a frame from a sender it never saw on the group is only counted', async (t) => {
  const ch = createChannel({ port: 0, membership: { type: 'static', members: ['127.0.0.1:1'] } })
  await ch.start()
  t.teardown(() => ch.stop())
  let called = 0
  const off = ch.onForeignMessage(() => { called++; return true })
  t.throws(() => ch.onForeignMessage(null as unknown as ForeignMessageHandler), TypeError)
  const s = net.connect(ch.local.port, '127.0.0.1')
  t.teardown(() => s.destroy())
  const acks: Buffer[] = []
  const parser = new FrameParser({ maxFrameSize: 64 })
  s.on('data', (chunk) => acks.push(...parser.push(chunk)))
  // a real Tomcat sync frame: its ACK tells us the receiver handled it
  s.write(frameOf('tcp-between-tomcats/all-session-data-empty.bin'))
  const deadline = Date.now() + 10_000
  while (acks.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  t.ok(acks.length === 1 && isAck(acks[0]!), 'acked, as Tomcat acks a message it cannot use')
  t.equal(called, 0, 'static membership lists no foreign member: nothing is offered')
  t.equal(ch.stats().dropped['foreign-unknown-sender'], 1)
  off()
  s.write(frameOf('tcp-between-tomcats/all-session-data-empty.bin'))
  while (acks.length === 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(ch.stats().dropped['foreign-message'], 1, 'handler removed: back to the plain foreign-message drop')
})
