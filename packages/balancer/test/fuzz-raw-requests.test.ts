/**
 * Fuzzing the balancer's request path and headers with fast-check, over raw TCP to a balancer on
 * 127.0.0.1: arbitrary methods, request targets (long, absolute, asterisk, encoded, with session
 * path parameters), versions, line endings, hop-by-hop and Connection-listed headers, lying or
 * doubled Content-Length and Transfer-Encoding, Expect, Upgrade, and random header names/values;
 * and the body framing (issue 12 §1): chunked bodies well-formed (extensions, trailers, hex in
 * either case) and broken (bad or overflowing sizes, sizes that lie, missing CRLFs, garbage
 * between chunks, truncation, random byte changes), Content-Length exact, short or malformed.
 *
 * For every request: the answer is a well-formed HTTP response (never a crash or a silent hang),
 * the connection is closed after it, and the in-flight count returns to 0; when the balancer
 * answered it itself (an error with x-nodecat-error, or the HTTP parser's 4xx) no worker saw the
 * request; when a worker answered, exactly one worker saw it once, it got the body the framing
 * says, and it saw no hop-by-hop header of the client (RFC 9110 §7.6.1: Connection, Keep-Alive,
 * TE, Trailer, Transfer-Encoding, Upgrade, Proxy-*, and every header named in Connection). A body
 * whose framing is broken is answered by the balancer, and never reaches a worker whole.
 *
 * NODECAT_FUZZ_RUNS=<n> runs every property n times; NODECAT_FUZZ_SEED / NODECAT_FUZZ_PATH replay.
 */
import t from 'tap'
import fc from 'fast-check'
import net from 'node:net'
import type http from 'node:http'
import { call, finalAnswers, startBackend, startBalancer, until } from './helpers.js'
import { byteMutation, fuzzParams, mutate } from '../../../test/lib/fuzz.js'
import { sleep } from '@nodecat/testkit'

interface Seen { route: string, url: string, headers: http.IncomingHttpHeaders, body: string, complete: boolean }

const HOP = ['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'proxy-connection', 'proxy-x']

/**
 * Send raw bytes (the request says Connection: close); resolve with everything answered until the
 * balancer closes the connection. A connection still open 20 s after the request was sent is a hang.
 */
async function rawExchange (port: number, text: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1')
    let got = ''
    const timer = setTimeout(() => {
      s.destroy()
      reject(new Error(`${complete() ? 'answered but not closed' : 'no answer'} within 20 s: ${JSON.stringify(text.slice(0, 300))} got ${JSON.stringify(got.slice(0, 200))}`))
    }, 20_000)
    const complete = (): boolean => {
      const body = got.replace(/^(HTTP\/1\.1 1\d\d [^\r]*\r\n\r\n)+/, '')
      const end = body.indexOf('\r\n\r\n')
      if (end < 0) return false
      const head = body.slice(0, end)
      if (/^HTTP\/1\.[01] (204|304)/.test(head)) return true
      if (/\r\ntransfer-encoding: *chunked/i.test(head)) return body.endsWith('\r\n0\r\n\r\n')
      const m = /\r\ncontent-length: *(\d+)/i.exec(head)
      return m !== null && Buffer.byteLength(body.slice(end + 4), 'latin1') >= Number(m[1])
    }
    s.setEncoding('latin1')
    s.on('data', (c: string) => { got += c })
    s.on('error', () => {})
    s.on('close', () => { clearTimeout(timer); resolve(got) })
    s.write(text, 'latin1')
  })
}

/** A request body and the headers that frame it, and what a correct HTTP/1.1 reader makes of it. */
interface Framing {
  headers: Array<[string, string]>
  body: string
  /** valid: the worker gets `decoded`; broken: the balancer answers, no worker gets it whole; either: no promise but the general ones */
  expect: 'valid' | 'broken' | 'either'
  decoded: string
  what: string
}

