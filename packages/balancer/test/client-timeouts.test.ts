// Every client connection, in every state, is covered by a timeout (issue 12 §1): the head
// (client.headersTimeout, hostile.test.ts), the body (client.requestTimeout), waiting for a worker
// and a client that reads nothing (client.idleTimeout), idle keep-alive (client.keepAliveTimeout,
// hostile.test.ts; client.idleTimeout when that is 0). Each ends with an answer where one can
// still be given, and a closed connection; the in-flight count returns to 0.
import t from 'tap'
import net from 'node:net'
import { finalAnswers, rawUntilClose, startBackend, startBalancer, until } from './helpers.js'

t.test('a body that stops arriving: 408 after client.requestTimeout, and the close', async (t) => {
  let complete = 0
  const b = await startBackend(t, 't1', (req, res) => {
    req.on('error', () => {})
    req.resume()
    req.on('end', () => { complete++; res.end('t1') })
  })
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false, client: { headersTimeout: 500, requestTimeout: 1000, connectionsCheckingInterval: 50 } })
  const port = lb.address!.port
  for (const [what, text] of [
    ['Content-Length 10, 2 bytes sent', 'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab'],
    ['a chunked body without its last chunk', 'POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'],
    ['a chunk cut short', 'POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nhel'],
    ['a body of 100 KiB announced, 70 KiB sent (streaming to the worker)', `POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: ${100 * 1024}\r\n\r\n${'z'.repeat(70 * 1024)}`]
  ] as const) {
    const got = await rawUntilClose(port, text)
    t.ok(got.closed, `${what}: closed by the balancer`)
    t.match(got.text, /^HTTP\/1\.1 408 [\s\S]*\r\nx-nodecat-error: LB_ERR_REQUEST_TIMEOUT\r\n/i, `${what}: 408 LB_ERR_REQUEST_TIMEOUT`)
    t.equal(finalAnswers(got.text), 1, `${what}: one answer`)
  }
  await until(() => lb.status().balancer.inFlight === 0, 'the in-flight count back to 0')
  t.equal(complete, 0, 'no worker got a whole request')
  t.equal(lb.workers()[0]!.state, 'OK', 'and no worker is blamed')
})

t.test('waiting for a worker whose only connection is busy (queued for it: sticky, forced): 504 LB_ERR_WORKER_TIMEOUT after client.idleTimeout, and the close', async (t) => {
  let release = false
  const b = await startBackend(t, 't1', (req, res) => {
    if (req.url !== '/hold') { req.resume(); res.end('t1'); return }
    // holds the worker's one pooled connection with a trickle of bytes (bounded: 25 s at most)
    res.writeHead(200, { 'content-type': 'text/plain' })
    let n = 0
    const tick = setInterval(() => {
      if (release || ++n > 250) { clearInterval(tick); res.end(); return }
      res.write('.')
    }, 100)
    res.on('close', () => clearInterval(tick))
  })
  const { lb } = await startBalancer(t, {
    workers: [{ route: 't1', url: b.url, connectionLimit: 1 }],
    // why forced stickiness: a request for t1's session must wait for t1 (no other worker may take it)
    stickySessionForce: true,
    healthCheck: false,
    headersTimeout: 300,
    bodyTimeout: 300,
    client: { idleTimeout: 1000 }
  })
  const port = lb.address!.port
  const holder = net.connect(port, '127.0.0.1')
  holder.on('error', () => {})
  holder.on('data', () => {})
  t.teardown(() => { holder.destroy() })
  holder.write('GET /hold HTTP/1.1\r\nHost: a\r\n\r\n')
  await until(() => lb.workers()[0]!.inFlight === 1, 'the worker\'s connection taken')

  const queued = await rawUntilClose(port, 'GET /queued HTTP/1.1\r\nHost: a\r\nCookie: JSESSIONID=abc.t1\r\n\r\n')
  t.ok(queued.closed, 'the waiting request\'s connection is closed')
  t.match(queued.text, /^HTTP\/1\.1 504 [\s\S]*\r\nx-nodecat-error: LB_ERR_WORKER_TIMEOUT\r\n/i, '504 LB_ERR_WORKER_TIMEOUT')
  t.equal(finalAnswers(queued.text), 1, 'one answer')
  t.equal(lb.status().balancer.answered.LB_ERR_WORKER_TIMEOUT, 1, 'counted')
  t.ok(!holder.destroyed, 'the connection whose answer keeps moving is left alone')
  release = true
  await until(() => lb.status().balancer.inFlight === 0, 'the in-flight count back to 0')
  await until(() => lb.workers()[0]!.inFlight === 0, 'the worker\'s in-flight count back to 0')
  t.equal(lb.workers()[0]!.state, 'OK', 'the worker is not blamed')
})

