/**
 * The Tribes member blob (MemberImpl.getData / getMember), byte for byte:
 *
 *   "TRIBES-B" 01 00 | int bodyLength | long aliveTime | int port | int securePort | int udpPort |
 *   byte hostLen | host | int cmdLen | command | int domainLen | domain | 16 uniqueId |
 *   int payloadLen | payload | "TRIBES-E" 01 00
 *
 * bodyLength = total - 24. It is used both as the multicast heartbeat datagram and as the
 * sender address inside every TCP ChannelData. All integers are big-endian.
 */
import { errors } from '../errors.js'

export const MEMBER_BEGIN = Buffer.from([84, 82, 73, 66, 69, 83, 45, 66, 1, 0]) // "TRIBES-B" 1 0
export const MEMBER_END = Buffer.from([84, 82, 73, 66, 69, 83, 45, 69, 1, 0]) // "TRIBES-E" 1 0
/** The command a cleanly stopping member sends once ("BABY-ALEX"). */
export const SHUTDOWN_COMMAND = Buffer.from('BABY-ALEX', 'latin1')
/** Largest member blob: it must fit one UDP datagram. */
export const MAX_MEMBER_BYTES = 65535
const FIXED = 73 // every byte that is not host, command, domain or payload
// where the fixed-place fields sit in every blob (the ones after the host move with its length)
const BODY_LENGTH_AT = 10
const PORT_AT = 22
const HOST_LENGTH_AT = 34
const HOST_AT = 35
const MAX_HOST_BYTES = 16 // IPv6; longer hosts decode, but are never a known member's

export interface MemberFields {
  /** ms since the member's service started, as the member advertised it */
  aliveTime: number
  port: number
  securePort: number
  udpPort: number
  /** raw address bytes: 4 for IPv4, 16 for IPv6 */
  host: Buffer
  command: Buffer
  domain: Buffer
  /** 16 random bytes; a restarted process gets new ones */
  uniqueId: Buffer
  payload: Buffer
}

export function memberBlobLength (m: Pick<MemberFields, 'host' | 'command' | 'domain' | 'payload'>): number {
  return FIXED + m.host.length + m.command.length + m.domain.length + m.payload.length
}

/** Encode a member blob. Throws TRIBES_ERR_MEMBER_MALFORMED for fields Tribes would refuse. */
export function encodeMember (m: MemberFields): Buffer {
  if (m.host.length > 127) throw errors.memberMalformed(`host of ${m.host.length} bytes (max 127)`)
  if (m.uniqueId.length !== 16) throw errors.memberMalformed(`uniqueId of ${m.uniqueId.length} bytes (must be 16)`)
  const total = memberBlobLength(m)
  if (total > MAX_MEMBER_BYTES) throw errors.memberMalformed(`member of ${total} bytes exceeds ${MAX_MEMBER_BYTES}`)
  const b = Buffer.allocUnsafe(total)
  let o = MEMBER_BEGIN.copy(b, 0)
  o = b.writeInt32BE(total - 24, o)
  o = b.writeBigInt64BE(BigInt(Math.trunc(m.aliveTime)), o)
  o = b.writeInt32BE(m.port, o)
  o = b.writeInt32BE(m.securePort, o)
  o = b.writeInt32BE(m.udpPort, o)
  o = b.writeInt8(m.host.length, o)
  o += m.host.copy(b, o)
  o = b.writeInt32BE(m.command.length, o)
  o += m.command.copy(b, o)
  o = b.writeInt32BE(m.domain.length, o)
  o += m.domain.copy(b, o)
  o += m.uniqueId.copy(b, o)
  o = b.writeInt32BE(m.payload.length, o)
  o += m.payload.copy(b, o)
  MEMBER_END.copy(b, o)
  return b
}

/** True when `buf` at `offset` starts with the TRIBES-B marker. */
export function startsWithMemberBegin (buf: Uint8Array, offset = 0): boolean {
  if (buf.length - offset < MEMBER_BEGIN.length) return false
  for (let i = 0; i < MEMBER_BEGIN.length; i++) if (buf[offset + i] !== MEMBER_BEGIN[i]) return false
  return true
}

/**
 * Decode exactly one member blob occupying `buf[offset, offset+length)`. Every length field is
 * checked against what is really there; anything inconsistent throws TRIBES_ERR_MEMBER_MALFORMED.
 * The returned buffers are copies, so the input may be reused.
 */
