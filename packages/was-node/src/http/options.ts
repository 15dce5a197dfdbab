/**
 * Options of the session middleware (fastify plugin and express middleware alike): one DEFAULTS
 * table, resolved and validated once when the middleware is created.
 */
import type { Logger } from 'pino'
import { pathParamFor } from '@nodecat/protocol'
import { validators } from '@nodecat/tribes'
import { WasOptionError } from '../errors.js'
import type { SessionStore } from '../session/types.js'
import { resolveCookieOptions, type CookieOptions } from './cookie-options.js'
import { compileTrustProxy, type TrustProxy, type TrustTest } from './trust-proxy.js'

/**
 * Requests whose path matches are not replicated (Tomcat's ReplicationValve `filter`): static
 * files do not change sessions.
 */
export const DEFAULT_REPLICATION_FILTER = /\.(?:js|css|png|jpe?g|gif|ico|svg|woff2?|txt|html?)$/i

/** Where a request's session id is read from (Tomcat's SessionTrackingMode COOKIE and URL). */
export type SessionTracking = 'cookie' | 'url'

export const HTTP_DEFAULTS = Object.freeze({
  /**
   * cookies only: a `;jsessionid=` in a link is stripped for routing but never names the session,
   * so a link cannot hand a user someone else's session (the balancer still routes on it)
   */
  sessionTracking: Object.freeze(['cookie']) as readonly SessionTracking[],
  trustProxy: false as TrustProxy,
  replicationFilter: DEFAULT_REPLICATION_FILTER as RegExp | string | null
})

/** What the fastify plugin and the express middleware accept. */
export interface SessionMiddlewareOptions {
  /** the session manager (or any SessionStore) */
  store: SessionStore
  /** the session cookie; see COOKIE_DEFAULTS */
  cookie?: Partial<CookieOptions>
  /**
   * where the session id is read from: ['cookie'] (default), ['url'] (the `;jsessionid=` path
   * parameter) or both. With both, a cookie wins, and an id read from the URL never replaces a
   * cookie that names another session.
   */
  sessionTracking?: readonly SessionTracking[] | string
  /** peers allowed to say X-Forwarded-Proto: https (true, false, or addresses/CIDRs); default false */
  trustProxy?: TrustProxy
  /** regex (or its source) on the request path; matching requests are not replicated; null = replicate all */
  replicationFilter?: RegExp | string | null
  /** where session-end failures are logged (fastify: default request.log; express: default silent) */
  logger?: Pick<Logger, 'error' | 'warn' | 'debug'>
}

export interface ResolvedHttpOptions {
  store: SessionStore
  cookie: CookieOptions
  /** path parameter name: the cookie name in lower case (jsessionid) */
  pathParam: string
  /** read the id from cookies / from the path parameter */
  tracking: { cookie: boolean, url: boolean }
  trusted: TrustTest
  replicationFilter: RegExp | null
  logger: Pick<Logger, 'error' | 'warn' | 'debug'> | undefined
}

const v = validators((message) => new WasOptionError(message))

function isStore (s: unknown): s is SessionStore {
  return typeof s === 'object' && s !== null && typeof (s as SessionStore).open === 'function' &&
    typeof (s as SessionStore).route === 'string' && (s as SessionStore).ready instanceof Promise
}

/** Validate once; throws WasOptionError naming the option. */
export function resolveHttpOptions (input: SessionMiddlewareOptions): ResolvedHttpOptions {
  if (typeof input !== 'object' || input === null) v.fail('options', 'an object', input)
  if (!isStore(input.store)) v.fail('store', 'a SessionStore (route, ready, open())', input.store === undefined ? undefined : '[object]')
  const cookie = resolveCookieOptions(input.cookie, v)
  const trusted = compileTrustProxy(input.trustProxy ?? HTTP_DEFAULTS.trustProxy, (expected, got) => v.fail('trustProxy', expected, got))
  const filter = input.replicationFilter === undefined ? HTTP_DEFAULTS.replicationFilter : input.replicationFilter
  let replicationFilter: RegExp | null = null
  if (filter instanceof RegExp) replicationFilter = filter
  else if (typeof filter === 'string' && filter !== '') {
    try { replicationFilter = new RegExp(filter) } catch { v.fail('replicationFilter', 'a valid regular expression', filter) }
  } else if (filter !== null && filter !== '') v.fail('replicationFilter', 'a RegExp, a regex string or null', filter)
  // why: a global/sticky regex keeps lastIndex between test() calls and would skip matches
  if (replicationFilter !== null && (replicationFilter.global || replicationFilter.sticky)) {
    replicationFilter = new RegExp(replicationFilter.source, replicationFilter.flags.replace(/[gy]/g, ''))
  }
  return { store: input.store, cookie, pathParam: pathParamFor(cookie.name), tracking: resolveTracking(input.sessionTracking), trusted, replicationFilter, logger: input.logger }
}

/** 'cookie', 'url', 'cookie,url' or an array of those */
export function resolveTracking (input: readonly string[] | string | undefined): { cookie: boolean, url: boolean } {
  const list = input === undefined ? HTTP_DEFAULTS.sessionTracking : typeof input === 'string' ? input.split(',').map((x) => x.trim().toLowerCase()) : input
  if (!Array.isArray(list) || list.length === 0 || list.some((m) => m !== 'cookie' && m !== 'url')) {
    v.fail('sessionTracking', '"cookie", "url" or "cookie,url"', input)
  }
  return { cookie: list.includes('cookie'), url: list.includes('url') }
}
