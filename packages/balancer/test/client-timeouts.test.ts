// Every client connection, in every state, is covered by a timeout (issue 12 §1): the head
// (client.headersTimeout, hostile.test.ts), the body (client.requestTimeout), waiting for a worker
// and a client that reads nothing (client.idleTimeout), idle keep-alive (client.keepAliveTimeout,
// hostile.test.ts; client.idleTimeout when that is 0). Each ends with an answer where one can
// still be given, and a closed connection; the in-flight count returns to 0.
import t from 'tap'
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
