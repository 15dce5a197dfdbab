/**
 * The client's request body as a worker gets it. Bodies up to replayBufferSize are read whole
 * first, so they can be sent again to another worker; larger ones stream through (after the
 * buffered prefix) and can be replayed only while no worker has started reading them.
 */
import type { IncomingMessage } from 'node:http'
import { errors } from './errors.js'

/** Does this request carry a body (chunked, or a non-zero Content-Length)? */
export function hasBody (req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

export class RequestBody {
  /** the whole body when it fit the replay buffer (null: none, or streaming) */
  data: Buffer | null = null
  /** true when there is no body at all */
  empty = true
  /** set when the client's upload failed (it went away): not the worker's fault */
  clientFailed = false
  #prefix: Buffer[] = []
  #iterator: AsyncIterator<Buffer> | null = null
  #started = false
  #abandoned = false
  /** fails the read in progress (one at a time: the prefix reader, then the worker's stream) */
  #failRead: ((err: Error) => void) | null = null
  /** maxBody (0: none) and what to do when the body grows past it */
  readonly #limit: number
  readonly #onTooLarge: (() => void) | null
  #received = 0

  constructor (limit = 0, onTooLarge: (() => void) | null = null) {
    this.#limit = limit
    this.#onTooLarge = onTooLarge
  }

  /** can this body be sent (again) to a worker? */
  replayable (): boolean {
    return this.empty || this.data !== null || !this.#started
  }

  /** what to hand undici for one attempt */
  source (): Buffer | AsyncIterable<Buffer> | null {
    if (this.empty) return null
    if (this.data !== null) return this.data
    return this.#stream()
  }

  /**
   * Stop reading: the request's framing broke or its time ran out, and the client was answered.
   * A read waiting for body bytes fails at once instead of waiting for bytes that never come.
   */
  abort (): void {
    this.#abandoned = true
    this.#failRead?.(errors.bodyAbandoned())
  }

  async #read (): Promise<IteratorResult<Buffer>> {
    if (this.#abandoned) throw errors.bodyAbandoned()
    const r = await new Promise<IteratorResult<Buffer>>((resolve, reject) => {
      const fail = (err: Error): void => { reject(err) }
      const settled = (): void => { if (this.#failRead === fail) this.#failRead = null }
      this.#failRead = fail
      this.#iterator!.next().then((r) => { settled(); resolve(r) }, (err: unknown) => { settled(); reject(err) })
    })
    if (this.#limit > 0 && r.done !== true) {
      this.#received += r.value.length
      // why here: a chunked body (or one node reads past a lying length) has no size up front;
      // the byte that crosses maxBody is never passed on
      if (this.#received > this.#limit) {
        this.#onTooLarge?.()
        this.#abandoned = true
        throw errors.bodyAbandoned()
      }
    }
    return r
  }

  async * #stream (): AsyncGenerator<Buffer> {
    this.#started = true
    for (const chunk of this.#prefix) yield chunk
    this.#prefix = []
    for (;;) {
      let r: IteratorResult<Buffer>
      try {
        r = await this.#read()
      } catch (err) {
        this.clientFailed = true
        throw err
      }
      if (r.done === true) return
      yield r.value
    }
  }

  /**
   * Read up to `cap` bytes of the body. Resolves false if the client failed while we read.
   * why destroyOnReturn false: undici ends the iterator on a worker error, and that must not
   * destroy the client's socket (we still owe the client an answer).
   */
  async prepare (req: IncomingMessage, cap: number): Promise<boolean> {
    if (!hasBody(req)) return true
    this.empty = false
    this.#iterator = req.iterator({ destroyOnReturn: false })[Symbol.asyncIterator]() as AsyncIterator<Buffer>
    const known = req.headers['transfer-encoding'] !== undefined ? -1 : Number(req.headers['content-length'])
    if (known > cap) return true
    let size = 0
    try {
      while (size <= cap) {
        const r = await this.#read()
        if (r.done === true) {
          this.data = this.#prefix.length === 1 ? this.#prefix[0]! : Buffer.concat(this.#prefix, size)
          this.#prefix = []
          return true
        }
        this.#prefix.push(r.value)
        size += r.value.length
      }
    } catch {
      this.clientFailed = true
      return false
    }
    return true
  }
}