const chunkData = (max: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[a-z0-9]{1,${max}}$`))

/** A well-formed chunked body: sizes in either hex case, optional extensions and trailers. */
function chunked (max: number, big: boolean): fc.Arbitrary<{ chunks: string[], sizes: string[], ext: string, trailer: string }> {
  const chunk = big ? fc.oneof({ weight: 4, arbitrary: chunkData(max) }, { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 80_000 }).map((n) => 'x'.repeat(n)) }) : chunkData(max)
  return fc.record({
    chunks: fc.array(chunk, { maxLength: 4 }),
    upper: fc.boolean(),
    ext: fc.constantFrom('', '', ';a=b', ';x'),
    trailer: fc.constantFrom('', '', 'X-Trailer: 1\r\n')
  }).map(({ chunks, upper, ext, trailer }) => ({ chunks, sizes: chunks.map((c) => upper ? c.length.toString(16).toUpperCase() : c.length.toString(16)), ext, trailer }))
}

function encodeChunked (c: { chunks: string[], sizes: string[], ext: string, trailer: string }): string {
  return c.chunks.map((data, i) => `${c.sizes[i]}${c.ext}\r\n${data}\r\n`).join('') + `0\r\n${c.trailer}\r\n`
}

const TE: Array<[string, string]> = [['Transfer-Encoding', 'chunked']]

/** Body framings, well-formed and broken; `big` adds chunks past the replay buffer (streamed to the worker). */
function framing (max: number, big: boolean): fc.Arbitrary<Framing> {
  const c = chunked(max, big)
  const validChunked = c.map((x): Framing => ({ headers: TE, body: encodeChunked(x), expect: 'valid', decoded: x.chunks.join(''), what: 'chunked' }))
  const withChunk = c.filter((x) => x.chunks.length > 0)
  return fc.oneof(
    { weight: 3, arbitrary: validChunked },
    { weight: 1, arbitrary: chunkData(max).map((d): Framing => ({ headers: [['Content-Length', String(d.length)]], body: d, expect: 'valid', decoded: d, what: 'content-length' })) },
    // a chunk size that is not one (or overflows 64 bits)
    { weight: 2, arbitrary: fc.tuple(withChunk, fc.nat(), fc.constantFrom('zz', 'ffffffffffffffffff', '10000000000000000', '-1', '0x5', 'g', '5 5', '')).map(([x, i, bad]): Framing => { const sizes = [...x.sizes]; sizes[i % sizes.length] = bad; return { headers: TE, body: encodeChunked({ ...x, sizes }), expect: 'broken', decoded: '', what: `size ${JSON.stringify(bad)}` } }) },
    // a size smaller than the chunk: the CRLF is not where it must be
    { weight: 1, arbitrary: fc.tuple(withChunk.filter((x) => x.chunks.some((d) => d.length > 1)), fc.nat()).map(([x, i]): Framing => { const k = x.chunks.map((d, j) => [d, j] as const).filter(([d]) => d.length > 1); const j = k[i % k.length]![1]; const sizes = [...x.sizes]; sizes[j] = (x.chunks[j]!.length - 1).toString(16); return { headers: TE, body: encodeChunked({ ...x, sizes }), expect: 'broken', decoded: '', what: 'size too small' } }) },
    // a size larger than the chunk: it eats what follows; broken, incomplete, or by chance parseable
    { weight: 1, arbitrary: fc.tuple(withChunk, fc.nat(), fc.integer({ min: 1, max: 6 })).map(([x, i, more]): Framing => { const j = i % x.chunks.length; const sizes = [...x.sizes]; sizes[j] = (x.chunks[j]!.length + more).toString(16); return { headers: TE, body: encodeChunked({ ...x, sizes }), expect: 'either', decoded: '', what: 'size too large' } }) },
    // the CRLF after a chunk's data missing
    { weight: 2, arbitrary: fc.tuple(withChunk, fc.nat()).map(([x, i]): Framing => { const j = i % x.chunks.length; const parts = x.chunks.map((d, n) => `${x.sizes[n]}${x.ext}\r\n${d}${n === j ? '' : '\r\n'}`); return { headers: TE, body: parts.join('') + `0\r\n${x.trailer}\r\n`, expect: 'broken', decoded: '', what: 'missing CRLF' } }) },
    // garbage where the next chunk's size line belongs
    { weight: 2, arbitrary: fc.tuple(withChunk, fc.nat(), fc.constantFrom('@@\r\n', 'garbage!!\r\n\r\n', '\x00\r\n', 'GET / HTTP/1.1\r\n\r\n')).map(([x, i, junk]): Framing => { const j = i % x.chunks.length; const parts = x.chunks.map((d, n) => `${x.sizes[n]}${x.ext}\r\n${d}\r\n${n === j ? junk : ''}`); return { headers: TE, body: parts.join('') + `0\r\n${x.trailer}\r\n`, expect: 'broken', decoded: '', what: `garbage ${JSON.stringify(junk)}` } }) },
    // cut short: the rest never comes
    { weight: 1, arbitrary: fc.tuple(c, fc.nat()).map(([x, at]): Framing => { const body = encodeChunked(x); return { headers: TE, body: body.slice(0, at % body.length), expect: 'broken', decoded: '', what: 'chunked, truncated' } }) },
    { weight: 1, arbitrary: chunkData(max).map((d): Framing => ({ headers: [['Content-Length', String(d.length + 7)]], body: d, expect: 'broken', decoded: '', what: 'content-length beyond the body' })) },
    { weight: 1, arbitrary: fc.tuple(chunkData(max), fc.constantFrom('abc', '-1', '1e3', '5, 6', '99999999999999999999', '0x10')).map(([d, bad]): Framing => ({ headers: [['Content-Length', bad]], body: d, expect: 'broken', decoded: '', what: `content-length ${bad}` })) },
    // random byte changes to a well-formed chunked body: anything may come of it
    { weight: 2, arbitrary: fc.tuple(c, fc.array(byteMutation(fc.integer({ min: 0, max: 0xffff })), { minLength: 1, maxLength: 3 })).map(([x, muts]): Framing => ({ headers: TE, body: mutate(Buffer.from(encodeChunked(x), 'latin1'), muts).toString('latin1'), expect: 'either', decoded: '', what: 'chunked, bytes changed' })) }
  )
}

/**
 * The common rules for one exchange: every answer well-formed, the first for the request, at most
 * one more (the balancer's 400 for bytes that followed the request), then the close.
 */
function answers (answer: string, text: string): { final: string, code: number } {
  const final = answer.replace(/^(HTTP\/1\.1 1\d\d [^\r]*\r\n\r\n)+/, '')
  const status = /^HTTP\/1\.[01] (\d{3}) /.exec(final)
  if (status === null) throw new Error(`not a well-formed HTTP answer: ${JSON.stringify(answer.slice(0, 200))} to ${JSON.stringify(text.slice(0, 300))}`)
  const n = finalAnswers(final)
  if (n > 2) throw new Error(`${n} answers to one request: ${JSON.stringify(answer.slice(0, 400))}`)
  if (n === 2 && !/\r\n\r\n[^]*HTTP\/1\.1 400 [^]*x-nodecat-error: LB_ERR_BAD_REQUEST/i.test(final)) throw new Error(`a second answer that is not the balancer's 400: ${JSON.stringify(answer.slice(0, 400))}`)
  return { final, code: Number(status[1]) }
}

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/)
const printable = fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ''))

