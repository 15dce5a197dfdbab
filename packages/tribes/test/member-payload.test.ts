/**
 * nodecat's member payload: magic + version + tag + msgpackr metadata; the tag made with the
 * real cluster keyring covers the whole datagram; foreign payloads are recognised as foreign.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { decodeMember, hostToBytes } from '../src/codec/member.js'
import {
  decodePayload, encodePayload, encodeSignedMember, isNodecatPayload, payloadOffsetOf, tagLengthOf, validateMeta, verifyMemberTag
} from '../src/codec/member-payload.js'
import { Keyring, generateKey } from '../src/crypto/keyring.js'
import { readMemberDatagram } from '../src/membership/datagram.js'

const fields = (payload: Buffer) => ({
  aliveTime: 4242,
  port: 4001,
  securePort: -1,
  udpPort: -1,
  host: hostToBytes('10.201.0.7'),
  command: Buffer.alloc(0),
  domain: Buffer.from('red'),
  uniqueId: Buffer.alloc(16, 7),
  payload
})

t.test('metadata round-trips; unknown extra keys are ignored', async (t) => {
  const meta = { protocol: 1, role: 'node' as const, route: 'tomcat1', http: 'http://10.201.0.7:8080' }
  const p = encodePayload(meta)
  t.ok(isNodecatPayload(p))
  t.equal(p.subarray(0, 6).toString('latin1'), 'NCAT\x01\x00', 'magic, version 1, no tag')
  const d = decodePayload(p)
  t.same(d, { kind: 'nodecat', meta, tag: null, tagOffset: 6 })
  t.same(validateMeta({ protocol: 2, role: 'balancer', future: [1, 2] }), { protocol: 2, role: 'balancer' })
  t.throws(() => validateMeta({ protocol: -1, role: 'node' }), { code: 'TRIBES_ERR_MEMBER_PAYLOAD' })
  t.throws(() => validateMeta({ protocol: 1, role: 'node', route: 5 }), { code: 'TRIBES_ERR_MEMBER_PAYLOAD' })
  t.throws(() => validateMeta({ protocol: 1, role: 'node', http: 'x'.repeat(2000) }), { code: 'TRIBES_ERR_MEMBER_PAYLOAD' })
  // host identity and the application's props
  const full = { protocol: 1, role: 'node' as const, route: 'pi1-0', http: 'http://10.0.0.1:8080', host: 'pi1', props: { manager: 'backup', backups: '1' } }
  t.same(decodePayload(encodePayload(full)), { kind: 'nodecat', meta: full, tag: null, tagOffset: 6 }, 'host and props round-trip')
  t.throws(() => validateMeta({ protocol: 1, role: 'node', host: '' }), { code: 'TRIBES_ERR_MEMBER_PAYLOAD' }, 'empty host')
  t.throws(() => validateMeta({ protocol: 1, role: 'node', props: ['a'] }), { code: 'TRIBES_ERR_MEMBER_PAYLOAD' }, 'props must be a map')
  t.throws(() => validateMeta({ protocol: 1, role: 'node', props: { manager: 5 } }), { code: 'TRIBES_ERR_MEMBER_PAYLOAD' }, 'prop values are text')
  t.throws(() => validateMeta({ protocol: 1, role: 'node', props: { ['__proto__']: 'x' } }), { code: 'TRIBES_ERR_MEMBER_PAYLOAD' }, 'names start with a letter')
  t.throws(() => validateMeta({ protocol: 1, role: 'node', props: { a: 'x'.repeat(129) } }), { code: 'TRIBES_ERR_MEMBER_PAYLOAD' }, 'values are short')
  t.throws(() => validateMeta({ protocol: 1, role: 'node', props: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`p${i}`, 'x'])) }), { code: 'TRIBES_ERR_MEMBER_PAYLOAD' }, 'at most 16')
})

t.test('Tomcat\'s empty payload and the probe\'s "probe" payload are foreign', async (t) => {
  for (const name of ['tomcat1-alive-1.bin', 'generated-by-probe/fake-member-alive.bin']) {
    const blob = readFileSync(fileURLToPath(new URL(`./fixtures/tomcat10/membership/${name}`, import.meta.url)))
    t.same(decodePayload(decodeMember(blob).payload), { kind: 'foreign' }, name)
    const read = readMemberDatagram(blob, '', new Keyring({ key: generateKey() }))
    t.ok(read.ok && read.member.meta === null, `${name}: admitted as a foreign member even with a key`)
  }
})

t.test('the real keyring tags the whole datagram', async (t) => {
  const key = generateKey()
  const ring = new Keyring({ key })
  t.equal(tagLengthOf(ring), 16, 'the keyring MAC is 16 bytes')
  const f = fields(encodePayload({ protocol: 1, role: 'node', route: 'a' }, 16))
  const blob = encodeSignedMember(f, ring)
  const d = decodePayload(decodeMember(blob).payload, payloadOffsetOf(f))
  if (d.kind !== 'nodecat' || d.tag === null) throw new Error('expected a tagged nodecat payload')
  t.ok(verifyMemberTag(blob, d.tag, d.tagOffset, new Keyring({ key })), 'same key verifies')
  t.notOk(verifyMemberTag(blob, d.tag, d.tagOffset, new Keyring({ key: generateKey() })), 'another key does not')
  t.same(readMemberDatagram(blob, 'red', new Keyring({ key })).ok, true)
  // flip every single byte outside the tag: each must be refused, or (a broken magic) turn it
  // into an unauthenticated foreign member, never into a nodecat member
  let refused = 0; let foreign = 0
  for (let i = 0; i < blob.length; i++) {
    if (i >= d.tagOffset && i < d.tagOffset + 16) continue
    const x = Buffer.from(blob); x[i]! ^= 0x01
    const r = readMemberDatagram(x, 'red', ring)
    if (!r.ok) refused++
    else if (r.member.meta === null && i >= d.tagOffset - 6 && i < d.tagOffset - 2) foreign++
  }
  t.equal(foreign, 4, 'only the 4 magic bytes make it foreign')
  t.equal(refused + foreign, blob.length - 16, 'every other change is refused')
  t.throws(() => encodeSignedMember(fields(encodePayload({ protocol: 1, role: 'node' })), ring), { code: 'TRIBES_ERR_MEMBER_PAYLOAD' }, 'no room for the tag')
  t.throws(() => encodeSignedMember(fields(encodePayload({ protocol: 1, role: 'node' }, 20)), ring), { code: 'TRIBES_ERR_MEMBER_PAYLOAD' }, 'wrong room for the tag')
})
