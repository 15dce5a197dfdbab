/**
 * Swapping the user's app in-process, behind the node's one HTTP server, between requests.
 *
 * Why in-process and not a process restart: the sessions live in this process's session manager
 * and its place in the cluster; a restart would leave the group, re-join and take a state transfer
 * per member per deploy. Here only the app changes: the channel, the manager and every session
 * stay as they are, and the listening socket never closes.
 *
 * A new version is loaded first while the old one serves: its module imported, and (a fastify
 * plugin) registered in a FRESH fastify instance (fastify cannot register plugins after ready)
 * that is never listened on; the node's server hands it the requests. A version that does not
 * load (syntax error, missing export, throws at register) is refused here and the old one never
 * stopped. Then the switch, with the drain: new app requests are refused unprocessed (503 +
 * x-nodecat-draining, which the nodecat balancer retries on another member, POSTs included) and
 * /_nodecat/ready answers 503, until the app requests in flight finished on the old version
 * (bounded); then the new version takes the requests and the node is ready again. The old
 * fastify instance is closed after that (its onClose hooks run).
 */
import http from 'node:http'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { nodecatSessionPlugin, rewriteSessionUrl } from '../http/fastify-plugin.js'
import type { SessionMiddlewareOptions } from '../http/options.js'
import type { LoadedApp } from './app-loader.js'
import { DRAINING_HEADER } from './drain.js'

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void

/** a loaded and ready app version, not serving yet */
export interface AppVersion {
  readonly id: string
  readonly serve: Handler
  close (): Promise<void>
}

export interface AppSwitchOptions {
  sessionOptions: SessionMiddlewareOptions
  jvmRoute: string
  cookieName: string
  logger: Logger
  /** builds the connect chain around an express/connect handler (node.ts's) */
  connectChain: (handler: Extract<LoadedApp, { kind: 'connect' }>['handler']) => Handler
}

const SWITCHING_BODY = JSON.stringify({ statusCode: 503, code: 'WAS_ERR_DRAINING', error: 'Service Unavailable', message: 'this node is switching to another version of the app; the request was not processed' })

export class AppSwitch {
  readonly #o: AppSwitchOptions
  /** null: the app the node started with serves (node.ts's own chain) */
  #current: AppVersion | null = null
  #switching = false
  #inFlight = 0
  #idle: Array<() => void> = []

  constructor (options: AppSwitchOptions) { this.#o = options }

  get switching (): boolean { return this.#switching }
  /** the version serving now, or null for the app the node started with */
  get current (): string | null { return this.#current?.id ?? null }

  /** Load a version (the old keeps serving). Rejects with the load error: syntax, export, register. */
  async prepare (id: string, app: LoadedApp): Promise<AppVersion> {
    if (app.kind === 'connect') {
      return { id, serve: this.#o.connectChain(app.handler), close: async () => {} }
    }
    let serve: Handler | null = null
    const o = this.#o
    const instance: FastifyInstance = Fastify({
      loggerInstance: o.logger as FastifyBaseLogger,
      logController: new LogController({ disableRequestLogging: true }),
      rewriteUrl: (req) => rewriteSessionUrl(req, o.cookieName.toLowerCase()),
      // why a server that never listens: fastify wants one; the node's own server feeds this instance
      serverFactory: (handler) => { serve = handler; return http.createServer() }
    })
    try {
      await instance.register(async (scope) => {
        await scope.register(nodecatSessionPlugin, o.sessionOptions)
        await scope.register(app.plugin as Parameters<typeof scope.register>[0], { jvmRoute: o.jvmRoute })
      })
      await instance.ready()
    } catch (err) {
      await instance.close().catch(() => {})
      throw err
    }
    return { id, serve: serve!, close: async () => { await instance.close() } }
  }

  /**
   * Called for every app request: true when it was handled here (refused while switching, or
   * served by a switched-to version); false: the node's own chain serves it.
   */
  handle (req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (this.#switching) {
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1', [DRAINING_HEADER]: 'switching' })
      res.end(SWITCHING_BODY)
      return true
    }
    this.#inFlight++
    res.once('close', () => {
      if (--this.#inFlight === 0) for (const wake of this.#idle.splice(0)) wake()
    })
    const current = this.#current
    if (current === null) return false
    current.serve(req, res)
    return true
  }

  /**
   * Switch to a prepared version (null: back to the app the node started with): drain the app
   * requests in flight (at most maxWaitMs), swap, close the old version. Resolves when the new
   * one serves.
   */
  async switchTo (next: AppVersion | null, maxWaitMs: number, onPause?: (paused: boolean) => void): Promise<{ waitedMs: number, unfinished: number }> {
    const started = Date.now()
    this.#switching = true
    onPause?.(true)
    let timer: NodeJS.Timeout | undefined
    try {
      if (this.#inFlight > 0) {
        await new Promise<void>((resolve) => {
          this.#idle.push(resolve)
          timer = setTimeout(resolve, maxWaitMs)
        })
      }
    } finally { clearTimeout(timer) }
    const unfinished = this.#inFlight
    const old = this.#current
    this.#current = next
    this.#switching = false
    onPause?.(false)
    if (old !== null && old !== next) {
      // why later when requests are unfinished: closing a fastify instance aborts nothing, but its
      // onClose hooks may free what those requests still use
      const close = (): void => { old.close().catch((err: unknown) => this.#o.logger.warn({ err }, 'closing the previous app version failed')) }
      if (unfinished === 0) close(); else setTimeout(close, maxWaitMs).unref()
    }
    return { waitedMs: Date.now() - started, unfinished }
  }
}
