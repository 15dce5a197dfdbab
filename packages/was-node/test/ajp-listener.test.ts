/**
 * The node's AJP/1.3 listener against a front end that speaks AJP as mod_jk does (helpers/ajp-client):
 * the same pipeline as HTTP (sessions and their cookie, `;jsessionid=`, Secure from is_ssl, the
 * remote address), request bodies pulled with GET_BODY_CHUNK (with and without a length),
 * responses split at the packet size, keep-alive by END_RESPONSE reuse, CPing, the secret,
 * malformed and oversized packets, and the drain.
 */
import t, { type Test } from 'tap'
import path from 'node:path'
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { freePorts } from '../../../test/lib/ports.js'
import { resolveNodeOptions } from '../src/service/options.js'
import { gatherOptions } from '../src/service/sources.js'
import { planWorkers } from '../src/service/worker-plan.js'
import { captureLogger, testNode, until } from './helpers/service-nodes.js'
import { startNode } from '../src/service/node.js'
import { encodeCPing, encodeForwardRequest, encodeRequestBodyChunk } from '@nodecat/protocol'
import { AjpTestClient, forwardRequest, header, replied } from './helpers/ajp-client.js'

const app = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/ajp/app.js')

async function ajpNode (t: Test, ajp: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const [http, receiver] = await freePorts(2)
  const n = await testNode(t, 'n1', { http: http!, receiver: receiver! }, [], { app, ajp: { port: 0, ...ajp }, sessionTracking: 'cookie,url', ...extra })
  const port = n.node.ajp!.address()!.port
  const metrics = async (): Promise<string> => await (await fetch(`${n.node.url}/_nodecat/metrics`)).text()
  return { ...n, port, metrics }
}

