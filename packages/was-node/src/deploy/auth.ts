/**
 * Deploy requests to a member's /_nodecat/deploy pages are authenticated with the cluster key: a
 * bundle is code, so only a holder of the key may send one. The MAC key is derived from the
 * cluster key (HKDF, its own label: a deploy MAC can never be mistaken for cluster traffic), and
 * covers the method, the path with its query, a time, a nonce and the body's SHA-256. The member
 * accepts a time within MAX_SKEW and each nonce once (a replayed request is refused). The key
 * file is read at each request, so a rotated key (the file's first line) is used at once; the
 * previous keys of the file are accepted too while a rotation rolls out.
 */
import crypto from 'node:crypto'
import { parseKey, readKeyFileSet } from '@nodecat/tribes'
import { deployErrors } from './errors.js'

export const AUTH_HEADERS = { time: 'x-nodecat-deploy-time', nonce: 'x-nodecat-deploy-nonce', mac: 'x-nodecat-deploy-mac' } as const
/** ms a request's time may differ from the member's clock */
export const MAX_SKEW = 5 * 60_000
/** nonces remembered (each for MAX_SKEW twice), so a replay inside the window is refused */
const MAX_NONCES = 10_000

export interface KeySource { key: string | null, keyFile: string | null }

/** The cluster keys (current first), or null when there is none. */
export function clusterKeys (source: KeySource): Buffer[] | null {
  if (source.key !== null) return [parseKey(source.key, 'key')]
  if (source.keyFile !== null) {
    const set = readKeyFileSet(source.keyFile)
    return [set.key, ...set.previousKeys]
  }
  return null
}

function deployKey (clusterKey: Buffer): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', clusterKey, 'nodecat', 'deploy request mac', 32))
}

function mac (key: Buffer, method: string, url: string, time: string, nonce: string, body: Buffer): string {
  const bodyHash = crypto.createHash('sha256').update(body).digest('hex')
  return crypto.createHmac('sha256', deployKey(key)).update(`${method}\n${url}\n${time}\n${nonce}\n${bodyHash}`).digest('hex')
}

/** The headers a deploy request carries. */
export function signRequest (clusterKey: Buffer, method: string, url: string, body: Buffer, now = Date.now()): Record<string, string> {
  const time = String(now)
  const nonce = crypto.randomBytes(16).toString('hex')
  return { [AUTH_HEADERS.time]: time, [AUTH_HEADERS.nonce]: nonce, [AUTH_HEADERS.mac]: mac(clusterKey, method, url, time, nonce, body) }
}

export class RequestVerifier {
  readonly #source: KeySource
  readonly #seen = new Map<string, number>()

  constructor (source: KeySource) { this.#source = source }

  /**
   * What can be checked before the body is read (a key here, the headers well-formed, the time
   * fresh): a request without them never makes the member buffer a bundle.
   */
  precheck (headers: Record<string, string | string[] | undefined>, now = Date.now()): void {
    if (this.#source.key === null && this.#source.keyFile === null) throw deployErrors.noKey('this member')
    const time = headers[AUTH_HEADERS.time]
    if (typeof time !== 'string' || typeof headers[AUTH_HEADERS.nonce] !== 'string' || typeof headers[AUTH_HEADERS.mac] !== 'string') throw deployErrors.auth('the authentication headers are missing')
    if (!/^\d{1,16}$/.test(time) || Math.abs(Number(time) - now) > MAX_SKEW) throw deployErrors.auth('its time is not within 5 minutes of this member\'s clock')
  }

  /** Throws a coded error unless the request is authentic, fresh and new. */
  verify (method: string, url: string, headers: Record<string, string | string[] | undefined>, body: Buffer, now = Date.now()): void {
    const keys = clusterKeys(this.#source)
    if (keys === null) throw deployErrors.noKey('this member')
    const one = (name: string): string => {
      const v = headers[name]
      if (typeof v !== 'string' || v === '') throw deployErrors.auth(`header ${name} is missing`)
      return v
    }
    const time = one(AUTH_HEADERS.time)
    const nonce = one(AUTH_HEADERS.nonce)
    const given = one(AUTH_HEADERS.mac)
    if (!/^\d{1,16}$/.test(time) || Math.abs(Number(time) - now) > MAX_SKEW) throw deployErrors.auth('its time is not within 5 minutes of this member\'s clock')
    if (!/^[0-9a-f]{32}$/.test(nonce)) throw deployErrors.auth('its nonce is malformed')
    if (!/^[0-9a-f]{64}$/.test(given)) throw deployErrors.auth('its MAC is malformed')
    const ok = keys.some((k) => crypto.timingSafeEqual(Buffer.from(mac(k, method, url, time, nonce, body), 'hex'), Buffer.from(given, 'hex')))
    if (!ok) throw deployErrors.auth('its MAC does not match this cluster\'s key')
    for (const [n, at] of this.#seen) {
      if (now - at <= 2 * MAX_SKEW && this.#seen.size < MAX_NONCES) break
      this.#seen.delete(n)
    }
    if (this.#seen.has(nonce)) throw deployErrors.auth('it was seen before (a replay)')
    this.#seen.set(nonce, now)
  }
}