t.test('arbitrary raw requests: a well-formed answer, rejected requests never reach a worker, no hop-by-hop header crosses', async (t) => {
  const seen: Seen[] = []
  const record = (route: string) => (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const s: Seen = { route, url: req.url ?? '', headers: req.headers, body: '', complete: false }
    seen.push(s)
    req.setEncoding('latin1')
    req.on('data', (c: string) => { s.body += c })
    req.on('end', () => { s.complete = true; res.writeHead(200, { 'content-type': 'text/plain', 'x-route': route }); res.end(route) })
    req.on('error', () => {})
  }
  const b1 = await startBackend(t, 't1', record('t1'))
  const b2 = await startBackend(t, 't2', record('t2'))
  const { lb } = await startBalancer(t, {
    workers: [{ route: 't1', url: b1.url }, { route: 't2', url: b2.url }],
    healthCheck: false,
    client: { maxHeaderSize: 8192, maxUrlLength: 2048, headersTimeout: 500, requestTimeout: 1000, connectionsCheckingInterval: 50, keepAliveTimeout: 200 }
  })
  const port = lb.address!.port

  let n = 0
  let proxied = 0
  let refused = 0
  const tally: Record<string, number> = {}
  const hopHeader = fc.oneof(
    fc.tuple(fc.constantFrom('Keep-Alive', 'TE', 'Trailer', 'Proxy-Authorization', 'Proxy-Connection', 'Proxy-X', 'X-Secret'), printable),
    fc.tuple(fc.constant('Connection'), fc.array(fc.constantFrom('close', 'keep-alive', 'x-secret', 'X-Secret', 'x-forwarded-for', 'te', 'trailer', 'proxy-x'), { minLength: 1, maxLength: 4 }).map((a) => a.join(', ')))
  )
  const saneHeaders = fc.array(fc.oneof({ weight: 3, arbitrary: hopHeader }, { weight: 1, arbitrary: fc.tuple(token, printable) }, { weight: 1, arbitrary: fc.tuple(fc.constant('Cookie'), fc.constantFrom('JSESSIONID=abc.t1', 'JSESSIONID=abc.t2', 'JSESSIONID=x; JSESSIONID=y.t2', 'JSESSIONID="q.t1"')) }), { maxLength: 6 })
  const wildHeaders = fc.array(fc.oneof(
    hopHeader,
    fc.tuple(fc.constantFrom('Content-Length', 'Transfer-Encoding', 'Expect', 'Upgrade', 'X-Forwarded-For', 'Forwarded', 'TE', 'Host'), fc.oneof(printable, fc.constantFrom('100-continue', 'chunked', 'chunked, identity', 'identity', '0', '-1', '5', '5, 5', '99999999999999999999', 'websocket', 'trailers'))),
    fc.tuple(fc.string({ unit: 'binary-ascii', maxLength: 12 }).map((s) => s.replace(/[\r\n]/g, '')), fc.string({ unit: 'binary-ascii', maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, ''))),
    fc.tuple(fc.constant('X-Big'), fc.integer({ min: 6000, max: 9000 }).map((k) => 'b'.repeat(k)))
  ), { maxLength: 8 })
  const sane = fc.record({
    method: fc.constantFrom('GET', 'GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
    target: fc.oneof(
      fc.constant('TAG'),
      fc.constant('TAG;jsessionid=abc.t2'),
      fc.constant('TAG;jsessionid=abc.t1?x=1'),
      fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,40}$/).map((s) => `TAG/${s}`),
      fc.constantFrom('http://a/TAG', 'TAG?q=1&q=2', '/..%2f..%2fTAG', 'TAG/%ZZ')
    ),
    version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
    eol: fc.constant('\r\n'),
    host: fc.constant('Host: a'),
    headers: saneHeaders,
    body: fc.constantFrom(''),
    framing: fc.option(framing(300, false), { freq: 3 })
  })
  const wild = fc.record({
    method: fc.oneof(fc.constantFrom('GET', 'POST', 'TRACE', 'CONNECT', 'get', 'G ET', '', 'PRI'), token),
    target: fc.oneof(
      fc.constant('TAG'),
      printable.map((s) => `TAG/${s}`),
      fc.string({ unit: 'binary-ascii', maxLength: 30 }).map((s) => `TAG/${s.replace(/[\r\n ]/g, '')}`),
      fc.integer({ min: 1900, max: 2200 }).map((k) => `TAG/${'u'.repeat(k)}`),
      fc.constantFrom('*', '', '//TAG', 'TAG#frag', 'TAG%00', 'TAG\u0000')
    ),
    version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 ', 'http/1.1', 'HTTP/1.10', ''),
    eol: fc.constantFrom('\r\n', '\r\n', '\n'),
    host: fc.constantFrom('Host: a', 'Host: a', '', 'Host: a\r\nHost: b', 'Host: ', 'Host: a:99999'),
    headers: wildHeaders,
    body: fc.oneof(fc.constant(''), printable, fc.constant('0\r\n\r\n'), fc.constant('5\r\nhello\r\n0\r\n\r\n')),
    framing: fc.option(framing(300, false), { freq: 2 })
  })
  const request = fc.oneof({ weight: 1, arbitrary: sane }, { weight: 1, arbitrary: wild })

  await fc.assert(fc.asyncProperty(request, async (r) => {
    const tag = `/fz${++n}`
    const marker = `HOSTILE${n}`
    const target = r.target.replace('TAG', tag)
    const lines = [`${r.method} ${target} ${r.version}`.replace(/ $/, '')]
    if (r.host !== '') lines.push(...r.host.split('\r\n'))
    // every hop-by-hop header carries the marker, so a leak is recognisable at the worker
    const sentHop = new Set<string>()
    let connectionTokens: string[] = []
    for (const [name, value] of r.headers) {
      const lower = name.toLowerCase()
      if (lower === 'connection') connectionTokens = value.split(',').map((x) => x.trim().toLowerCase())
      const hop = HOP.includes(lower) || lower.startsWith('proxy-')
      if (hop && lower !== 'connection' && lower !== 'transfer-encoding' && lower !== 'upgrade') sentHop.add(lower)
      lines.push(`${name}: ${hop && lower !== 'connection' && lower !== 'transfer-encoding' && lower !== 'upgrade' ? `${marker} ${value}` : value}`)
    }
    for (const tok of connectionTokens) if (tok !== 'close' && tok !== 'keep-alive' && tok !== 'upgrade') sentHop.add(tok)
    // the framing's own headers; its promises hold only when no fuzzed header frames the body too
    const f = r.framing
    if (f !== null) for (const [name, value] of f.headers) lines.push(`${name}: ${value}`)
    const framedAlone = f !== null && !r.headers.some(([name]) => /^(content-length|transfer-encoding)$/i.test(name.trim()))
    // the client always closes after this one exchange, so an answer never waits on keep-alive
    const text = lines.join(r.eol) + r.eol + 'Connection: close' + r.eol + r.eol + (f === null ? r.body : f.body)
    const before = seen.length
    const answer = await rawExchange(port, text)

    // an interim 100 Continue may come first, but only for a request that is then proxied
    const interim = /^HTTP\/1\.1 1\d\d /.test(answer)
    const { code } = answers(answer, text)
    tally[code] = (tally[code] ?? 0) + 1
    const fromWorker = /\r\nx-route: t[12]\r\n/i.test(answer)
    const ours = new RegExp(`${tag}(?![0-9])`)
    const mine = seen.slice(before).filter((s) => ours.test(s.url))
    if (!fromWorker) {
      if (code < 400) throw new Error(`balancer answered ${code} itself`)
      if (interim) throw new Error(`a request refused with ${code} was first told to continue: ${JSON.stringify(text.slice(0, 200))}`)
      if (mine.length > 0) throw new Error(`a request the balancer answered ${code} reached worker ${mine[0]!.route}: ${JSON.stringify(text.slice(0, 300))}`)
      if (!/\r\nx-nodecat-error: [A-Z_]+\r\n/i.test(answer) && code !== 400 && code !== 408 && code !== 413 && code !== 414 && code !== 431 && code !== 505 && code !== 501) {
        throw new Error(`balancer answered ${code} without an error code`)
      }
      refused++
      return
    }
    if (mine.length !== 1) throw new Error(`a proxied request was seen ${mine.length} times by the workers`)
    if (framedAlone && f.expect === 'broken') throw new Error(`a broken body (${f.what}) was answered by a worker: ${JSON.stringify(text.slice(0, 300))}`)
    if (framedAlone && f.expect === 'valid' && mine[0]!.body !== f.decoded) throw new Error(`the worker got ${mine[0]!.body.length} body bytes, the framing (${f.what}) says ${f.decoded.length}: ${JSON.stringify(text.slice(0, 300))}`)
    proxied++
    const h = mine[0]!.headers
    for (const name of sentHop) {
      const v = h[name]
      if (v !== undefined && String(v).includes(marker)) throw new Error(`hop-by-hop header ${name} reached the worker: ${JSON.stringify(text.slice(0, 300))}`)
    }
    for (const [name, v] of Object.entries(h)) {
      if ((name.startsWith('proxy-') || name === 'keep-alive' || name === 'te' || name === 'trailer') && String(v).includes(marker)) throw new Error(`hop-by-hop header ${name} reached the worker`)
    }
  }), fuzzParams(150))

  t.ok(proxied > 0 && refused > 0, `proxied ${proxied}, answered by the balancer ${refused}; by status: ${JSON.stringify(tally)}`)
  await until(() => lb.status().balancer.inFlight === 0, 'the in-flight count back to 0')
  const after = await call(`http://127.0.0.1:${port}/still-alive`)
  t.equal(after.status, 200, 'the balancer still proxies')
  t.ok(['t1', 't2'].includes(after.text))
})

