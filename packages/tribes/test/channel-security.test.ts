/**
 * What a keyed channel does with hostile or foreign frames, written by hand onto a raw socket.
 * Every frame is sent sync (use_ack+sync): the ACK/FAIL_ACK that comes back tells us it has been
 * handled, so the assertions need no waiting. Also: a real Tomcat's messages and its
 * TcpFailureDetector probe on an unkeyed channel.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import crypto from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createChannel, generateKey, Keyring, encodeEnvelopeFrame, packValue, FrameParser, isAck, isFailAck, encodeMember, type Channel, type ChannelOptions } from '../src/index.js'

const fixtures = fileURLToPath(new URL('./fixtures/tomcat10/', import.meta.url))
const k1 = generateKey()
const k2 = generateKey()
const blob = encodeMember({ aliveTime: 10, port: 1, securePort: -1, udpPort: -1, host: Buffer.from([127, 0, 0, 1]), command: Buffer.alloc(0), domain: Buffer.alloc(0), uniqueId: crypto.randomBytes(16), payload: Buffer.alloc(0) })

async function channel (t: Test, o: ChannelOptions): Promise<{ ch: Channel, got: unknown[] }> {
  // why listed: static membership admits only listed senders, and the frames here are sent as 127.0.0.1:1
  const ch = createChannel({ port: 0, membership: { type: 'static', members: ['127.0.0.1:1'] }, ...o })
  const got: unknown[] = []
  ch.onMessage((v) => { got.push(v) })
  await ch.start()
  t.teardown(() => ch.stop())
  return { ch, got }
}

/** a raw connection that writes frames and reads one reply per sync frame */
async function raw (t: Test, port: number) {
  const s = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject) })
  t.teardown(() => s.destroy())
  const parser = new FrameParser({ maxFrameSize: 64 })
  const replies: Array<(r: string) => void> = []
  s.on('data', (chunk) => {
    for (const b of parser.push(chunk)) replies.shift()?.(isAck(b) ? 'ack' : isFailAck(b) ? 'fail' : 'other')
  })
  return {
    write: (frame: Buffer) => s.write(frame),
    /** write a sync frame and resolve with 'ack' or 'fail' */
    sync: (frame: Buffer) => new Promise<string>((resolve) => { replies.push(resolve); s.write(frame) })
  }
}

const header = (over: Partial<{ timestamp: number, options: number }> = {}) =>
  ({ options: over.options ?? 7, timestamp: over.timestamp ?? Date.now(), uniqueId: crypto.randomBytes(16), sender: blob })
const sealed = (key: string, value: unknown, over?: Partial<{ timestamp: number, options: number }>) =>
  encodeEnvelopeFrame(header(over), 'app', packValue(value), new Keyring({ key }))

t.test('keyed channel: good, replayed, tampered, wrong-key and stale frames', async (t) => {
  const { ch, got } = await channel(t, { key: k1 })
  const c = await raw(t, ch.local.port)
  const good = sealed(k1, 'hello')
  t.equal(await c.sync(good), 'ack', 'a sealed frame is accepted')
  t.equal(await c.sync(good), 'ack', 'the same bytes again are acked (a duplicate, not an error) …')
  t.same(got, ['hello'], '… but handled only once')
  t.equal(ch.stats().dropped.replay, 1, 'replay counted')

  const flipBody = Buffer.from(sealed(k1, 'tampered')); flipBody[flipBody.length - 20]! ^= 1
  t.equal(await c.sync(flipBody), 'fail', 'tampered ciphertext refused')
  const flipTs = Buffer.from(sealed(k1, 'tampered')); flipTs[11 + 11]! ^= 1
  t.equal(await c.sync(flipTs), 'fail', 'tampered timestamp (AAD) refused')
  const flipSender = Buffer.from(sealed(k1, 'tampered')); flipSender[11 + 36 + 35]! ^= 1
  t.equal(await c.sync(flipSender), 'fail', 'tampered sender blob (AAD) refused')
  t.equal(await c.sync(sealed(k2, 'wrong key')), 'fail', 'wrong key refused')
  t.equal(await c.sync(encodeEnvelopeFrame(header(), 'app', packValue('plain'))), 'fail', 'an unsealed frame refused')
  t.equal(ch.stats().dropped.decrypt, 5, 'five decrypt drops')

  t.equal(await c.sync(sealed(k1, 'old', { timestamp: Date.now() - 120_000 })), 'ack', 'a stale frame is acked as a duplicate …')
  t.equal(ch.stats().dropped.replay, 2, '… and dropped as a replay (outside the 60 s window)')
  t.same(got, ['hello'], 'nothing but the first good message reached the handler')
  t.equal(await c.sync(sealed(k1, 'still fine')), 'ack', 'the connection survived all of it')
  t.same(got, ['hello', 'still fine'])
})

t.test('rotation: a channel with [new, old] keys accepts messages sealed by old', async (t) => {
  const { ch, got } = await channel(t, { key: k2, previousKeys: [k1] })
  const c = await raw(t, ch.local.port)
  t.equal(await c.sync(sealed(k1, 'from an old-key member')), 'ack')
  t.equal(await c.sync(sealed(k2, 'from a new-key member')), 'ack')
  t.same(got, ['from an old-key member', 'from a new-key member'])
  const { ch: oldOnly, got: got2 } = await channel(t, { key: k1 })
  const c2 = await raw(t, oldOnly.local.port)
  t.equal(await c2.sync(sealed(k2, 'new')), 'fail', 'a member with only the old key refuses the new one')
  t.same(got2, [])
})

t.test('unkeyed channel: real Tomcat frames are dropped as foreign, its failure-detector probe is swallowed', async (t) => {
  const { ch, got } = await channel(t, {})
  const c = await raw(t, ch.local.port)
  c.write(readFileSync(fixtures + 'tcp-from-tomcat/session-delta-counter.bin'))
  c.write(readFileSync(fixtures + 'tcp-from-tomcat/stream-tomcat1-to-fake-connection-b.raw'))
  c.write(readFileSync(fixtures + 'tcp-from-tomcat/tcp-fail-detect-from-tomcat1.bin'))
  t.equal(await c.sync(readFileSync(fixtures + 'tcp-between-tomcats/all-session-data-empty.bin')), 'ack', 'a Tomcat sync message is acked (received, not usable)')
  t.equal(await c.sync(encodeEnvelopeFrame(header(), 'app', packValue('ours'))), 'ack')
  t.same(got, ['ours'], 'only the nodecat message reached the handler')
  t.equal(ch.stats().dropped['foreign-message'], 6, '1 + 4 + 1 Tomcat messages dropped as foreign')
  t.equal(Object.keys(ch.stats().dropped).filter((k) => k !== 'foreign-message').length, 0, 'the probe was swallowed without a drop')
  const sealedFrame = sealed(k1, 'sealed')
  t.equal(await c.sync(sealedFrame), 'fail', 'a sealed frame without a key is refused')
  t.equal(ch.stats().dropped.decrypt, 1)
  const garbled = Buffer.from(encodeEnvelopeFrame(header(), 'app', Buffer.from([0x82])))
  t.equal(await c.sync(garbled), 'fail', 'a body msgpack cannot decode is refused')
  t.equal(ch.stats().dropped.malformed, 1)
})
