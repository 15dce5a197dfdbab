/**
 * The request path: check the request, pick a worker, stream the request through its undici pool
 * and the response back, and on failure retry where that is safe (the rules are in retry.ts, the
 * tries' bookkeeping in attempt.ts, shared with the WebSocket path):
 * - nothing was sent (connect failed): retry on another worker, always (if the body can be resent);
 * - the worker got it but answered nothing: retry only idempotent methods with a replayable body;
 * - a response byte went to the client: never retry (the client's connection is cut instead).
 * An idempotent request with its body buffered whose worker stays silent past a bound learned from
 * that worker is hedged: sent once more to the next worker, the first response head wins, the
 * other try is aborted and its answer discarded (hedge.ts has the rules).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Dispatcher } from 'undici'
import type { Logger } from 'pino'
import { screenHead, sessionRoutes } from '@nodecat/protocol'
import type { AccessLog } from './access-log.js'
import { ajpDispatch } from './ajp-request.js'
import { Tries, type Try } from './attempt.js'
import type { Chooser } from './choose.js'
import { ClientGoneError, errors, type ClientErrorCode } from './errors.js'
import { requestHeaders, responseHeaders, type HeaderMap } from './headers.js'
import { hedgeRules, STALL_FACTOR, WORKER_SILENT } from './hedge.js'
import type { ResolvedOptions } from './options.js'
import { RequestBody, hasBody } from './request-body.js'
import { errorBodyLength, lingerClose, lingering, sendError } from './respond.js'
import type { BalancerStats } from './stats.js'
import type { Worker } from './worker.js'

export interface ProxyContext {
  options: ResolvedOptions
  chooser: Chooser
  stats: BalancerStats
  logger: Logger
  /** access log, or null when off */
  accessLog: AccessLog | null
  /** client sockets of open WebSocket tunnels (node's server stops tracking them after 101) */
  tunnels: Set<Duplex>
}

/** a nodecat node that is stopping answers 503 with this header: the request was not processed */
export const DRAINING_HEADER = 'x-nodecat-draining'

function uncork (res: ServerResponse): void {
  res.uncork()
}

/** Does the path fall under one of the mounts ("/app" takes /app, /app/x, /app;x, /app?x; not /apple)? */
export function mounted (url: string, mounts: readonly string[]): boolean {
  for (const m of mounts) {
    if (m === '/') return true
    if (!url.startsWith(m)) continue
    if (m.endsWith('/') || url.length === m.length) return true
    const c = url.charCodeAt(m.length)
    if (c === 47 || c === 59 || c === 63) return true
  }
  return false
}

/**
 * Is this a node's own page (/_nodecat/status, /_nodecat/metrics, …) in any spelling (percent-
 * encoded, doubled slashes, dot segments, other case)? Those are for the operator and the health
 * checks, which reach nodes directly; a client of the balancer must not read them through it.
 */
export function nodeInternal (url: string): boolean {
  // why: the common case costs one scan, no decoding
  if (!url.includes('%') && !/nodecat/i.test(url)) return false
  let path = url
  const q = path.indexOf('?')
  if (q >= 0) path = path.slice(0, q)
  try { path = decodeURIComponent(path) } catch { /* keep it encoded: still checked below */ }
  path = path.replace(/\\/g, '/').replace(/\/{2,}/g, '/')
  try { path = new URL(path, 'http://h').pathname } catch { return true }
  path = path.toLowerCase()
  return path === '/_nodecat' || path.startsWith('/_nodecat/') || path.startsWith('/_nodecat;')
}

