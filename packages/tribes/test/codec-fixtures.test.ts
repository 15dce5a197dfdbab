/**
 * Real Tomcat 10.1 captures (test/fixtures/tomcat10): every frame parses to the fields
 * fixtures.json lists and re-encodes byte for byte; every multi-frame stream parses whole, in
 * 1-byte chunks and split at every offset; the ACK capture equals our ACK frame.
 */
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ACK_FRAME, FrameParser, isAck } from '../src/codec/frame.js'
import { decodeChannelData, encodeChannelDataFrame, encodeChannelData } from '../src/codec/channel-data.js'
import { decodeMember, encodeMember, hostToString } from '../src/codec/member.js'
import { isTcpFailDetect, isEnvelope } from '../src/codec/envelope.js'
import { encodeFrame } from '../src/codec/frame.js'

const dir = fileURLToPath(new URL('./fixtures/tomcat10/', import.meta.url))
interface MemberJson { length: number, aliveTime: number, port: number, securePort: number, udpPort: number, host: string, commandHex: string, domainHex: string, uniqueId: string, payloadHex: string }
interface Fixture {
  file: string
  length: number
  kind?: string
  options?: number
  timestamp?: number
  messageId?: string
  messageOffset?: number
  messageLength?: number
  sender?: MemberJson
  member?: MemberJson
  frames?: Array<{ len: number, options: number }>
  trailingBytes?: number
}
const fixtures = JSON.parse(readFileSync(dir + 'fixtures.json', 'utf8')) as Fixture[]
const read = (f: Fixture) => readFileSync(dir + f.file)
const parser = () => new FrameParser({ maxFrameSize: 1 << 20 })

function checkMember (t: Test, blob: Buffer, m: MemberJson): void {
  const d = decodeMember(blob)
  t.equal(blob.length, m.length, 'member length')
  t.equal(d.aliveTime, m.aliveTime, 'aliveTime')
  t.equal(d.port, m.port, 'port')
  t.equal(d.securePort, m.securePort, 'securePort')
  t.equal(d.udpPort, m.udpPort, 'udpPort')
  t.equal(hostToString(d.host), m.host, 'host')
  t.equal(d.command.toString('hex'), m.commandHex, 'command')
  t.equal(d.domain.toString('hex'), m.domainHex, 'domain')
  t.equal(d.uniqueId.toString('hex'), m.uniqueId, 'uniqueId')
  t.equal(d.payload.toString('hex'), m.payloadHex, 'payload')
  t.ok(encodeMember(d).equals(blob), 'member re-encodes byte for byte')
}

const frames = fixtures.filter((f) => f.kind === 'frame')
const members = fixtures.filter((f) => f.kind === 'member-alive' || f.kind === 'member-shutdown')
const streams = fixtures.filter((f) => f.frames !== undefined)

t.test('fixture inventory', async (t) => {
  t.ok(frames.length >= 20, `${frames.length} frame files`)
  t.ok(members.length >= 10, `${members.length} member datagrams`)
  t.equal(streams.length, 3, 'three raw streams')
})

t.test('every .bin frame parses to its listed fields and re-encodes byte for byte', async (t) => {
  for (const f of frames) {
    t.test(f.file, async (t) => {
      const bytes = read(f)
      t.equal(bytes.length, f.length, 'file length')
      const bodies = parser().push(bytes)
      t.equal(bodies.length, 1, 'exactly one frame')
      const body = bodies[0]!
      const cd = decodeChannelData(body)
      t.equal(cd.options, f.options, 'options')
      t.equal(cd.timestamp, f.timestamp, 'timestamp')
      t.equal(cd.uniqueId.toString('hex'), f.messageId, 'message id')
      t.equal(cd.message.length, f.messageLength, 'message length')
      t.equal(cd.message.byteOffset - bytes.byteOffset, f.messageOffset, 'message offset in the file')
      checkMember(t, Buffer.from(cd.sender), f.sender!)
      t.ok(encodeChannelDataFrame(cd).equals(bytes), 'frame re-encodes byte for byte')
      t.ok(encodeFrame(encodeChannelData(cd)).equals(bytes), 'body re-encodes byte for byte')
      t.notOk(isEnvelope(cd), 'a Tomcat message is not a nodecat envelope')
      t.equal(isTcpFailDetect(cd), f.file.includes('tcp-fail-detect'), 'TcpFailureDetector probe recognised exactly when it is one')
    })
  }
})

t.test('every member datagram decodes to its listed fields and re-encodes', async (t) => {
  for (const f of members) {
    t.test(f.file, async (t) => checkMember(t, read(f), f.member!))
  }
})

t.test('the ACK capture equals our ACK frame', async (t) => {
  const ack = fixtures.find((f) => f.kind === 'ACK')!
  const bytes = read(ack)
  t.ok(bytes.equals(ACK_FRAME), 'byte-identical')
  const bodies = parser().push(bytes)
  t.equal(bodies.length, 1)
  t.ok(isAck(bodies[0]!))
})

function parseChunks (bytes: Buffer, cuts: number[]): Buffer[] {
  const p = parser()
  const out: Buffer[] = []
  let from = 0
  for (const cut of [...cuts, bytes.length]) {
    // copies, so a parser that kept a view into a reused buffer would be caught
    for (const b of p.push(Buffer.from(bytes.subarray(from, cut)))) out.push(Buffer.from(b))
    from = cut
  }
  if (p.buffered !== 0) throw new Error(`${p.buffered} bytes left over`)
  return out
}

t.test('raw streams parse whole, byte by byte, and split at every offset', async (t) => {
  for (const f of streams) {
    t.test(f.file, async (t) => {
      const bytes = read(f)
      const expected = f.frames!
      const whole = parseChunks(bytes, [])
      t.equal(whole.length, expected.length, `${expected.length} frames`)
      t.same(whole.map((b) => b.length + 18), expected.map((x) => x.len), 'frame lengths')
      t.same(whole.map((b) => decodeChannelData(b).options), expected.map((x) => x.options), 'options of every frame')
      const ones = parseChunks(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1))
      t.same(ones, whole, '1-byte chunks give the same frames')
    })
  }
  const first = streams[0]!
  const bytes = read(first)
  const whole = parseChunks(bytes, [])
  let same = 0
  for (let cut = 1; cut < bytes.length; cut++) {
    const got = parseChunks(bytes, [cut])
    if (got.length === whole.length && got.every((b, i) => b.equals(whole[i]!))) same++
  }
  t.equal(same, bytes.length - 1, `${first.file} split at every one of ${bytes.length - 1} offsets gives the same frames`)
})
