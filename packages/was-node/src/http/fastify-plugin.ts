/**
 * The fastify embedding: `request.session` for every request. onRequest opens the session (after
 * the store's initial state transfer), onSend ends it and sets or clears the cookie; a request
 * that never reaches onSend (hijacked, aborted) is ended when its response closes. End runs once.
 *
 * fastify routes before onRequest, so `/cart;jsessionid=X` reaches the `/cart` route only when the
 * server is built with `fastify({ rewriteUrl: rewriteSessionUrl })` (startNode does this).
 */
import fp from 'fastify-plugin'
import { DEFAULT_SESSION_PATH_PARAM, stripSessionPathParam } from '@nodecat/protocol'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RawRequestDefaultExpression } from 'fastify'
import type { CookieAction, SessionApi } from '../session/types.js'
import { asWasError, errorBody, NOT_PROCESSED_HEADER, unprocessedReason } from './errors.js'
import type { SessionMiddlewareOptions } from './options.js'
import { SessionCycle, type RequestCycle } from './request-cycle.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** this request's replicated session (nodecat) */
    session: SessionApi
  }
}

/** For `fastify({ rewriteUrl })`: route `/a;jsessionid=X?q` as `/a?q`. */
export function rewriteSessionUrl (req: RawRequestDefaultExpression, param = DEFAULT_SESSION_PATH_PARAM): string {
  return stripSessionPathParam(req.url ?? '/', param)
}

/** where a request keeps its cycle (a decorated symbol: no WeakMap, no name an app could meet) */
const kCycle = Symbol('nodecat.requestCycle')

type CycleRequest = FastifyRequest & { [kCycle]: RequestCycle | null }

async function nodecatSession (fastify: FastifyInstance, options: SessionMiddlewareOptions): Promise<void> {
  const cycle = new SessionCycle(options)
  const log = (request: FastifyRequest) => options.logger ?? request.log

  fastify.decorateRequest('session', null as unknown as SessionApi)
  fastify.decorateRequest(kCycle as unknown as string, null)

  /** a request fastify did not process: 503 the balancer retries elsewhere, or the error itself */
  function refuse (err: unknown, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const reason = unprocessedReason(err)
    if (reason === null) { done(err as Error); return }
    // why: not processed (e.g. a session this node could not verify): the balancer retries it elsewhere
    const error = asWasError(err)
    void reply.code(503).header(NOT_PROCESSED_HEADER, reason).header('retry-after', '1')
      .type('application/json; charset=utf-8').send(errorBody(503, error, 'Service Unavailable'))
  }

  function attach (request: FastifyRequest, reply: FastifyReply, rc: RequestCycle): void {
    (request as CycleRequest)[kCycle] = rc
    request.session = rc.session
    // why: hijacked or aborted requests never reach onSend, but their changes must still be recorded
    reply.raw.on('close', () => {
      if (!rc.ended) rc.end().catch((err: unknown) => log(request).error({ err: asWasError(err) }, 'session end failed after the response closed'))
    })
  }

  function open (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const raw = request.raw as typeof request.raw & { originalUrl?: string }
    let opened: RequestCycle | Promise<RequestCycle>
    try {
      opened = cycle.open(raw, raw.originalUrl ?? raw.url ?? '/')
    } catch (err) {
      refuse(err, reply, done)
      return
    }
    if (opened instanceof Promise) {
      opened.then((rc) => { attach(request, reply, rc); done() }, (err: unknown) => refuse(err, reply, done))
      return
    }
    attach(request, reply, opened)
    done()
  }

  // why callback hooks: the common request (store ready, session held) opens and ends without a
  // promise or a microtask of ours; a promise is waited for only when there is one
  fastify.addHook('onRequest', (request, reply, done) => {
    if (cycle.isReady) { open(request, reply, done); return }
    cycle.whenReady().then(() => open(request, reply, done), done)
  })

  /** the app's body claims success, but its session change is not stored: say so instead */
  function failed (request: FastifyRequest, reply: FastifyReply, payload: unknown, err: unknown): string {
    const error = asWasError(err)
    log(request).error({ err: error, code: error.code }, 'session end failed: responding with an error')
    if (typeof (payload as { destroy?: unknown } | null)?.destroy === 'function') (payload as { destroy: () => void }).destroy()
    reply.code(error.statusCode >= 400 ? error.statusCode : 500)
    reply.removeHeader('content-length')
    reply.header('content-type', 'application/json; charset=utf-8')
    return JSON.stringify({ statusCode: reply.statusCode, code: error.code, error: 'Session Not Saved', message: error.message })
  }

  function ended (rc: RequestCycle, reply: FastifyReply, action: CookieAction): void {
    const cookie = rc.setCookie(action)
    if (cookie !== null && !reply.sent) reply.header('set-cookie', cookie)
  }

  fastify.addHook('onSend', (request, reply, payload, done) => {
    const rc = (request as CycleRequest)[kCycle]
    if (rc === null || rc.ended) { done(null, payload); return }
    let action: CookieAction | Promise<CookieAction>
    try {
      action = rc.endNow()
      if (!(action instanceof Promise)) ended(rc, reply, action)
    } catch (err) {
      done(null, failed(request, reply, payload, err))
      return
    }
    if (!(action instanceof Promise)) { done(null, payload); return }
    action.then((a) => {
      let body = payload
      try { ended(rc, reply, a) } catch (err) { body = failed(request, reply, payload, err) }
      done(null, body)
    }, (err: unknown) => { done(null, failed(request, reply, payload, err)) })
  })
}

/** The fastify plugin: `app.register(nodecatSessionPlugin, { store })`. */
export const nodecatSessionPlugin = fp(nodecatSession, { fastify: '5.x', name: '@nodecat/was-node' })
export default nodecatSessionPlugin
