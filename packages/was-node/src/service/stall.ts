/**
 * A node whose event loop stopped for a while (SIGSTOP then SIGCONT, swapped out, a VM paused)
 * finds requests waiting in its sockets that the balancer has long given up on, and copies that
 * its peers replaced meanwhile. When the process resumes, those requests are read before any
 * timer runs; so the watch measures, at each request, how long ago its ticker last ran. A request
 * handled after a stall longer than STALL_MS is refused unprocessed (503, `x-nodecat-draining:
 * stalled`): its client was answered with a timeout already, and running it would write over a
 * newer copy. Whichever sees the stall first, a request or the ticker, the node's copies are then
 * checked with the peers before they are served for a while (SessionManager.suspect).
 */
import type http from 'node:http'
import { NOT_PROCESSED_HEADER } from '../http/errors.js'

/** a gap between ticks longer than this is a stall (a busy loop stays far below it) */
export const STALL_MS = 2000
const TICK_MS = 100

const BODY = JSON.stringify({ statusCode: 503, code: 'WAS_ERR_STALLED', error: 'Service Unavailable', message: 'this node was stalled while the request waited; it was not processed' })

export class StallWatch {
  #lastTick = performance.now()
  readonly #timer: NodeJS.Timeout
  readonly #onStall: (ms: number) => void

  constructor (onStall: (ms: number) => void) {
    this.#onStall = onStall
    this.#timer = setInterval(() => {
      // why here too: a request that arrives after the first tick passes the check in refuse(),
      // but the copies it would use are as suspect as those of a request that waited
      const now = performance.now()
      if (now - this.#lastTick > STALL_MS) this.#onStall(now - this.#lastTick)
      this.#lastTick = now
    }, TICK_MS)
    this.#timer.unref()
  }

  /** Called for every request first: true when it was refused because the node just stalled. */
  refuse (res: http.ServerResponse): boolean {
    const gap = performance.now() - this.#lastTick
    if (gap <= STALL_MS) return false
    this.#onStall(gap)
    res.shouldKeepAlive = false
    res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1', [NOT_PROCESSED_HEADER]: 'stalled', connection: 'close' })
    res.end(BODY)
    return true
  }

  stop (): void { clearInterval(this.#timer) }
}