t.test('a client that reads nothing of its answer: closed after client.idleTimeout; the worker is not blamed', async (t) => {
  let sent = 0
  const b = await startBackend(t, 't1', (req, res) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    const chunk = Buffer.alloc(64 * 1024, 120)
    // bounded: 64 MiB at most, far more than the socket buffers on the way hold
    const pump = (): void => {
      while (sent < 64 * 1024 * 1024) {
        sent += chunk.length
        if (!res.write(chunk)) { res.once('drain', pump); return }
      }
      res.end()
    }
    res.on('close', () => res.off('drain', pump))
    pump()
  })
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false, headersTimeout: 300, bodyTimeout: 300, client: { idleTimeout: 1000 } })
  const s = net.connect(lb.address!.port, '127.0.0.1')
  s.on('error', () => {})
  t.teardown(() => { s.destroy() })
  await new Promise((resolve) => s.once('connect', resolve))
  s.pause()
  s.write('GET /big HTTP/1.1\r\nHost: a\r\n\r\n')
  await until(() => lb.status().balancer.inFlight === 1, 'the request in flight')
  await until(() => lb.status().balancer.inFlight === 0, 'the stalled answer given up (in-flight count back to 0)')
  t.ok(sent < 64 * 1024 * 1024, 'the worker was not asked for the whole answer')
  const closed = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 20_000)
    s.once('close', () => { clearTimeout(timer); resolve(true) })
  })
  s.resume()
  t.ok(await closed, 'the client\'s connection was closed by the balancer')
  await until(() => lb.workers()[0]!.inFlight === 0, 'the worker\'s in-flight count back to 0')
  t.equal(lb.workers()[0]!.state, 'OK', 'the worker is not blamed for a slow client')
})

t.test('an idle kept-alive connection with keepAliveTimeout 0 (node\'s "never"): closed after client.idleTimeout', async (t) => {
  const b = await startBackend(t, 't1')
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false, headersTimeout: 300, bodyTimeout: 300, client: { keepAliveTimeout: 0, idleTimeout: 1000 } })
  const got = await rawUntilClose(lb.address!.port, 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n')
  t.ok(got.closed, 'closed by the balancer while idle')
  t.match(got.text, /^HTTP\/1\.1 200 [\s\S]*t1/, 'after its answer')
  t.equal(finalAnswers(got.text), 1)
})

t.test('client.idleTimeout: more than the worker timeouts; by default raised above them', async (t) => {
  const { resolveBalancerOptions } = await import('../src/options.js')
  t.equal(resolveBalancerOptions({}).client.idleTimeout, 60_000, 'default 60 s')
  t.equal(resolveBalancerOptions({ headersTimeout: 90_000 }).client.idleTimeout, 91_000, 'raised above a longer headersTimeout')
  t.throws(() => resolveBalancerOptions({ client: { idleTimeout: 20_000 } }), /client\.idleTimeout/, 'not at or below headersTimeout/bodyTimeout')
  t.throws(() => resolveBalancerOptions({ client: { requestTimeout: 0 } }), /client\.requestTimeout/, 'requestTimeout 0 (no limit) is refused')
})
