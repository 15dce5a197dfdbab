/**
 * The cluster key: seal/open round trip, tampering and wrong keys fail, replays and stale
 * timestamps fail, bounded replay memory, rotation, MAC, key parsing; and the envelope on top.
 */
import t from 'tap'
import crypto from 'node:crypto'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Keyring, generateKey, parseKey, readKeyFile } from '../src/crypto/keyring.js'
import { encodeEnvelopeFrame, openEnvelope, isEnvelope, packValue, unpackValue } from '../src/codec/envelope.js'
import { FrameParser } from '../src/codec/frame.js'
import { decodeChannelData } from '../src/codec/channel-data.js'

const k1 = generateKey()
const k2 = generateKey()

t.test('seal/open round trip; tampering and wrong keys fail with TRIBES_ERR_DECRYPT', async (t) => {
  const ring = new Keyring({ key: k1 })
  const aad = Buffer.from('header bytes')
  const sealed = ring.seal(aad, Buffer.from('secret value'))
  t.equal(ring.open(ring.keyId, aad, sealed).toString(), 'secret value')
  const flipped = Buffer.from(sealed); flipped[14]! ^= 1
  t.throws(() => ring.open(ring.keyId, aad, flipped), { code: 'TRIBES_ERR_DECRYPT' }, 'tampered ciphertext')
  t.throws(() => ring.open(ring.keyId, Buffer.from('header bytez'), sealed), { code: 'TRIBES_ERR_DECRYPT' }, 'tampered AAD')
  const tag = Buffer.from(sealed); tag[tag.length - 1]! ^= 1
  t.throws(() => ring.open(ring.keyId, aad, tag), { code: 'TRIBES_ERR_DECRYPT' }, 'tampered tag')
  t.throws(() => ring.open(ring.keyId, aad, sealed.subarray(0, 20)), { code: 'TRIBES_ERR_DECRYPT' }, 'truncated')
  const other = new Keyring({ key: k2 })
  t.throws(() => other.open(ring.keyId, aad, sealed), { code: 'TRIBES_ERR_DECRYPT' }, 'wrong key')
  t.not(ring.seal(aad, Buffer.from('x')).subarray(0, 12).toString('hex'), ring.seal(aad, Buffer.from('x')).subarray(0, 12).toString('hex'), 'fresh nonce per message')
})

t.test('rotation: [new, old] opens what old sealed and verifies old MACs', async (t) => {
  const old = new Keyring({ key: k1 })
  const rotated = new Keyring({ key: k2, previousKeys: [k1] })
  const aad = Buffer.from('a')
  t.equal(rotated.open(old.keyId, aad, old.seal(aad, Buffer.from('v'))).toString(), 'v')
  t.ok(rotated.verifyMac(Buffer.from('payload'), old.mac(Buffer.from('payload'))))
  t.notOk(old.verifyMac(Buffer.from('payload'), rotated.mac(Buffer.from('payload'))), 'old key does not accept the new one')
})

t.test('mac / verifyMac', async (t) => {
  const ring = new Keyring({ key: k1 })
  const tag = ring.mac(Buffer.from('member blob'))
  t.equal(tag.length, 16)
  t.ok(ring.verifyMac(Buffer.from('member blob'), tag))
  t.notOk(ring.verifyMac(Buffer.from('member blob!'), tag))
  t.notOk(ring.verifyMac(Buffer.from('member blob'), tag.subarray(0, 15)))
  t.notOk(new Keyring({ key: k2 }).verifyMac(Buffer.from('member blob'), tag))
})

