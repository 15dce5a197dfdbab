/**
 * The contract between the session manager (replicated sessions; knows nothing of HTTP) and the
 * HTTP embeddings (fastify plugin, connect/express middleware; know nothing of replication).
 */

/** What an app sees as `request.session` (fastify) or `req.session` (express). */
export interface SessionApi {
  /** the current session id ("<random>.<jvmRoute>"), or null while no session exists yet */
  readonly id: string | null
  /** true when the session was created during this request */
  readonly isNew: boolean
  get<T = unknown>(name: string): T | undefined
  /**
   * creates the session on first write; the value must be msgpackr-encodable plain data.
   * Throws WAS_ERR_ATTRIBUTE_NOT_SERIALIZABLE (500) for functions, symbols, class instances,
   * cycles; WAS_ERR_TOO_MANY_SESSIONS (503) when creating a session over maxActiveSessions;
   * WAS_ERR_TOO_MANY_ATTRIBUTES (500) for a new name past SESSION_LIMITS.maxAttributes (1000).
   * Values read with get() are copies: changing them in place is replicated at end().
   */
  set(name: string, value: unknown): void
  delete(name: string): void
  has(name: string): boolean
  keys(): string[]
  /** seconds of inactivity after which the session expires (<= 0: never) */
  maxInactiveInterval: number
  /** the authenticated principal, or null */
  principal: unknown
  /** new id, same contents, old id gone everywhere: call after login (session fixation) */
  regenerate(): void
  /** end the session everywhere: call on logout */
  invalidate(): void
}

/** One request's view of its session, opened by the middleware and ended after the response. */
export interface RequestSession {
  readonly session: SessionApi
  /** the id the client sent that named a live session, before any rebinding; null if none */
  readonly requestedId: string | null
  /** true when the requested id named another route and was re-suffixed to this node (binder) */
  readonly rebound: boolean
  /**
   * Finish the request: record accesses, replicate the delta (unless replicate is false, as for
   * static files excluded by the replication filter), and say what the cookie must become.
   * In sync send mode this resolves only after every live peer applied the delta.
   * Rejects with a WasError (`code`, `statusCode`) and applies none of the request's changes:
   * WAS_ERR_SESSION_TOO_LARGE (500) over maxSessionBytes, WAS_ERR_ATTRIBUTE_NOT_SERIALIZABLE (500)
   * for a value made unencodable in place, WAS_ERR_TOO_MANY_SESSIONS (503), WAS_ERR_REQUEST_ENDED
   * on a second call. The HTTP layer answers with statusCode and the code.
   */
  end(options: { replicate: boolean }): Promise<CookieAction>
  /**
   * end() for a caller that can continue at once: the CookieAction itself when nothing is left to
   * wait for (async send mode: no promise per request), otherwise the promise end() returns.
   * Throws what end() rejects with. Optional: without it the HTTP layer calls end().
   */
  endNow?(options: { replicate: boolean }): CookieAction | Promise<CookieAction>
}

export type CookieAction =
  | { action: 'none' }
  | { action: 'set', id: string }
  | { action: 'clear' }

/** What the HTTP layer needs from the session manager. */
export interface SessionStore {
  /** this node's jvmRoute */
  readonly route: string
  /** resolves once the initial state transfer from the cluster is done (or timed out) */
  readonly ready: Promise<void>
  /**
   * Open a request: `candidateIds` are the ids the client sent, in the order the balancer reads
   * them (the ;jsessionid= path parameter first, then every cookie). The first that names a live
   * session wins; an unknown or expired id never becomes a session id (no fixation).
   */
  open(candidateIds: readonly string[]): RequestSession
  /**
   * Called before open() with the same ids: a store that may lack a session its cluster holds
   * fetches it here (the session manager asks its peers). Returns a promise to wait for before
   * open(), or null when there is nothing to wait for (the common case: no await, no allocation).
   */
  prepare?(candidateIds: readonly string[]): Promise<void> | null
}
