/**
 * A client request as an AJP/1.3 Forward Request, the way mod_jk builds one: the client's headers
 * minus hop-by-hop ones (as on the HTTP path), but no X-Forwarded-For/-Proto/-Host or Forwarded:
 * on AJP the client's address, port and TLS travel in the message itself (remote_addr, is_ssl)
 * and in the attributes Tomcat reads (AJP_REMOTE_PORT, AJP_LOCAL_ADDR, AJP_SSL_PROTOCOL,
 * ssl_cipher, ssl_key_size), so Tomcat's request.getRemoteAddr() and isSecure() are right without
 * a RemoteIpValve. X-Forwarded-* headers the client sent pass only with trustForwarded (behind
 * another proxy), unchanged; otherwise they are dropped, as on the HTTP path.
 *
 * Attributes, in mod_jk's order: secret, query_string, route (the chosen worker's), then the
 * req_attributes on Tomcat's whitelist. The URI goes as the client sent it (still percent-encoded,
 * ;jsessionid= kept: Tomcat decodes and parses it itself, as behind mod_jk's ForwardURIProxy).
 */
import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'
import type { AjpForwardRequest } from '@nodecat/protocol'
import type { AjpDispatch } from './ajp-client.js'
import type { RequestBody } from './request-body.js'
import type { Activation } from './worker-config.js'

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings', 'expect'])
const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded'])

/** mod_jk's JK_LB_ACTIVATION values */
const ACTIVATION_NAMES: Record<Activation, string> = { active: 'ACT', disabled: 'DIS', stopped: 'STP' }

/** What the Forward Request needs to know of the worker it goes to. */
export interface AjpTarget {
  route: string
  activation: Activation
  secret: string | undefined
}

function bare (address: string | undefined): string {
  if (address === undefined) return ''
  return address.startsWith('::ffff:') ? address.slice(7) : address
}

/** Host header → server name and port ("[::1]:8080", "example.com", …); the listener's port when it names none */
function serverOf (host: string | undefined, localPort: number): { name: string, port: number } {
  if (host === undefined || host === '') return { name: 'localhost', port: localPort }
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(host)
  if (m === null) return { name: host, port: localPort }
  const port = m[2] !== undefined ? Number(m[2]) : localPort
  return { name: m[1]!, port: port > 0 && port < 65536 ? port : localPort }
}

/** The client's request headers as AJP pairs: hop-by-hop (and those Connection names) left out. */
function headerPairs (req: IncomingMessage, trustForwarded: boolean): Array<[string, string]> {
  const src = req.headers
  let named: Set<string> | null = null
  if (src.connection !== undefined) {
    named = new Set(String(src.connection).split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== ''))
  }
  const out: Array<[string, string]> = []
  for (const name in src) {
    if (HOP_BY_HOP.has(name) || name.startsWith('proxy-') || named?.has(name) === true) continue
    if (!trustForwarded && FORWARDED.has(name)) continue
    const value = src[name]
    if (value === undefined) continue
    // why one pair per Set-Cookie-like array entry: node joins the others with ", " (cookie with "; ") already
    if (Array.isArray(value)) for (const v of value) out.push([name, v])
    else out.push([name, value])
  }
  return out
}

/** The Forward Request for `req` to the worker `target`. */
export function ajpForwardRequest (req: IncomingMessage, target: AjpTarget, trustForwarded: boolean): AjpForwardRequest {
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  const socket = req.socket as TLSSocket
  const tls = socket.encrypted === true
  const remoteAddr = bare(socket.remoteAddress)
  const server = serverOf(req.headers.host, socket.localPort ?? 0)
  const attributes: Array<[string, string]> = []
  if (target.secret !== undefined) attributes.push(['secret', target.secret])
  if (q >= 0 && q < url.length - 1) attributes.push(['query_string', url.slice(q + 1)])
  attributes.push(['route', target.route])
  if (tls) {
    const cipher = socket.getCipher?.()
    if (cipher !== undefined && cipher !== null) attributes.push(['ssl_cipher', cipher.standardName ?? cipher.name])
    const protocol = socket.getProtocol?.()
    if (protocol !== null && protocol !== undefined) attributes.push(['AJP_SSL_PROTOCOL', protocol])
  }
  attributes.push(['AJP_REMOTE_PORT', String(socket.remotePort ?? 0)])
  attributes.push(['AJP_LOCAL_ADDR', bare(socket.localAddress)])
  attributes.push(['JK_LB_ACTIVATION', ACTIVATION_NAMES[target.activation]])
  return {
    method: req.method ?? 'GET',
    protocol: `HTTP/${req.httpVersion}`,
    uri: q >= 0 ? url.slice(0, q) : url,
    remoteAddr,
    // why the address: like httpd with HostnameLookups Off, no DNS lookup per request
    remoteHost: remoteAddr,
    serverName: server.name,
    serverPort: server.port,
    isSsl: tls,
    headers: headerPairs(req, trustForwarded),
    attributes
  }
}

/** The request body's length when the client declared one (Content-Length), else null (chunked, or none). */
export function declaredBodyLength (req: IncomingMessage): number | null {
  if (req.headers['transfer-encoding'] !== undefined) return null
  const length = req.headers['content-length']
  if (length === undefined) return 0
  const n = Number(length)
  return Number.isSafeInteger(n) && n >= 0 ? n : null
}

/** One try of `req` on the ajp:// worker `target`: the Forward Request and the body as it can be sent now. */
export function ajpDispatch (req: IncomingMessage, target: AjpTarget, trustForwarded: boolean, body: RequestBody): AjpDispatch {
  return {
    forward: ajpForwardRequest(req, target, trustForwarded),
    body: body.source(),
    bodyLength: body.empty ? 0 : declaredBodyLength(req)
  }
}