export function decodeMember (buf: Buffer, offset = 0, length = buf.length - offset): MemberFields {
  if (offset < 0 || length < 0 || offset + length > buf.length) throw errors.memberMalformed('range outside the buffer')
  if (length < FIXED) throw errors.memberMalformed(`${length} bytes is shorter than the smallest member (${FIXED})`)
  if (!startsWithMemberBegin(buf, offset)) throw errors.memberMalformed('no TRIBES-B marker')
  const end = offset + length
  const bodyLength = buf.readInt32BE(offset + BODY_LENGTH_AT)
  if (bodyLength < FIXED - 24 || bodyLength + 24 !== length) {
    throw errors.memberMalformed(`bodyLength ${bodyLength} does not match ${length} bytes`)
  }
  let o = offset + 14
  const alive = buf.readBigInt64BE(o); o += 8
  if (alive < BigInt(Number.MIN_SAFE_INTEGER) || alive > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw errors.memberMalformed('aliveTime out of range')
  }
  const port = buf.readInt32BE(o); o += 4
  const securePort = buf.readInt32BE(o); o += 4
  const udpPort = buf.readInt32BE(o); o += 4
  const hostLen = buf.readInt8(o); o += 1
  if (hostLen < 0) throw errors.memberMalformed(`negative host length ${hostLen}`)
  const take = (n: number, what: string): Buffer => {
    if (n < 0 || o + n > end - 10) throw errors.memberMalformed(`${what} length ${n} overruns the blob`)
    const out = Buffer.from(buf.subarray(o, o + n)); o += n
    return out
  }
  const readLen = (what: string): number => {
    if (o + 4 > end - 10) throw errors.memberMalformed(`${what} length overruns the blob`)
    const n = buf.readInt32BE(o); o += 4
    return n
  }
  const host = take(hostLen, 'host')
  const command = take(readLen('command'), 'command')
  const domain = take(readLen('domain'), 'domain')
  const uniqueId = take(16, 'uniqueId')
  const payload = take(readLen('payload'), 'payload')
  if (o !== end - 10) throw errors.memberMalformed(`${end - 10 - o} stray bytes before TRIBES-E`)
  for (let i = 0; i < MEMBER_END.length; i++) {
    if (buf[o + i] !== MEMBER_END[i]) throw errors.memberMalformed('no TRIBES-E marker at the end')
  }
  return { aliveTime: Number(alive), port, securePort, udpPort, host, command, domain, uniqueId, payload }
}

/** Where the payload of a decoded member starts inside its blob. */
export function payloadOffsetOf (fields: Pick<MemberFields, 'host' | 'command' | 'domain' | 'payload'>): number {
  return memberBlobLength(fields) - 10 - fields.payload.length
}

/**
 * A member's identity (port, host bytes, uniqueId) as a short string: what tells one running
 * member from every other, whatever its aliveTime or payload says.
 */
export function identityKey (port: number, host: Uint8Array, uniqueId: Uint8Array): string {
  const p = Buffer.allocUnsafe(4)
  p.writeInt32BE(port)
  return p.toString('latin1') + Buffer.from(host).toString('latin1') + Buffer.from(uniqueId).toString('latin1')
}

/**
 * {@link identityKey} of a member blob, read without decoding the whole blob: the per-message
 * lookup of a known sender. undefined when the blob is too short for the lengths it states (it
 * is not checked further: a blob whose key is unknown gets a full decodeMember).
 */
export function identityKeyOfBlob (blob: Buffer): string | undefined {
  if (blob.length < FIXED) return undefined
  const h = blob[HOST_LENGTH_AT]!
  let o = HOST_AT + h
  if (h > MAX_HOST_BYTES || o + 4 > blob.length) return undefined
  const cmd = blob.readInt32BE(o); o += 4 + cmd
  if (cmd < 0 || o + 4 > blob.length) return undefined
  const dom = blob.readInt32BE(o); o += 4 + dom
  if (dom < 0 || o + 16 > blob.length) return undefined
  return blob.toString('latin1', PORT_AT, PORT_AT + 4) + blob.toString('latin1', HOST_AT, HOST_AT + h) + blob.toString('latin1', o, o + 16)
}

export function isShutdownCommand (command: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(command), SHUTDOWN_COMMAND) === 0
}

/** Raw address bytes to text ("10.77.0.11", or an IPv6 text form). */
export function hostToString (host: Uint8Array): string {
  if (host.length === 4) return `${host[0]}.${host[1]}.${host[2]}.${host[3]}`
  if (host.length === 16) {
    const parts: string[] = []
    for (let i = 0; i < 16; i += 2) parts.push(((host[i]! << 8) | host[i + 1]!).toString(16))
    return parts.join(':')
  }
  return Buffer.from(host).toString('hex')
}

/** Text address to raw bytes (IPv4 dotted quad or IPv6). Throws for anything else. */
export function hostToBytes (host: string): Buffer {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)
  if (v4) {
    const bytes = v4.slice(1).map(Number)
    if (bytes.every((n) => n <= 255)) return Buffer.from(bytes)
  }
  if (host.includes(':')) {
    const [head = '', tail = ''] = host.split('::')
    const h = head ? head.split(':') : []
    const t = host.includes('::') ? (tail ? tail.split(':') : []) : []
    const fill = host.includes('::') ? 8 - h.length - t.length : 0
    const groups = [...h, ...Array(fill).fill('0'), ...t]
    if (groups.length === 8 && groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) {
      const b = Buffer.alloc(16)
      groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2))
      return b
    }
  }
  throw errors.memberMalformed(`not an IP address: ${JSON.stringify(host)}`)
}
