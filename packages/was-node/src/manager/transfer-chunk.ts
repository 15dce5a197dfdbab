/**
 * One all-data chunk of a state transfer, packed: the sessions of the chunk in one byte string
 * that the answering side writes straight from its records and the asking side reads straight into
 * whole sessions. Attribute values are stored as msgpackr bytes already, so they are copied into
 * the chunk as they are (never re-encoded) and read back as views of the received bytes; attribute
 * names and routes travel once per chunk, in a table, so the asker holds one string per name.
 *
 * Layout (little-endian):
 *   u8 format (1) ‖ u32 sessions ‖ u32 offset of the tables
 *   per session: u8 id length ‖ id (ASCII) ‖ f64 created ‖ f64 idle ‖ i32 max ‖ stamp ‖
 *                u8 history length ‖ stamp × n ‖ u32 principal length + 1 (0: none) ‖ principal ‖
 *                u16 attributes ‖ (u16 name index ‖ u32 value length ‖ value) × n
 *   stamp: f64 version ‖ f64 at ‖ u16 route index
 *   tables: u16 names ‖ (u16 length ‖ UTF-8) × n ‖ u16 routes ‖ (u8 length ‖ ASCII) × n
 *
 * Reading checks every length against the bytes left and the same limits as validate.ts; a chunk
 * that fails is refused whole (a coded reason, nothing installed).
 */
import { parseSessionId } from '@nodecat/protocol'
import type { SessionRecord } from '../session/record.js'
import type { Stamp } from '../session/stamp.js'
import type { FullSession, StampTuple } from './messages.js'
import type { MessageLimits } from './validate.js'
import { decodeValue } from '../session/codec.js'

const FORMAT = 1
const HEADER = 9
const MAX_HISTORY = 64
const MAX_ROUTE = 64
const MAX_NAME = 256
const MAX_TABLE = 0xffff

/** Writes sessions into one packed chunk; `finish()` returns the bytes and starts a new chunk. */
export class ChunkWriter {
  #buf: Buffer
  #pos = HEADER
  #count = 0
  #names = new Map<string, number>()
  #routes = new Map<string, number>()

  constructor (capacity = 64 * 1024) {
    this.#buf = Buffer.allocUnsafe(Math.max(1024, capacity))
  }