/** Check the request line before anything else; returns the code to answer with, or null. */
export function screen (req: IncomingMessage, options: ResolvedOptions): ClientErrorCode | null {
  // why: node's parser takes HTTP/2.0 (and 0.9) request lines as 1.1, and keeps the first of two Hosts
  const head = screenHead(req)
  if (head !== null) return head === 'http-version' ? 'LB_ERR_VERSION_NOT_SUPPORTED' : 'LB_ERR_BAD_REQUEST'
  const url = req.url ?? ''
  if (url.length > options.client.maxUrlLength) return 'LB_ERR_URI_TOO_LONG'
  // why: "OPTIONS *" and absolute-form targets are not for our workers (and undici rejects them)
  if (url.charCodeAt(0) !== 47) return 'LB_ERR_BAD_REQUEST'
  if (req.method === 'CONNECT') return 'LB_ERR_METHOD_NOT_ALLOWED'
  // why: 100-continue is the only expectation HTTP defines (RFC 9110 10.1.1); we cannot meet another
  const expect = req.headers.expect
  if (expect !== undefined && expect.trim().toLowerCase() !== '100-continue') return 'LB_ERR_EXPECTATION_FAILED'
  // why: a request body's length is known only when chunked is the last coding (RFC 9112 6.3);
  // node reads any other one until the client closes, so we would wait for a body with no end
  const te = req.headers['transfer-encoding']
  if (te !== undefined && !/(?:^|,)[ \t]*chunked[ \t]*$/i.test(te)) return 'LB_ERR_BAD_REQUEST'
  if (!mounted(url, options.mounts) || nodeInternal(url)) return 'LB_ERR_NOT_MOUNTED'
  // why before reading: a Content-Length over maxBody is refused without a byte of the body (and
  // without "100 Continue", so a client that waits for it never sends the body)
  if (options.maxBody > 0 && te === undefined) {
    const length = req.headers['content-length']
    if (length !== undefined && Number(length) > options.maxBody) return 'LB_ERR_PAYLOAD_TOO_LARGE'
  }
  return null
}

/** the exchange answering each response, for what happens on its connection (client error, timeout) */
const exchanges = new WeakMap<ServerResponse, Exchange>()

/**
 * The request this response answers cannot go on: its body's framing broke, or its connection
 * timed out. Answer `code` now and close (or cut the connection if the answer already started),
 * and stop the worker's attempt. False when no exchange of ours is answering this response.
 */
export function interruptRequest (res: ServerResponse, code: ClientErrorCode): boolean {
  const ex = exchanges.get(res)
  if (ex === undefined || ex.finished) return false
  ex.interrupt(code)
  return true
}

/** Handle one client request (the node:http 'request' listener). */
export function proxyRequest (ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): void {
  // why: bytes after a refused body on a connection that is closing (respond.ts lingerClose)
  if (lingering.has(req.socket)) { req.resume(); return }
  ctx.stats.requests++
  const refused = screen(req, ctx.options)
  if (refused !== null) {
    ctx.stats.count(refused)
    // why: the unread body would be taken for the next request on this connection
    if (hasBody(req)) {
      res.setHeader('connection', 'close')
      if (refused === 'LB_ERR_PAYLOAD_TOO_LARGE') lingerClose(req, res)
    }
    sendError(res, refused)
    if (ctx.accessLog !== null) logAccess(ctx, req, res, null, 0, Date.now(), null, errorBodyLength(refused))
    return
  }
  const o = ctx.options
  const routes = sessionRoutes(req.url!, req.headers.cookie, o.sessionCookie, o.sessionPathParam)
  const exchange = new Exchange(ctx, req, res, routes, requestHeaders(req, o.trustForwarded))
  exchange.start()
}

function logAccess (ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, worker: Worker | null, attempts: number, startedAt: number, upstreamMs: number | null, bodyBytes: number): void {
  ctx.accessLog!.write({ req, res, route: worker?.route ?? null, attempts, startedAt, upstreamMs, bytes: bodyBytes, trustForwarded: ctx.options.trustForwarded, sessionPathParam: ctx.options.sessionPathParam })
}

/** One client request and its attempts on workers. */
class Exchange {
  readonly ctx: ProxyContext
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly routes: readonly string[]
  readonly headers: HeaderMap
  readonly body: RequestBody
  readonly tries: Tries
  readonly startedAt = Date.now()
  /** the latest try next() started (the original of a hedge race) */
  current: Attempt | null = null
  /** the hedge try, once sent (at most one per request) */
  hedge: Attempt | null = null
  /** the try whose response head reached the client first; every other try's answer is discarded */
  winner: Attempt | null = null
  #hedgeTimer: NodeJS.Timeout | null = null
  /** for the access log: when the first try was dispatched and the last one ended, body bytes sent */
  upstreamStart = 0
  upstreamEnd = 0
  bodyBytes = 0
  clientGone = false
  finished = false
  /** set when the client was answered while its request was still arriving (see interrupt) */
  interrupted: ClientErrorCode | null = null

