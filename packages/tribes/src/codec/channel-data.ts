/**
 * The Tribes ChannelData body (io/ChannelData.getDataPackage), the payload of every TCP frame:
 *
 *   int options | long timestamp | int 16 | 16-byte uniqueId | int a | sender member blob (a) |
 *   int m | message (m)
 *
 * The bytes before `int m` are the header: nodecat authenticates them as AAD when a cluster key
 * is set, so {@link channelDataHeaderLength} gives that prefix without copying.
 */
import { errors } from '../errors.js'
import { FRAME_HEADER, FRAME_OVERHEAD, writeFrameEnd, writeFrameHeader } from './frame.js'

export const UNIQUE_ID_LENGTH = 16
/** every byte that is not the sender blob or the message */
export const CHANNEL_DATA_FIXED = 40

export interface ChannelData {
  /** send-option bits (see send-options.ts) */
  options: number
  /** sender's clock, ms since the epoch */
  timestamp: number
  /** 16 random bytes naming this message */
  uniqueId: Buffer
  /** the sender's member blob (TRIBES-B … TRIBES-E) */
  sender: Buffer
  message: Buffer
}

export function channelDataLength (senderLength: number, messageLength: number): number {
  return CHANNEL_DATA_FIXED + senderLength + messageLength
}

/** Length of the header (options … sender blob, plus the message length field) of a body. */
export function channelDataHeaderLength (senderLength: number): number {
  return CHANNEL_DATA_FIXED + senderLength
}

/**
 * Write everything except the message bytes at `offset` (the message length field included);
 * returns the offset where the message goes.
 */
export function writeChannelDataHeader (buf: Buffer, offset: number, d: Omit<ChannelData, 'message'>, messageLength: number): number {
  if (d.uniqueId.length !== UNIQUE_ID_LENGTH) throw errors.channelDataMalformed(`uniqueId of ${d.uniqueId.length} bytes (must be 16)`)
  let o = buf.writeInt32BE(d.options | 0, offset)
  o = buf.writeBigInt64BE(BigInt(Math.trunc(d.timestamp)), o)
  o = buf.writeInt32BE(UNIQUE_ID_LENGTH, o)
  o += d.uniqueId.copy(buf, o)
  o = buf.writeInt32BE(d.sender.length, o)
  o += d.sender.copy(buf, o)
  return buf.writeInt32BE(messageLength, o)
}

export function encodeChannelData (d: ChannelData): Buffer {
  const b = Buffer.allocUnsafe(channelDataLength(d.sender.length, d.message.length))
  const o = writeChannelDataHeader(b, 0, d, d.message.length)
  d.message.copy(b, o)
  return b
}

/**
 * Allocate a whole frame for a ChannelData whose message will be `messageLength` bytes and write
 * everything but the message. Returns the frame and the offset of the message, so the hot path
 * can write (or encrypt) the message straight into place: one allocation per message.
 */
export function allocChannelDataFrame (d: Omit<ChannelData, 'message'>, messageLength: number): { frame: Buffer, bodyOffset: number, messageOffset: number } {
  const bodyLength = channelDataLength(d.sender.length, messageLength)
  const frame = Buffer.allocUnsafe(bodyLength + FRAME_OVERHEAD)
  const bodyOffset = writeFrameHeader(frame, bodyLength)
  const messageOffset = writeChannelDataHeader(frame, bodyOffset, d, messageLength)
  writeFrameEnd(frame, FRAME_HEADER + bodyLength)
  return { frame, bodyOffset, messageOffset }
}

/**
 * Like {@link allocChannelDataFrame} for a frame written as several buffers: allocate only the
 * frame header, the ChannelData header and `extra` bytes after it (where the message begins),
 * with the length fields already set for a message of `messageLength` bytes. The rest of the
 * message and the 7-byte end marker follow in buffers of the caller's.
 */
export function allocChannelDataHead (d: Omit<ChannelData, 'message'>, messageLength: number, extra: number): { head: Buffer, bodyOffset: number, messageOffset: number } {
  const bodyLength = channelDataLength(d.sender.length, messageLength)
  const head = Buffer.allocUnsafe(FRAME_HEADER + channelDataHeaderLength(d.sender.length) + extra)
  const bodyOffset = writeFrameHeader(head, bodyLength)
  const messageOffset = writeChannelDataHeader(head, bodyOffset, d, messageLength)
  return { head, bodyOffset, messageOffset }
}

/** Encode a ChannelData inside a frame (one allocation). */
export function encodeChannelDataFrame (d: ChannelData): Buffer {
  const { frame, messageOffset } = allocChannelDataFrame(d, d.message.length)
  d.message.copy(frame, messageOffset)
  return frame
}

/**
 * Decode one body. Every length field is checked against the bytes really there; anything
 * inconsistent throws TRIBES_ERR_CHANNEL_DATA_MALFORMED. `uniqueId`, `sender` and `message` are
 * views into `body` (no copies): copy what you keep.
 */
export function decodeChannelData (body: Buffer): ChannelData {
  const len = body.length
  if (len < CHANNEL_DATA_FIXED) throw errors.channelDataMalformed(`${len} bytes is shorter than the smallest channel data (${CHANNEL_DATA_FIXED})`)
  const options = body.readInt32BE(0)
  const ts = body.readBigInt64BE(4)
  if (ts < BigInt(Number.MIN_SAFE_INTEGER) || ts > BigInt(Number.MAX_SAFE_INTEGER)) throw errors.channelDataMalformed('timestamp out of range')
  const idLen = body.readInt32BE(12)
  if (idLen !== UNIQUE_ID_LENGTH) throw errors.channelDataMalformed(`uniqueId length ${idLen} (must be 16)`)
  const uniqueId = body.subarray(16, 32)
  const senderLen = body.readInt32BE(32)
  if (senderLen < 0 || 36 + senderLen + 4 > len) throw errors.channelDataMalformed(`sender length ${senderLen} overruns ${len} bytes`)
  const sender = body.subarray(36, 36 + senderLen)
  const mo = 36 + senderLen
  const msgLen = body.readInt32BE(mo)
  if (msgLen < 0 || mo + 4 + msgLen !== len) throw errors.channelDataMalformed(`message length ${msgLen} does not match the ${len - mo - 4} bytes left`)
  return { options, timestamp: Number(ts), uniqueId, sender, message: body.subarray(mo + 4, len) }
}
