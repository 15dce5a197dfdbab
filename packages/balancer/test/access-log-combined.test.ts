// Issue 16 item 5: the access log in Apache/nginx "combined" format, plus the worker route and the
// upstream seconds; a real request through the balancer, the line parsed with a combined regex.
import t from 'tap'
import { Writable } from 'node:stream'
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startNode } from '../../../test/lib/proc.js'
import { freePorts } from '../../../test/lib/ports.js'
import { raw, startBackend, startBalancer, until } from './helpers.js'
import { combinedLine, escapeField } from '../src/access-log.js'

const SECRET = 'SECRETSESSIONID0123456789'
/** the combined format, then our two fields: route, upstream seconds */
const COMBINED = /^(\S+) (\S+) (\S+) \[(\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" (\S+) (\d+\.\d{3}|-)$/

function sink (): { lines: string[], stream: Writable } {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _e, cb) { for (const l of String(chunk).split('\n')) if (l !== '') lines.push(l); cb() } })
  return { lines, stream }
}

t.test('combined lines: client, time, request line, status, bytes, referer, agent, route, upstream time; no session id', async (t) => {
  const b = await startBackend(t, 't1', (req, res) => {
    req.resume()
    req.on('end', () => setTimeout(() => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('x'.repeat(1234)) }, 30))
  })
  const out = sink()
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false, accessLog: true, accessLogFormat: 'combined', accessLogStream: out.stream, mounts: ['/shop'] })
  const port = lb.address!.port
  const answer = await raw(port, `GET /shop;jsessionid=${SECRET}.t1/cart?sid=${SECRET} HTTP/1.1\r\nHost: a\r\nCookie: JSESSIONID=${SECRET}.t1\r\nReferer: http://a/shop;JSESSIONID=${SECRET}/list?x=${SECRET}\r\nUser-Agent: Mozilla/5.0 "quoted" agent\r\nConnection: close\r\n\r\n`)
  t.match(answer, /^HTTP\/1\.1 200 /)
  const notFound = await raw(port, 'GET /elsewhere HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
  const notFoundLength = /\r\ncontent-length: (\d+)\r\n/i.exec(notFound)![1]!
  await until(() => out.lines.length === 2, 'two access lines')
  for (const l of out.lines) t.notOk(l.includes(SECRET), `no session id in ${l}`)
  const m = COMBINED.exec(out.lines[0]!)
  t.ok(m, `a combined line: ${out.lines[0]}`)
  const [, host, ident, user, time, request, status, bytes, referer, agent, route, upstream] = m!
  t.equal(host, '127.0.0.1', 'the TCP peer')
  t.equal(ident, '-')
  t.equal(user, '-')
  t.ok(Math.abs(Date.parse(time!.replace(/^(\d{2})\/(\w{3})\/(\d{4}):/, '$2 $1 $3 ').replace(' +0000', ' GMT')) - Date.now()) < 60_000, `a current time: ${time}`)
  t.equal(request, 'GET /shop/cart HTTP/1.1', 'the request line, the session path parameter and the query removed')
  t.equal(status, '200')
  t.equal(bytes, '1234', 'response body bytes')
  t.equal(referer, 'http://a/shop/list', 'the Referer, masked the same way')
  t.equal(agent, 'Mozilla/5.0 \\x22quoted\\x22 agent', 'the user agent, quotes escaped')
  t.equal(route, 't1', 'the worker route')
  t.ok(Number(upstream) >= 0.03 && Number(upstream) < 30, `upstream seconds: ${upstream}`)

  const refused = COMBINED.exec(out.lines[1]!)
  t.ok(refused, out.lines[1])
  t.match(refused!.slice(5, 13), ['GET /elsewhere HTTP/1.1', '404', notFoundLength, '-', '-', '-', '-'], 'a balancer answer: its status and body size, no route, no upstream time')
})

