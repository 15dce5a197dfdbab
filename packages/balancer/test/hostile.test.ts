// Hostile and broken clients are answered by the balancer itself and cost the workers nothing.
import t from 'tap'
import net from 'node:net'
import { call, raw, startBackend, startBalancer } from './helpers.js'

t.test('oversize headers 431, oversize URL 414, malformed request 400; none reach a worker', async (t) => {
  const b = await startBackend(t, 't1')
  const { lb, base } = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false, client: { maxHeaderSize: 8192, maxUrlLength: 2048 } })
  const port = lb.address!.port
  t.equal((await call(`${base}/ok`)).status, 200)
  const before = b.seen

  const big = await raw(port, `GET / HTTP/1.1\r\nHost: a\r\nx-big: ${'a'.repeat(10_000)}\r\n\r\n`)
  t.match(big, /^HTTP\/1\.1 431 /)
  t.match(big, /x-nodecat-error: LB_ERR_HEADERS_TOO_LARGE/)

  const long = await call(`${base}/${'u'.repeat(3000)}`)
  t.equal(long.status, 414)
  t.equal(long.headers['x-nodecat-error'], 'LB_ERR_URI_TOO_LONG')

  for (const bad of ['GARBAGE\r\n\r\n', 'GET / HTTP/9.9\r\nHost: a\r\n\r\n', 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello', 'GET / HTTP/1.1\r\nBad Header\r\n\r\n', 'GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n']) {
    const answer = await raw(port, bad)
    t.match(answer, /^HTTP\/1\.1 400 /, `400 for ${JSON.stringify(bad.slice(0, 30))}`)
  }
  t.match(await raw(port, 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n'), /^HTTP\/1\.1 400 /, 'asterisk-form is not for workers')
  t.match(await raw(port, 'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n'), /^HTTP\/1\.1 405 /, 'CONNECT is refused')
  t.equal(b.seen, before, 'the worker saw none of them')
  t.ok(lb.status().balancer.clientErrors >= 5, 'counted as client errors')
  t.equal((await call(`${base}/ok`)).status, 200, 'and the balancer still serves')
})

t.test('a Transfer-Encoding that does not end in chunked: 400 and the connection closed, never a hang (RFC 9112 6.3)', async (t) => {
  // found by fuzz-raw-requests (seed 1475744272): the balancer waited for a body that had no end
  const b = await startBackend(t, 't1')
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false })
  const port = lb.address!.port
  for (const te of ['100-continue', 'gzip', 'chunked, gzip', 'identity']) {
    const answer = await raw(port, `POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${te}\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, { timeoutMs: 10_000 })
    t.match(answer, /^HTTP\/1\.1 400 /, `400 for Transfer-Encoding: ${te}`)
    t.match(answer, /\r\nconnection: close\r\n/i, 'and the connection is closed: the body has no known length')
  }
  const ok = await raw(port, 'POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n', { timeoutMs: 10_000 })
  t.match(ok, /^HTTP\/1\.1 200 /, 'a Transfer-Encoding ending in chunked is proxied')
  t.equal(b.seen, 1, 'the worker saw only the well-framed one')
})

t.test('slow headers get 408 after headersTimeout; connections beyond maxConnections are refused', async (t) => {
  const b = await startBackend(t, 't1')
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false, client: { headersTimeout: 500, requestTimeout: 1000, connectionsCheckingInterval: 50, maxConnections: 2 } })
  const port = lb.address!.port
  const slow = await raw(port, 'GET / HTTP/1.1\r\nHost: a\r\nx-slow: ', { timeoutMs: 20_000 })
  t.match(slow, /^HTTP\/1\.1 408 /, 'a client that never finishes its headers gets 408 and is closed')

  const held: net.Socket[] = []
  t.teardown(() => { for (const s of held) s.destroy() })
  for (let i = 0; i < 2; i++) {
    const s = net.connect(port, '127.0.0.1')
    held.push(s)
    await new Promise((resolve) => s.once('connect', resolve))
  }
  const third = net.connect(port, '127.0.0.1')
  let answer = ''
  third.on('data', (c) => { answer += c.toString() })
  third.on('error', () => {})
  third.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n')
  await new Promise((resolve) => third.once('close', resolve))
  t.equal(answer, '', 'the third connection is closed without an answer')
  t.equal(b.seen, 0)
})

t.test('an idle kept-alive client connection is closed after keepAliveTimeout', async (t) => {
  const b = await startBackend(t, 't1')
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false, client: { keepAliveTimeout: 300 } })
  const socket = net.connect(lb.address!.port, '127.0.0.1')
  socket.on('error', () => {})
  let answer = ''
  socket.on('data', (c) => { answer += c.toString() })
  socket.write('GET /x HTTP/1.1\r\nHost: a\r\n\r\n')
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => { socket.destroy(); resolve(false) }, 20_000)
    socket.once('close', () => { clearTimeout(timer); resolve(true) })
  })
  t.ok(closed, 'the balancer closed the idle connection')
  t.match(answer, /^HTTP\/1\.1 200 [\s\S]*t1/, 'answered, then closed by the balancer while idle')
})