t.test('arbitrary body framing, bodies past the replay buffer too: an answer, the close, in-flight back to 0; a broken body never reaches a worker whole', async (t) => {
  const seen = new Map<string, Seen>()
  const b1 = await startBackend(t, 't1', (req, res) => {
    const s: Seen = { route: 't1', url: req.url ?? '', headers: req.headers, body: '', complete: false }
    seen.set(s.url, s)
    req.setEncoding('latin1')
    req.on('data', (c: string) => { s.body += c })
    req.on('end', () => { s.complete = true; res.writeHead(200, { 'content-type': 'text/plain', 'x-route': 't1' }); res.end('t1') })
    req.on('error', () => {})
  })
  const { lb } = await startBalancer(t, {
    workers: [{ route: 't1', url: b1.url }],
    healthCheck: false,
    client: { headersTimeout: 500, requestTimeout: 1000, connectionsCheckingInterval: 50, keepAliveTimeout: 200 }
  })
  const port = lb.address!.port
  let n = 0
  const tally: Record<string, number> = {}
  await fc.assert(fc.asyncProperty(framing(2000, true), fc.constantFrom('POST', 'PUT', 'PATCH'), async (f, method) => {
    const path = `/fzb${++n}`
    const text = `${method} ${path} HTTP/1.1\r\nHost: a\r\n${f.headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: close\r\n\r\n${f.body}`
    const answer = await rawExchange(port, text)
    const { code } = answers(answer, text)
    const key = `${f.expect} ${code}`
    tally[key] = (tally[key] ?? 0) + 1
    const got = seen.get(path)
    const fromWorker = /\r\nx-route: t1\r\n/i.test(answer.slice(0, answer.indexOf('\r\n\r\n')))
    if (f.expect === 'valid') {
      if (!fromWorker || code !== 200) throw new Error(`a well-framed body (${f.what}) was answered ${code} by the balancer: ${JSON.stringify(answer.slice(0, 200))}`)
      if (got?.body !== f.decoded) throw new Error(`the worker got ${got?.body.length ?? 'no'} body bytes, the framing (${f.what}) says ${f.decoded.length}`)
      return
    }
    if (f.expect === 'broken' && fromWorker) throw new Error(`a broken body (${f.what}) was answered by the worker`)
    if (!fromWorker) {
      if (code < 400 || !/\r\nx-nodecat-error: LB_ERR_[A-Z_]+\r\n/i.test(answer)) throw new Error(`the balancer answered ${code} without its error code`)
      if (got?.complete === true) throw new Error(`a body the balancer refused (${f.what}) reached the worker whole`)
    }
  }), fuzzParams(40))
  await until(() => lb.status().balancer.inFlight === 0, 'the in-flight count back to 0')
  await until(() => lb.workers()[0]!.inFlight === 0, 'the worker\'s in-flight count back to 0')
  t.equal(lb.workers()[0]!.state, 'OK', `the worker is not blamed for broken bodies; by expectation and status: ${JSON.stringify(tally)}`)
})