t.test('behind a trusted proxy the client is the address that proxy saw', async (t) => {
  const b = await startBackend(t, 't1')
  const out = sink()
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false, trustForwarded: true, accessLog: true, accessLogFormat: 'combined', accessLogStream: out.stream })
  await raw(lb.address!.port, 'GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.9.9.9, 203.0.113.7\r\nConnection: close\r\n\r\n')
  await until(() => out.lines.length === 1, 'a line')
  t.equal(COMBINED.exec(out.lines[0]!)![1], '203.0.113.7', 'the last X-Forwarded-For entry (what the trusted proxy appended)')
  const direct = sink()
  const plain = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false, accessLog: true, accessLogFormat: 'combined', accessLogStream: direct.stream })
  await raw(plain.lb.address!.port, 'GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.7\r\nConnection: close\r\n\r\n')
  await until(() => direct.lines.length === 1, 'a line')
  t.equal(COMBINED.exec(direct.lines[0]!)![1], '127.0.0.1', 'without trustForwarded a claimed X-Forwarded-For is not the client')
})

t.test('escaping: control bytes and backslashes cannot forge a line', async (t) => {
  t.equal(escapeField('a"b\\c\x01\x7f'), 'a\\x22b\\x5Cc\\x01\\x7F')
  const line = combinedLine({
    req: { url: '/p', method: 'GET', httpVersion: '1.1', headers: { 'user-agent': 'x"\n1.2.3.4 - - [x] "GET / HTTP/1.1" 200 1 "-" "-"' }, socket: { remoteAddress: '::ffff:127.0.0.1' } } as never,
    res: { headersSent: false } as never,
    route: null,
    attempts: 0,
    startedAt: 0,
    upstreamMs: null,
    bytes: 0,
    trustForwarded: false,
    sessionPathParam: 'jsessionid'
  })
  t.equal(line.split('\n').length, 1, 'one line')
  t.match(line, COMBINED)
  t.match(line, /^127\.0\.0\.1 .* 499 - /, 'no answer sent: 499, as nginx logs a client that went away')
})

t.test('the flags: --access-log-format implies --access-log; a file only for combined lines; a bad format is named', async (t) => {
  const { parseCli } = await import('../src/cli-args.js')
  const { resolveBalancerOptions } = await import('../src/options.js')
  const c = parseCli(['--access-log-format', 'combined', '--access-log-file', '/tmp/a.log'], {})!
  t.match(c, { balancer: { accessLog: true, accessLogFormat: 'combined' }, accessLogFile: '/tmp/a.log' })
  t.throws(() => resolveBalancerOptions(parseCli(['--access-log-format', 'apache'], {})!.balancer), { code: 'LB_ERR_INVALID_OPTION', message: /accessLogFormat/ })
  t.throws(() => parseCli(['--access-log', '--access-log-file', '/tmp/x.log'], {}), { code: 'LB_ERR_USAGE', message: /--access-log-file needs --access-log-format combined/ })
})

t.test('the command writes combined lines to --access-log-file and reopens it on SIGHUP', async (t) => {
  const b = await startBackend(t, 't1')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nodecat-lb-access-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'access.log')
  const [port] = await freePorts(1)
  const p = startNode(t, 'balancer', 'cli.js', ['--listen', `127.0.0.1:${port}`, '--worker', `t1=${b.url}`, '--health-interval', '0', '--access-log-format', 'combined', '--access-log-file', file])
  await p.waitFor((l) => l.msg === 'balancer started', 60_000, 'balancer started')
  await raw(port!, 'GET /one HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
  await until(() => readFileSync(file, 'utf8').includes('/one'), 'the line in the file')
  t.match(readFileSync(file, 'utf8').trim(), COMBINED)
  renameSync(file, file + '.1')
  p.signal('SIGHUP')
  await p.waitFor((l) => l.msg === 'access log reopened', 30_000, 'reopened')
  await raw(port!, 'GET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
  await until(() => { try { return readFileSync(file, 'utf8').includes('/two') } catch { return false } }, 'the next line in the new file')
  t.notOk(readFileSync(file + '.1', 'utf8').includes('/two'), 'not in the rotated one')
  p.signal('SIGTERM')
  t.same(await p.exited, { code: 0, signal: null })
})
