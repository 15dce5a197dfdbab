/**
 * Fuzzing the TCP frame stream (FLT2002 | int length | ChannelData | TLF2003) with fast-check:
 *
 * - a valid stream split at every byte boundary, or into any chunks, decodes to the same bodies;
 * - random bytes and mutated streams (bit flips, truncation, length fields lying, huge lengths,
 *   inserted and deleted bytes) give bodies or a coded error, never another exception, and the
 *   parser never holds more than one max frame;
 * - ChannelData decoding of mutated bodies: a coded error or fields that lie inside the body;
 * - a real Receiver on 127.0.0.1 fed hostile streams by raw clients behaves exactly as a local
 *   parser predicts (same messages delivered in order, each failure closed and counted by reason)
 *   and still serves an honest peer afterwards.
 *
 * NODECAT_FUZZ_RUNS=<n> runs every property n times; NODECAT_FUZZ_SEED / NODECAT_FUZZ_PATH replay.
 */
import t from 'tap'
import fc from 'fast-check'
import net from 'node:net'
import { pino } from 'pino'
import { FrameParser, encodeFrame, FRAME_OVERHEAD, ACK_FRAME } from '../src/codec/frame.js'
import { decodeChannelData, encodeChannelDataFrame, CHANNEL_DATA_FIXED, type ChannelData } from '../src/codec/channel-data.js'
import { Receiver } from '../src/transport/receiver.js'
import { TransportCounters } from '../src/transport/counters.js'
import { fuzzParams, mutate, byteMutation } from '../../../test/lib/fuzz.js'
import { sleep } from '@nodecat/testkit'

const MAX = 512
const FRAME_CODES = new Set(['TRIBES_ERR_FRAME_MALFORMED', 'TRIBES_ERR_FRAME_TOO_LARGE'])

const bodyArb = fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a))
const streamArb = fc.array(bodyArb, { maxLength: 6 })

const channelDataArb: fc.Arbitrary<ChannelData> = fc.record({
  options: fc.oneof(fc.integer({ min: 0, max: 63 }), fc.integer()),
  timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
  uniqueId: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
  sender: fc.uint8Array({ maxLength: 90 }).map((a) => Buffer.from(a)),
  message: fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a))
})

const lengthValue = fc.oneof(
  fc.constantFrom(-1, 0, 1, MAX - 1, MAX, MAX + 1, 2 ** 31 - 1, -(2 ** 31), 0x464c5432),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.integer({ min: 0, max: 300 })
)
const mutationArb = byteMutation(lengthValue)

/** split `buf` at the given cut points (any numbers; taken modulo the length, sorted) */
function split (buf: Buffer, cuts: readonly number[]): Buffer[] {
  if (buf.length === 0) return []
  const points = [...new Set(cuts.map((c) => c % buf.length))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const p of points) { if (p > prev) { out.push(buf.subarray(prev, p)); prev = p } }
  out.push(buf.subarray(prev))
  return out
}

interface Outcome { bodies: Buffer[], error: string | null, leftover: number }

/** feed chunks to a fresh parser; throws on anything but a coded frame error or a memory overrun */
function parseChunks (chunks: readonly Buffer[], max = MAX): Outcome {
  const p = new FrameParser({ maxFrameSize: max })
  const bodies: Buffer[] = []
  for (const c of chunks) {
    try {
      // why: bodies are views into pushed chunks; copy to compare after later pushes
      for (const b of p.push(c)) bodies.push(Buffer.from(b))
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code === undefined || !FRAME_CODES.has(code)) throw err
      return { bodies, error: code, leftover: 0 }
    }
    if (p.error !== null) {
      const code = (p.error as { code?: string }).code
      if (code === undefined || !FRAME_CODES.has(code)) throw p.error
      return { bodies, error: code, leftover: 0 }
    }
    if (p.buffered > max + FRAME_OVERHEAD) throw new Error(`parser holds ${p.buffered} bytes, more than one max frame`)
  }
  return { bodies, error: null, leftover: p.buffered }
}

t.test('a valid stream split at every byte boundary decodes to the same bodies', async (t) => {
  fc.assert(fc.property(streamArb, (bodies) => {
    const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)))
    for (let i = 0; i <= stream.length; i++) {
      const out = parseChunks([stream.subarray(0, i), stream.subarray(i)])
      if (out.error !== null || out.leftover !== 0) return false
      if (out.bodies.length !== bodies.length || out.bodies.some((b, k) => !b.equals(bodies[k]!))) return false
    }
    return true
  }), fuzzParams(150))
  t.pass('every split point of every stream gave the same bodies')
})

