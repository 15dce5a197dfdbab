/**
 * Frame and ChannelData decode error paths: every lying length field, truncation, garbage and
 * oversize gives a coded error; and a property: random frame sequences split at random points
 * parse to the same bodies.
 */
import t from 'tap'
import fc from 'fast-check'
import crypto from 'node:crypto'
import { FrameParser, encodeFrame, FRAME_HEADER, ACK_FRAME, FAIL_ACK_FRAME, isAck, isFailAck } from '../src/codec/frame.js'
import { decodeChannelData, encodeChannelData, type ChannelData } from '../src/codec/channel-data.js'
import { parseSendOptions, sendOptionsToString, modeToOptions, optionsToMode } from '../src/codec/send-options.js'
import { encodeMember } from '../src/codec/member.js'

const blob = encodeMember({ aliveTime: 5, port: 4000, securePort: -1, udpPort: -1, host: Buffer.from([127, 0, 0, 1]), command: Buffer.alloc(0), domain: Buffer.alloc(0), uniqueId: crypto.randomBytes(16), payload: Buffer.from('meta') })
const sample = (): ChannelData => ({ options: 3, timestamp: Date.now(), uniqueId: crypto.randomBytes(16), sender: blob, message: Buffer.from('hello') })
const parser = (max = 1024) => new FrameParser({ maxFrameSize: max })

t.test('FrameParser rejects bad streams with coded errors', async (t) => {
  t.throws(() => parser().push(Buffer.from('GET / HTTP/1.1\r\n')), { code: 'TRIBES_ERR_FRAME_MALFORMED' }, 'garbage')
  t.throws(() => parser().push(Buffer.concat([Buffer.from('xx'), encodeFrame(Buffer.from('a'))])), { code: 'TRIBES_ERR_FRAME_MALFORMED' }, 'garbage before a frame')
  t.throws(() => parser().push(Buffer.from('FLX')), { code: 'TRIBES_ERR_FRAME_MALFORMED' }, 'a wrong start marker fails before 11 bytes have arrived')
  const big = Buffer.from(encodeFrame(Buffer.alloc(10)).subarray(0, FRAME_HEADER))
  big.writeInt32BE(2000, 7)
  t.throws(() => parser(1024).push(big), { code: 'TRIBES_ERR_FRAME_TOO_LARGE' }, 'oversized length fails on the header alone')
  const neg = Buffer.from(big); neg.writeInt32BE(-5, 7)
  t.throws(() => parser().push(neg), { code: 'TRIBES_ERR_FRAME_MALFORMED' }, 'negative length')
  const short = encodeFrame(Buffer.from('abcdef')); short.writeInt32BE(4, 7)
  t.throws(() => parser().push(short), { code: 'TRIBES_ERR_FRAME_MALFORMED' }, 'length shorter than the body: end marker misplaced')
  const long = encodeFrame(Buffer.from('abcdef')); long.writeInt32BE(8, 7)
  const p = parser()
  t.throws(() => p.push(Buffer.concat([long, encodeFrame(Buffer.from('next'))])), { code: 'TRIBES_ERR_FRAME_MALFORMED' }, 'length longer than the body')
  t.throws(() => p.push(encodeFrame(Buffer.from('ok'))), { code: 'TRIBES_ERR_FRAME_MALFORMED' }, 'a failed parser stays failed')
  const trailing = parser()
  t.same(trailing.push(encodeFrame(Buffer.from('one')).subarray(0, 15)), [], 'truncated frame waits for more')
  t.equal(trailing.buffered, 15)
})

t.test('ACK and FAIL_ACK frames', async (t) => {
  t.equal(ACK_FRAME.toString('hex'), '464c5432303032000000030602035' + '44c4632303033')
  t.equal(FAIL_ACK_FRAME.toString('hex'), '464c5432303032000000030b0005' + '544c4632303033')
  const [a, f] = parser().push(Buffer.concat([ACK_FRAME, FAIL_ACK_FRAME]))
  t.ok(isAck(a!)); t.ok(isFailAck(f!)); t.notOk(isAck(f!)); t.notOk(isFailAck(a!))
})

