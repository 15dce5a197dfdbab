/**
 * Fuzzing the Tomcat neighbour with mutated real Tomcat frames: bit flips, cut-offs, lying int32
 * lengths, inserted and deleted bytes, first in the Java-serialized message alone, then in whole
 * frames that go through tribes' frame parser and ChannelData decoder first. For every one: no
 * throw (tribes' parsers may only refuse with a coded TribesError, which its receiver counts),
 * exactly one outcome counted per message offered (an answer or a drop by reason), and an answer
 * only ever to a message that reads as a GET_ALL_SESSIONS: a NO-CONTEXT-MANAGER for its context.
 *
 * NODECAT_FUZZ_RUNS=<n> runs every property n times; NODECAT_FUZZ_SEED / NODECAT_FUZZ_PATH replay.
 */
import t from 'tap'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { decodeChannelData, FrameParser, TribesError, type ForeignMessage, type ForeignMessageHandler, type Member } from '@nodecat/tribes'
import { noContextManagerReply, readSessionMessage, SESSION_EVENT, answerTomcatNeighbours } from '@nodecat/protocol'
import { byteMutation, fuzzParams, mutate } from '../../../test/lib/fuzz.js'

const fixtures = fileURLToPath(new URL('../../tribes/test/fixtures/tomcat10/', import.meta.url))
const FRAMES = [
  'tcp-from-tomcat/get-all-sessions-from-tomcat2.bin',
  'tcp-between-tomcats/get-all-sessions-tomcat2-to-tomcat1.bin',
  'tcp-from-tomcat/session-delta-counter.bin',
  'tcp-between-tomcats/all-session-data-3-sessions.bin',
  'tcp-from-tomcat/session-id-changed-from-tomcat2.bin',
  'tcp-from-tomcat/transfer-complete-to-fake.bin'
].map((f) => readFileSync(fixtures + f))
const messageOf = (frame: Buffer): Buffer => Buffer.from(decodeChannelData(new FrameParser({ maxFrameSize: 1 << 20 }).push(frame)[0]!).message)
const MESSAGES = FRAMES.map(messageOf)

const tomcat: Member = { id: '10.77.0.12:4000/91cb', host: '10.77.0.12', port: 4000, uniqueId: '91cb6297707347fb8bafad80f5d2538e', domain: '', aliveTime: 3039, meta: null }

/** a neighbour on a stand-in channel; `offer` runs one message through and checks the accounting */
function harness () {
  let handler: ForeignMessageHandler | undefined
  const n = answerTomcatNeighbours({ onForeignMessage: (h) => { handler = h; return () => {} } }, { logger: pino({ level: 'silent' }), maxInFlight: 1_000_000 })
  let replies = 0
  const outcomes = () => { const s = n.stats(); return replies + Object.values(s.dropped).reduce((a, b) => a + b, 0) }
  const offer = (message: Buffer, options: number): void => {
    const before = outcomes()
    const sent: Buffer[] = []
    const m: ForeignMessage = { options, timestamp: 0, uniqueId: Buffer.alloc(16), message, sender: tomcat, from: tomcat.host, reply: async (b) => { sent.push(Buffer.from(b)) } }
    const took = handler!(m)
    replies += sent.length
    if (!took || outcomes() !== before + 1) throw new Error(`one outcome per message expected: took=${took}, ${outcomes() - before} counted`)
    if (sent.length === 1) {
      const read = readSessionMessage(message)
      if (!read.ok || read.message.eventType !== SESSION_EVENT.GET_ALL_SESSIONS || read.message.contextName === null) throw new Error('answered a message that is no GET_ALL_SESSIONS')
      if (!sent[0]!.equals(noContextManagerReply(read.message.contextName))) throw new Error('the answer is not NO-CONTEXT-MANAGER for the asked context')
    }
  }
  return { offer, answers: () => replies }
}

const int32s = fc.oneof(fc.constantFrom(-1, 0, 1, 0x7fffffff, -0x80000000, 0xffff, 0x10000), fc.integer())

t.test('mutated Java messages: never a throw, one counted outcome each, answers only to GET_ALL', async (t) => {
  const { offer, answers } = harness()
  fc.assert(fc.property(fc.nat({ max: MESSAGES.length - 1 }), fc.array(byteMutation(int32s), { minLength: 1, maxLength: 6 }), (i, mutations) => {
    offer(mutate(MESSAGES[i]!, mutations), 8)
  }), fuzzParams(3000))
  t.ok(answers() > 0, `${answers()} mutated GET_ALL_SESSIONS still read as one and were answered`)
})

t.test('mutated whole frames through tribes\' parsers: coded refusals or one counted outcome', async (t) => {
  const { offer } = harness()
  let offered = 0
  fc.assert(fc.property(fc.nat({ max: FRAMES.length - 1 }), fc.array(byteMutation(int32s), { minLength: 1, maxLength: 6 }), (i, mutations) => {
    const frame = mutate(FRAMES[i]!, mutations)
    let bodies: Buffer[]
    try { bodies = new FrameParser({ maxFrameSize: 1 << 20 }).push(frame) } catch (err) { if (err instanceof TribesError) return; throw err }
    for (const body of bodies) {
      let cd
      try { cd = decodeChannelData(body) } catch (err) { if (err instanceof TribesError) continue; throw err }
      offered++
      offer(Buffer.from(cd.message), cd.options)
    }
  }), fuzzParams(3000))
  t.ok(offered > 0, `${offered} frames still parsed and were offered`)
})

t.test('random bytes as a message', async (t) => {
  const { offer, answers } = harness()
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer(), (bytes, options) => {
    offer(Buffer.from(bytes), options)
  }), fuzzParams(2000))
  t.equal(answers(), 0, 'random bytes are never a GET_ALL_SESSIONS')
})
