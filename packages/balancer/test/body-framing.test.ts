// A request body whose framing is broken (issue 12 §1) gets one 400 and a close from the balancer,
// at once: it never holds the connection, the in-flight count or a worker.
import t from 'tap'
import type http from 'node:http'
import net from 'node:net'
import { finalAnswers, rawUntilClose, startBackend, startBalancer, until, type Backend } from './helpers.js'

const HEAD = 'POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'

/** the malformed chunked bodies of the report, and a few more of the same kind */
const MALFORMED: Array<[string, Buffer]> = [
  ['chunk size "zz"', Buffer.from('zz\r\nhello\r\n0\r\n\r\n')],
  ['chunk size of 18 hex digits (overflows 64 bits)', Buffer.from('ffffffffffffffffff\r\nhello\r\n0\r\n\r\n')],
  ['the CRLF after the chunk data missing', Buffer.from('5\r\nhelloXX0\r\n\r\n')],
  ['a valid 64 KiB chunk, then garbage', Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 97), Buffer.from('\r\ngarbage!!\r\n\r\n')])],
  ['a valid 70 KiB chunk (streamed to the worker), then garbage', Buffer.concat([Buffer.from('11800\r\n'), Buffer.alloc(0x11800, 98), Buffer.from('\r\n@@@@\r\n\r\n')])],
  ['a negative chunk size', Buffer.from('-5\r\nhello\r\n0\r\n\r\n')],
  ['a space inside the chunk size', Buffer.from('5 5\r\nhello\r\n0\r\n\r\n')],
  ['a bare CR after the last chunk', Buffer.from('5\r\nhello\r\n0\r\r\r\n')]
]

/** a worker that records, per request, whether its body arrived whole */
async function recordingWorker (t: Parameters<typeof startBackend>[0]): Promise<{ backend: Backend, complete: number, aborted: number }> {
  const tally = { backend: undefined as unknown as Backend, complete: 0, aborted: 0 }
  tally.backend = await startBackend(t, 't1', (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.on('error', () => {})
    req.on('aborted', () => { tally.aborted++ })
    req.resume()
    req.on('end', () => { tally.complete++; res.writeHead(200, { 'x-route': 't1' }); res.end('t1') })
  })
  return tally
}

t.test('every malformed chunked body: one 400 and a close, at once; the in-flight count returns to 0', async (t) => {
  const worker = await recordingWorker(t)
  // why such long client timeouts: the answer must come from the broken framing, not from a timer
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: worker.backend.url }], healthCheck: false, client: { requestTimeout: 300_000, headersTimeout: 60_000 } })
  const port = lb.address!.port
  for (const [what, body] of MALFORMED) {
    const got = await rawUntilClose(port, Buffer.concat([Buffer.from(HEAD), body]))
    t.ok(got.closed, `${what}: the balancer closed the connection`)
    t.match(got.text, /^HTTP\/1\.1 400 [\s\S]*\r\nx-nodecat-error: LB_ERR_BAD_REQUEST\r\n/i, `${what}: 400 LB_ERR_BAD_REQUEST`)
    t.match(got.text, /\r\nconnection: close\r\n/i, `${what}: the answer says the connection closes`)
    t.equal(finalAnswers(got.text), 1, `${what}: exactly one answer`)
  }
  await until(() => lb.status().balancer.inFlight === 0, 'the in-flight count back to 0')
  t.equal(lb.workers()[0]!.inFlight, 0, 'the worker has nothing in flight')
  t.equal(worker.complete, 0, 'no broken body ever reached a worker whole')
  t.equal(lb.workers()[0]!.state, 'OK', 'the worker is not blamed for a client\'s broken body')
  t.ok((lb.status().balancer.answered.LB_ERR_BAD_REQUEST ?? 0) >= MALFORMED.length, 'each is counted')

  const ok = await rawUntilClose(port, `${HEAD.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')}5\r\nhello\r\n0\r\n\r\n`)
  t.match(ok.text, /^HTTP\/1\.1 200 /, 'a well-framed chunked body is still proxied')
  t.equal(worker.complete, 1)
})

t.test('a malformed chunk in the second request of a kept-alive connection: the first answer, then one 400 and the close', async (t) => {
  const worker = await recordingWorker(t)
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: worker.backend.url }], healthCheck: false, client: { requestTimeout: 300_000, headersTimeout: 60_000 } })
  const s = net.connect(lb.address!.port, '127.0.0.1')
  t.teardown(() => { s.destroy() })
  let got = ''
  s.setEncoding('latin1')
  s.on('data', (c: string) => { got += c })
  s.on('error', () => {})
  const closed = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 20_000)
    s.once('close', () => { clearTimeout(timer); resolve(true) })
  })
  s.write(`${HEAD}5\r\nhello\r\n0\r\n\r\n`)
  await until(() => got.endsWith('0\r\n\r\n'), 'the first answer')
  s.write(`${HEAD}zz\r\nhello\r\n0\r\n\r\n`)
  t.ok(await closed, 'the balancer closed the connection')
  t.match(got, /^HTTP\/1\.1 200 [\s\S]*t1[\s\S]*HTTP\/1\.1 400 [\s\S]*LB_ERR_BAD_REQUEST/, 'the 200, then the 400')
  t.equal(finalAnswers(got), 2, 'one answer per request')
  await until(() => lb.status().balancer.inFlight === 0, 'the in-flight count back to 0')
})

t.test('100 connections with a malformed chunk each are all answered and closed; none is held', async (t) => {
  const worker = await recordingWorker(t)
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: worker.backend.url }], healthCheck: false, client: { requestTimeout: 300_000, headersTimeout: 60_000 } })
  const port = lb.address!.port
  const results = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
    const [, body] = MALFORMED[i % 4]!
    return await rawUntilClose(port, Buffer.concat([Buffer.from(HEAD), body]))
  }))
  t.equal(results.filter((r) => r.closed).length, 100, 'all 100 closed by the balancer')
  t.equal(results.filter((r) => /^HTTP\/1\.1 400 /.test(r.text) && finalAnswers(r.text) === 1).length, 100, 'each with exactly one 400')
  await until(() => lb.status().balancer.inFlight === 0, 'the in-flight count back to 0')
  t.equal(worker.complete, 0)
})