  constructor (ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, routes: readonly string[], headers: HeaderMap) {
    this.ctx = ctx
    this.req = req
    this.res = res
    this.routes = routes
    this.headers = headers
    this.tries = new Tries(ctx.chooser, ctx.stats, ctx.options.maxAttempts, routes, req.method)
    this.body = new RequestBody(ctx.options.maxBody, ctx.options.maxBody > 0 ? () => this.tooLarge() : null)
  }

  /** the body grew past maxBody: 413 if the answer has not started (else the connection is cut), and close */
  tooLarge (): void {
    if (this.interrupted !== null) return
    this.ctx.stats.count('LB_ERR_PAYLOAD_TOO_LARGE')
    if (!this.res.headersSent) lingerClose(this.req, this.res)
    this.interrupt('LB_ERR_PAYLOAD_TOO_LARGE')
  }

  start (): void {
    this.ctx.stats.inFlight++
    exchanges.set(this.res, this)
    this.res.on('close', () => {
      if (!this.res.writableFinished) {
        this.clientGone = true
        this.#abortTries()
      }
      this.#end()
    })
    this.body.prepare(this.req, this.ctx.options.replayBufferSize).then((ok) => {
      if (this.interrupted !== null) return
      if (!ok || this.clientGone) {
        this.res.destroy()
        return
      }
      this.next()
    }, () => { this.res.destroy() })
  }

  /** try the next worker, or answer with why there is none */
  next (): void {
    if (this.clientGone || this.interrupted !== null) return
    const next = this.tries.next()
    if (typeof next === 'string') {
      this.fail(next)
      return
    }
    const attempt = new Attempt(this, next)
    this.current = attempt
    attempt.dispatch()
    this.#armHedge(attempt)
  }

  /** a response head arrived on `a`: true if it is the first (its answer goes to the client) */
  claim (a: Attempt): boolean {
    if (this.winner !== null) return this.winner === a
    this.winner = a
    this.disarmHedge()
    const hedge = this.hedge
    if (hedge === null) return true
    if (a === hedge) {
      this.ctx.stats.hedgesWonByHedge++
      const original = this.current
      if (original !== null && original !== a && !original.ended) this.#watchStall(original)
    } else {
      this.ctx.stats.hedgesWonByOriginal++
      if (!hedge.ended) hedge.lose(true)
    }
    return true
  }

  /** `a`'s response could not be written (bad header): let a later try answer instead */
  unclaim (a: Attempt): void {
    if (this.winner === a) this.winner = null
  }

  /** is another try of this request, besides `a`, still waiting for its answer (a hedge race)? */
  rivalOf (a: Attempt): boolean {
    const other = a === this.hedge ? this.current : this.hedge
    return other !== null && other !== a && !other.ended && !other.lost
  }

