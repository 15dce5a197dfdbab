/**
 * What nodecat puts in the ChannelData message field:
 *
 *   "NC" | version (1) | kind | flags | body                       (no cluster key)
 *   "NC" | version (1) | kind | flags=SEALED | keyId | nonce(12) ‖ ciphertext ‖ tag(16)   (keyed)
 *
 * Sealed envelopes authenticate, as AAD, every body byte before the ciphertext: the ChannelData
 * header (options, timestamp, uniqueId, sender blob, message length) and the envelope header. So a
 * peer without the key can neither read a message nor alter who sent it, when, or as what kind.
 *
 * Kinds: `app` (a msgpackr-encoded value for onMessage handlers), `heartbeat` (static membership:
 * the ChannelData sender blob is the heartbeat, the body is empty), `stop` (a member leaving;
 * its sender blob carries the shutdown command) and `batch` (several async app values to one
 * member, `int length ‖ msgpack` each: with a key, one seal per batch instead of one per message,
 * since an AES-GCM cipher object per message costs more than everything else on the hot path).
 */
import { Packr } from 'msgpackr'
import { errors } from '../errors.js'
import { NONCE_LENGTH, SEAL_OVERHEAD, TAG_LENGTH, type Keyring } from '../crypto/keyring.js'
import { allocChannelDataFrame, allocChannelDataHead, type ChannelData } from './channel-data.js'
import { FRAME_END } from './frame.js'
import { SEND_OPTIONS } from './send-options.js'

export const ENVELOPE_MAGIC_0 = 0x4e // 'N'
export const ENVELOPE_MAGIC_1 = 0x43 // 'C'
export const ENVELOPE_VERSION = 1
export const ENVELOPE_HEADER = 5
const FLAG_SEALED = 0x01

export const KIND = { app: 1, heartbeat: 2, stop: 3, batch: 4 } as const
export type EnvelopeKind = keyof typeof KIND
const KIND_NAMES: Record<number, EnvelopeKind> = { 1: 'app', 2: 'heartbeat', 3: 'stop', 4: 'batch' }

/**
 * Tomcat's TcpFailureDetector probe message (TCP_FAIL_DETECT, 64 bytes, sent with BYTE_MESSAGE):
 * a Tomcat checking whether we are alive. It is swallowed silently, as Tomcat does.
 */
export const TCP_FAIL_DETECT = Buffer.from(
  '4fa77348798243c99f6f8980a15b07147dd9525bebf1439ab77ebe8f8167' +
  '1eb63715be87457e4ca8bf0a4d135338153255f694b73afa407891047dd7' +
  '7284c0d5', 'hex')

// why: records (shared structures) would make a message depend on what the receiver saw before
const packr = new Packr({ useRecords: false })

/** msgpackr-encode an app value (TRIBES_ERR_MESSAGE_ENCODE for values msgpackr refuses). */
export function packValue (value: unknown): Buffer {
  try { return packr.pack(value) } catch (err) { throw errors.messageEncode(err) }
}

export function unpackValue (body: Uint8Array): unknown {
  try { return packr.unpack(body) } catch (err) { throw errors.envelopeMalformed(`msgpack body does not decode: ${(err as Error).message}`) }
}

/** Join packed values into a batch body: `int length ‖ bytes` for each. */
export function encodeBatchBody (parts: readonly Uint8Array[], totalBytes?: number): Buffer {
  const total = totalBytes ?? parts.reduce((n, p) => n + p.length, 0)
  const b = Buffer.allocUnsafe(total + 4 * parts.length)
  let o = 0
  for (const p of parts) {
    o = b.writeUInt32BE(p.length, o)
    b.set(p, o)
    o += p.length
  }
  return b
}

/** Split a batch body (views into it); TRIBES_ERR_ENVELOPE_MALFORMED when a length lies. */
export function splitBatchBody (body: Buffer): Buffer[] {
  const out: Buffer[] = []
  let o = 0
  while (o < body.length) {
    if (o + 4 > body.length) throw errors.envelopeMalformed('batch length field cut short')
    const n = body.readUInt32BE(o)
    o += 4
    if (o + n > body.length) throw errors.envelopeMalformed(`batch part of ${n} bytes overruns the body`)
    out.push(body.subarray(o, o + n))
    o += n
  }
  return out
}

