/**
 * The member blob codec against real Tomcat 10 membership datagrams, every decode error path,
 * and properties: garbage never throws anything but TribesError; valid members round-trip.
 */
import t, { type Test } from 'tap'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import {
  decodeMember, encodeMember, hostToBytes, hostToString, identityKey, identityKeyOfBlob, isShutdownCommand, payloadOffsetOf,
  SHUTDOWN_COMMAND, type MemberFields
} from '../src/codec/member.js'
import { TribesError } from '../src/errors.js'

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tomcat10')
interface Fixture {
  file: string
  kind: string
  length: number
  member?: { aliveTime: number, port: number, securePort: number, udpPort: number, host: string, command: string, domain: string, uniqueId: string, payload: string, isShutdown: boolean, bodyLength: number }
}
const fixtures = (JSON.parse(readFileSync(path.join(dir, 'fixtures.json'), 'utf8')) as Fixture[])
  .filter((f) => f.file.startsWith('membership/'))

const malformed = (t: Test, fn: () => unknown, what: string): void => {
  t.throws(fn, { code: 'TRIBES_ERR_MEMBER_MALFORMED' }, what)
}

t.test('every membership fixture decodes to its listed fields and re-encodes byte for byte', async (t) => {
  t.ok(fixtures.length >= 15, `${fixtures.length} membership datagrams (including generated-by-probe)`)
  t.ok(fixtures.some((f) => f.file.includes('generated-by-probe')), 'the probe-generated datagrams are included')
  for (const f of fixtures) {
    const blob = readFileSync(path.join(dir, f.file))
    const m = f.member!
    const d = decodeMember(blob)
    t.equal(blob.length, f.length, `${f.file}: length`)
    t.equal(blob.readInt32BE(10), m.bodyLength, `${f.file}: bodyLength`)
    t.same({
      aliveTime: d.aliveTime,
      port: d.port,
      securePort: d.securePort,
      udpPort: d.udpPort,
      host: hostToString(d.host),
      command: d.command.toString('latin1'),
      domain: d.domain.toString('latin1'),
      uniqueId: d.uniqueId.toString('hex'),
      payload: d.payload.toString('latin1'),
      isShutdown: isShutdownCommand(d.command)
    }, {
      aliveTime: m.aliveTime,
      port: m.port,
      securePort: m.securePort,
      udpPort: m.udpPort,
      host: m.host,
      command: m.command,
      domain: m.domain,
      uniqueId: m.uniqueId,
      payload: m.payload,
      isShutdown: m.isShutdown
    }, `${f.file}: fields`)
    t.ok(encodeMember(d).equals(blob), `${f.file}: re-encodes byte for byte`)
  }
})

const tomcat1 = (aliveTime: number, command = Buffer.alloc(0)): MemberFields => ({
  aliveTime,
  port: 4000,
  securePort: -1,
  udpPort: -1,
  host: hostToBytes('10.77.0.11'),
  command,
  domain: Buffer.alloc(0),
  uniqueId: Buffer.from('1f6f133d0098460eae4115e0512d252d', 'hex'),
  payload: Buffer.alloc(0)
})

t.test('the 77-byte empty member and the 86-byte shutdown member built from fields equal the fixtures', async (t) => {
  const alive = readFileSync(path.join(dir, 'membership/tomcat1-alive-1.bin'))
  const bye = readFileSync(path.join(dir, 'membership/tomcat1-shutdown-via-sigterm.bin'))
  const a = encodeMember(tomcat1(1028))
  const b = encodeMember(tomcat1(124119, SHUTDOWN_COMMAND))
  t.equal(a.length, 77)
  t.equal(b.length, 86)
  t.ok(a.equals(alive), 'alive datagram equals tomcat1-alive-1.bin')
  t.ok(b.equals(bye), 'shutdown datagram equals tomcat1-shutdown-via-sigterm.bin')
})

