/**
 * Replay detection for authenticated messages, in O(1) time and bounded memory per message.
 *
 * nodecat message ids are `8-byte stream prefix ‖ 8-byte counter`: a random prefix per channel
 * (and one for heartbeats), then 0, 1, 2, … So per prefix it is enough to keep the highest counter
 * seen and a bitmap of the `span` counters below it (the IPsec anti-replay window): an id seen
 * before, or older than the bitmap, is a replay. Messages to one member leave through one FIFO, so
 * their counters arrive increasing; the bitmap only has to absorb the odd resend.
 *
 * Also rejected: a timestamp outside now ± `window` (a captured frame replayed later), and, when
 * more than `maxStreams` prefixes were active (many senders, or a peer using random ids), a
 * timestamp at or below the newest one of a forgotten prefix.
 */
import { errors } from '../errors.js'

export interface ReplayGuardOptions {
  /** ms of accepted clock difference (default 60000) */
  window?: number
  /** prefixes remembered (default 1024) */
  maxStreams?: number
  /** counters remembered below the highest one, per prefix (default 8192; a multiple of 32) */
  span?: number
  now?: () => number
}

interface Stream {
  top: number
  bits: Uint32Array
  /** newest timestamp seen on this stream */
  newest: number
}

export class ReplayGuard {
  readonly #window: number
  readonly #maxStreams: number
  readonly #span: number
  readonly #now: () => number
  readonly #streams = new Map<string, Stream>()
  #floor = -Infinity

  constructor (options: ReplayGuardOptions = {}) {
    this.#window = options.window ?? 60_000
    this.#maxStreams = options.maxStreams ?? 1024
    this.#span = Math.max(32, Math.ceil((options.span ?? 8192) / 32) * 32)
    this.#now = options.now ?? Date.now
  }

  /** prefixes currently remembered */
  get streams (): number { return this.#streams.size }

  /** Throws TRIBES_ERR_REPLAY, or remembers the id. Call only for authenticated ids and timestamps. */
  check (timestamp: number, uniqueId: Uint8Array): void {
    const now = this.#now()
    if (timestamp < now - this.#window || timestamp > now + this.#window) {
      throw errors.replay(`timestamp ${timestamp} is ${now - timestamp} ms from now (window ${this.#window} ms)`)
    }
    const id = Buffer.from(uniqueId.buffer, uniqueId.byteOffset, uniqueId.byteLength)
    const prefix = id.toString('latin1', 0, 8)
    const counter = id.readUInt32BE(8) * 0x100000000 + id.readUInt32BE(12)
    let s = this.#streams.get(prefix)
    if (s === undefined) {
      if (timestamp <= this.#floor) throw errors.replay(`timestamp ${timestamp} is older than the replay memory`)
      s = { top: counter, bits: new Uint32Array(this.#span / 32), newest: timestamp }
      this.#set(s, counter)
      this.#streams.set(prefix, s)
      if (this.#streams.size > this.#maxStreams) this.#forgetOldest()
      return
    }
    if (counter > s.top) {
      const shift = counter - s.top
      if (shift >= this.#span) s.bits.fill(0)
      else for (let c = s.top + 1; c < counter; c++) this.#clear(s, c)
      s.top = counter
      this.#set(s, counter)
    } else {
      if (s.top - counter >= this.#span) throw errors.replay(`message id ${s.top - counter} behind the newest of its stream (window ${this.#span})`)
      if (this.#has(s, counter)) throw errors.replay('message id already seen')
      this.#set(s, counter)
    }
    if (timestamp > s.newest) s.newest = timestamp
  }

  #forgetOldest (): void {
    const [prefix, s] = this.#streams.entries().next().value as [string, Stream]
    this.#streams.delete(prefix)
    if (s.newest > this.#floor) this.#floor = s.newest
  }

  #set (s: Stream, c: number): void {
    const i = c % this.#span
    s.bits[i >>> 5]! |= (1 << (i & 31))
  }

  #clear (s: Stream, c: number): void {
    const i = c % this.#span
    s.bits[i >>> 5]! &= ~(1 << (i & 31))
  }

  #has (s: Stream, c: number): boolean {
    const i = c % this.#span
    return (s.bits[i >>> 5]! & (1 << (i & 31))) !== 0
  }
}
