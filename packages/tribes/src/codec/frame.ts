/**
 * The Tribes TCP frame (XByteBuffer), byte for byte:
 *
 *   "FLT2002" | int length | body (length bytes) | "TLF2003"
 *
 * Several frames may share one TCP read and one frame may arrive in many reads; {@link FrameParser}
 * handles both. ACK and FAIL_ACK are ordinary frames with a 3-byte body.
 */
import { errors } from '../errors.js'

export const FRAME_START = Buffer.from('FLT2002', 'latin1')
export const FRAME_END = Buffer.from('TLF2003', 'latin1')
/** start marker + length + end marker */
export const FRAME_OVERHEAD = 18
/** bytes before the body: start marker + length */
export const FRAME_HEADER = 11

export const ACK_BODY = Buffer.from([6, 2, 3])
export const FAIL_ACK_BODY = Buffer.from([11, 0, 5])

/** Write the frame header for a body of `length` bytes at `offset`; returns the body offset. */
export function writeFrameHeader (buf: Buffer, length: number, offset = 0): number {
  FRAME_START.copy(buf, offset)
  buf.writeInt32BE(length, offset + 7)
  return offset + FRAME_HEADER
}

/** Write the end marker at `offset`. */
export function writeFrameEnd (buf: Buffer, offset: number): void {
  FRAME_END.copy(buf, offset)
}

/** Wrap a body in one frame (one allocation). */
export function encodeFrame (body: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(body.length + FRAME_OVERHEAD)
  const o = writeFrameHeader(b, body.length)
  b.set(body, o)
  writeFrameEnd(b, o + body.length)
  return b
}

/** The 21-byte ACK frame a receiver writes back on the same connection. */
export const ACK_FRAME = encodeFrame(ACK_BODY)
/** The 21-byte FAIL_ACK frame: the receiver got the message but processing it failed. */
export const FAIL_ACK_FRAME = encodeFrame(FAIL_ACK_BODY)

export function isAck (body: Uint8Array): boolean {
  return body.length === 3 && body[0] === 6 && body[1] === 2 && body[2] === 3
}

export function isFailAck (body: Uint8Array): boolean {
  return body.length === 3 && body[0] === 11 && body[1] === 0 && body[2] === 5
}

export interface FrameParserOptions {
  /** largest body accepted; a larger length field fails before any of the body is buffered */
  maxFrameSize: number
}

/**
 * Streaming frame parser. `push(chunk)` returns the bodies of every frame completed by the chunk,
 * in order. Returned bodies are views into the pushed chunks (or one joined buffer), so a caller
 * that keeps one beyond the current turn must copy it.
 *
 * A stream that does not start with FLT2002 where a frame should begin, a frame whose end marker
 * is not where its length says, a negative length, or a length over `maxFrameSize` throws a coded
 * error (TRIBES_ERR_FRAME_MALFORMED / TRIBES_ERR_FRAME_TOO_LARGE). A TCP stream that lost its
 * framing cannot be trusted again, so after an error the parser stays failed and every later push
 * throws: the caller closes that connection (Tomcat instead silently discards bytes until the next
 * marker; we prefer a loud, counted close). Whole frames before the bad bytes are still returned,
 * whatever the chunking: when a push completes frames and then fails, it returns those frames and
 * sets {@link FrameParser.error}; only a push that completes none throws.
 */
export class FrameParser {
  readonly #max: number
  #pending: Buffer[] = []
  #have = 0
  /** total bytes of the frame being collected (header known), or 0 when unknown */
  #need = 0
  #failed: Error | null = null

  constructor (options: FrameParserOptions) {
    this.#max = options.maxFrameSize
  }

  /** bytes held for a frame not yet complete */
  get buffered (): number { return this.#have }
  /** true once the stream lost its framing for good (see {@link FrameParser.error}) */
  get failed (): boolean { return this.#failed !== null }
  /** the coded error that failed the stream, or null */
  get error (): Error | null { return this.#failed }

  push (chunk: Buffer): Buffer[] {
    if (this.#failed) throw this.#failed
    let buf: Buffer
    let rest: Buffer | undefined
    if (this.#have === 0) {
      buf = chunk
    } else {
      // why: a large frame arriving in many reads is joined once, not once per read
      if (this.#need > 0 && this.#have + chunk.length < this.#need) {
        this.#pending.push(chunk)
        this.#have += chunk.length
        return []
      }
      if (this.#need > 0) {
        // why: join only the bytes of the frame being completed; the frames after it in this
        // chunk are parsed where they are (not copied now and again when the next frame is joined)
        const take = this.#need - this.#have
        this.#pending.push(take === chunk.length ? chunk : chunk.subarray(0, take))
        buf = Buffer.concat(this.#pending, this.#need)
        if (take < chunk.length) rest = chunk.subarray(take)
      } else {
        this.#pending.push(chunk)
        buf = Buffer.concat(this.#pending, this.#have + chunk.length)
      }
      this.#pending = []
      this.#have = 0
      this.#need = 0
    }
    const out: Buffer[] = []
    try {
      this.#parse(buf, out)
      if (rest !== undefined) this.#parse(rest, out)
    } catch (err) {
      this.#failed = err as Error
      this.#pending = []
      this.#have = 0
      this.#need = 0
      if (out.length === 0) throw err
    }
    return out
  }

  #parse (buf: Buffer, out: Buffer[]): void {
    const end = buf.length
    let o = 0
    while (o < end) {
      const avail = end - o
      // check as much of the start marker as has arrived, so garbage fails at once
      const check = avail < 7 ? avail : 7
      for (let i = 0; i < check; i++) {
        if (buf[o + i] !== FRAME_START[i]) throw errors.frameMalformed(`no FLT2002 start marker at stream offset ${o}`)
      }
      if (avail < FRAME_HEADER) break
      const length = buf.readInt32BE(o + 7)
      if (length < 0) throw errors.frameMalformed(`negative length ${length}`)
      if (length > this.#max) throw errors.frameTooLarge(length, this.#max)
      const total = length + FRAME_OVERHEAD
      if (avail < total) {
        this.#need = total
        break
      }
      const e = o + FRAME_HEADER + length
      for (let i = 0; i < 7; i++) {
        if (buf[e + i] !== FRAME_END[i]) throw errors.frameMalformed(`no TLF2003 end marker after a body of ${length} bytes`)
      }
      out.push(buf.subarray(o + FRAME_HEADER, e))
      o += total
    }
    if (o < end) {
      this.#pending = [o === 0 ? buf : buf.subarray(o)]
      this.#have = end - o
    }
  }
}
