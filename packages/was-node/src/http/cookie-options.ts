/**
 * The session cookie: its options (with secure defaults), the Secure decision per request, and the
 * Set-Cookie value for a CookieAction. HttpOnly is always on: scripts never need the session id.
 */
import { serialize } from 'cookie'
import type { TLSSocket } from 'node:tls'
import { DEFAULT_SESSION_COOKIE } from '@nodecat/protocol'
import type { IncomingMessage } from 'node:http'
import type { Validators } from '@nodecat/tribes'
import type { CookieAction } from '../session/types.js'
import type { TrustTest } from './trust-proxy.js'

export type SameSite = 'lax' | 'strict' | 'none'

export interface CookieOptions {
  /** cookie name (Tomcat: sessionCookieName); default JSESSIONID */
  name: string
  /** default '/' */
  path: string
  /** unset by default: the cookie goes back to the exact host only */
  domain: string | undefined
  /** default 'lax' ('strict' breaks logins reached from other sites) */
  sameSite: SameSite
  /** 'auto' (default): Secure when the request came over HTTPS, directly or via a trusted proxy */
  secure: boolean | 'auto'
}

export const COOKIE_DEFAULTS: Readonly<CookieOptions> = Object.freeze({
  name: DEFAULT_SESSION_COOKIE,
  path: '/',
  domain: undefined,
  sameSite: 'lax',
  secure: 'auto'
})

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** Resolve and validate `cookie.*` options; messages name the option (prefix e.g. "cookie"). */
export function resolveCookieOptions (input: Partial<CookieOptions> | undefined, v: Validators, prefix = 'cookie'): CookieOptions {
  if (input !== undefined && (typeof input !== 'object' || input === null)) v.fail(prefix, 'an object', input)
  const o = { ...COOKIE_DEFAULTS, ...stripUndefined(input ?? {}) }
  const name = v.string(o.name, `${prefix}.name`, TOKEN, 'a cookie name (letters, digits and !#$%&\'*+-.^_`|~)')
  const path = v.string(o.path, `${prefix}.path`, /^\/[\x21-\x3a\x3c-\x7e]*$/, 'a path starting with / (no ; or spaces)')
  const domain = o.domain === undefined ? undefined : v.string(o.domain, `${prefix}.domain`, /^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/, 'a domain name')
  const sameSite = v.oneOf(typeof o.sameSite === 'string' ? o.sameSite.toLowerCase() : o.sameSite, `${prefix}.sameSite`, ['lax', 'strict', 'none'] as const)
  const secure = o.secure === 'auto' ? 'auto' : v.boolean(o.secure, `${prefix}.secure`)
  // why: browsers drop SameSite=None cookies that are not Secure
  if (sameSite === 'none' && secure === false) v.fail(`${prefix}.sameSite`, '"lax" or "strict" when cookie.secure is false (SameSite=None needs Secure)', o.sameSite)
  return Object.freeze({ name, path, domain, sameSite, secure })
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, value]) => value !== undefined)) as Partial<T>
}

/** Did the client reach us over HTTPS (directly, or through a trusted proxy saying so)? */
export function requestIsHttps (req: IncomingMessage, trusted: TrustTest): boolean {
  if ((req.socket as TLSSocket | undefined)?.encrypted === true) return true
  if (!trusted(req.socket?.remoteAddress)) return false
  const header = req.headers['x-forwarded-proto']
  const value = Array.isArray(header) ? header[0] : header
  // why: like express, the first (client-most) value names the client's protocol
  return typeof value === 'string' && value.split(',')[0]?.trim().toLowerCase() === 'https'
}

/** The Set-Cookie header value for an action, or null for 'none'. */
export function setCookieValue (action: CookieAction, options: CookieOptions, https: boolean): string | null {
  if (action.action === 'none') return null
  const secure = options.secure === 'auto' ? https : options.secure
  const base = {
    path: options.path,
    domain: options.domain,
    httpOnly: true,
    sameSite: options.sameSite,
    secure
  } as const
  if (action.action === 'clear') return serialize(options.name, '', { ...base, maxAge: 0, expires: new Date(0) })
  // why: ids are cookie-safe already; skip percent-encoding so the balancer reads the route as sent
  return serialize(options.name, action.id, { ...base, encode: (s) => s })
}
