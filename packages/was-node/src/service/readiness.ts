/**
 * Readiness: a node serves users only with its sessions. Until the session manager is ready (the
 * node knows its peers and the state transfer is over) and while it drains, GET /_nodecat/ready
 * answers 503 and every app request gets the "not processed" 503 a nodecat balancer retries on
 * another node (the `x-nodecat-draining` header, as a stopping node sends), POSTs included,
 * without running the app. /_nodecat/status stays informative throughout and answers 200.
 */
import type http from 'node:http'
import type { FastifyInstance } from 'fastify'
import { DRAINING_HEADER } from './drain.js'

export const READY_PATH = '/_nodecat/ready'

export type ReadyState = 'starting' | 'ready' | 'draining'

export class Readiness {
  #sessionsReady = false
  #draining = false
  #paused = false

  /** the session manager holds the cluster's sessions */
  sessionsReady (): void { this.#sessionsReady = true }
  /** the node stops: not ready any more */
  draining (): void { this.#draining = true }
  /** the app is being switched to another version (service/app-switch.ts): not ready meanwhile */
  pause (paused: boolean): void { this.#paused = paused }

  get state (): ReadyState {
    return this.#draining || this.#paused ? 'draining' : this.#sessionsReady ? 'ready' : 'starting'
  }

  /**
   * Called for every request before the app: true when it was refused, unprocessed, because the
   * node is still starting (the node's own pages always answer).
   */
  refuse (req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (this.#sessionsReady || (req.url ?? '').startsWith('/_nodecat/')) return false
    res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1', [DRAINING_HEADER]: 'starting' })
    res.end(NOT_READY_BODY)
    return true
  }
}

const NOT_READY_BODY = JSON.stringify({
  statusCode: 503,
  code: 'WAS_ERR_NOT_READY',
  error: 'Service Unavailable',
  message: 'this node is starting and does not hold the cluster\'s sessions yet; the request was not processed'
})

export function registerReady (app: FastifyInstance, readiness: Readiness): void {
  app.get(READY_PATH, async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    const state = readiness.state
    reply.code(state === 'ready' ? 200 : 503)
    return { ready: state === 'ready', state }
  })
}