t.test('a valid stream cut into any chunks (single bytes included) decodes to the same bodies', async (t) => {
  fc.assert(fc.property(streamArb, fc.array(fc.nat(), { maxLength: 40 }), fc.boolean(), (bodies, cuts, bytewise) => {
    const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)))
    const chunks = bytewise ? [...stream].map((x) => Buffer.from([x])) : split(stream, cuts)
    const out = parseChunks(chunks)
    return out.error === null && out.leftover === 0 && out.bodies.length === bodies.length && out.bodies.every((b, k) => b.equals(bodies[k]!))
  }), fuzzParams(300))
  t.pass('chunking never changes what is decoded')
})

t.test('random bytes: bodies or a coded error, never a crash, never more than one frame buffered', async (t) => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), { maxLength: 8 }), (chunks) => {
    parseChunks(chunks)
  }), fuzzParams(500))
  // garbage after a valid prefix: the stream starts right so the garbage is reached
  fc.assert(fc.property(streamArb, fc.uint8Array({ minLength: 1, maxLength: 200 }), (bodies, junk) => {
    const out = parseChunks([Buffer.concat([...bodies.map((b) => encodeFrame(b)), junk])])
    return out.bodies.length >= bodies.length || out.error !== null
  }), fuzzParams(300))
  t.pass('no uncoded exception and no overrun')
})

t.test('mutated streams: same outcome however they are chunked; a coded error or bodies, bounded memory', async (t) => {
  fc.assert(fc.property(streamArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 12 }), (bodies, mutations, cuts) => {
    const stream = mutate(Buffer.concat(bodies.map((b) => encodeFrame(b))), mutations)
    const whole = parseChunks([stream])
    const chunked = parseChunks(split(stream, cuts))
    if (whole.error !== chunked.error || whole.leftover !== chunked.leftover) return false
    if (whole.bodies.length !== chunked.bodies.length || whole.bodies.some((b, k) => !b.equals(chunked.bodies[k]!))) return false
    // whatever decodes is a well-formed frame: re-encoding the bodies gives back a prefix of the stream
    const again = Buffer.concat(whole.bodies.map((b) => encodeFrame(b)))
    return stream.subarray(0, again.length).equals(again)
  }), fuzzParams(500))
  t.pass('mutations fail the same way whatever the chunking')
})

t.test('huge and negative length fields fail on the header alone, before any body is buffered', async (t) => {
  fc.assert(fc.property(fc.oneof(fc.integer({ min: MAX + 1, max: 2 ** 31 - 1 }), fc.integer({ min: -(2 ** 31), max: -1 })), (length) => {
    const header = Buffer.from(encodeFrame(Buffer.alloc(0)).subarray(0, 11))
    header.writeInt32BE(length, 7)
    const out = parseChunks([header])
    return out.error === (length < 0 ? 'TRIBES_ERR_FRAME_MALFORMED' : 'TRIBES_ERR_FRAME_TOO_LARGE') && out.leftover === 0
  }), fuzzParams(200))
  t.pass('lying lengths are refused at once')
})

t.test('ChannelData: valid ones round-trip; mutated ones give a coded error or fields inside the body', async (t) => {
  fc.assert(fc.property(channelDataArb, (d) => {
    const body = parseChunks([encodeChannelDataFrame(d)]).bodies[0]!
    const back = decodeChannelData(body)
    return back.options === (d.options | 0) && back.timestamp === d.timestamp && back.uniqueId.equals(d.uniqueId) && back.sender.equals(d.sender) && back.message.equals(d.message)
  }), fuzzParams(300))
  fc.assert(fc.property(channelDataArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (d, mutations) => {
    const body = mutate(parseChunks([encodeChannelDataFrame(d)]).bodies[0]!, mutations)
    let cd: ChannelData
    try {
      cd = decodeChannelData(body)
    } catch (err) {
      if ((err as { code?: string }).code !== 'TRIBES_ERR_CHANNEL_DATA_MALFORMED') throw err
      return true
    }
    return cd.uniqueId.length === 16 && Number.isSafeInteger(cd.timestamp) &&
      CHANNEL_DATA_FIXED + cd.sender.length + cd.message.length === body.length &&
      cd.message.buffer === body.buffer && cd.sender.buffer === body.buffer
  }), fuzzParams(500))
  t.pass('ChannelData decoding holds')
})