t.test('every decode error path gives TRIBES_ERR_MEMBER_MALFORMED', async (t) => {
  const good = encodeMember({ ...tomcat1(5), command: Buffer.from('cmd'), domain: Buffer.from('dom'), payload: Buffer.from('payload') })
  // offsets for host length 4, command 3, domain 3, payload 7
  const at = { bodyLength: 10, hostLen: 34, cmdLen: 39, domLen: 46, payLen: 69 }
  const lie = (offset: number, value: number, int8 = false): Buffer => {
    const b = Buffer.from(good)
    if (int8) b.writeInt8(value, offset); else b.writeInt32BE(value, offset)
    return b
  }
  t.same(decodeMember(good).payload.toString(), 'payload', 'the unmodified blob decodes')
  malformed(t, () => decodeMember(good.subarray(0, 76)), 'shorter than the smallest member')
  malformed(t, () => decodeMember(good.subarray(0, good.length - 1)), 'truncated by one byte')
  malformed(t, () => decodeMember(Buffer.concat([good, Buffer.from([0])])), 'one stray byte after TRIBES-E')
  malformed(t, () => { const b = Buffer.from(good); b[0] = 0x58; return decodeMember(b) }, 'no TRIBES-B marker')
  malformed(t, () => { const b = Buffer.from(good); b[b.length - 3] = 0x58; return decodeMember(b) }, 'no TRIBES-E marker')
  malformed(t, () => { const b = Buffer.from(good); b[b.length - 1] = 1; return decodeMember(b) }, 'TRIBES-E version bytes wrong')
  malformed(t, () => decodeMember(lie(at.bodyLength, good.length - 24 + 1)), 'bodyLength says one more')
  malformed(t, () => decodeMember(lie(at.bodyLength, good.length - 24 - 1)), 'bodyLength says one less')
  malformed(t, () => decodeMember(lie(at.bodyLength, -1)), 'bodyLength negative')
  malformed(t, () => decodeMember(lie(at.hostLen, -4, true)), 'negative host length')
  malformed(t, () => decodeMember(lie(at.hostLen, 5, true)), 'host length one too long')
  malformed(t, () => decodeMember(lie(at.hostLen, 127, true)), 'host length far too long')
  malformed(t, () => decodeMember(lie(at.cmdLen, 4)), 'command length one too long')
  malformed(t, () => decodeMember(lie(at.cmdLen, 2)), 'command length one too short (stray bytes)')
  malformed(t, () => decodeMember(lie(at.cmdLen, -1)), 'command length negative')
  malformed(t, () => decodeMember(lie(at.cmdLen, 0x7fffffff)), 'command length huge')
  malformed(t, () => decodeMember(lie(at.domLen, 4)), 'domain length one too long')
  malformed(t, () => decodeMember(lie(at.domLen, -7)), 'domain length negative')
  malformed(t, () => decodeMember(lie(at.payLen, 8)), 'payload length one too long')
  malformed(t, () => decodeMember(lie(at.payLen, 6)), 'payload length one too short (stray bytes)')
  malformed(t, () => decodeMember(lie(at.payLen, -1)), 'payload length negative')
  malformed(t, () => { const b = Buffer.from(good); b.writeBigInt64BE(2n ** 62n, 14); return decodeMember(b) }, 'aliveTime beyond a safe integer')
  malformed(t, () => decodeMember(good, 5, good.length), 'range outside the buffer')
  malformed(t, () => decodeMember(Buffer.alloc(0)), 'empty buffer')
  malformed(t, () => encodeMember({ ...tomcat1(1), uniqueId: Buffer.alloc(15) }), 'encode: uniqueId not 16 bytes')
  malformed(t, () => encodeMember({ ...tomcat1(1), host: Buffer.alloc(128) }), 'encode: host over 127 bytes')
  malformed(t, () => encodeMember({ ...tomcat1(1), payload: Buffer.alloc(65535) }), 'encode: over 65535 bytes')
  malformed(t, () => hostToBytes('tomcat1.example'), 'hostToBytes: a name, not an address')
})

t.test('a member embedded inside a larger buffer decodes at its offset', async (t) => {
  const blob = encodeMember(tomcat1(77))
  const outer = Buffer.concat([Buffer.from('xxxx'), blob, Buffer.from('yy')])
  t.equal(decodeMember(outer, 4, blob.length).aliveTime, 77)
})

t.test('IPv6 host text round-trips', async (t) => {
  t.equal(hostToString(hostToBytes('::1')), '0:0:0:0:0:0:0:1')
  t.equal(hostToString(hostToBytes('fe80::1:2')), 'fe80:0:0:0:0:0:1:2')
})