t.test('Expect: 100-continue: no 100 Continue for a request the balancer refuses; 100 then the worker\'s answer otherwise', async (t) => {
  const b = await startBackend(t, 't1')
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false, client: { maxUrlLength: 2048 } })
  const port = lb.address!.port
  const refused = await rawExchange(port, `POST /${'u'.repeat(3000)} HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`)
  t.match(refused, /^HTTP\/1\.1 414 /, 'the refusal is the first thing the client hears')
  const notMounted = await rawExchange(port, 'POST http://a/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n')
  t.match(notMounted, /^HTTP\/1\.1 400 /, 'an absolute-form target is refused without a 100 too')
  const s = net.connect(port, '127.0.0.1')
  t.teardown(() => { s.destroy() })
  let got = ''
  s.setEncoding('latin1')
  s.on('data', (c: string) => { got += c })
  s.write('POST /ok HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n')
  const end = Date.now() + 10_000
  while (!got.includes('100 Continue') && Date.now() < end) await sleep(10)
  t.match(got, /^HTTP\/1\.1 100 Continue\r\n\r\n$/, 'a request that will be proxied is told to continue')
  s.write('hello')
  await new Promise((resolve) => s.once('close', resolve))
  t.match(got, /\r\n\r\nHTTP\/1\.1 200 [\s\S]*\r\nx-route: t1\r\n/i, 'and gets the worker\'s answer')
  t.equal(b.seen, 1, 'only that one reached the worker')
})

t.test('garbage pipelined behind a proxied request: the worker\'s answer comes out whole, then the 400', async (t) => {
  const b = await startBackend(t, 't1', (req, res) => {
    // a slow worker: the garbage is parsed while this answer is pending
    req.resume()
    setTimeout(() => { res.writeHead(200, { 'content-type': 'text/plain', 'x-route': 't1', 'content-length': 7 }); res.end('slow-t1') }, 300)
  })
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false })
  const s = net.connect(lb.address!.port, '127.0.0.1')
  t.teardown(() => { s.destroy() })
  let got = ''
  s.setEncoding('latin1')
  s.on('data', (c: string) => { got += c })
  s.on('error', () => {})
  const closed = new Promise((resolve) => s.once('close', resolve))
  s.write('GET /first HTTP/1.1\r\nHost: a\r\n\r\nGARBAGE \x01\r\n\r\n')
  await closed
  t.match(got, /^HTTP\/1\.1 200 [\s\S]*\r\n\r\nslow-t1HTTP\/1\.1 400 [\s\S]*x-nodecat-error: LB_ERR_BAD_REQUEST/, 'the 200 whole, then the 400')
  t.equal(b.seen, 1, 'the worker saw only the valid request')
})
