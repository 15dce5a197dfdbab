/**
 * ajp:// workers: the balancer speaks AJP/1.3 to in-process fake containers (ajp-container.ts, on
 * the shared codec) with the HTTP path's stickiness, failover and retry rules, streaming both ways
 * and a pool of kept-alive connections.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { request } from 'undici'
import { freePort } from '@nodecat/testkit'
import { resolveWorker } from '../src/index.js'
import { startAjpContainer } from './ajp-container.js'
import { call, raw, startBalancer, until } from './helpers.js'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const NO_CHECKS = { healthCheck: false as const }

t.test('the worker text form and options: ajp:// URL, secret, packet size', async (t) => {
  const w = resolveWorker('tomcat1=ajp://127.0.0.1:18009,secret=s3cret,packet-size=16384', 'worker', 10)
  t.equal(w.url, 'ajp://127.0.0.1:18009')
  t.equal(w.secret, 's3cret')
  t.equal(w.packetSize, 16384)
  t.equal(resolveWorker('t=ajp://tomcat.example', 'worker', 10).url, 'ajp://tomcat.example:8009', 'AJP port 8009 when none is given')
  t.equal(resolveWorker('t=ajp://127.0.0.1:18009', 'worker', 10).packetSize, 8192)
  t.throws(() => resolveWorker('t=ajp://127.0.0.1:18009,packet-size=4096', 'worker', 10), { code: 'LB_ERR_INVALID_OPTION' })
  t.throws(() => resolveWorker('t=ajp://127.0.0.1:18009/ctx', 'worker', 10), { code: 'LB_ERR_INVALID_OPTION' })
  t.throws(() => resolveWorker('t=ftp://127.0.0.1:18009', 'worker', 10), { code: 'LB_ERR_INVALID_OPTION' })
  // a secret is never echoed, not on a worker that cannot take one, not in a bad spec
  for (const spec of ['t=http://127.0.0.1:8080,secret=hunter2hunter2', 't,secret=hunter2hunter2']) {
    try {
      resolveWorker(spec, 'worker', 10)
      t.fail(`${spec} accepted`)
    } catch (err) {
      t.equal((err as { code?: string }).code, 'LB_ERR_INVALID_OPTION')
      t.notMatch((err as Error).message, /hunter2/, 'the secret is not in the message')
    }
  }
  t.throws(() => resolveWorker({ route: 't', url: 'http://127.0.0.1:8080', packetSize: 8192 }, 'worker', 10), { code: 'LB_ERR_INVALID_OPTION' })
})

t.test('sticky to the route in the cookie; the Forward Request carries the client as mod_jk sends it', async (t) => {
  const a = await startAjpContainer(t, 'tomcat1')
  const b = await startAjpContainer(t, 'tomcat2')
  const { base, lb } = await startBalancer(t, { ...NO_CHECKS, workers: [`tomcat1=${a.url},secret=s3cret`, `tomcat2=${b.url}`] })
  for (let i = 0; i < 6; i++) {
    const r = await call(`${base}/app/page?x=${i}`, { headers: { cookie: 'JSESSIONID=ABC.tomcat2', 'x-forwarded-for': '6.6.6.6' } })
    t.equal(r.status, 200)
    t.equal(r.text, 'tomcat2', `request ${i} stays on tomcat2`)
  }
  const hop = await raw(lb.address!.port, 'GET /app/page?x=5 HTTP/1.1\r\nHost: h\r\nCookie: JSESSIONID=ABC.tomcat2\r\nConnection: keep-alive, x-hop\r\nX-Hop: 1\r\nProxy-Authorization: x\r\n\r\n')
  t.match(hop, /^HTTP\/1\.1 200 OK\r\n/, 'the number Tomcat sends as the reason is not passed on')
  t.equal(a.requests, 0, 'tomcat1 got none of the session\'s requests')
  const f = b.last!
  t.equal(f.method, 'GET')
  t.equal(f.uri, '/app/page')
  t.equal(f.remoteAddr, '127.0.0.1')
  t.equal(f.isSsl, false)
  const attr = (n: string): string | undefined => f.attributes.find(([k]) => k === n)?.[1]
  t.equal(attr('query_string'), 'x=5')
  t.equal(attr('route'), 'tomcat2')
  t.equal(attr('JK_LB_ACTIVATION'), 'ACT')
  t.match(attr('AJP_REMOTE_PORT'), /^\d+$/)
  t.equal(attr('secret'), undefined, 'no secret for a worker without one')
  const names = f.headers.map(([n]) => n.toLowerCase())
  t.notOk(names.includes('x-hop'), 'a header named in Connection is hop-by-hop')
  t.notOk(names.includes('connection'))
  t.notOk(names.includes('proxy-authorization'))
  t.notOk(names.includes('x-forwarded-for'), 'a client X-Forwarded-For is dropped (trustForwarded off); AJP has remote_addr')
  t.ok(names.includes('cookie'))

  const r = await call(`${base}/app/page`, { headers: { cookie: 'JSESSIONID=ABC.tomcat1' } })
  t.equal(r.text, 'tomcat1')
  t.equal(a.last!.attributes.find(([k]) => k === 'secret')?.[1], 's3cret', 'the worker\'s secret goes as the secret attribute')
})

t.test('a refused connection fails over to the next worker', async (t) => {
  const dead = await freePort()
  const b = await startAjpContainer(t, 'tomcat2')
  const { base, lb } = await startBalancer(t, { ...NO_CHECKS, workers: [`tomcat1=ajp://127.0.0.1:${dead}`, `tomcat2=${b.url}`] })
  const r = await call(`${base}/count`, { method: 'POST', body: 'x=1', headers: { cookie: 'JSESSIONID=S1.tomcat1' } })
  t.equal(r.status, 200, 'nothing was sent: even a POST goes elsewhere')
  t.equal(r.text, 'tomcat2')
  const w = lb.workers().find((x) => x.route === 'tomcat1')!
  t.equal(w.state, 'ERROR')
  t.equal(w.lastError?.code, 'ECONNREFUSED')
})

t.test('a POST the worker received and never answered is not retried; a GET is', async (t) => {
  const a = await startAjpContainer(t, 'tomcat1', async (call) => { await call.body(); call.destroy() })
  const b = await startAjpContainer(t, 'tomcat2')
  const { base } = await startBalancer(t, { ...NO_CHECKS, failuresToError: 100, workers: [`tomcat1=${a.url}`, `tomcat2=${b.url}`] })
  const post = await call(`${base}/buy`, { method: 'POST', body: 'item=1', headers: { cookie: 'JSESSIONID=S.tomcat1' } })
  t.equal(post.status, 502)
  t.equal(post.headers['x-nodecat-error'], 'LB_ERR_WORKER_FAILED')
  t.equal(a.requests, 1, 'tomcat1 got it once')
  t.equal(b.requests, 0, 'never sent to tomcat2')
  const get = await call(`${base}/page`, { headers: { cookie: 'JSESSIONID=S.tomcat1' } })
  t.equal(get.status, 200, 'an idempotent request is tried again')
  t.equal(get.text, 'tomcat2')
})

t.test('a 1 MiB body both ways, intact (declared length and chunked), and the response streamed', async (t) => {
  const a = await startAjpContainer(t, 'tomcat1', async (call) => {
    const body = await call.body()
    call.headers(200, [['Content-Type', 'application/octet-stream'], ['x-sha256', sha(body)], ['x-got', String(body.length)]])
    call.chunk(body)
    call.end(true)
  })
  const { base } = await startBalancer(t, { ...NO_CHECKS, workers: [`tomcat1=${a.url}`] })
  const body = Buffer.alloc(1024 * 1024)
  for (let i = 0; i < body.length; i++) body[i] = (i * 31 + (i >> 9)) & 0xff
  const res = await request(`${base}/upload`, { method: 'POST', body, headersTimeout: 60_000, bodyTimeout: 60_000 })
  const back = Buffer.from(await res.body.arrayBuffer())
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-got'], String(body.length))
  t.equal(res.headers['x-sha256'], sha(body), 'the container got the bytes sent')
  t.equal(sha(back), sha(body), 'the client got them back')
  t.equal(res.headers['transfer-encoding'], 'chunked', 'no length from the container: chunked to the client')

  const pieces = Array.from({ length: 16 }, (_, i) => body.subarray(i * 65536, (i + 1) * 65536))
  const chunked = await request(`${base}/upload`, { method: 'PUT', body: Readable.from(pieces), headersTimeout: 60_000, bodyTimeout: 60_000 })
  const back2 = Buffer.from(await chunked.body.arrayBuffer())
  t.equal(chunked.headers['x-sha256'], sha(body), 'a chunked upload arrives whole (the container asks until the empty packet)')
  t.equal(sha(back2), sha(body))

  // streaming: the client reads the first chunk while the container still holds the rest
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const s = await startAjpContainer(t, 'tomcat9', async (call) => {
    await call.body()
    call.headers(200, [['Content-Type', 'text/plain']])
    call.chunk('first|')
    await held
    call.chunk('rest')
    call.end(true)
  })
  const { base: base2 } = await startBalancer(t, { ...NO_CHECKS, workers: [`tomcat9=${s.url}`] })
  const streamed = await request(`${base2}/stream`, { headersTimeout: 60_000, bodyTimeout: 60_000 })
  const it = streamed.body[Symbol.asyncIterator]()
  const first = await it.next()
  t.equal(Buffer.from(first.value as Buffer).toString(), 'first|', 'the first chunk reached the client before the container sent the rest')
  release()
  let rest = ''
  for (let r = await it.next(); r.done !== true; r = await it.next()) rest += Buffer.from(r.value as Buffer).toString()
  t.equal(rest, 'rest')
})

t.test('WebSocket cannot cross AJP: 501 LB_ERR_AJP_NO_UPGRADE', async (t) => {
  const a = await startAjpContainer(t, 'tomcat1')
  const { lb } = await startBalancer(t, { ...NO_CHECKS, workers: [`tomcat1=${a.url}`] })
  const text = await raw(lb.address!.port, 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  t.match(text, /^HTTP\/1\.1 501 /)
  t.match(text, /x-nodecat-error: LB_ERR_AJP_NO_UPGRADE/i)
  t.equal(a.requests, 0)
  t.equal(lb.workers()[0]!.state, 'OK', 'not the worker\'s fault')
})

t.test('malformed container packets: a coded 502 and the connection discarded', async (t) => {
  let answers = 0
  const a = await startAjpContainer(t, 'tomcat1', async (call, c) => {
    await call.body()
    answers++
    if (answers === 1) { call.raw(Buffer.from('XY\x00\x02\x04\x00', 'latin1')); return }
    if (answers === 2) { call.chunk('body before headers'); return }
    if (answers === 3) { call.end(true); return }
    call.headers(200, [['Content-Type', 'text/plain']])
    call.chunk(c.route)
    call.end(true)
  })
  const { base, lb } = await startBalancer(t, { ...NO_CHECKS, failuresToError: 100, workers: [`tomcat1=${a.url}`] })
  for (const [i, what] of ['bad magic', 'body before headers', 'End Response before headers'].entries()) {
    const r = await call(`${base}/x`, { method: 'POST', body: 'a=1' })
    t.equal(r.status, 502, what)
    t.equal(r.headers['x-nodecat-error'], 'LB_ERR_AJP_PROTOCOL', what)
    await until(() => a.connections === i + 1 && lb.workers()[0]!.inFlight === 0, 'the exchange over')
  }
  const ok = await call(`${base}/x`)
  t.equal(ok.status, 200)
  t.equal(ok.text, 'tomcat1')
  t.equal(a.connections, 4, 'each broken connection was discarded: a new one for each request')
  t.equal(lb.workers()[0]!.lastError?.code, 'LB_ERR_AJP_PROTOCOL')
})

t.test('one pooled connection serves many requests; CPing health checks', async (t) => {
  const a = await startAjpContainer(t, 'tomcat1')
  const { base, lb } = await startBalancer(t, { ...NO_CHECKS, workers: [`tomcat1=${a.url}`] })
  for (let i = 0; i < 25; i++) {
    const r = await call(`${base}/n/${i}`, i % 2 === 0 ? {} : { method: 'POST', body: `n=${i}` })
    t.equal(r.text, 'tomcat1')
  }
  t.equal(a.requests, 25)
  t.equal(a.connections, 1, 'End Response with reuse: the connection goes back to the pool')

  const { lb: lb2 } = await startBalancer(t, { healthCheck: { interval: 3_600_000, timeout: 300 }, workers: [`tomcat1=${a.url}`] })
  t.same(await lb2.checkHealth('tomcat1'), { tomcat1: true }, 'a CPong is healthy')
  t.ok(a.cpings >= 1)
  a.answerCPing = false
  t.same(await lb2.checkHealth('tomcat1'), { tomcat1: false }, 'no CPong within the timeout is not')
  t.equal(lb.workers()[0]!.state, 'OK')
})

t.test('a head too large for one AJP packet is 431; a silent container is a 504 headers timeout, not retried', async (t) => {
  const a = await startAjpContainer(t, 'tomcat1')
  const big = await startAjpContainer(t, 'tomcat2', undefined, 16384)
  let silent = 0
  const s = await startAjpContainer(t, 'tomcat3', async (call) => { silent++; await call.body() })
  const { base } = await startBalancer(t, { ...NO_CHECKS, headersTimeout: 300, workers: [`tomcat1=${a.url}`, `tomcat2=${big.url},packet-size=16384`, `tomcat3=${s.url}`] })
  const cookie = (route: string): string => `JSESSIONID=X.${route}; pad=${'p'.repeat(9000)}`
  const r = await call(`${base}/x`, { headers: { cookie: cookie('tomcat1') } })
  t.equal(r.status, 431)
  t.equal(r.headers['x-nodecat-error'], 'LB_ERR_HEADERS_TOO_LARGE')
  t.equal(a.requests + big.requests + s.requests, 0, 'nothing was sent anywhere')
  const ok = await call(`${base}/x`, { headers: { cookie: cookie('tomcat2') } })
  t.equal(ok.status, 200, 'it fits a worker with packet-size 16384')
  t.equal(ok.text, 'tomcat2')
  const slow = await call(`${base}/x`, { method: 'POST', body: 'a=1', headers: { cookie: 'JSESSIONID=X.tomcat3' } })
  t.equal(slow.status, 504)
  t.equal(slow.headers['x-nodecat-error'], 'LB_ERR_HEADERS_TIMEOUT')
  t.equal(silent, 1, 'not retried: the worker may still be doing the work')
})

t.test('a slow reader pauses the AJP connection (no body timeout meanwhile); a client gone mid-answer discards it', async (t) => {
  const big = Buffer.alloc(24 * 1024 * 1024, 0x61)
  const backlog: number[] = []
  const a = await startAjpContainer(t, 'tomcat1', async (call) => {
    await call.body()
    call.headers(200, [['Content-Type', 'application/octet-stream'], ['Content-Length', String(big.length)]])
    call.chunk(big)
    // the client is not reading now: the balancer must have stopped reading us too
    await new Promise((resolve) => setTimeout(resolve, 800))
    backlog.push(call.backlog())
    await new Promise((resolve) => setTimeout(resolve, 600))
    backlog.push(call.backlog())
    call.end(true)
  })
  const { base, lb } = await startBalancer(t, { ...NO_CHECKS, bodyTimeout: 300, workers: [`tomcat1=${a.url}`] })
  const res = await request(`${base}/big`, { headersTimeout: 60_000, bodyTimeout: 60_000 })
  let got = 0
  let first = true
  for await (const chunk of res.body) {
    got += (chunk as Buffer).length
    // why: the client stops reading for longer than bodyTimeout while the container has more to send
    if (first) { first = false; await new Promise((resolve) => setTimeout(resolve, 3000)) }
  }
  t.ok(backlog[0]! > 0 && backlog[1] === backlog[0], `while the client paused, the balancer read nothing more from the container (${backlog.join(' → ')} bytes waiting on its side)`)
  t.equal(got, big.length, 'the whole answer arrived although the reader paused past bodyTimeout')
  t.equal(lb.workers()[0]!.errors, 0, 'no body timeout was blamed on the worker')

  let releaseB: () => void = () => {}
  const heldB = new Promise<void>((resolve) => { releaseB = resolve })
  t.teardown(() => releaseB())
  const b = await startAjpContainer(t, 'tomcat2', async (call) => {
    await call.body()
    call.headers(200, [['Content-Type', 'text/plain']])
    call.chunk('part|')
    // holds the rest back until the test is done
    await heldB
  })
  const { base: base2, lb: lb2 } = await startBalancer(t, { ...NO_CHECKS, workers: [`tomcat2=${b.url}`] })
  const ac = new AbortController()
  const r = await request(`${base2}/x`, { signal: ac.signal, headersTimeout: 60_000, bodyTimeout: 60_000 })
  const it = r.body[Symbol.asyncIterator]()
  await it.next()
  ac.abort()
  await until(() => lb2.workers()[0]!.inFlight === 0, 'the try ended when the client went away')
  await until(() => b.closed === 1, 'the AJP connection of the abandoned exchange was closed, not pooled')
  t.equal(lb2.status().balancer.inFlight, 0)
  t.equal(lb2.workers()[0]!.errors, 0, 'a client that left is not the worker\'s fault')
  t.equal(b.connections, 1)
  releaseB()
})