export function envelopeLength (bodyLength: number, sealed: boolean): number {
  return sealed ? ENVELOPE_HEADER + 1 + SEAL_OVERHEAD + bodyLength : ENVELOPE_HEADER + bodyLength
}

/**
 * Build the whole TCP frame of one nodecat message in one allocation: frame header, ChannelData
 * header, envelope, (sealed) body, end marker. Encode once, write to every member.
 */
export function encodeEnvelopeFrame (header: Omit<ChannelData, 'message'>, kind: EnvelopeKind, body: Uint8Array, keyring?: Keyring): Buffer {
  const sealed = keyring !== undefined
  const { frame, bodyOffset, messageOffset: m } = allocChannelDataFrame(header, envelopeLength(body.length, sealed))
  frame[m] = ENVELOPE_MAGIC_0
  frame[m + 1] = ENVELOPE_MAGIC_1
  frame[m + 2] = ENVELOPE_VERSION
  frame[m + 3] = KIND[kind]
  frame[m + 4] = sealed ? FLAG_SEALED : 0
  if (keyring === undefined) {
    frame.set(body, m + ENVELOPE_HEADER)
  } else {
    frame[m + ENVELOPE_HEADER] = keyring.keyId
    const aadEnd = m + ENVELOPE_HEADER + 1
    keyring.sealInto(frame.subarray(bodyOffset, aadEnd), body, frame, aadEnd)
  }
  return frame
}

/** values at least this big go to the socket (or the cipher) as they are; smaller ones are copied together */
export const ZERO_COPY_MIN = 2048

/**
 * The plaintext of a batch body (`int length ‖ bytes` per value) as pieces to write in order,
 * without copying the big values: the length fields and the small values share one buffer,
 * each value of ZERO_COPY_MIN bytes or more is a piece of its own (the caller's buffer itself).
 */
export function batchPieces (values: readonly Uint8Array[], valueBytes?: number): { pieces: Uint8Array[], length: number } {
  let small = 0
  let total = 0
  for (const v of values) {
    total += 4 + v.length
    if (v.length < ZERO_COPY_MIN) small += v.length
  }
  if (valueBytes !== undefined && total !== valueBytes + 4 * values.length) throw new RangeError(`batch values hold ${total - 4 * values.length} bytes, not ${valueBytes}`)
  const staging = Buffer.allocUnsafe(small + 4 * values.length)
  const pieces: Uint8Array[] = []
  let start = 0
  let o = 0
  for (const v of values) {
    o = staging.writeUInt32BE(v.length, o)
    if (v.length < ZERO_COPY_MIN) {
      staging.set(v, o)
      o += v.length
    } else {
      pieces.push(staging.subarray(start, o), v)
      start = o
    }
  }
  if (o > start) pieces.push(staging.subarray(start, o))
  return { pieces, length: total }
}

/**
 * The whole TCP frame of one nodecat message as buffers to write in order (one writev), for a
 * body given as `pieces` (`length` bytes in all): a head (frame header, ChannelData header,
 * envelope header, and when sealed the key id and nonce), then the body pieces (unsealed: the
 * caller's buffers themselves; sealed: the ciphertext of each, straight from the cipher), then a
 * tail (the tag when sealed, and the end marker). The bytes are exactly those of
 * {@link encodeEnvelopeFrame} for the joined body, with no copy of the body on the way.
 */