  disarmHedge (): void {
    if (this.#hedgeTimer === null) return
    clearTimeout(this.#hedgeTimer)
    this.#hedgeTimer = null
  }

  /** hedge `a` if it stays silent past its worker's bound (idempotent, body buffered or none, one hedge per request) */
  #armHedge (a: Attempt): void {
    const o = this.ctx.options
    if (o.hedgeFloor === 0 || this.hedge !== null || a.ended || this.current !== a || this.winner !== null) return
    if (!this.tries.idempotent || !(this.body.empty || this.body.data !== null)) return
    this.disarmHedge()
    const rules = hedgeRules(o)
    const bound = a.worker.heads.bound(rules)
    this.#checkSilence(a, bound, rules.floor, rules.floor)
  }

  /** hedge `a` now if it (or its whole worker) has been silent long enough, else look again when it could be */
  #checkSilence (a: Attempt, bound: number, floor: number, wait: number): void {
    this.#hedgeTimer = setTimeout(() => {
      this.#hedgeTimer = null
      if (a.ended || this.current !== a || this.winner !== null) return
      const h = a.worker.heads.hedgeAfter(bound, floor, a.worker.inFlight, a.sentAt, performance.now())
      if (!h.hedge) {
        this.#checkSilence(a, bound, floor, Math.max(10, h.nextCheck))
        return
      }
      a.silentBound = h.silence
      this.#sendHedge(a)
    }, wait)
  }

  #sendHedge (original: Attempt): void {
    if (this.winner !== null || this.finished || this.clientGone || this.interrupted !== null || original.ended || this.current !== original) return
    const t = this.tries.hedge(original.try)
    if (t === null) return
    const hedge = new Attempt(this, t)
    this.hedge = hedge
    hedge.dispatch()
  }

  /**
   * The hedge answered while `original` is still silent: keep the original (its answer is
   * discarded) until its worker has been silent STALL_FACTOR x the silence that hedged it, then
   * abort it; a worker silent that long may be hung (hedge.ts: two such stalls in a row put it in
   * ERROR at once).
   */
  #watchStall (original: Attempt): void {
    original.lose(false)
    const w = original.worker
    const limit = STALL_FACTOR * original.silentBound
    const timer = setTimeout(() => {
      if (original.ended) return
      original.abort()
      if (!w.heads.stalled(limit)) return
      w.recordError(WORKER_SILENT)
      w.health.fail(`silent over ${Math.round(limit)} ms twice while another worker answered`, true)
    }, Math.max(0, Math.max(original.sentAt, w.heads.lastHeadAt) + limit - performance.now()))
    timer.unref()
  }

  #abortTries (): void {
    this.disarmHedge()
    this.current?.abort()
    this.hedge?.abort()
  }

  fail (code: ClientErrorCode): void {
    this.ctx.stats.count(code)
    if (!this.res.headersSent) this.bodyBytes = errorBodyLength(code)
    sendError(this.res, code)
  }

  /**
   * Answer now, whatever the attempt is doing: the request will never arrive whole (broken body
   * framing, or the connection's time ran out). The connection closes after the answer, since the
   * rest of the body on it cannot be told from a next request. Nothing here is the worker's fault.
   */
  interrupt (code: ClientErrorCode): void {
    if (this.interrupted !== null) return
    this.interrupted = code
    this.body.abort()
    this.#abortTries()
    // why: a whole answer is only being flushed; the client error that follows it will close
    if (this.res.writableEnded) return
    if (this.res.headersSent) {
      this.res.destroy()
      return
    }
    this.res.setHeader('connection', 'close')
    this.bodyBytes = errorBodyLength(code)
    sendError(this.res, code)
  }

  #end (): void {
    if (this.finished) return
    this.finished = true
    this.disarmHedge()
    this.ctx.stats.inFlight--
    if (this.ctx.accessLog !== null) {
      const upstreamMs = this.upstreamStart === 0 ? null : (this.upstreamEnd === 0 ? performance.now() : this.upstreamEnd) - this.upstreamStart
      logAccess(this.ctx, this.req, this.res, this.winner?.worker ?? this.tries.lastWorker, this.tries.attempts, this.startedAt, upstreamMs, this.bodyBytes)
    }
  }
}

