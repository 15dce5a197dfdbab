/**
 * The dispatch queue (MessageDispatchInterceptor): every outgoing message passes through it, so
 * messages to one member are written in the order they were sent, whatever their mode.
 *
 * - async messages are `droppable`: the caller never waits. When the queue already holds
 *   `maxMessages` messages or `maxBytes` bytes, the message is dropped and counted
 *   (`queueDropped`) — never blocked, never thrown at the caller. A warning is logged at the
 *   first drop of a burst and a summary when the queue has drained again (not one log per drop).
 * - ack and sync messages are never dropped (their callers wait, which bounds them).
 *
 * The queue is emptied at the end of the event-loop turn (setImmediate) by `deliver`, in batches,
 * so the messages of one turn to one member share one socket write; when a socket is over its high-water mark, `deliver` returns a
 * promise and the pump waits for it (the queue, not the socket, absorbs a slow member).
 */
import type { Logger } from 'pino'

export interface DispatchItem {
  /** bytes this item holds (counted against maxBytes) */
  bytes: number
  /** may be dropped when the queue is full (async mode) */
  droppable: boolean
}

export interface DispatchQueueOptions<T extends DispatchItem> {
  maxBytes: number
  maxMessages: number
  logger: Logger
  /** write a batch, in order; a returned promise pauses the pump until it settles */
  deliver: (batch: T[]) => void | Promise<void>
  /** most items handed to deliver at once; default 512 */
  batchSize?: number
}

export class DispatchQueue<T extends DispatchItem> {
  readonly #o: DispatchQueueOptions<T>
  // why: a ring of arrays instead of Array#shift on one long array (O(n) per shift)
  #items: T[] = []
  #head = 0
  #bytes = 0
  #dropped = 0
  #burstDropped = 0
  #scheduled = false
  #pumping = false
  #idleWaiters: Array<() => void> = []
  #closed = false

  constructor (options: DispatchQueueOptions<T>) {
    this.#o = options
  }

  /** messages waiting */
  get size (): number { return this.#items.length - this.#head }
  /** bytes waiting */
  get bytes (): number { return this.#bytes }
  /** droppable messages dropped because the queue was full, since start */
  get dropped (): number { return this.#dropped }

  /** Queue an item; false when it was dropped (queue full or closed). Never throws, never waits. */
  push (item: T): boolean {
    if (this.#closed) return false
    const len = item.bytes
    if (item.droppable && (this.size >= this.#o.maxMessages || this.#bytes + len > this.#o.maxBytes)) {
      this.#dropped++
      if (this.#burstDropped++ === 0) {
        this.#o.logger.warn({ queued: this.size, queuedBytes: this.#bytes, maxMessages: this.#o.maxMessages, maxBytes: this.#o.maxBytes },
          'async dispatch queue full: dropping messages until it drains (counted in queueDropped)')
      }
      return false
    }
    this.#items.push(item)
    this.#bytes += len
    this.#schedule()
    return true
  }

  /** Resolves when every queued item has been handed to `deliver`. */
  idle (): Promise<void> {
    if (this.size === 0 && !this.#pumping) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  /** Refuse new items; resolves when the queued ones are delivered (or `graceMs` passed). */
  async close (graceMs = 2000): Promise<void> {
    this.#closed = true
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.idle(), new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs) })])
    clearTimeout(timer)
  }

  #schedule (): void {
    if (this.#scheduled || this.#pumping) return
    this.#scheduled = true
    // why: setImmediate runs once per event-loop turn, right after the I/O callbacks of the turn:
    // every message queued by them (a request's replication, other requests' too) leaves in one
    // write per member, and none waits longer than the rest of the turn (a microtask would
    // write once per callback instead; see bench/README.md, bench:replication)
    setImmediate(() => { this.#scheduled = false; void this.#pump() })
  }

  async #pump (): Promise<void> {
    if (this.#pumping) return
    this.#pumping = true
    const max = this.#o.batchSize ?? 512
    try {
      while (this.size > 0) {
        const end = Math.min(this.#items.length, this.#head + max)
        const batch = this.#items.slice(this.#head, end)
        this.#head = end
        if (this.#head === this.#items.length) { this.#items = []; this.#head = 0 } else if (this.#head > 4096) { this.#items = this.#items.slice(this.#head); this.#head = 0 }
        for (const it of batch) this.#bytes -= it.bytes
        try {
          const wait = this.#o.deliver(batch)
          if (wait !== undefined) await wait
        } catch (err) {
          this.#o.logger.error({ err }, 'dispatch failed')
        }
      }
    } finally {
      this.#pumping = false
    }
    if (this.#burstDropped > 0) {
      this.#o.logger.warn({ dropped: this.#burstDropped, total: this.#dropped }, 'async dispatch queue drained; messages were dropped while it was full')
      this.#burstDropped = 0
    }
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const w of waiters) w()
  }
}