t.test('a real receiver fed hostile streams does what a local parser predicts, counts every failure, and keeps serving', async (t) => {
  const counters = new TransportCounters()
  const got: string[] = []
  const r = new Receiver({
    address: '127.0.0.1',
    port: 0,
    autoBind: 1,
    maxFrameSize: MAX,
    maxConnections: 64,
    frameTimeout: 30_000,
    logger: pino({ level: 'silent' }),
    counters,
    onMessage: (_b, cd) => { got.push(cd.message.toString('hex')) }
  })
  await r.start()
  t.teardown(() => r.stop())

  const send = async (stream: Buffer, cuts: readonly number[]): Promise<void> => {
    const s = net.connect(r.port, '127.0.0.1')
    s.on('error', () => {})
    s.on('data', () => {})
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()))
    await new Promise<void>((resolve) => s.once('connect', resolve))
    for (const c of split(stream, cuts)) if (!s.destroyed) s.write(c)
    s.end()
    await closed
  }
  const snapshot = () => ({ ...counters.dropped })
  const delta = (before: Record<string, number>, reason: string) => (counters.dropped[reason] ?? 0) - (before[reason] ?? 0)

  let runs = 0
  await fc.assert(fc.asyncProperty(fc.array(channelDataArb, { maxLength: 4 }), fc.array(mutationArb, { maxLength: 3 }), fc.array(fc.nat(), { maxLength: 6 }), async (messages, mutations, cuts) => {
    runs++
    const stream = mutate(Buffer.concat(messages.map((m) => encodeChannelDataFrame(m))), mutations)
    const expected = parseChunks([stream])
    const wantDelivered: string[] = []
    let wantMalformed = 0
    for (const b of expected.bodies) {
      try { wantDelivered.push(decodeChannelData(b).message.toString('hex')) } catch { wantMalformed++ }
    }
    const before = snapshot()
    const gotBefore = got.length
    await send(stream, cuts)
    // the server side closes a moment after the client saw it; wait until its counters settle
    const end = Date.now() + 5000
    while (r.connections > 0 && Date.now() < end) await sleep(2)
    const delivered = got.slice(gotBefore)
    if (JSON.stringify(delivered) !== JSON.stringify(wantDelivered)) throw new Error(`delivered ${delivered.length}, expected ${wantDelivered.length}`)
    if (delta(before, 'malformed') !== wantMalformed) throw new Error('malformed bodies not counted as predicted')
    if (delta(before, 'frame-too-large') !== (expected.error === 'TRIBES_ERR_FRAME_TOO_LARGE' ? 1 : 0)) throw new Error('frame-too-large not counted as predicted')
    if (delta(before, 'frame-malformed') !== (expected.error === 'TRIBES_ERR_FRAME_MALFORMED' ? 1 : 0)) throw new Error('frame-malformed not counted as predicted')
    if (delta(before, 'frame-truncated') !== (expected.error === null && expected.leftover > 0 ? 1 : 0)) throw new Error('frame-truncated not counted as predicted')
    if (r.buffered !== 0) throw new Error(`receiver still buffers ${r.buffered} bytes after the connection closed`)
  }), fuzzParams(60))
  t.ok(runs > 0)

  // an honest peer is still served
  const s = net.connect(r.port, '127.0.0.1')
  t.teardown(() => { s.destroy() })
  let answer = Buffer.alloc(0)
  s.on('data', (c) => { answer = Buffer.concat([answer, c]) })
  await new Promise<void>((resolve) => s.once('connect', resolve))
  s.write(encodeChannelDataFrame({ options: 2, timestamp: Date.now(), uniqueId: Buffer.alloc(16, 1), sender: Buffer.from('honest'), message: Buffer.from('still here') }))
  const end = Date.now() + 10_000
  while (answer.length < ACK_FRAME.length && Date.now() < end) await sleep(10)
  t.ok(answer.equals(ACK_FRAME), 'acked')
  t.equal(got.at(-1), Buffer.from('still here').toString('hex'), 'delivered after all the hostile streams')
})