export function encodeEnvelopeParts (header: Omit<ChannelData, 'message'>, kind: EnvelopeKind, pieces: readonly Uint8Array[], length: number, keyring?: Keyring): Buffer[] {
  const sealed = keyring !== undefined
  const keyId = sealed ? keyring.keyId : 0
  const { head, bodyOffset, messageOffset: m } = allocChannelDataHead(header, envelopeLength(length, sealed), ENVELOPE_HEADER + (sealed ? 1 + NONCE_LENGTH : 0))
  head[m] = ENVELOPE_MAGIC_0
  head[m + 1] = ENVELOPE_MAGIC_1
  head[m + 2] = ENVELOPE_VERSION
  head[m + 3] = KIND[kind]
  head[m + 4] = sealed ? FLAG_SEALED : 0
  const out: Buffer[] = [head]
  if (!sealed) {
    for (const p of pieces) if (p.length > 0) out.push(Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.length))
    out.push(FRAME_END)
    return out
  }
  head[m + ENVELOPE_HEADER] = keyId
  const aadEnd = m + ENVELOPE_HEADER + 1
  const sealer = keyring.sealStream(head.subarray(bodyOffset, aadEnd), head, aadEnd)
  for (const p of pieces) {
    if (p.length === 0) continue
    const c = sealer.update(p)
    if (c.length > 0) out.push(c)
  }
  const tail = Buffer.allocUnsafe(TAG_LENGTH + FRAME_END.length)
  sealer.final(tail, 0)
  FRAME_END.copy(tail, TAG_LENGTH)
  out.push(tail)
  return out
}

/** True when a received ChannelData carries a nodecat envelope (byte message + "NC" magic). */
export function isEnvelope (cd: ChannelData): boolean {
  const msg = cd.message
  return (cd.options & SEND_OPTIONS.BYTE_MESSAGE) !== 0 && msg.length >= ENVELOPE_HEADER &&
    msg[0] === ENVELOPE_MAGIC_0 && msg[1] === ENVELOPE_MAGIC_1
}

/** True for Tomcat's TcpFailureDetector probe. */
export function isTcpFailDetect (cd: ChannelData): boolean {
  return (cd.options & SEND_OPTIONS.BYTE_MESSAGE) !== 0 && cd.message.length === TCP_FAIL_DETECT.length &&
    cd.message.equals(TCP_FAIL_DETECT)
}

export interface OpenedEnvelope {
  kind: EnvelopeKind
  /** the plain body (a view into the frame when unsealed) */
  body: Buffer
}

/**
 * Open the envelope of `cd`, decoded from frame body `body` (needed for the AAD). With a keyring
 * the envelope must be sealed, authentic and fresh: TRIBES_ERR_DECRYPT / TRIBES_ERR_REPLAY
 * otherwise. Without one, a sealed envelope is TRIBES_ERR_DECRYPT. Anything else that does not
 * parse is TRIBES_ERR_ENVELOPE_MALFORMED. Call {@link isEnvelope} first.
 */
export function openEnvelope (body: Buffer, cd: ChannelData, keyring?: Keyring): OpenedEnvelope {
  const msg = cd.message
  if (msg[2] !== ENVELOPE_VERSION) throw errors.envelopeMalformed(`unsupported envelope version ${msg[2]}`)
  const kind = KIND_NAMES[msg[3]!]
  if (kind === undefined) throw errors.envelopeMalformed(`unknown kind ${msg[3]}`)
  const sealed = (msg[4]! & FLAG_SEALED) !== 0
  if (keyring === undefined) {
    if (sealed) throw errors.decrypt('message is sealed but this member has no cluster key')
    return { kind, body: msg.subarray(ENVELOPE_HEADER) }
  }
  if (!sealed) throw errors.decrypt('message is not sealed but a cluster key is set')
  if (msg.length < ENVELOPE_HEADER + 1 + SEAL_OVERHEAD) throw errors.decrypt(`sealed message of ${msg.length} bytes is too short`)
  const aadEnd = msg.byteOffset - body.byteOffset + ENVELOPE_HEADER + 1
  if (aadEnd < 0 || aadEnd > body.length) throw errors.envelopeMalformed('message is not inside the frame body')
  const plain = keyring.open(msg[ENVELOPE_HEADER]!, body.subarray(0, aadEnd), msg.subarray(ENVELOPE_HEADER + 1))
  keyring.checkFresh(cd.timestamp, cd.uniqueId)
  return { kind, body: plain }
}
