/**
 * Fuzzing the membership datagram (Tomcat TRIBES-B … TRIBES-E blob + nodecat payload + HMAC tag)
 * with fast-check:
 *
 * - readMemberDatagram never throws: random bytes, and valid datagrams mutated (bit flips,
 *   truncation, length fields lying, huge lengths, inserted/deleted bytes) are a counted reason;
 * - with a cluster key, no mutated datagram is accepted as a nodecat member unless its bytes are
 *   the original's;
 * - a real MembershipService receiving on a UDP socket on 127.0.0.1, fed the same garbage by a
 *   hostile socket: the process goes on, the member table (members and their fields) is unchanged,
 *   no member is added or removed, and every datagram is counted (received, and dropped by reason).
 *
 * NODECAT_FUZZ_RUNS=<n> runs every property n times; NODECAT_FUZZ_SEED / NODECAT_FUZZ_PATH replay.
 */
import t, { type Test } from 'tap'
import fc from 'fast-check'
import dgram from 'node:dgram'
import crypto from 'node:crypto'
import { encodeMember, hostToBytes, type MemberFields } from '../src/codec/member.js'
import { encodePayload, encodeSignedMember } from '../src/codec/member-payload.js'
import { readMemberDatagram } from '../src/membership/datagram.js'
import { MembershipService } from '../src/membership/membership-service.js'
import type { HeartbeatTransport } from '../src/membership/heartbeat-transport.js'
import type { Member } from '../src/types.js'
import { hmacAuth } from './membership-helpers.js'
import { fuzzParams, mutate, byteMutation } from '../../../test/lib/fuzz.js'
import { becomes } from '@nodecat/testkit'

const auth = hmacAuth('fuzz-cluster-key')
const REASONS = new Set(['malformed', 'version', 'domain', 'auth'])

function fieldsOf (port: number, route: string, tagLength: number, over: Partial<MemberFields> = {}): MemberFields {
  return {
    aliveTime: 1234,
    port,
    securePort: -1,
    udpPort: -1,
    host: hostToBytes('127.0.0.1'),
    command: Buffer.alloc(0),
    domain: Buffer.alloc(0),
    uniqueId: crypto.randomBytes(16),
    payload: encodePayload({ protocol: 1, role: 'node', route, http: 'http://127.0.0.1:8080' }, tagLength),
    ...over
  }
}

const signed = (f: MemberFields): Buffer => encodeSignedMember(f, auth)
const plain = (f: MemberFields): Buffer => encodeMember(f)

const mutationArb = byteMutation(fc.oneof(fc.constantFrom(-1, 0, 1, 127, 65535, 2 ** 31 - 1, -(2 ** 31)), fc.integer()))

/** the offsets of the blob's length fields (bodyLength, hostLen, cmdLen, domainLen, payloadLen) */
function lengthFieldOffsets (f: MemberFields): number[] {
  const host = 34
  const cmd = host + 1 + f.host.length
  const dom = cmd + 4 + f.command.length
  const payload = dom + 4 + f.domain.length + 16
  return [10, cmd, dom, payload]
}

const randomBlobArb = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  // starts like a member so the decoder gets past the marker
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.concat([Buffer.from('TRIBES-B\x01\x00', 'latin1'), a])),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.concat([Buffer.from('TRIBES-B\x01\x00', 'latin1'), a, Buffer.from('TRIBES-E\x01\x00', 'latin1')]))
)

t.test('readMemberDatagram never throws: random bytes are dropped under a known reason', async (t) => {
  fc.assert(fc.property(randomBlobArb, fc.boolean(), (blob, keyed) => {
    const r = readMemberDatagram(blob, '', keyed ? auth : undefined)
    return !r.ok && REASONS.has(r.reason)
  }), fuzzParams(1000))
  t.pass('no random datagram decoded or threw')
})

t.test('keyed: no mutation of a signed datagram is accepted unless its bytes are unchanged', async (t) => {
  const base = fieldsOf(4001, 'n1', 16)
  const original = signed(base)
  t.ok(readMemberDatagram(original, '', auth).ok, 'the original is accepted')
  fc.assert(fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (mutations) => {
    const blob = mutate(original, mutations)
    const r = readMemberDatagram(blob, '', auth)
    if (blob.equals(original)) return r.ok
    // why: a blob that is no longer nodecat's is a foreign member (Tomcat on the group), never a peer
    if (r.ok) return r.member.meta === null
    return REASONS.has(r.reason)
  }), fuzzParams(1500))
  t.pass('every changed signed datagram was dropped or seen as foreign')
})

t.test('keyless: lying length fields and truncations of a valid datagram are always malformed', async (t) => {
  const base = fieldsOf(4002, 'n2', 0)
  const original = plain(base)
  const offsets = lengthFieldOffsets(base)
  fc.assert(fc.property(fc.constantFrom(...offsets), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (at, value) => {
    if (value === original.readInt32BE(at)) return true
    const blob = Buffer.from(original)
    blob.writeInt32BE(value, at)
    const r = readMemberDatagram(blob, '', undefined)
    return !r.ok && r.reason === 'malformed'
  }), fuzzParams(800))
  fc.assert(fc.property(fc.integer({ min: 0, max: original.length - 1 }), (cut) => {
    const r = readMemberDatagram(original.subarray(0, cut), '', undefined)
    return !r.ok && r.reason === 'malformed'
  }), fuzzParams(300))
  t.pass('lying lengths and truncations are malformed')
})