t.test('replay: same id twice, out-of-order resends, timestamps outside the window, bounded memory', async (t) => {
  let now = 1_000_000
  const ring = new Keyring({ key: k1, replayWindow: 1000, replayStreams: 16, now: () => now })
  const id = (prefix: Buffer, n: number) => {
    const b = Buffer.alloc(16)
    prefix.copy(b)
    b.writeUInt32BE(Math.floor(n / 2 ** 32), 8)
    b.writeUInt32BE(n >>> 0, 12)
    return b
  }
  const p = crypto.randomBytes(8)
  ring.checkFresh(now, id(p, 0))
  t.throws(() => ring.checkFresh(now, id(p, 0)), { code: 'TRIBES_ERR_REPLAY' }, 'same id again')
  ring.checkFresh(now, id(p, 5))
  ring.checkFresh(now, id(p, 3))
  t.pass('an older id of the stream not seen yet is accepted (a resend)')
  t.throws(() => ring.checkFresh(now, id(p, 3)), { code: 'TRIBES_ERR_REPLAY' }, 'but only once')
  t.throws(() => ring.checkFresh(now, id(p, 5)), { code: 'TRIBES_ERR_REPLAY' })
  ring.checkFresh(now, id(p, 4))
  ring.checkFresh(now, id(p, 2 ** 40))
  t.throws(() => ring.checkFresh(now, id(p, 6)), { code: 'TRIBES_ERR_REPLAY' }, 'far behind the stream is refused')
  t.throws(() => ring.checkFresh(now, id(p, 2 ** 40)), { code: 'TRIBES_ERR_REPLAY' }, 'a big jump is remembered too')
  t.throws(() => ring.checkFresh(now - 1001, id(crypto.randomBytes(8), 0)), { code: 'TRIBES_ERR_REPLAY' }, 'too old')
  t.throws(() => ring.checkFresh(now + 1001, id(crypto.randomBytes(8), 0)), { code: 'TRIBES_ERR_REPLAY' }, 'from the future')
  const small = new Keyring({ key: k1, replayWindow: 1000, replayStreams: 16, now: () => now })
  for (let i = 0; i < 40; i++) small.checkFresh(now - 500 + i, crypto.randomBytes(16))
  t.equal(small.replayStreams, 16, 'random ids (one stream each) are bounded by replayStreams')
  t.throws(() => small.checkFresh(now - 490, crypto.randomBytes(16)), { code: 'TRIBES_ERR_REPLAY' }, 'a new stream older than what was forgotten is refused')
  small.checkFresh(now, crypto.randomBytes(16))
  now += 5000
  t.throws(() => ring.checkFresh(now - 5000, id(p, 2 ** 40 + 1)), { code: 'TRIBES_ERR_REPLAY' }, 'the window moves with the clock')
})

t.test('key parsing', async (t) => {
  t.equal(parseKey(k1).length, 32)
  t.throws(() => parseKey('c2hvcnQ='), { code: 'TRIBES_ERR_KEY_INVALID' }, '5 bytes')
  t.throws(() => parseKey('not base64!'), { code: 'TRIBES_ERR_KEY_INVALID' })
  t.throws(() => parseKey(Buffer.alloc(16)), { code: 'TRIBES_ERR_KEY_INVALID' })
  const dir = mkdtempSync(join(tmpdir(), 'nodecat-key-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'b64'), k1 + '\n')
  writeFileSync(join(dir, 'raw'), Buffer.alloc(32, 0xfe))
  t.ok(readKeyFile(join(dir, 'b64')).equals(parseKey(k1)))
  t.ok(readKeyFile(join(dir, 'raw')).equals(Buffer.alloc(32, 0xfe)))
  t.throws(() => readKeyFile(join(dir, 'missing')), { code: 'TRIBES_ERR_KEY_INVALID' })
})

t.test('envelope: plain and sealed frames open; a bit flip anywhere in the header fails', async (t) => {
  const header = { options: 9, timestamp: Date.now(), uniqueId: crypto.randomBytes(16), sender: Buffer.from('sender-blob') }
  const parse = (frame: Buffer) => {
    const body = new FrameParser({ maxFrameSize: 1 << 20 }).push(frame)[0]!
    return { body, cd: decodeChannelData(body) }
  }
  const plain = parse(encodeEnvelopeFrame(header, 'app', packValue({ a: [1, 2] })))
  t.ok(isEnvelope(plain.cd))
  const op = openEnvelope(plain.body, plain.cd)
  t.equal(op.kind, 'app'); t.same(unpackValue(op.body), { a: [1, 2] })
  const ring = new Keyring({ key: k1 })
  const sealedFrame = encodeEnvelopeFrame(header, 'heartbeat', Buffer.alloc(0), ring)
  const s = parse(sealedFrame)
  t.equal(openEnvelope(s.body, s.cd, new Keyring({ key: k1 })).kind, 'heartbeat')
  t.throws(() => openEnvelope(s.body, s.cd), { code: 'TRIBES_ERR_DECRYPT' }, 'sealed without a key')
  t.throws(() => openEnvelope(plain.body, plain.cd, ring), { code: 'TRIBES_ERR_DECRYPT' }, 'plain with a key')
  // flip one bit in each header byte (options .. envelope key id): every one must be refused
  const aadEnd = 11 + 40 + header.sender.length + 6
  let failed = 0
  for (let i = 11; i < aadEnd; i++) {
    const f = Buffer.from(sealedFrame); f[i]! ^= 0x10
    try {
      const p = parse(f)
      openEnvelope(p.body, p.cd, new Keyring({ key: k1 }))
    } catch (err) {
      if (['TRIBES_ERR_DECRYPT', 'TRIBES_ERR_ENVELOPE_MALFORMED', 'TRIBES_ERR_CHANNEL_DATA_MALFORMED'].includes((err as { code: string }).code)) failed++
    }
  }
  t.equal(failed, aadEnd - 11, 'every authenticated header byte is protected')
})
