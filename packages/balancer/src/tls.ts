/**
 * TLS termination on the client listener: the certificate and key are PEM files, read at start
 * and again on reload (SIGHUP); a reload builds a new secure context first and only then swaps it
 * in (server.setSecureContext), so a bad file leaves the old certificate serving. Connections
 * already open keep the context they were made with; new ones get the new one.
 * Also the optional plain-HTTP listener that redirects to HTTPS (308).
 */
import { readFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import http from 'node:http'
import { isIP } from 'node:net'
import tls from 'node:tls'
import { HOST_NAME_PATTERN } from '@nodecat/protocol'
import { BalancerOptionError } from './errors.js'

export interface TlsFiles {
  /** PEM certificate chain file (the leaf first) */
  cert: string
  /** PEM private key file */
  key: string
}

/** TLS versions spoken to clients: 1.2 and 1.3 (node's defaults; named here so they never drift) */
export const TLS_MIN_VERSION = 'TLSv1.2'
export const TLS_MAX_VERSION = 'TLSv1.3'

export interface LoadedTls {
  key: Buffer
  cert: Buffer
  /** what the log says of the certificate: subject, expiry, SHA-256 fingerprint */
  summary: { subject: string, validTo: string, fingerprint256: string }
}

/** Read and check the files (a context is built from them, so a key that does not match the certificate fails here). */
export function loadTls (files: TlsFiles): LoadedTls {
  let cert: Buffer
  let key: Buffer
  try { cert = readFileSync(files.cert) } catch (err) { throw new BalancerOptionError(`tls.cert: cannot read ${JSON.stringify(files.cert)}: ${(err as Error).message}`) }
  try { key = readFileSync(files.key) } catch (err) { throw new BalancerOptionError(`tls.key: cannot read ${JSON.stringify(files.key)}: ${(err as Error).message}`) }
  let x509: X509Certificate
  try { x509 = new X509Certificate(cert) } catch (err) { throw new BalancerOptionError(`tls.cert: ${JSON.stringify(files.cert)} is not a PEM certificate (${(err as Error).message})`) }
  try {
    tls.createSecureContext({ key, cert, minVersion: TLS_MIN_VERSION, maxVersion: TLS_MAX_VERSION })
  } catch (err) {
    throw new BalancerOptionError(`tls.key: ${JSON.stringify(files.key)} is not a PEM private key for tls.cert (${(err as Error).message})`)
  }
  return { key, cert, summary: { subject: x509.subject.replace(/\n/g, ', '), validTo: x509.validTo, fingerprint256: x509.fingerprint256 } }
}

/**
 * The host name of a Host header value, or null when it is not one we would put in a Location
 * (a name of HOST_NAME_PATTERN, an IPv4 address or a bracketed IPv6 address; the port is dropped).
 */
export function redirectHost (host: string | undefined): string | null {
  if (host === undefined) return null
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::\d{1,5})?$/.exec(host)
  if (m === null) return null
  const name = m[1]!
  if (name.startsWith('[')) return isIP(name.slice(1, -1)) === 6 ? name : null
  if (isIP(name) === 4) return name
  return HOST_NAME_PATTERN.test(name) ? name.toLowerCase() : null
}

const BAD_HOST = Buffer.from('400 Bad Request\n')

/**
 * The plain-HTTP listener of `httpRedirect`: every request gets 308 Permanent Redirect to
 * https://<its Host's name>[:<httpsPort> unless 443]<its path and query> (308 keeps the method
 * and body, unlike 301). A Host we would not redirect to (none, two, malformed) gets 400. Nothing
 * is proxied here.
 */
export function createRedirectServer (httpsPort: () => number, limits: { maxHeaderSize: number, headersTimeout: number, requestTimeout: number, keepAliveTimeout: number }): http.Server {
  const server = http.createServer({ maxHeaderSize: limits.maxHeaderSize, headersTimeout: limits.headersTimeout, requestTimeout: limits.requestTimeout, keepAliveTimeout: limits.keepAliveTimeout }, (req, res) => {
    // why close: an unread body would be taken for the next request on this connection
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) res.setHeader('connection', 'close')
    const hosts = req.headersDistinct.host
    const name = hosts?.length === 1 ? redirectHost(hosts[0]) : null
    const target = req.url ?? '/'
    if (name === null || target.charCodeAt(0) !== 47 || target.startsWith('//')) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', 'content-length': BAD_HOST.length, 'x-nodecat-error': 'LB_ERR_BAD_REQUEST' })
      res.end(BAD_HOST)
      return
    }
    const port = httpsPort()
    const location = `https://${name}${port === 443 ? '' : `:${port}`}${target}`
    const body = Buffer.from(`308 Permanent Redirect: ${location}\n`)
    res.writeHead(308, { location, 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length, 'cache-control': 'no-store' })
    res.end(req.method === 'HEAD' ? undefined : body)
  })
  server.on('clientError', (_err, socket) => { socket.destroy() })
  return server
}