t.test('property: random bytes never throw anything but TribesError', async (t) => {
  let decoded = 0
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, withMarkers) => {
    let b = Buffer.from(bytes)
    if (withMarkers) { // make garbage that passes the first checks more often
      b = Buffer.concat([Buffer.from('TRIBES-B\x01\x00', 'latin1'), Buffer.alloc(4), b, Buffer.from('TRIBES-E\x01\x00', 'latin1')])
      b.writeInt32BE(b.length - 24, 10)
    }
    try { decodeMember(b); decoded++ } catch (err) {
      if (!(err instanceof TribesError) || err.code !== 'TRIBES_ERR_MEMBER_MALFORMED') throw err
    }
  }), { numRuns: 3000 })
  t.pass(`3000 random inputs: only TRIBES_ERR_MEMBER_MALFORMED thrown (${decoded} happened to decode)`)
})

t.test('property: random valid members round-trip', async (t) => {
  const member = fc.record({
    aliveTime: fc.maxSafeNat(),
    port: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    securePort: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    udpPort: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    host: fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 127 })),
    command: fc.uint8Array({ maxLength: 40 }),
    domain: fc.uint8Array({ maxLength: 40 }),
    uniqueId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    payload: fc.uint8Array({ maxLength: 400 })
  }).map((m) => ({
    ...m, host: Buffer.from(m.host), command: Buffer.from(m.command), domain: Buffer.from(m.domain), uniqueId: Buffer.from(m.uniqueId), payload: Buffer.from(m.payload)
  }))
  fc.assert(fc.property(member, (m) => {
    const blob = encodeMember(m)
    const d = decodeMember(blob)
    return d.aliveTime === m.aliveTime && d.port === m.port && d.securePort === m.securePort && d.udpPort === m.udpPort &&
      d.host.equals(m.host) && d.command.equals(m.command) && d.domain.equals(m.domain) && d.uniqueId.equals(m.uniqueId) &&
      d.payload.equals(m.payload) && encodeMember(d).equals(blob)
  }), { numRuns: 1000 })
  t.pass('1000 random members round-trip byte for byte')
})

t.test('property: the identity key read from a blob is the one of its fields; the payload offset points at the payload', async (t) => {
  const member = fc.record({
    aliveTime: fc.maxSafeNat(),
    port: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    host: fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })),
    command: fc.uint8Array({ maxLength: 40 }),
    domain: fc.uint8Array({ maxLength: 40 }),
    uniqueId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    payload: fc.uint8Array({ maxLength: 400 })
  }).map((m) => ({
    ...m, securePort: -1, udpPort: -1, host: Buffer.from(m.host), command: Buffer.from(m.command), domain: Buffer.from(m.domain), uniqueId: Buffer.from(m.uniqueId), payload: Buffer.from(m.payload)
  }))
  fc.assert(fc.property(member, (m) => {
    const blob = encodeMember(m)
    const at = payloadOffsetOf(m)
    return identityKeyOfBlob(blob) === identityKey(m.port, m.host, m.uniqueId) &&
      blob.subarray(at, at + m.payload.length).equals(m.payload)
  }), { numRuns: 500 })
  t.pass('500 random members')
  const other = (f: Partial<MemberFields>): string | undefined => identityKeyOfBlob(encodeMember({ aliveTime: 1, port: 4000, securePort: -1, udpPort: -1, host: hostToBytes('127.0.0.1'), command: Buffer.alloc(0), domain: Buffer.alloc(0), uniqueId: Buffer.alloc(16, 1), payload: Buffer.alloc(0), ...f }))
  t.equal(other({ aliveTime: 99, payload: Buffer.from('x') }), other({}), 'aliveTime and payload are not part of the identity')
  t.not(other({ port: 4001 }), other({}), 'the port is')
  t.not(other({ host: hostToBytes('127.0.0.2') }), other({}), 'the host is')
  t.not(other({ uniqueId: Buffer.alloc(16, 2) }), other({}), 'the uniqueId is')
  const good = encodeMember({ aliveTime: 1, port: 4000, securePort: -1, udpPort: -1, host: hostToBytes('127.0.0.1'), command: Buffer.from('cmd'), domain: Buffer.from('dom'), uniqueId: Buffer.alloc(16, 1), payload: Buffer.alloc(0) })
  t.equal(identityKeyOfBlob(good.subarray(0, 72)), undefined, 'shorter than any member')
  const longDomain = Buffer.from(good)
  longDomain.writeInt32BE(0x7fffffff, 35 + 4 + 4 + 3)
  t.equal(identityKeyOfBlob(longDomain), undefined, 'a domain length past the end')
  const longHost = Buffer.from(good)
  longHost[34] = 17
  t.equal(identityKeyOfBlob(longHost), undefined, 'a host longer than an IPv6 address')
})
