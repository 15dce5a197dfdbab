import t from 'tap'
import { call, raw, startBackend, startBalancer } from './helpers.js'

const HOP = ['keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-connection', 'x-foo', 'x-secret']

t.test('hop-by-hop headers are stripped both ways; X-Forwarded-* and Forwarded added; Host kept', async (t) => {
  const b = await startBackend(t, 't1', (req, res) => {
    req.resume()
    res.writeHead(200, {
      connection: 'x-secret',
      'x-secret': 'hidden',
      'keep-alive': 'timeout=77',
      'proxy-authenticate': 'Basic',
      'proxy-connection': 'keep-alive',
      'x-keep': 'yes',
      'set-cookie': ['a=1', 'b=2'],
      'content-length': '2'
    })
    res.end('ok')
  })
  const { base, lb } = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false })
  const port = lb.address!.port
  const answer = await raw(port, 'GET /x HTTP/1.1\r\nHost: shop.example:8080\r\nConnection: keep-alive, x-foo\r\nKeep-Alive: timeout=9\r\nTE: trailers\r\nUpgrade: h2c\r\nProxy-Authorization: Basic Zm9v\r\nProxy-Connection: keep-alive\r\nx-foo: bar\r\nx-end-to-end: kept\r\nX-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\n\r\n')
  t.match(answer, /^HTTP\/1\.1 200 /)
  const h = b.lastHeaders!
  for (const name of HOP) t.equal(h[name], undefined, `request: ${name} stripped`)
  t.notMatch(String(h.connection ?? ''), /x-foo/i, 'Connection tokens are not forwarded')
  t.equal(h['x-end-to-end'], 'kept')
  t.equal(h.host, 'shop.example:8080', "the client's Host is kept")
  t.equal(h['x-forwarded-for'], '127.0.0.1', 'a client-sent X-Forwarded-For is replaced, not trusted')
  t.equal(h['x-forwarded-proto'], 'http')
  t.equal(h['x-forwarded-host'], 'shop.example:8080')
  t.equal(h.forwarded, 'for=127.0.0.1;proto=http;host="shop.example:8080"')

  const head = answer.slice(0, answer.indexOf('\r\n\r\n')).toLowerCase()
  t.match(head, /\r\nx-keep: yes/)
  t.match(head, /\r\nset-cookie: a=1\r\nset-cookie: b=2/, 'several Set-Cookie headers survive')
  for (const name of ['x-secret', 'keep-alive: timeout=77', 'proxy-authenticate', 'proxy-connection']) t.notMatch(head, new RegExp(`\\r\\n${name}`), `response: ${name} stripped`)

  const trusted = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false, trustForwarded: true })
  await call(`${trusted.base}/x`, { headers: { 'x-forwarded-for': '10.1.1.1', forwarded: 'for=10.1.1.1' } })
  t.equal(b.lastHeaders!['x-forwarded-for'], '10.1.1.1, 127.0.0.1', 'trustForwarded appends')
  t.equal(b.lastHeaders!.forwarded, 'for=10.1.1.1, for=127.0.0.1;proto=http;host="' + new URL(trusted.base).host + '"')
  t.ok(base)
})

t.test('hop-by-hop request headers never wedge the worker pool (undici regression)', async (t) => {
  const b = await startBackend(t, 't1')
  const { lb, base } = await startBalancer(t, { workers: [{ route: 't1', url: b.url, connectionLimit: 2 }], healthCheck: false })
  const port = lb.address!.port
  const nasty = 'GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, x-foo\r\n' +
    'Keep-Alive: timeout=1\r\n'.repeat(20) + 'TE: trailers\r\n'.repeat(10) + 'Upgrade: h2c\r\n'.repeat(10) + 'Expect: 100-continue\r\nx-foo: 1\r\n\r\n'
  for (let i = 0; i < 8; i++) t.match(await raw(port, nasty), /HTTP\/1\.1 200 /, `nasty request ${i} answered`)
  const r = await call(`${base}/x`)
  t.equal(r.status, 200, 'a normal request still succeeds after more nasty requests than pool connections')
  t.equal(r.text, 't1')
  t.equal(b.seen, 9)
})
