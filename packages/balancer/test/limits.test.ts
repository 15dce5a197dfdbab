// Issue 16 item 7: a request body size limit (maxBody, 413 and the connection closed per RFC 9112)
// and a cap on connections per client IP (maxConnsPerIp, off by default).
import t from 'tap'
import net from 'node:net'
import { call, finalAnswers, raw, rawUntilClose, startBackend, startBalancer, until } from './helpers.js'

/** a worker that reads the whole body and answers its size; records whether each body arrived whole */
async function sizingWorker (t: Parameters<typeof startBackend>[0]): Promise<{ backend: Awaited<ReturnType<typeof startBackend>>, aborted: number, bytes: number[] }> {
  const rec = { backend: undefined as unknown as Awaited<ReturnType<typeof startBackend>>, aborted: 0, bytes: [] as number[] }
  rec.backend = await startBackend(t, 'w1', (req, res) => {
    let n = 0
    req.on('data', (c: Buffer) => { n += c.length })
    req.on('aborted', () => { rec.aborted++ })
    req.on('error', () => {})
    req.on('end', () => {
      rec.bytes.push(n)
      res.end(`got ${n}`)
    })
  })
  return rec
}

function chunk (size: number, fill = 97): Buffer {
  return Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), Buffer.alloc(size, fill), Buffer.from('\r\n')])
}

t.test('maxBody: a Content-Length over it is refused before reading, 413 and close; at the limit it passes', async (t) => {
  const w = await sizingWorker(t)
  const { lb, base } = await startBalancer(t, { workers: [{ route: 'w1', url: w.backend.url }], healthCheck: false, maxBody: 1000 })
  const port = lb.address!.port

  const ok = await call(`${base}/up`, { method: 'POST', body: Buffer.alloc(1000, 98) })
  t.equal(ok.status, 200, 'a body of exactly maxBody bytes is proxied')
  t.equal(ok.text, 'got 1000')

  const over = await rawUntilClose(port, `POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n${'x'.repeat(1001)}GET /next HTTP/1.1\r\nHost: a\r\n\r\n`)
  t.match(over.text, /^HTTP\/1\.1 413 Payload Too Large\r\n/, '413')
  t.match(over.text, /\r\nx-nodecat-error: LB_ERR_PAYLOAD_TOO_LARGE\r\n/i, 'coded like the other refusals')
  t.match(over.text, /\r\nconnection: close\r\n/i, 'Connection: close')
  t.equal(finalAnswers(over.text), 1, 'one answer: the bytes after the head are not taken for a next request')
  t.ok(over.closed, 'the balancer closed the connection')
  t.same(w.bytes, [1000], 'the worker never saw the refused request')

  // a client that waits for 100 Continue hears only the refusal and never sends the body
  const expect = await raw(port, 'POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n')
  t.notMatch(expect, /HTTP\/1\.1 100/, 'no 100 Continue for a body that will be refused')
  t.match(expect, /^HTTP\/1\.1 413 /)
  t.equal(lb.status().balancer.answered.LB_ERR_PAYLOAD_TOO_LARGE, 2, 'counted by code')
})

t.test('maxBody: a client still uploading a large body gets the 413 (no reset) and the connection ends', async (t) => {
  const w = await sizingWorker(t)
  const { lb } = await startBalancer(t, { workers: [{ route: 'w1', url: w.backend.url }], healthCheck: false, maxBody: 64 * 1024 })
  const socket = net.connect(lb.address!.port, '127.0.0.1')
  let got = ''
  let error: Error | null = null
  socket.setEncoding('latin1')
  socket.on('data', (c: string) => { got += c })
  socket.on('error', (err) => { error = err })
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  const total = 8 * 1024 * 1024
  socket.write(`POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: ${total}\r\n\r\n`)
  // the client keeps sending after the answer came, as an upload does; bounded: 8 MiB in 64 KiB writes
  const piece = Buffer.alloc(64 * 1024, 120)
  for (let sent = 0; sent < total && !socket.destroyed; sent += piece.length) {
    if (!socket.write(piece)) await new Promise<void>((resolve) => { socket.once('drain', resolve); socket.once('close', resolve) })
  }
  await closed
  t.match(got, /^HTTP\/1\.1 413 Payload Too Large\r\n/, 'the answer arrived whole although the body was never read')
  t.equal(error, null, 'no ECONNRESET/EPIPE: the balancer drained what was in flight before closing')
  t.same(w.bytes, [], 'nothing reached the worker')
})

