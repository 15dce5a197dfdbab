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
import type { FastifyInstance, FastifyReply, FastifyRequest, RawRequestDefaultExpression } from 'fastify'
import type { SessionApi } from '../session/types.js'
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

async function nodecatSession (fastify: FastifyInstance, options: SessionMiddlewareOptions): Promise<void> {
  const cycle = new SessionCycle(options)
  const log = (request: FastifyRequest) => options.logger ?? request.log
  const cycles = new WeakMap<FastifyRequest, RequestCycle>()

  fastify.decorateRequest('session', null as unknown as SessionApi)

  fastify.addHook('onRequest', async (request, reply) => {
    if (!cycle.isReady) await cycle.whenReady()
    const raw = request.raw as typeof request.raw & { originalUrl?: string }
    let rc: RequestCycle
    try {
      rc = await cycle.open(raw, raw.originalUrl ?? raw.url ?? '/')
    } catch (err) {
      const reason = unprocessedReason(err)
      if (reason === null) throw err
      // why: not processed (e.g. a session this node could not verify): the balancer retries it elsewhere
      const error = asWasError(err)
      return await reply.code(503).header(NOT_PROCESSED_HEADER, reason).header('retry-after', '1')
        .type('application/json; charset=utf-8').send(errorBody(503, error, 'Service Unavailable'))
    }
    cycles.set(request, rc)
    request.session = rc.session
    // why: hijacked or aborted requests never reach onSend, but their changes must still be recorded
    reply.raw.once('close', () => {
      if (!rc.ended) rc.end().catch((err: unknown) => log(request).error({ err: asWasError(err) }, 'session end failed after the response closed'))
    })
  })

  fastify.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const rc = cycles.get(request)
    if (rc === undefined || rc.ended) return payload
    try {
      const cookie = rc.setCookie(await rc.end())
      if (cookie !== null && !reply.sent) reply.header('set-cookie', cookie)
      return payload
    } catch (err) {
      const error = asWasError(err)
      log(request).error({ err: error, code: error.code }, 'session end failed: responding with an error')
      // why: the app's body claims success, but its session change is not stored: say so instead
      if (typeof (payload as { destroy?: unknown } | null)?.destroy === 'function') (payload as { destroy: () => void }).destroy()
      reply.code(error.statusCode >= 400 ? error.statusCode : 500)
      reply.removeHeader('content-length')
      reply.header('content-type', 'application/json; charset=utf-8')
      return JSON.stringify({ statusCode: reply.statusCode, code: error.code, error: 'Session Not Saved', message: error.message })
    }
  })
}

/** The fastify plugin: `app.register(nodecatSessionPlugin, { store })`. */
export const nodecatSessionPlugin = fp(nodecatSession, { fastify: '5.x', name: '@nodecat/was-node' })
export default nodecatSessionPlugin
