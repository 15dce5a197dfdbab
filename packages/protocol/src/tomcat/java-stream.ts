/**
 * The few pieces of Java Object Serialization (Java SE spec, chapter 6) that a Tomcat's
 * SessionMessageImpl is made of: big-endian primitives, TC_STRING in modified UTF-8, and exact
 * byte sequences (class descriptors) compared, never interpreted. There is no general reader
 * here on purpose: nothing that reads a stream can name a class to build.
 *
 * A reader that meets anything it does not expect throws a {@link StreamRefused} with a short
 * reason ('truncated', 'bad-string', …), which the caller counts as a drop.
 */

export const STREAM_MAGIC = Buffer.from([0xac, 0xed, 0x00, 0x05])
export const TC = { NULL: 0x70, REFERENCE: 0x71, CLASSDESC: 0x72, OBJECT: 0x73, STRING: 0x74, ARRAY: 0x75, ENDBLOCKDATA: 0x78, LONGSTRING: 0x7c } as const
/** the first handle a stream assigns */
export const BASE_HANDLE = 0x7e0000

/** a stream this code will not read, and why (a drop reason) */
export class StreamRefused extends Error {
  readonly reason: string
  constructor (reason: string, detail: string) {
    super(`${reason}: ${detail}`)
    this.reason = reason
  }
}

export class JavaStreamReader {
  readonly #b: Buffer
  #o = 0

  constructor (bytes: Buffer) { this.#b = bytes }

  get offset (): number { return this.#o }
  get remaining (): number { return this.#b.length - this.#o }

  #need (n: number): void {
    if (this.#o + n > this.#b.length) throw new StreamRefused('truncated', `${n} bytes needed at offset ${this.#o}, ${this.remaining} left`)
  }

  u8 (): number { this.#need(1); return this.#b[this.#o++]! }
  int (): number { this.#need(4); const v = this.#b.readInt32BE(this.#o); this.#o += 4; return v }
  long (): bigint { this.#need(8); const v = this.#b.readBigInt64BE(this.#o); this.#o += 8; return v }

  boolean (): boolean {
    const v = this.u8()
    if (v > 1) throw new StreamRefused('bad-value', `boolean byte ${v} at offset ${this.#o - 1}`)
    return v === 1
  }

  /** the next bytes must be exactly `expected` (`what` names them in the refusal) */
  expect (expected: Buffer, reason: string, what: string): void {
    const n = Math.min(expected.length, this.remaining)
    // why the part there first: a short stream of other bytes is refused as what it is not
    if (!this.#b.subarray(this.#o, this.#o + n).equals(expected.subarray(0, n))) throw new StreamRefused(reason, `${what} differs at offset ${this.#o}`)
    this.#need(expected.length)
    this.#o += expected.length
  }

  /** pass over `n` bytes without reading them */
  skip (n: number): void {
    if (n < 0) throw new StreamRefused('bad-value', `negative length ${n}`)
    this.#need(n)
    this.#o += n
  }

  /** u16 length + modified UTF-8 (the body of a TC_STRING) */
  utf (): string {
    this.#need(2)
    const n = this.#b.readUInt16BE(this.#o)
    this.#o += 2
    this.#need(n)
    const s = decodeModifiedUtf8(this.#b.subarray(this.#o, this.#o + n))
    this.#o += n
    return s
  }
}

/** Java's modified UTF-8 (DataInput.readUTF): 1-3 byte forms, U+0000 as c0 80, no 4-byte form. */
export function decodeModifiedUtf8 (b: Uint8Array): string {
  const units: number[] = []
  for (let i = 0; i < b.length;) {
    const c = b[i]!
    if (c >= 0x01 && c <= 0x7f) { units.push(c); i++; continue }
    if ((c & 0xe0) === 0xc0) {
      const c2 = b[i + 1]
      if (c2 === undefined || (c2 & 0xc0) !== 0x80) throw new StreamRefused('bad-string', `broken 2-byte form at ${i}`)
      units.push(((c & 0x1f) << 6) | (c2 & 0x3f))
      i += 2
      continue
    }
    if ((c & 0xf0) === 0xe0) {
      const c2 = b[i + 1]
      const c3 = b[i + 2]
      if (c2 === undefined || c3 === undefined || (c2 & 0xc0) !== 0x80 || (c3 & 0xc0) !== 0x80) throw new StreamRefused('bad-string', `broken 3-byte form at ${i}`)
      units.push(((c & 0x0f) << 12) | ((c2 & 0x3f) << 6) | (c3 & 0x3f))
      i += 3
      continue
    }
    throw new StreamRefused('bad-string', `byte 0x${c.toString(16)} at ${i} starts no modified UTF-8 form`)
  }
  let s = ''
  for (let i = 0; i < units.length; i += 4096) s += String.fromCharCode(...units.slice(i, i + 4096))
  return s
}

/** DataOutput.writeUTF's bytes without the length: every UTF-16 unit on its own, U+0000 as c0 80. */
export function encodeModifiedUtf8 (s: string): Buffer {
  const out: number[] = []
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i)
    if (u >= 0x01 && u <= 0x7f) out.push(u)
    else if (u <= 0x7ff) out.push(0xc0 | (u >> 6), 0x80 | (u & 0x3f))
    else out.push(0xe0 | (u >> 12), 0x80 | ((u >> 6) & 0x3f), 0x80 | (u & 0x3f))
  }
  return Buffer.from(out)
}

/** Appends big-endian primitives and TC_STRINGs; `toBuffer()` joins them. */
export class JavaStreamWriter {
  readonly #parts: Buffer[] = []

  raw (b: Buffer): this { this.#parts.push(b); return this }
  u8 (v: number): this { this.#parts.push(Buffer.from([v & 0xff])); return this }
  int (v: number): this { const b = Buffer.allocUnsafe(4); b.writeInt32BE(v | 0); this.#parts.push(b); return this }
  long (v: bigint): this { const b = Buffer.allocUnsafe(8); b.writeBigInt64BE(v); this.#parts.push(b); return this }
  boolean (v: boolean): this { return this.u8(v ? 1 : 0) }

  /** TC_STRING; a RangeError past 65535 bytes (TC_LONGSTRING is never written here) */
  string (s: string): this {
    const body = encodeModifiedUtf8(s)
    if (body.length > 0xffff) throw new RangeError(`string of ${body.length} bytes does not fit a TC_STRING`)
    const head = Buffer.allocUnsafe(3)
    head[0] = TC.STRING
    head.writeUInt16BE(body.length, 1)
    this.#parts.push(head, body)
    return this
  }

  toBuffer (): Buffer { return Buffer.concat(this.#parts) }
}
