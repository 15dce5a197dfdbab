/**
 * The connect/express embedding: `req.session` for every request. The session id is read from the
 * original URL, and `;jsessionid=` is stripped from `req.url` before routing. `res.end` is held
 * until the session's end() resolved (in sync send mode: until every peer applied the delta), and
 * the cookie is set just before the headers go out; for bodies streamed before end(), the cookie
 * follows the session's state at that moment. End runs once, also for aborted requests.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { SessionApi } from '../session/types.js'
import { asWasError, errorBody, NOT_PROCESSED_HEADER, unprocessedReason } from './errors.js'
import type { SessionMiddlewareOptions } from './options.js'
import { SessionCycle, type RequestCycle } from './request-cycle.js'

declare global {
  // why: @types/express builds its Request on the global Express.Request; this merges without importing express

  namespace Express {
    interface Request {
      /** this request's replicated session (nodecat) */
      session: SessionApi
    }
  }
}

/** A request after the middleware ran (for plain node:http / connect users). */
export type SessionRequest = IncomingMessage & { session: SessionApi }

export type SessionMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void

function appendSetCookie (res: ServerResponse, cookie: string): void {
  const prev = res.getHeader('set-cookie')
  const list = prev === undefined ? [] : Array.isArray(prev) ? prev : [String(prev)]
  res.setHeader('set-cookie', [...list, cookie])
}

/** Create the middleware: `app.use(sessionMiddleware({ store }))`. */
export function sessionMiddleware (options: SessionMiddlewareOptions): SessionMiddleware {
  const cycle = new SessionCycle(options)
  const log = options.logger

  function attach (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
    const rawUrl = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/'
    let opened: RequestCycle | Promise<RequestCycle>
    try { opened = cycle.open(req, rawUrl) } catch (err) { next(err); return }
    if (!(opened instanceof Promise)) { bind(opened, req, res, next); return }
    opened.then((rc) => { bind(rc, req, res, next) }, (err: unknown) => {
      const reason = unprocessedReason(err)
      if (reason === null || res.headersSent) { next(err); return }
      // why: not processed (e.g. a session this node could not verify): the balancer retries it elsewhere
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1', [NOT_PROCESSED_HEADER]: reason })
      res.end(errorBody(503, asWasError(err), 'Service Unavailable'))
    })
  }

  function bind (rc: RequestCycle, req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
    req.url = rc.url
    ;(req as SessionRequest).session = rc.session

    let cookieDecided = false
    const applyCookie = (value: string | null): void => {
      if (cookieDecided || res.headersSent) return
      cookieDecided = true
      if (value !== null) appendSetCookie(res, value)
    }

    const writeHead = res.writeHead
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      // why: headers going out before end() (a streamed body): decide the cookie from the state now
      if (!cookieDecided) applyCookie(rc.setCookie(rc.provisionalAction()))
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args)
    } as ServerResponse['writeHead']

    const end = res.end
    const release = (args: unknown[]) => (end as (...a: unknown[]) => ServerResponse).apply(res, args)
    let holding = false
    res.end = function (this: ServerResponse, ...args: unknown[]) {
      if (holding || rc.ended) return release(args)
      holding = true
      rc.end().then((action) => {
        applyCookie(rc.setCookie(action))
        release(args)
      }, (err: unknown) => {
        const error = asWasError(err)
        log?.error({ err: error, code: error.code }, 'session end failed: responding with an error')
        if (res.headersSent) { release(args); return }
        cookieDecided = true
        res.statusCode = error.statusCode >= 400 ? error.statusCode : 500
        res.removeHeader('content-length')
        res.setHeader('content-type', 'application/json; charset=utf-8')
        release([JSON.stringify({ statusCode: res.statusCode, code: error.code, error: 'Session Not Saved', message: error.message })])
      })
      return res
    } as ServerResponse['end']

    res.once('close', () => {
      if (!rc.ended) rc.end().catch((err: unknown) => log?.error({ err: asWasError(err) }, 'session end failed after the response closed'))
    })
    next()
  }

  return function nodecatSession (req, res, next) {
    if (cycle.isReady) { attach(req, res, next); return }
    cycle.whenReady().then(() => { attach(req, res, next) }, next)
  }
}
