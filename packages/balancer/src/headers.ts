/**
 * Header rewriting both ways: hop-by-hop headers (RFC 9110 §7.6.1, everything named in
 * Connection, Proxy-*) never cross the balancer, and requests gain X-Forwarded-* and Forwarded.
 * why strip before undici: undici rejects keep-alive/transfer-encoding/upgrade request headers
 * (UND_ERR_INVALID_ARG) and expect (UND_ERR_NOT_SUPPORTED), and with undici 7.30.2 each request a
 * Pool rejects that way leaks a connection slot: after `connections` of them every later request
 * on that Pool hangs, even past headersTimeout (a plain Client does not; found by running it).
 */
import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'

export type HeaderMap = Record<string, string | string[]>

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings'])

/** Lower-case header names listed in a Connection header ("keep-alive, x-foo" → x-foo, keep-alive). */
function connectionTokens (value: string | string[] | undefined): Set<string> | null {
  if (value === undefined) return null
  const text = Array.isArray(value) ? value.join(',') : value
  if (!text.includes(',') && HOP_BY_HOP.has(text.trim().toLowerCase())) return null
  const tokens = new Set<string>()
  for (const t of text.split(',')) {
    const name = t.trim().toLowerCase()
    if (name !== '') tokens.add(name)
  }
  return tokens
}

function isHopByHop (name: string, tokens: Set<string> | null): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith('proxy-') || (tokens !== null && tokens.has(name))
}

function clientAddress (req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? 'unknown'
  return a.startsWith('::ffff:') ? a.slice(7) : a
}

function forwardedNode (address: string): string {
  return address.includes(':') ? `"[${address}]"` : address
}

/**
 * Headers to send to a worker: the client's minus hop-by-hop ones (and `expect`, which node
 * already answered), plus X-Forwarded-For/-Proto/-Host and Forwarded. The client's Host is kept.
 * With `upgrade` the Upgrade/Connection pair of a WebSocket handshake is kept.
 */
export function requestHeaders (req: IncomingMessage, trustForwarded: boolean, upgrade = false): HeaderMap {
  const src = req.headers
  const tokens = connectionTokens(src.connection)
  const out: HeaderMap = {}
  for (const name in src) {
    if (isHopByHop(name, tokens) || name === 'expect') continue
    if (!trustForwarded && (name === 'x-forwarded-for' || name === 'x-forwarded-proto' || name === 'x-forwarded-host' || name === 'forwarded')) continue
    const value = src[name]
    if (value !== undefined) out[name] = value
  }
  const address = clientAddress(req)
  const proto = (req.socket as TLSSocket).encrypted === true ? 'https' : 'http'
  const host = src.host
  const prior = out['x-forwarded-for']
  out['x-forwarded-for'] = prior !== undefined ? `${String(prior)}, ${address}` : address
  if (out['x-forwarded-proto'] === undefined) out['x-forwarded-proto'] = proto
  if (host !== undefined && out['x-forwarded-host'] === undefined) out['x-forwarded-host'] = host
  const element = `for=${forwardedNode(address)};proto=${proto}${host !== undefined ? `;host="${host.replace(/["\\]/g, '')}"` : ''}`
  const priorForwarded = out.forwarded
  out.forwarded = priorForwarded !== undefined ? `${String(priorForwarded)}, ${element}` : element
  if (upgrade && src.upgrade !== undefined) {
    out.connection = 'upgrade'
    out.upgrade = src.upgrade
  }
  return out
}

/** Headers from a worker's response that may go to the client (hop-by-hop removed). */
export function responseHeaders (headers: Record<string, string | string[] | undefined>): HeaderMap {
  const tokens = connectionTokens(headers.connection)
  const out: HeaderMap = {}
  for (const name in headers) {
    if (isHopByHop(name, tokens)) continue
    const value = headers[name]
    if (value !== undefined) out[name] = value
  }
  return out
}
