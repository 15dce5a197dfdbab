/**
 * Graceful stop without failed requests. Closing an idle kept-alive connection races a balancer
 * that has just sent a request on it: the request is lost, and a POST cannot be retried safely.
 * So a stopping node first drains: every new request is answered at once with 503, the header
 * `x-nodecat-draining: 1` and `Connection: close`, WITHOUT running the app; the nodecat balancer
 * knows such a request was not processed and sends it to another node, POSTs included. Requests
 * already running finish normally and close their connection after the response. The drain ends
 * when no connection is left, or after DRAIN_TIME: longer than the balancer's idle pool timeout
 * (4 s), so the pooled connections are closed from its side first.
 */
import type http from 'node:http'

/** ms a stopping node drains at most (bounded by shutdownTimeout too) */
export const DRAIN_TIME = 5000
export const DRAINING_HEADER = 'x-nodecat-draining'

const BODY = JSON.stringify({ statusCode: 503, code: 'WAS_ERR_DRAINING', error: 'Service Unavailable', message: 'this node is stopping; the request was not processed' })

export class Drain {
  #draining = false
  /** responses in progress, so they can be told to close their connection when the drain starts */
  readonly #open = new Set<http.ServerResponse>()

  get draining (): boolean { return this.#draining }

  /** Called first for every request: true when it was refused (the caller does nothing more). */
  refuse (res: http.ServerResponse): boolean {
    if (this.#draining) {
      res.shouldKeepAlive = false
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1', [DRAINING_HEADER]: '1', connection: 'close' })
      res.end(BODY)
      return true
    }
    this.#open.add(res)
    res.once('close', () => this.#open.delete(res))
    return false
  }

  /** Start draining; resolves when the server has no connection left, or after maxMs. */
  async start (server: http.Server, maxMs: number): Promise<void> {
    this.#draining = true
    for (const res of this.#open) if (!res.headersSent) res.shouldKeepAlive = false
    const deadline = Date.now() + maxMs
    while (Date.now() < deadline) {
      const count = await new Promise<number>((resolve) => server.getConnections((err, n) => resolve(err ? 0 : n)))
      if (count === 0) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}