t.test('maxBody: a chunked body growing past it gets 413 and close, buffered or while streaming to the worker', async (t) => {
  const w = await sizingWorker(t)
  // buffered: the body is read into the replay buffer first, so the worker never sees it
  const small = await startBalancer(t, { workers: [{ route: 'w1', url: w.backend.url }], healthCheck: false, maxBody: 1000 })
  const head = 'POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'
  const fits = await raw(small.lb.address!.port, Buffer.concat([Buffer.from(head), chunk(600), chunk(400), Buffer.from('0\r\n\r\n')]))
  t.match(fits, /^HTTP\/1\.1 200 [\s\S]*got 1000$/, 'a chunked body of exactly maxBody passes')
  const grows = await rawUntilClose(small.lb.address!.port, Buffer.concat([Buffer.from(head), chunk(600), chunk(401), Buffer.from('0\r\n\r\n')]))
  t.match(grows.text, /^HTTP\/1\.1 413 /, '413 once the body passes maxBody')
  t.match(grows.text, /\r\nconnection: close\r\n/i)
  t.ok(grows.closed, 'closed')
  t.same(w.bytes, [1000], 'the refused body never reached the worker')

  // streaming: past the replay buffer the body goes to the worker as it comes; the attempt is aborted
  const streaming = await startBalancer(t, { workers: [{ route: 'w1', url: w.backend.url }], healthCheck: false, maxBody: 200_000, replayBufferSize: 0 })
  const socket = net.connect(streaming.lb.address!.port, '127.0.0.1')
  let got = ''
  socket.setEncoding('latin1')
  socket.on('data', (c: string) => { got += c })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.write(Buffer.concat([Buffer.from(head), chunk(150_000)]))
  await until(() => w.backend.seen === 2, 'the worker is reading the streamed body')
  socket.write(chunk(60_000))
  await closed
  t.match(got, /^HTTP\/1\.1 413 /, '413 while the body streamed to the worker')
  await until(() => w.aborted === 1, 'the worker\'s request was aborted')
  t.same(w.bytes, [1000], 'the worker never got a whole (truncated) body')
  await until(() => streaming.lb.status().balancer.inFlight === 0, 'nothing left in flight')
  t.equal(streaming.lb.workers()[0]!.state, 'OK', 'the worker is not blamed')
})

t.test('maxBody: past it after the answer started, the connection is cut', async (t) => {
  const backend = await startBackend(t, 'w1', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('started ')
    req.on('data', () => {})
    req.on('error', () => {})
    req.on('end', () => res.end('whole'))
  })
  const { lb } = await startBalancer(t, { workers: [{ route: 'w1', url: backend.url }], healthCheck: false, maxBody: 100_000, replayBufferSize: 0 })
  const socket = net.connect(lb.address!.port, '127.0.0.1')
  let got = ''
  socket.setEncoding('latin1')
  socket.on('data', (c: string) => { got += c })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.write(Buffer.concat([Buffer.from('POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'), chunk(50_000)]))
  await until(() => got.includes('started'), 'the answer started')
  socket.write(chunk(60_000))
  await closed
  t.match(got, /^HTTP\/1\.1 200 /, 'the answer had started')
  t.notMatch(got, /whole/, 'and was cut, not completed')
  t.notMatch(got, /413/, 'no second answer inside the first')
})

