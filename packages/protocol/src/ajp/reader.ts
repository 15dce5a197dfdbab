/**
 * Incremental AJP framing over a byte stream: push socket chunks, get whole payloads back (the
 * bytes after the 4-byte header). It never holds more than one packet: a wrong magic or a length
 * over the packet size throws an AjpError at once, and the reader stays failed (the connection is
 * out of step and must be closed).
 */
import { AJP_DEFAULT_PACKET_SIZE, AJP_HEADER_LENGTH, AJP_MAGIC_FROM_CONTAINER, AJP_MAGIC_TO_CONTAINER } from './constants.js'
import { checkPacketSize } from './codec.js'
import { badMagic, packetTooLarge, type AjpError } from './errors.js'

const EMPTY = Buffer.alloc(0)

export class AjpPacketReader {
  private readonly magic: number
  private readonly maxPayload: number
  private pending: Buffer = EMPTY
  private failure: AjpError | null = null

  /** 'to-container' expects 0x12 0x34 (what a node reads), 'from-container' expects 'AB' (what a balancer reads) */
  constructor (direction: 'to-container' | 'from-container', readonly maxPacketSize: number = AJP_DEFAULT_PACKET_SIZE) {
    this.magic = direction === 'to-container' ? AJP_MAGIC_TO_CONTAINER : AJP_MAGIC_FROM_CONTAINER
    this.maxPayload = checkPacketSize(maxPacketSize) - AJP_HEADER_LENGTH
  }

  /** bytes held that do not make a whole packet yet */
  get buffered (): number { return this.pending.length }

  /** Whole payloads completed by this chunk, in order (views into the received bytes). */
  push (chunk: Buffer): Buffer[] {
    if (this.failure !== null) throw this.failure
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    const out: Buffer[] = []
    for (;;) {
      if (buf.length < 2) break
      const magic = buf.readUInt16BE(0)
      if (magic !== this.magic) throw this.fail(badMagic(magic, this.magic))
      if (buf.length < AJP_HEADER_LENGTH) break
      const length = buf.readUInt16BE(2)
      if (length > this.maxPayload) throw this.fail(packetTooLarge(length, this.maxPayload + AJP_HEADER_LENGTH))
      if (buf.length < AJP_HEADER_LENGTH + length) break
      out.push(buf.subarray(AJP_HEADER_LENGTH, AJP_HEADER_LENGTH + length))
      buf = buf.subarray(AJP_HEADER_LENGTH + length)
    }
    // why copy the remainder: a small tail must not keep a whole large socket chunk alive
    this.pending = buf.length === 0 ? EMPTY : (buf.length < 1024 && buf.buffer.byteLength > 4 * buf.length ? Buffer.from(buf) : buf)
    return out
  }

  private fail (err: AjpError): AjpError {
    this.failure = err
    this.pending = EMPTY
    return err
  }
}