  /** sessions written since the last finish() */
  get count (): number { return this.#count }
  /** bytes written since the last finish() */
  get bytes (): number { return this.#pos }

  /**
   * Add one session as it travels now (`now` on the same clock as its lastAccessedTime). False
   * (and nothing written) when it does not fit: more names or routes than a chunk's tables hold
   * (the caller finishes the chunk and adds it to the next one), or, in an empty chunk, an id or
   * route longer than the grammar allows (it cannot travel at all).
   */
  add (rec: SessionRecord, now: number): boolean {
    const id = rec.id
    if (id.length > 255) return false
    const names = this.#names.size
    const routes = this.#routes.size
    const start = this.#pos
    if (!this.#write(rec, id, now)) {
      // why: roll back the tables too, so the chunk stays consistent
      for (const [k, i] of this.#names) if (i >= names) this.#names.delete(k)
      for (const [k, i] of this.#routes) if (i >= routes) this.#routes.delete(k)
      this.#pos = start
      return false
    }
    this.#count++
    return true
  }

  /** the chunk's bytes (a copy-free view of this writer's buffer, valid until the next add) */
  finish (): Buffer {
    const tables = this.#pos
    this.#ensure(4 + 256)
    this.#u16(this.#names.size)
    for (const name of this.#names.keys()) {
      this.#ensure(2 + 3 * name.length)
      const at = this.#pos
      this.#pos += 2
      const n = this.#buf.write(name, this.#pos, 'utf8')
      this.#buf.writeUInt16LE(n, at)
      this.#pos += n
    }
    this.#ensure(2)
    this.#u16(this.#routes.size)
    for (const route of this.#routes.keys()) {
      this.#ensure(1 + route.length)
      this.#buf[this.#pos++] = route.length
      this.#pos += this.#buf.write(route, this.#pos, 'latin1')
    }
    const buf = this.#buf
    buf[0] = FORMAT
    buf.writeUInt32LE(this.#count, 1)
    buf.writeUInt32LE(tables, 5)
    const out = buf.subarray(0, this.#pos)
    // why: the bytes handed out are sent (and copied into a frame) before the next add, but a new
    // buffer keeps a caller that holds them longer safe
    this.#buf = Buffer.allocUnsafe(buf.length)
    this.#pos = HEADER
    this.#count = 0
    this.#names = new Map()
    this.#routes = new Map()
    return out
  }

  #write (rec: SessionRecord, id: string, now: number): boolean {
    this.#ensure(1 + id.length + 20 + 18 + 1 + 18 * rec.history.length + 4 + (rec.principal?.length ?? 0) + 2)
    const buf = this.#buf
    buf[this.#pos++] = id.length
    this.#pos += buf.write(id, this.#pos, 'latin1')
    this.#pos = buf.writeDoubleLE(rec.creationTime, this.#pos)
    this.#pos = buf.writeDoubleLE(Math.max(0, now - rec.lastAccessedTime), this.#pos)
    this.#pos = buf.writeInt32LE(rec.maxInactiveInterval, this.#pos)
    if (!this.#stamp(rec.stamp)) return false
    const history = rec.history.length > MAX_HISTORY ? rec.history.slice(-MAX_HISTORY) : rec.history
    buf[this.#pos++] = history.length
    for (const h of history) if (!this.#stamp(h)) return false
    const p = rec.principal
    this.#pos = buf.writeUInt32LE(p === null ? 0 : p.length + 1, this.#pos)
    if (p !== null) { buf.set(p, this.#pos); this.#pos += p.length }
    this.#u16(rec.attributes.size)
    for (const [name, value] of rec.attributes) {
      let i = this.#names.get(name)
      if (i === undefined) {
        if (this.#names.size >= MAX_TABLE) return false
        this.#names.set(name, i = this.#names.size)
      }
      this.#ensure(6 + value.length)
      this.#u16(i)
      this.#pos = this.#buf.writeUInt32LE(value.length, this.#pos)
      this.#buf.set(value, this.#pos)
      this.#pos += value.length
    }
    return true
  }

  #stamp (s: Stamp): boolean {
    let i = this.#routes.get(s.route)
    if (i === undefined) {
      if (this.#routes.size >= MAX_TABLE || s.route.length > MAX_ROUTE) return false
      this.#routes.set(s.route, i = this.#routes.size)
    }
    this.#pos = this.#buf.writeDoubleLE(s.version, this.#pos)
    this.#pos = this.#buf.writeDoubleLE(s.at, this.#pos)
    this.#u16(i)
    return true
  }

  #u16 (n: number): void {
    this.#pos = this.#buf.writeUInt16LE(n, this.#pos)
  }

  #ensure (n: number): void {
    if (this.#pos + n <= this.#buf.length) return
    let size = this.#buf.length * 2
    while (size < this.#pos + n) size *= 2
    const grown = Buffer.allocUnsafe(size)
    this.#buf.copy(grown, 0, 0, this.#pos)
    this.#buf = grown
  }
}

/** a chunk that cannot be read: refused whole, counted under `reason` */
export class ChunkError extends Error {
  constructor (readonly reason: string) { super(reason) }
}

const refuse = (reason: string): never => { throw new ChunkError(reason) }
const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0

/**
 * Read a packed chunk into whole sessions (attribute values are views of `bytes`). Throws a
 * ChunkError naming what is wrong; `expected` is the session count the message announced.
 */
export function readChunk (bytes: Uint8Array, expected: number, lim: MessageLimits): FullSession[] {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const end = buf.length
  if (end < HEADER || buf[0] !== FORMAT) refuse('bad-chunk-format')
  const count = buf.readUInt32LE(1)
  const tablesAt = buf.readUInt32LE(5)
  if (count !== expected || count > lim.maxChunkSessions) refuse('bad-chunk-count')
  if (tablesAt < HEADER || tablesAt > end) refuse('bad-chunk-format')
  // the tables
  let pos = tablesAt
  const need = (n: number, limit = end): void => { if (pos + n > limit) refuse('truncated-chunk') }
  need(2)
  const names: string[] = new Array(buf.readUInt16LE(pos))
  pos += 2
  for (let i = 0; i < names.length; i++) {
    need(2)
    const n = buf.readUInt16LE(pos)
    pos += 2
    need(n)
    const name = buf.toString('utf8', pos, pos += n)
    if (name.length === 0 || name.length > MAX_NAME) refuse('bad-session-attrs')
    names[i] = name
  }
  need(2)
  const routes: string[] = new Array(buf.readUInt16LE(pos))
  pos += 2
  for (let i = 0; i < routes.length; i++) {
    need(1)
    const n = buf[pos++]!
    need(n)
    routes[i] = buf.toString('latin1', pos, pos += n)
  }
  if (pos !== end) refuse('bad-chunk-format')
  // the sessions
  pos = HEADER
  const sessions: FullSession[] = new Array(count)
  const stamp = (): StampTuple => {
    need(18, tablesAt)
    const version = buf.readDoubleLE(pos)
    const at = buf.readDoubleLE(pos + 8)
    const route = routes[buf.readUInt16LE(pos + 16)]
    pos += 18
    if (!isCount(version) || !isCount(at) || route === undefined) refuse('bad-session-stamp')
    return [version, at, route!]
  }
  const value = (n: number): Buffer => {
    if (n > lim.maxSessionBytes) refuse('session-too-large')
    need(n, tablesAt)
    const v = buf.subarray(pos, pos += n)
    try { decodeValue(v) } catch { refuse('undecodable-value') }
    return v
  }
  for (let s = 0; s < count; s++) {
    need(1, tablesAt)
    const idLength = buf[pos++]!
    need(idLength + 20, tablesAt)
    const id = buf.toString('latin1', pos, pos += idLength)
    if (parseSessionId(id) === null) refuse('bad-session-id')
    const created = buf.readDoubleLE(pos)
    const idle = buf.readDoubleLE(pos + 8)
    const max = buf.readInt32LE(pos + 16)
    pos += 20
    if (!isCount(created) || !isCount(idle) || max < -2_000_000_000) refuse('bad-session-times')
    const st = stamp()
    need(1, tablesAt)
    const historyLength = buf[pos++]!
    if (historyLength > MAX_HISTORY) refuse('bad-session-history')
    const history: StampTuple[] = new Array(historyLength)
    for (let h = 0; h < historyLength; h++) history[h] = stamp()
    need(4, tablesAt)
    const p = buf.readUInt32LE(pos)
    pos += 4
    const principal = p === 0 ? null : value(p - 1)
    need(2, tablesAt)
    const attrCount = buf.readUInt16LE(pos)
    pos += 2
    if (attrCount > lim.maxEntries) refuse('bad-session-attrs')
    const attrs: Array<[string, Uint8Array]> = new Array(attrCount)
    let total = 0
    for (let a = 0; a < attrCount; a++) {
      need(6, tablesAt)
      const name = names[buf.readUInt16LE(pos)]
      const n = buf.readUInt32LE(pos + 2)
      pos += 6
      if (name === undefined) refuse('bad-session-attrs')
      attrs[a] = [name!, value(n)]
      total += n
    }
    if (total > lim.maxSessionBytes * 2) refuse('session-too-large') // why: the slack validate.ts allows
    sessions[s] = { id, created, idle, max, principal, stamp: st, history, attrs }
  }
  if (pos !== tablesAt) refuse('bad-chunk-format')
  return sessions
}
