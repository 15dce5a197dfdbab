/**
 * Requests a node refuses before anything else sees them (the drain, readiness, fastify, the app):
 * what node's HTTP parser lets through although HTTP/1.1 forbids it.
 * - More than one Host field: RFC 9112 3.2 says 400 (node keeps the first and drops the rest,
 *   so the app and a proxy in front may disagree about which site was asked for).
 * - A request line of another major version than 1 (node parses `HTTP/2.0` and `HTTP/0.9` as if
 *   they were 1.x): 505, we speak HTTP/1.x only.
 * The answer is a short JSON body with a WAS_ERR_* code, and the connection closes after it.
 */
import type http from 'node:http'
import { screenHead } from '@nodecat/protocol'

export type ScreenCode = 'WAS_ERR_DUPLICATE_HOST' | 'WAS_ERR_HTTP_VERSION'

const ANSWERS: Record<ScreenCode, { statusCode: number, body: string }> = {
  WAS_ERR_DUPLICATE_HOST: { statusCode: 400, body: JSON.stringify({ statusCode: 400, code: 'WAS_ERR_DUPLICATE_HOST', error: 'Bad Request', message: 'more than one Host header' }) },
  WAS_ERR_HTTP_VERSION: { statusCode: 505, body: JSON.stringify({ statusCode: 505, code: 'WAS_ERR_HTTP_VERSION', error: 'HTTP Version Not Supported', message: 'only HTTP/1.0 and HTTP/1.1 are served' }) }
}

/** Why this request must be refused, or null. */
export function screenRequest (req: Pick<http.IncomingMessage, 'httpVersionMajor' | 'rawHeaders'>): ScreenCode | null {
  const refusal = screenHead(req)
  return refusal === null ? null : refusal === 'http-version' ? 'WAS_ERR_HTTP_VERSION' : 'WAS_ERR_DUPLICATE_HOST'
}

/** Called first for every request: true when it was refused (the caller does nothing more). */
export function refuseMalformed (req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const code = screenRequest(req)
  if (code === null) return false
  const { statusCode, body } = ANSWERS[code]
  res.shouldKeepAlive = false
  res.writeHead(statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' })
  res.end(body)
  return true
}
