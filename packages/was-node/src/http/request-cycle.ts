/**
 * The framework-free core both embeddings share: wait for the store once, open a request's session
 * from the ids the client sent, and end it exactly once with the replication decision, turning the
 * store's CookieAction into a Set-Cookie value.
 */
import type { IncomingMessage } from 'node:http'
import { cookieSessionIds, pathSessionId, SESSION_ID_LIMITS, stripSessionPathParam } from '@nodecat/protocol'
import type { CookieAction, RequestSession, SessionApi } from '../session/types.js'
import { requestIsHttps, setCookieValue } from './cookie-options.js'
import { resolveHttpOptions, type ResolvedHttpOptions, type SessionMiddlewareOptions } from './options.js'

/** The session ids a request carries that the session tracking setting reads. */
interface RequestIds {
  /** the URL with `;jsessionid=` removed (always, so a link with one still finds its route) */
  url: string
  cookieIds: string[]
  /** the path parameter's id, when URL tracking is on and there is one */
  fromPath: string | null
  /** every cookie's id, then the path parameter's: a cookie wins (as in Tomcat) */
  candidates: string[]
}

function requestIds (options: ResolvedHttpOptions, req: IncomingMessage, rawUrl: string): RequestIds {
  const fromPath = options.tracking.url ? pathSessionId(rawUrl, options.pathParam) : null
  const cookieIds = options.tracking.cookie
    ? cookieSessionIds(req.headers.cookie, options.cookie.name, SESSION_ID_LIMITS.maxIdLength, SESSION_ID_LIMITS.maxCandidates - (fromPath === null ? 0 : 1))
    : []
  return { url: stripSessionPathParam(rawUrl, options.pathParam), cookieIds, fromPath, candidates: fromPath === null ? cookieIds : [...cookieIds, fromPath] }
}

/** One request's session, from open to end. */
export class RequestCycle {
  /** what the app sees */
  readonly session: SessionApi
  /** the URL with `;jsessionid=` removed, for routing */
  readonly url: string
  /** the decoded path, tested against the replication filter */
  readonly path: string
  /** the client reached us over HTTPS (directly or via a trusted proxy) */
  readonly https: boolean
  readonly #options: ResolvedHttpOptions
  readonly #request: RequestSession
  readonly #cookieIds: string[]
  /**
   * the session came from the URL while the request's cookie names another session: the cookie
   * is left alone, or a link could replace the user's own session with someone else's
   */
  readonly #keepCookie: boolean
  /** end was called: its outcome is one of the three below (or still pending in #ending) */
  #endCalled = false
  #ending: Promise<CookieAction> | null = null
  #action: CookieAction | null = null
  #error: unknown = null

  constructor (options: ResolvedHttpOptions, req: IncomingMessage, ids: RequestIds) {
    this.#options = options
    this.url = ids.url
    this.path = decodePath(this.url)
    this.https = requestIsHttps(req, options.trusted)
    this.#cookieIds = ids.cookieIds
    this.#request = options.store.open(ids.candidates)
    this.session = this.#request.session
    const requested = this.#request.requestedId
    this.#keepCookie = requested !== null && requested === ids.fromPath && ids.cookieIds.length > 0 && !ids.cookieIds.includes(requested)
  }

  /** does the replication filter let this request's delta go to the cluster? */
  get replicate (): boolean {
    const filter = this.#options.replicationFilter
    return filter === null || !filter.test(this.path)
  }

  /** end() was called (it may still be pending) */
  get ended (): boolean { return this.#endCalled }

  /** End the session once; later calls get the same outcome. */
  end (): Promise<CookieAction> {
    const now = this.#endNow()
    if (now === null) return Promise.reject(this.#error)
    if (now instanceof Promise) return now
    return (this.#ending ??= Promise.resolve(now))
  }

  /**
   * end() for a caller that can go on at once: the CookieAction itself when the store has nothing
   * left to wait for (async send mode), else the promise end() returns. Throws what end() rejects
   * with. Once, like end().
   */
  endNow (): CookieAction | Promise<CookieAction> {
    const now = this.#endNow()
    if (now === null) throw this.#error
    return now
  }

  /** the outcome of the one end; null when it failed (the error is in #error) */
  #endNow (): CookieAction | Promise<CookieAction> | null {
    if (!this.#endCalled) {
      this.#endCalled = true
      const options = { replicate: this.replicate }
      try {
        const r = this.#request
        const now = r.endNow !== undefined ? r.endNow(options) : r.end(options)
        if (now instanceof Promise) this.#ending = now
        else this.#action = now
      } catch (err) {
        // why kept, not a rejected promise: nobody may ask again, and an unhandled rejection would end the process
        this.#error = err
      }
    }
    return this.#ending ?? this.#action
  }

  /**
   * The cookie the session's current state calls for, without ending it: for responses whose
   * headers go out before the app is done (streamed bodies).
   */
  provisionalAction (): CookieAction {
    const id = this.session.id
    if (id === null) return this.#request.requestedId !== null ? { action: 'clear' } : { action: 'none' }
    return this.#cookieIds.includes(id) ? { action: 'none' } : { action: 'set', id }
  }

  /** Set-Cookie value for an action, or null. */
  setCookie (action: CookieAction): string | null {
    if (this.#keepCookie) return null
    return setCookieValue(action, this.#options.cookie, this.https)
  }
}

function decodePath (url: string): string {
  const q = url.indexOf('?')
  const path = q < 0 ? url : url.slice(0, q)
  if (!path.includes('%')) return path // why: nothing to decode in the common path
  try { return decodeURIComponent(path) } catch { return path }
}

/** Shared by every request of one middleware instance. */
export class SessionCycle {
  readonly options: ResolvedHttpOptions
  #ready = false
  readonly #whenReady: Promise<void>

  constructor (input: SessionMiddlewareOptions) {
    this.options = resolveHttpOptions(input)
    // why: a failed state transfer still lets requests through (the store decides what ready means)
    this.#whenReady = this.options.store.ready.then(() => { this.#ready = true }, (err: unknown) => {
      this.#ready = true
      this.options.logger?.warn({ err }, 'session store became ready with an error')
    })
  }

  /** true once the store's initial state transfer is over */
  get isReady (): boolean { return this.#ready }

  /** resolves when requests may open sessions */
  whenReady (): Promise<void> { return this.#whenReady }

  /**
   * Open a request's session. A promise when the store first fetches a session it lacks from the
   * cluster (see SessionStore.prepare); otherwise the cycle itself, at once.
   */
  open (req: IncomingMessage, rawUrl: string): RequestCycle | Promise<RequestCycle> {
    const ids = requestIds(this.options, req, rawUrl)
    const wait = this.options.store.prepare?.(ids.candidates) ?? null
    if (wait === null) return new RequestCycle(this.options, req, ids)
    return wait.then(() => new RequestCycle(this.options, req, ids))
  }
}