function metric (text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{route="n1"${labels}}`))
  return line === undefined ? NaN : Number(line.split(' ').at(-1))
}

const cookieOf = (setCookie: string[]): string => setCookie[0]!.split(';')[0]!

t.test('a session over AJP: cookie, keep-alive, ;jsessionid=, remote address and is_ssl from the front end', async (t) => {
  const { port, node } = await ajpNode(t)
  const c = await AjpTestClient.connect(port)
  t.teardown(() => c.close())
  const first = replied(await c.request(forwardRequest({ uri: '/count', remoteAddr: '10.9.8.7', attributes: [['AJP_REMOTE_PORT', '40000'], ['JK_LB_ACTIVATION', 'ACT'], ['route', 'n1']] })))
  t.equal(first.status, 200)
  t.equal(first.message, 'OK')
  t.equal(first.reuse, true, 'END_RESPONSE reuse=1: the connection is kept')
  const body = JSON.parse(first.body.toString())
  t.equal(body.count, 1)
  t.equal(body.route, 'n1')
  t.equal(body.remote, '10.9.8.7', 'the remote address is what the front end said')
  t.equal(body.encrypted, false)
  t.same(body.ajp, { attributes: { AJP_REMOTE_PORT: '40000', JK_LB_ACTIVATION: 'ACT', route: 'n1' }, activation: 'ACT' })
  const setCookie = header(first, 'set-cookie')
  t.match(setCookie[0], /^JSESSIONID=[^;]+\.n1;/)
  t.notMatch(setCookie[0], /Secure/i, 'not Secure over plain HTTP')
  t.same(header(first, 'connection'), [], 'no hop-by-hop headers go over AJP')
  t.same(header(first, 'content-length'), [String(first.body.length)])

  const second = replied(await c.request(forwardRequest({ uri: '/count', headers: [['host', 'www.example'], ['cookie', cookieOf(setCookie)]] })))
  t.equal(JSON.parse(second.body.toString()).count, 2, 'same session, same connection')

  const id = body.sessionId as string
  const third = replied(await c.request(forwardRequest({ uri: `/count;jsessionid=${id}`, attributes: [['query_string', 'a=1']] })))
  const viaUrl = JSON.parse(third.body.toString())
  t.equal(viaUrl.count, 3, 'the ;jsessionid= path parameter names the session')
  t.equal(viaUrl.url, '/count?a=1', 'the app sees the URL without the parameter, with the query string')

  const https = replied(await c.request(forwardRequest({ uri: '/count', isSsl: true, serverPort: 443 })))
  t.equal(JSON.parse(https.body.toString()).encrypted, true, 'is_ssl makes the request HTTPS')
  t.match(header(https, 'set-cookie')[0], /; Secure/i, 'and the session cookie Secure')
  t.equal(node.ajp!.stats.requests, 4)
})

t.test('request bodies: 1 MiB with a Content-Length and one of unknown length arrive whole; the pull is GET_BODY_CHUNK', async (t) => {
  const { port } = await ajpNode(t)
  const c = await AjpTestClient.connect(port)
  t.teardown(() => c.close())
  const data = randomBytes(1024 * 1024)
  const sha = createHash('sha256').update(data).digest('hex')
  const sized = replied(await c.request(forwardRequest({ method: 'POST', uri: '/hash' }), data))
  t.same(JSON.parse(sized.body.toString()), { bytes: data.length, sha256: sha })
  t.equal(sized.asked, Math.ceil(data.length / 8186) - 1, 'one GET_BODY_CHUNK per packet after the first, none past the end')
  const chunked = replied(await c.request(forwardRequest({ method: 'POST', uri: '/hash' }), data.subarray(0, 100_000), { chunked: true }))
  t.same(JSON.parse(chunked.body.toString()), { bytes: 100_000, sha256: createHash('sha256').update(data.subarray(0, 100_000)).digest('hex') })
  t.equal(chunked.asked, Math.ceil(100_000 / 8186) + 1, 'unknown length: asked first, ended by the empty packet')
  const empty = replied(await c.request(forwardRequest({ method: 'POST', uri: '/hash' }), Buffer.alloc(0)))
  t.equal(JSON.parse(empty.body.toString()).bytes, 0)
  t.equal(empty.asked, 0, 'Content-Length: 0 sends no body packet')
  t.equal(empty.reuse, true)
  const after = replied(await c.request(forwardRequest({ uri: '/count' })))
  t.equal(after.status, 200, 'the connection is still in step after the bodies')
})

t.test('a body the app does not read is swallowed: the next request on the connection is served', async (t) => {
  const { port } = await ajpNode(t)
  const c = await AjpTestClient.connect(port)
  t.teardown(() => c.close())
  const unread = replied(await c.request(forwardRequest({ method: 'POST', uri: '/count' }), randomBytes(20_000)))
  t.equal(unread.status, 404, 'POST /count is not a route: the app never reads the body')
  t.equal(unread.reuse, true)
  const next = replied(await c.request(forwardRequest({ uri: '/count' })))
  t.equal(next.status, 200)
})

t.test('a peer that sends ahead (requests and their bodies in one write) is served in order, not stuck', async (t) => {
  const { port } = await ajpNode(t)
  const c = await AjpTestClient.connect(port)
  t.teardown(() => c.close())
  const post = (body: string): Buffer => Buffer.concat([
    encodeForwardRequest(forwardRequest({ method: 'POST', uri: '/hash', headers: [['host', 'www.example'], ['content-length', String(body.length)]] })),
    encodeRequestBodyChunk(Buffer.from(body))
  ])
  c.socket.write(Buffer.concat([encodeForwardRequest(forwardRequest({ method: 'HEAD', uri: '/count' })), post('first'), post('second!'), encodeCPing()]))
  const seen: string[] = []
  for (let i = 0; i < 3; i++) {
    for (;;) {
      const m = await c.next()
      if (m === null) { t.fail('closed'); return }
      if (m.type === 'body-chunk' && m.data.length > 0) seen.push(JSON.parse(m.data.toString()).bytes)
      if (m.type === 'end-response') break
    }
  }
  t.same(seen, [5, 7], 'both bodies reached their own request')
  t.same(await c.next(), { type: 'cpong' }, 'then the CPing is answered')
})

t.test('responses stream in SEND_BODY_CHUNKs of at most packetSize − 8, at 8192 and at 65536', async (t) => {
  for (const packetSize of [8192, 65536]) {
    const { port } = await ajpNode(t, { packetSize })
    const c = await AjpTestClient.connect(port, packetSize)
    t.teardown(() => c.close())
    const total = 300_001
    const r = replied(await c.request(forwardRequest({ uri: `/stream?bytes=${total}` })))
    t.equal(r.body.length, total, `${packetSize}: every byte`)
    let ok = true
    for (let i = 0; i < total; i++) if (r.body[i] !== i % 251) { ok = false; break }
    t.ok(ok, `${packetSize}: in order`)
    t.equal(r.largestChunk, Math.min(packetSize - 8, 10000), `${packetSize}: a 10000-byte write goes in chunks of at most packetSize − 8 bytes`)
    t.same(header(r, 'content-length'), [], 'no length: the front end frames it for its client')
    t.same(header(r, 'transfer-encoding'), [])
    const head = replied(await c.request(forwardRequest({ method: 'HEAD', uri: '/count' })))
    t.equal(head.body.length, 0, 'HEAD has no body')
  }
})

t.test('CPing gets CPong and is counted', async (t) => {
  const { port, metrics } = await ajpNode(t)
  const c = await AjpTestClient.connect(port)
  t.teardown(() => c.close())
  t.equal(await c.cping(), 'cpong')
  t.equal(await c.cping(), 'cpong')
  t.equal(replied(await c.request(forwardRequest({ uri: '/count' }))).status, 200)
  t.equal(await c.cping(), 'cpong', 'between requests too')
  const text = await metrics()
  t.equal(metric(text, 'nodecat_ajp_cpings_total', ',answer="cpong"'), 3)
  t.equal(metric(text, 'nodecat_ajp_requests_total'), 1)
  t.equal(metric(text, 'nodecat_ajp_connections'), 1)
})

t.test('the secret: missing or wrong gets 403 and a closed connection, counted, never the app', async (t) => {
  const { port, metrics, lines } = await ajpNode(t, { secret: 's3cret' })
  const served = async (): Promise<number> => {
    const c = await AjpTestClient.connect(port)
    try { return JSON.parse(replied(await c.request(forwardRequest({ uri: '/served', attributes: [['secret', 's3cret']] }))).body.toString()).served } finally { c.close() }
  }
  const before = await served()
  for (const attributes of [[], [['secret', 'wrong']], [['secret', 's3cre']], [['secret', 's3cret\u0000']]] as Array<Array<[string, string]>>) {
    const c = await AjpTestClient.connect(port)
    const r = replied(await c.request(forwardRequest({ uri: '/count', attributes })))
    t.equal(r.status, 403, JSON.stringify(attributes))
    t.equal(JSON.parse(r.body.toString()).code, 'WAS_ERR_AJP_SECRET')
    t.equal(r.reuse, false)
    await until(() => c.closed, 'the connection closes')
  }
  const c = await AjpTestClient.connect(port)
  t.teardown(() => c.close())
  t.equal(replied(await c.request(forwardRequest({ uri: '/count', attributes: [['secret', 's3cret']] }))).status, 200, 'the right secret is served')
  t.equal(await served(), before + 1, 'the app saw only the request with the right secret')
  t.equal(metric(await metrics(), 'nodecat_ajp_refused_total', ',reason="secret"'), 4)
  t.ok(lines.some((l) => l.code === 'WAS_ERR_AJP_SECRET'), 'a coded log line')
})

t.test('malformed, oversized and out-of-place packets close their connection, counted by code; others go on', async (t) => {
  const { port, metrics, lines } = await ajpNode(t)
  const cases: Array<[string, Buffer]> = [
    ['AJP_ERR_BAD_MAGIC', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['AJP_ERR_PACKET_TOO_LARGE', Buffer.from([0x12, 0x34, 0x20, 0x00])],
    ['AJP_ERR_MALFORMED', Buffer.from([0x12, 0x34, 0x00, 0x03, 0x02, 0x02, 0x00])],
    ['AJP_ERR_UNKNOWN_TYPE', Buffer.from([0x12, 0x34, 0x00, 0x01, 0x07])]
  ]
  for (const [code, bytes] of cases) {
    const c = await AjpTestClient.connect(port)
    c.socket.write(bytes)
    await until(() => c.closed, `${code}: the connection closes`)
    t.pass(code)
  }
  const good = await AjpTestClient.connect(port)
  t.teardown(() => good.close())
  t.equal(replied(await good.request(forwardRequest({ uri: '/count' }))).status, 200, 'the node still serves')
  const text = await metrics()
  for (const [code] of cases) t.equal(metric(text, 'nodecat_ajp_errors_total', `,code="${code}"`), 1, code)
  t.ok(lines.some((l) => l.code === 'WAS_ERR_AJP_PROTOCOL' && l.ajpCode === 'AJP_ERR_BAD_MAGIC'), 'a coded log line')
})

t.test('the drain: idle connections close, a request in flight finishes with reuse=0, CPing is refused by closing', async (t) => {
  const { port, node } = await ajpNode(t)
  const idle = await AjpTestClient.connect(port)
  const busy = await AjpTestClient.connect(port)
  t.teardown(() => { idle.close(); busy.close() })
  t.equal(await idle.cping(), 'cpong')
  const slow = busy.request(forwardRequest({ uri: '/slow?ms=600' }))
  await until(() => node.ajp!.stats.requests === 1, 'the slow request is in')
  const stopped = node.stop('test')
  await until(() => idle.closed, 'the idle connection is closed by the drain')
  const r = replied(await slow)
  t.equal(r.status, 200, 'the request in flight is answered')
  t.equal(r.reuse, false, 'and its connection is not reused')
  await until(() => busy.closed, 'then closed')
  await stopped
})

t.test('starting (not ready): a CPing and a Forward Request are answered by closing, before any header; counted', async (t) => {
  // a listed peer that accepts but never answers (a frozen process) holds the node in its membership wait for dropTime
  const frozen = net.createServer(() => {})
  await new Promise<void>((resolve) => frozen.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { frozen.close() })
  const [http, receiver, ajpPort] = await freePorts(3)
  const { logger } = captureLogger()
  const starting = startNode({
    jvmRoute: 'n1',
    http: { address: '127.0.0.1', port: http! },
    receiver: { address: '127.0.0.1', port: receiver!, autoBind: 1 },
    membership: { type: 'static', members: [`127.0.0.1:${(frozen.address() as net.AddressInfo).port}`], frequency: 200, dropTime: 6000 },
    app,
    ajp: { port: ajpPort! },
    stateTransferTimeout: 20,
    shutdownTimeout: 5000
  }, { logger })
  t.teardown(async () => { await (await starting).stop('test teardown') })
  const c = (await until(async () => await AjpTestClient.connect(ajpPort!).catch(() => null), 'the AJP listener is up'))!
  t.teardown(() => c.close())
  t.equal(await c.cping(), 'closed', 'a CPing is answered by closing the connection')
  const c2 = await AjpTestClient.connect(ajpPort!)
  t.teardown(() => c2.close())
  const outcome = await c2.request(forwardRequest({ method: 'POST', uri: '/hash' }), Buffer.from('not yet'))
  t.same(outcome, { closed: true, headers: false }, 'a request is closed before any header: mod_jk retries it on another member')
  const node = await starting
  t.equal(node.ajp!.stats.cpingsRefused, 1)
  t.equal(node.ajp!.stats.notProcessed, 1)
  const c3 = await AjpTestClient.connect(ajpPort!)
  t.teardown(() => c3.close())
  t.equal(await c3.cping(), 'cpong', 'once ready, CPong')
  t.equal(replied(await c3.request(forwardRequest({ uri: '/served' }))).status, 200)
})

t.test('stopping: a request racing the stop is either served or closed before any header, never half-answered', async (t) => {
  const { port, node } = await ajpNode(t)
  const c = await AjpTestClient.connect(port)
  t.teardown(() => c.close())
  t.equal(replied(await c.request(forwardRequest({ uri: '/count' }))).status, 200)
  const before = node.ajp!.stats.notProcessed
  // stop() closes idle connections at once; a request racing it must not be answered with a header
  const racing = AjpTestClient.connect(port)
  const c2 = await racing
  t.teardown(() => c2.close())
  const pending = c2.request(forwardRequest({ method: 'POST', uri: '/hash' }), Buffer.from('x'))
  const stopped = node.stop('test')
  const outcome = await pending
  if (outcome.closed) t.equal(outcome.headers, false, 'closed before any header')
  else t.equal(outcome.reply.status, 200, 'or served before the drain began')
  await stopped
  t.ok(node.ajp!.stats.notProcessed >= before)
})

t.test('options: off by default, secret required off loopback, packet size bounds, the flags', async (t) => {
  t.equal(resolveNodeOptions({}).ajp.port, null, 'off by default')
  t.same(resolveNodeOptions({ ajp: { port: 8009 } }).ajp, { address: '127.0.0.1', port: 8009, secret: null, secretRequired: true, packetSize: 8192 }, 'loopback needs no secret')
  t.throws(() => resolveNodeOptions({ ajp: { address: '0.0.0.0', port: 8009 } }), /ajp\.secret/, 'off loopback without a secret: refused, as Tomcat')
  t.equal(resolveNodeOptions({ ajp: { address: '0.0.0.0', port: 8009, secretRequired: 'false' as unknown as boolean } }).ajp.secretRequired, false)
  t.equal(resolveNodeOptions({ ajp: { address: '0.0.0.0', port: 8009, secret: 'x' } }).ajp.secret, 'x')
  t.throws(() => resolveNodeOptions({ ajp: { port: 8009, packetSize: 4096 } }), /ajp\.packetSize/)
  t.throws(() => resolveNodeOptions({ ajp: { port: 8009, packetSize: 70000 } }), /ajp\.packetSize/)
  const { options } = gatherOptions(['--ajp', '0.0.0.0:18009', '--ajp-secret-required', 'false', '--ajp-packet-size', '16384'], {})
  t.same(resolveNodeOptions(options as never).ajp, { address: '0.0.0.0', port: 18009, secret: null, secretRequired: false, packetSize: 16384 })
  const plan = planWorkers(resolveNodeOptions({ workers: 3, ajp: { port: 18009 }, receiver: { address: '127.0.0.1', port: 4000 } }))
  t.same(plan.map((w) => w.overrides.ajp), [{ port: 18009 }, { port: 18010 }, { port: 18011 }], '--workers: worker i takes AJP on port + i')
  t.same(planWorkers(resolveNodeOptions({ workers: 2, receiver: { address: '127.0.0.1', port: 4000 } })).map((w) => w.overrides.ajp), [undefined, undefined], 'and none without --ajp')
  t.throws(() => planWorkers(resolveNodeOptions({ workers: 3, ajp: { port: 65534 } })), /ajp\.port/)
  const env = gatherOptions([], { NODECAT_AJP: '28009', NODECAT_AJP_SECRET: 'sec' })
  t.same(resolveNodeOptions(env.options as never).ajp, { address: '127.0.0.1', port: 28009, secret: 'sec', secretRequired: true, packetSize: 8192 })
})