t.test('maxBody 0 (the default) sets no limit; bad values are refused naming the option', async (t) => {
  const w = await sizingWorker(t)
  const { lb, base } = await startBalancer(t, { workers: [{ route: 'w1', url: w.backend.url }], healthCheck: false })
  t.equal(lb.options.maxBody, 0)
  t.equal(lb.options.maxConnsPerIp, 0)
  const r = await call(`${base}/up`, { method: 'POST', body: Buffer.alloc(2 * 1024 * 1024, 99) })
  t.equal(r.text, `got ${2 * 1024 * 1024}`)
  const { resolveBalancerOptions } = await import('../src/options.js')
  t.throws(() => resolveBalancerOptions({ maxBody: -1 }), { code: 'LB_ERR_INVALID_OPTION', message: /maxBody/ })
  t.throws(() => resolveBalancerOptions({ maxConnsPerIp: 1.5 }), { code: 'LB_ERR_INVALID_OPTION', message: /maxConnsPerIp/ })
})

/** open a connection from `localAddress` and send one kept-alive request; resolves with the socket and what it got (empty if closed at once) */
async function holdConnection (port: number, localAddress: string, xff?: string): Promise<{ socket: net.Socket, answer: string, closed: boolean }> {
  return await new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress })
    let got = ''
    let done = false
    const finish = (closed: boolean): void => { if (!done) { done = true; resolve({ socket, answer: got, closed }) } }
    socket.setEncoding('latin1')
    socket.on('data', (c: string) => { got += c; if (/\r\n\r\n[\s\S]*w1(?:\r\n0\r\n\r\n)?$/.test(got)) finish(false) })
    socket.on('error', () => {})
    socket.on('close', () => finish(true))
    socket.on('connect', () => socket.write(`GET /x HTTP/1.1\r\nHost: a\r\n${xff !== undefined ? `X-Forwarded-For: ${xff}\r\n` : ''}\r\n`))
  })
}

t.test('maxConnsPerIp: connections beyond n from one address are closed at accept and counted', async (t) => {
  const backend = await startBackend(t, 'w1')
  const { lb, admin } = await startBalancer(t, { workers: [{ route: 'w1', url: backend.url }], healthCheck: false, maxConnsPerIp: 2, admin: { port: 0 } })
  const port = lb.address!.port
  const held: net.Socket[] = []
  t.teardown(() => { for (const s of held) s.destroy() })
  for (let i = 0; i < 2; i++) {
    const c = await holdConnection(port, '127.0.0.1')
    held.push(c.socket)
    t.notOk(c.closed, `connection ${i + 1} is served and kept`)
    t.match(c.answer, /^HTTP\/1\.1 200 /)
  }
  const third = await holdConnection(port, '127.0.0.1')
  t.ok(third.closed, 'the third connection from 127.0.0.1 is closed')
  t.equal(third.answer, '', 'at accept, without an answer')
  const other = await holdConnection(port, '127.0.0.2')
  held.push(other.socket)
  t.notOk(other.closed, 'another address is not affected')
  t.equal(lb.status().balancer.connectionsRefused.perIp, 1, 'counted')
  const status = JSON.parse((await call(`${admin!}/status`)).text)
  t.equal(status.balancer.connectionsRefused.perIp, 1, 'in the admin /status')
  t.match((await call(`${admin!}/metrics`)).text, /nodecat_balancer_connections_refused_total\{reason="per-ip"\} 1\n/, 'and /metrics')

  held[0]!.destroy()
  await until(async () => {
    const again = await holdConnection(port, '127.0.0.1')
    if (again.closed) return false
    held.push(again.socket)
    return true
  }, 'a closed connection frees its place')
})

t.test('maxConnsPerIp behind a trusted proxy still counts the TCP peer, not X-Forwarded-For', async (t) => {
  const backend = await startBackend(t, 'w1')
  const { lb } = await startBalancer(t, { workers: [{ route: 'w1', url: backend.url }], healthCheck: false, maxConnsPerIp: 1, trustForwarded: true })
  const first = await holdConnection(lb.address!.port, '127.0.0.1', '198.51.100.1')
  t.teardown(() => first.socket.destroy())
  t.notOk(first.closed)
  const second = await holdConnection(lb.address!.port, '127.0.0.1', '198.51.100.2')
  t.ok(second.closed, 'a second connection from the same peer is refused whatever client it names')
  t.equal(lb.status().balancer.connectionsRefused.perIp, 1)
})