t.test('ChannelData: round trip and every lying length field', async (t) => {
  const d = sample()
  const body = encodeChannelData(d)
  const back = decodeChannelData(body)
  t.equal(back.options, 3); t.equal(back.timestamp, d.timestamp)
  t.ok(back.uniqueId.equals(d.uniqueId)); t.ok(back.sender.equals(blob)); t.equal(back.message.toString(), 'hello')
  const bad = (mutate: (b: Buffer) => Buffer, what: string) => {
    t.throws(() => decodeChannelData(mutate(Buffer.from(body))), { code: 'TRIBES_ERR_CHANNEL_DATA_MALFORMED' }, what)
  }
  bad((b) => b.subarray(0, 20), 'shorter than the fixed part')
  bad((b) => { b.writeInt32BE(15, 12); return b }, 'uniqueId length 15')
  bad((b) => { b.writeInt32BE(17, 12); return b }, 'uniqueId length 17')
  bad((b) => { b.writeInt32BE(b.length, 32); return b }, 'sender length overruns')
  bad((b) => { b.writeInt32BE(-1, 32); return b }, 'negative sender length')
  const mo = 36 + blob.length
  bad((b) => { b.writeInt32BE(6, mo); return b }, 'message length longer than the bytes left')
  bad((b) => { b.writeInt32BE(4, mo); return b }, 'message length shorter than the bytes left')
  bad((b) => { b.writeInt32BE(-1, mo); return b }, 'negative message length')
  bad((b) => b.subarray(0, b.length - 1), 'truncated message')
  bad((b) => { b.writeBigInt64BE(2n ** 62n, 4); return b }, 'timestamp out of range')
  t.throws(() => encodeChannelData({ ...d, uniqueId: Buffer.alloc(3) }), { code: 'TRIBES_ERR_CHANNEL_DATA_MALFORMED' })
})

t.test('send options parse like Channel.parseSendOptions', async (t) => {
  t.equal(parseSendOptions('use_ack,sync'), 6)
  t.equal(parseSendOptions(' async , multicast '), 72)
  t.equal(parseSendOptions('8'), 8)
  t.equal(parseSendOptions(10), 10)
  t.equal(parseSendOptions('byte,use_ack'), 3)
  t.throws(() => parseSendOptions('fast'), { code: 'TRIBES_ERR_INVALID_OPTION' })
  t.throws(() => parseSendOptions(-1), { code: 'TRIBES_ERR_INVALID_OPTION' })
  t.equal(sendOptionsToString(6), 'use_ack,synchronized_ack')
  t.same([modeToOptions('async'), modeToOptions('ack'), modeToOptions('sync')], [9, 3, 7])
  t.same([optionsToMode(8), optionsToMode(2), optionsToMode(6), optionsToMode(7)], ['async', 'ack', 'sync', 'sync'])
})

t.test('property: random frame sequences split at random points parse to the same bodies', async (t) => {
  fc.assert(fc.property(
    fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 20 }),
    fc.array(fc.nat(), { maxLength: 30 }),
    (bodies, rawCuts) => {
      const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)))
      const cuts = [...new Set(rawCuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b)
      const p = new FrameParser({ maxFrameSize: 1000 })
      const out: Buffer[] = []
      let from = 0
      for (const cut of [...cuts, stream.length]) {
        for (const b of p.push(Buffer.from(stream.subarray(from, cut)))) out.push(Buffer.from(b))
        from = cut
      }
      return p.buffered === 0 && out.length === bodies.length && out.every((b, i) => b.equals(Buffer.from(bodies[i]!)))
    }), { numRuns: 300 })
  t.pass('300 random sequences parsed identically')
})

t.test('property: a random ChannelData survives encode/decode and any truncation is an error', async (t) => {
  fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.uint8Array({ maxLength: 500 }), fc.nat({ max: 1000 }),
    (options, message, cut) => {
      const d = { ...sample(), options, message: Buffer.from(message) }
      const body = encodeChannelData(d)
      const back = decodeChannelData(body)
      if (back.options !== options || !back.message.equals(d.message)) return false
      const n = cut % body.length
      try { decodeChannelData(body.subarray(0, n)); return false } catch (err) { return (err as { code?: string }).code === 'TRIBES_ERR_CHANNEL_DATA_MALFORMED' }
    }), { numRuns: 300 })
  t.pass('300 random channel data')
})