/** A unicast UDP heartbeat transport on 127.0.0.1 (multicast never leaves test namespaces). */
class LoopbackUdp implements HeartbeatTransport {
  readonly socket = dgram.createSocket('udp4')
  peers: number[] = []
  async start (onBlob: (blob: Buffer, from: string) => void): Promise<void> {
    this.socket.on('message', (msg, rinfo) => onBlob(msg, `${rinfo.address}:${rinfo.port}`))
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve))
  }

  get port (): number { return this.socket.address().port }
  async send (blob: Buffer): Promise<void> {
    await Promise.all(this.peers.map(async (p) => await new Promise<void>((resolve) => this.socket.send(blob, p, '127.0.0.1', () => resolve()))))
  }

  async stop (): Promise<void> { await new Promise<void>((resolve) => this.socket.close(() => resolve())) }
}

async function service (t: Test, port: number, route: string, keyed: boolean) {
  const transport = new LoopbackUdp()
  const s = new MembershipService({
    local: { host: '127.0.0.1', port, meta: { protocol: 1, role: 'node', route, http: 'http://127.0.0.1:8080' } },
    transport,
    frequency: 100,
    dropTime: 600_000,
    timers: false,
    probe: async () => true,
    ...(keyed ? { auth } : {})
  })
  const events: string[] = []
  s.on('memberAdded', (m) => events.push(`added ${m.id}`))
  s.on('memberDisappeared', (m, why) => events.push(`gone ${m.id} ${why}`))
  await s.start()
  t.teardown(() => s.stop())
  return { s, transport, events }
}

const snapshot = (members: Member[]): string => JSON.stringify(members.map((m) => ({ ...m, aliveTime: undefined })))

const QUICK = { timeoutMs: 10_000, everyMs: 5 }

for (const keyed of [true, false]) {
  t.test(`a real MembershipService on 127.0.0.1 (${keyed ? 'keyed' : 'keyless'}): garbage datagrams change nothing and are counted`, async (t) => {
    const a = await service(t, 4101, 'a', keyed)
    const b = await service(t, 4102, 'b', keyed)
    b.transport.peers = [a.transport.port]
    await b.s.heartbeat()
    t.ok(await becomes(() => a.s.members().length === 1, QUICK), 'a sees b')
    const table = snapshot(a.s.members())
    const eventsBefore = a.events.length

    // b's own datagram, the one an attacker on the LAN can capture and mutate
    const bBlob = b.s.localBlob()
    const attacker = dgram.createSocket('udp4')
    t.teardown(() => attacker.close())
    await new Promise<void>((resolve) => attacker.bind(0, '127.0.0.1', resolve))
    const sendRaw = async (blob: Buffer) => await new Promise<void>((resolve) => attacker.send(blob, a.transport.port, '127.0.0.1', () => resolve()))

    const keylessSafe: fc.Arbitrary<Buffer> = fc.oneof(
      randomBlobArb,
      fc.integer({ min: 0, max: bBlob.length - 1 }).map((cut) => bBlob.subarray(0, cut)),
      fc.tuple(fc.constantFrom(10, 34), fc.integer()).map(([at, v]) => {
        const x = Buffer.from(bBlob)
        if (at === 34) x[34] = (v & 0x7f) === x[34] ? x[34]! + 1 : v & 0x7f
        else x.writeInt32BE(v === x.readInt32BE(10) ? v + 1 : v, 10)
        return x
      })
    )
    const arb = keyed ? fc.oneof(randomBlobArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }).map((m) => mutate(bBlob, m))) : keylessSafe

    let sent = 0
    let refused = 0
    const droppedBefore = Object.values(a.s.stats().dropped).reduce((x, y) => x + y, 0)
    const receivedBefore = a.s.stats().heartbeatsReceived
    await fc.assert(fc.asyncProperty(arb, async (blob) => {
      // why: an unchanged copy is b's real heartbeat (a replay), not garbage; it is checked apart
      if (blob.equals(bBlob) || blob.length === 0) return
      const oracle = readMemberDatagram(blob, '', keyed ? auth : undefined)
      if (!oracle.ok) refused++
      else if (oracle.member.meta !== null) throw new Error('the oracle accepted a hostile datagram as a nodecat member')
      await sendRaw(blob)
      sent++
      if (!await becomes(() => a.s.stats().heartbeatsReceived >= receivedBefore + sent, QUICK)) throw new Error('datagram not received')
      if (snapshot(a.s.members()) !== table) throw new Error(`member table changed: ${snapshot(a.s.members())}`)
      if (a.events.length !== eventsBefore) throw new Error(`events: ${a.events.slice(eventsBefore).join(', ')}`)
    }), fuzzParams(150))

    const st = a.s.stats()
    const dropped = Object.values(st.dropped).reduce((x, y) => x + y, 0) - droppedBefore
    const foreign = a.s.foreignMembers().length
    t.ok(sent > 0, `${sent} hostile datagrams sent`)
    t.equal(st.heartbeatsReceived - receivedBefore, sent, 'every one was received')
    if (keyed) t.ok(dropped >= refused, `each of the ${refused} undecodable or unauthentic ones is a counted drop (${dropped}); the rest are foreign members, never peers`)
    else t.equal(st.dropped.malformed ?? 0, sent, 'keyless: every one counted as malformed')
    t.ok(foreign <= 64, 'foreign members stay within maxForeignMembers')
    t.equal(snapshot(a.s.members()), table, 'the member table is unchanged')
    t.same(a.events.slice(eventsBefore), [], 'no member added or removed')
    // b is still a member and still heard
    await b.s.heartbeat()
    t.ok(await becomes(() => a.s.stats().heartbeatsReceived >= receivedBefore + sent + 1, QUICK))
    t.equal(a.s.members()[0]?.id, b.s.localMember.id, 'b is still the member')
  })
}
