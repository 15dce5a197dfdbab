/**
 * A small app-server stand-in for the balancer benchmark: node:http, keep-alive, a ~500 B JSON
 * body naming its route, and `Set-Cookie: JSESSIONID=<id>.<route>` when the request has no
 * session cookie yet (the first request of a session).
 * Args: route [address=127.0.0.1]. Prints {"event":"listening","port"}.
 */
import http from 'node:http'
import { randomBytes } from 'node:crypto'

const route = process.argv[2] ?? 'node1'
const address = process.argv[3] ?? '127.0.0.1'
const filler = 'x'.repeat(360)

const server = http.createServer((req, res) => {
  const cookie = req.headers.cookie ?? ''
  const m = /(?:^|;\s*)JSESSIONID=([^;]+)/.exec(cookie)
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  let sessionId = m?.[1]
  if (sessionId === undefined) {
    sessionId = `${randomBytes(16).toString('hex')}.${route}`
    headers['set-cookie'] = `JSESSIONID=${sessionId}; Path=/; HttpOnly`
  }
  const body = JSON.stringify({ route, sessionId, path: req.url, items: [{ sku: 'SKU-000001', qty: 1, price: 9.99 }, { sku: 'SKU-000002', qty: 2, price: 19.99 }], note: filler })
  headers['content-length'] = String(Buffer.byteLength(body))
  res.writeHead(200, headers)
  res.end(body)
})
// why: the proxies keep pooled connections open; the backend must not close them first (Node's default is 5 s)
server.keepAliveTimeout = 120_000
server.headersTimeout = 121_000
server.listen(0, address, () => {
  process.stdout.write(JSON.stringify({ event: 'listening', port: (server.address() as import('node:net').AddressInfo).port }) + '\n')
})
process.on('SIGTERM', () => process.exit(0))
