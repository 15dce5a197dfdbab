// A node refuses what its HTTP parser lets through but HTTP/1.1 forbids, before the drain, the
// readiness gate, fastify or the app see it (issue 12 §6): two Host headers get 400 (RFC 9112
// 3.2), a request line of another HTTP version than 1.x gets 505; the connection closes.
import t from 'tap'
import net from 'node:net'
import { startNode } from '../src/service/node.js'
import { classifyApp } from '../src/service/app-loader.js'
import { screenRequest } from '../src/service/request-screen.js'
import { freePorts } from '../../../test/lib/ports.js'
import { captureLogger } from './helpers/service-nodes.js'

/** send raw bytes, read until the node closes the connection (bounded) */
async function rawUntilClose (port: number, text: string): Promise<{ text: string, closed: boolean }> {
  return await new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    let got = ''
    const timer = setTimeout(() => { s.destroy(); resolve({ text: got, closed: false }) }, 20_000)
    s.setEncoding('latin1')
    s.on('data', (c: string) => { got += c })
    s.on('error', () => {})
    s.on('close', () => { clearTimeout(timer); resolve({ text: got, closed: true }) })
    s.write(text)
  })
}

t.test('screenRequest: one Host and HTTP/1.x pass; a second Host, in any case, or another major version do not', async (t) => {
  t.equal(screenRequest({ httpVersionMajor: 1, rawHeaders: ['Host', 'a', 'X', '1'] }), null)
  t.equal(screenRequest({ httpVersionMajor: 1, rawHeaders: [] }), null, 'no Host is node\'s business (it requires one on 1.1)')
  t.equal(screenRequest({ httpVersionMajor: 1, rawHeaders: ['Host', 'a', 'host', 'b'] }), 'WAS_ERR_DUPLICATE_HOST')
  t.equal(screenRequest({ httpVersionMajor: 1, rawHeaders: ['HOST', 'a', 'X-Host', 'h', 'hoSt', 'a'] }), 'WAS_ERR_DUPLICATE_HOST', 'even with the same value')
  t.equal(screenRequest({ httpVersionMajor: 1, rawHeaders: ['X-Host', 'a', 'Host', 'b'] }), null, 'a header merely ending in host is not one')
  t.equal(screenRequest({ httpVersionMajor: 2, rawHeaders: ['Host', 'a'] }), 'WAS_ERR_HTTP_VERSION')
  t.equal(screenRequest({ httpVersionMajor: 0, rawHeaders: ['Host', 'a'] }), 'WAS_ERR_HTTP_VERSION')
})

t.test('a node answers two Host headers 400 and HTTP/2.0 505, before its app runs, and closes', async (t) => {
  let appRuns = 0
  const [http, rcv] = await freePorts(2)
  const { logger } = captureLogger()
  const node = await startNode({
    jvmRoute: 'solo',
    http: { address: '127.0.0.1', port: http! },
    receiver: { address: '127.0.0.1', port: rcv!, autoBind: 1 },
    membership: { type: 'static', members: [] },
    shutdownTimeout: 3000
  }, { logger, app: classifyApp((_req: unknown, res: { end: (s: string) => void }, _next: unknown) => { appRuns++; res.end('app') }) })
  t.teardown(() => node.stop('teardown'))
  const port = http!

  for (const [what, text, status, code] of [
    ['two Host headers', 'GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, 'WAS_ERR_DUPLICATE_HOST'],
    ['two Host headers, other case, same value', 'GET /x HTTP/1.1\r\nHost: a\r\nHOST: a\r\n\r\n', 400, 'WAS_ERR_DUPLICATE_HOST'],
    ['two Host headers on a POST', 'POST /x HTTP/1.1\r\nHost: a\r\nhost: b\r\nContent-Length: 5\r\n\r\nhello', 400, 'WAS_ERR_DUPLICATE_HOST'],
    ['two Host headers on a node page', 'GET /_nodecat/status HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n', 400, 'WAS_ERR_DUPLICATE_HOST'],
    ['an HTTP/2.0 request line', 'GET /x HTTP/2.0\r\nHost: a\r\n\r\n', 505, 'WAS_ERR_HTTP_VERSION']
  ] as const) {
    const got = await rawUntilClose(port, text)
    t.ok(got.closed, `${what}: the node closed the connection`)
    t.match(got.text, new RegExp(`^HTTP/1\\.1 ${status} `), `${what}: ${status}`)
    t.match(got.text, new RegExp(`"code":"${code}"`), `${what}: ${code}`)
    t.equal((got.text.match(/HTTP\/1\.1 \d{3} /g) ?? []).length, 1, `${what}: one answer`)
  }
  t.equal(appRuns, 0, 'the app ran for none of them')
  const ok = await rawUntilClose(port, 'GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
  t.match(ok.text, /^HTTP\/1\.1 200 [\s\S]*app$/, 'one Host, HTTP/1.1: the app answers')
  t.equal(appRuns, 1)
})