/** One try of a request on one worker: an undici dispatch handler. */
class Attempt implements Dispatcher.DispatchHandler {
  readonly #ex: Exchange
  readonly #try: Try
  readonly #worker: Worker
  #sent = false
  #responded = false
  /** the race went to another try: nothing of this one reaches the client, its failure blames nobody */
  #lost = false
  #aborted = false
  /** performance.now() of the dispatch */
  sentAt = 0
  /** ms of silence after which this try was to be hedged (0: not hedged) */
  silentBound = 0
  #controller: Dispatcher.DispatchController | null = null
  #waitingDrain = false
  readonly #resume = (): void => {
    this.#waitingDrain = false
    this.#controller?.resume()
  }

  constructor (ex: Exchange, t: Try) {
    this.#ex = ex
    this.#try = t
    this.#worker = t.worker
  }

  get try (): Try { return this.#try }
  get worker (): Worker { return this.#worker }
  get ended (): boolean { return this.#try.ended }
  get lost (): boolean { return this.#lost }

  /** the other try won the race; `abortNow`: abort this one at once (else the caller does, later) */
  lose (abortNow: boolean): void {
    this.#lost = true
    if (abortNow) this.abort()
  }

  dispatch (): void {
    const ex = this.#ex
    this.sentAt = performance.now()
    if (ex.ctx.accessLog !== null && ex.upstreamStart === 0) ex.upstreamStart = this.sentAt
    try {
      if (this.#worker.ajp !== null) {
        // an ajp:// worker: the same handler calls, over AJP (ajp-client.ts)
        this.#worker.ajp.dispatch(ajpDispatch(ex.req, this.#worker, ex.ctx.options.trustForwarded, ex.body), this)
        return
      }
      this.#worker.pool.dispatch({
        origin: this.#worker.url,
        path: ex.req.url!,
        method: ex.req.method as Dispatcher.HttpMethod,
        headers: ex.headers,
        body: ex.body.source() as Dispatcher.DispatchOptions['body']
      }, this)
    } catch (err) {
      this.onResponseError(null, err as Error)
    }
  }

  abort (): void {
    this.#aborted = true
    this.#controller?.abort(errors.clientGone(this.#lost ? 'another try answered first' : 'client went away'))
  }

  onRequestStart (controller: Dispatcher.DispatchController): void {
    this.#sent = true
    this.#controller = controller
    if (this.#aborted || this.#ex.clientGone || this.#ex.interrupted !== null) controller.abort(errors.clientGone('client went away'))
  }

  onResponseStart (controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    // why: 1xx are informational; node already answered the client's Expect itself
    if (statusCode < 200) return
    this.#worker.heads.answered(performance.now() - this.sentAt)
    if (this.#lost || this.#ex.interrupted !== null) {
      controller.abort(errors.clientGone('the client was answered already'))
      return
    }
    if (statusCode === 503 && headers[DRAINING_HEADER] !== undefined) {
      // a stopping nodecat node refused the request without processing it: safe to send elsewhere
      controller.abort(errors.workerDraining())
      return
    }
    // why: in a hedge race only the first head is written; the other try's answer is discarded
    if (!this.#ex.claim(this)) {
      this.#lost = true
      controller.abort(errors.clientGone('another try answered first'))
      return
    }
    const res = this.#ex.res
    try {
      const h = responseHeaders(headers)
      if (statusMessage !== undefined && statusMessage !== '') res.writeHead(statusCode, statusMessage, h)
      else res.writeHead(statusCode, h)
    } catch (err) {
      // a header node refuses to send (invalid characters): the worker's answer is broken
      this.#ex.unclaim(this)
      controller.abort(errors.badResponse(err))
      return
    }
    this.#responded = true
    // why: a small answer (head, body, end) usually arrives in one tick: send it in one write
    res.cork()
    process.nextTick(uncork, res)
  }

  onResponseData (controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#lost) return
    this.#ex.bodyBytes += chunk.length
    if (!this.#ex.res.write(chunk) && !this.#waitingDrain) {
      // why: backpressure: a slow client slows the worker instead of filling our memory
      this.#waitingDrain = true
      controller.pause()
      this.#ex.res.once('drain', this.#resume)
    }
  }

  onResponseEnd (): void {
    if (this.#lost) { this.#try.end(false); return }
    this.#ex.upstreamEnd = performance.now()
    this.#ex.res.end()
    this.#try.end(true)
  }

  onResponseError (_controller: Dispatcher.DispatchController | null, err: Error): void {
    this.#try.end(false)
    // why: the other try answered; this one's end (our abort, or its own failure) is no news to the client
    if (this.#lost) return
    this.#ex.upstreamEnd = performance.now()
    const ex = this.#ex
    const code = (err as { code?: string }).code ?? 'UNKNOWN'
    // why: the client has its answer (and the connection closes after it): nothing more to send
    if (ex.interrupted !== null) return
    if (ex.clientGone || ex.body.clientFailed || err instanceof ClientGoneError) {
      ex.res.destroy()
      return
    }
    const decision = ex.tries.failed(this.#try, code, { reached: this.#sent, responded: this.#responded, replayable: ex.body.replayable() })
    // why: in a hedge race the other try may still answer; the failure only counts against this worker
    if (ex.rivalOf(this)) return
    ex.disarmHedge()
    if (decision.action === 'retry') ex.next()
    // why: part of the answer is already with the client; a retry could duplicate or splice it
    else if (decision.action === 'cut') ex.res.destroy()
    else ex.fail(decision.code)
  }
}
