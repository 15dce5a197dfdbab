import t, { type Test } from 'tap'
import express from 'express'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import net from 'node:net'
import type { FastifyInstance } from 'fastify'
import { startNode, type RunningNode } from '../src/service/node.js'
import { checkChannelOptions } from '../src/service/channel-options.js'
import { resolveNodeOptions } from '../src/service/options.js'
import type { LoadedApp } from '../src/service/app-loader.js'
import { classifyApp, loadApp } from '../src/service/app-loader.js'
import { freePorts } from '../../../test/lib/ports.js'
import { captureLogger, shopApp, until } from './helpers/service-nodes.js'
import { request, cookieValue } from './helpers/http-client.js'
import { sleep } from '@nodecat/testkit'

async function single (t: Test, app: LoadedApp, extra = {}) {
  const [http, rcv] = await freePorts(2)
  const { logger, lines } = captureLogger()
  const node: RunningNode = await startNode({
    jvmRoute: 'solo',
    http: { address: '127.0.0.1', port: http! },
    receiver: { address: '127.0.0.1', port: rcv!, autoBind: 1 },
    membership: { type: 'static', members: [] },
    shutdownTimeout: 3000,
    ...extra
  }, { logger, app })
  t.teardown(() => node.stop('teardown'))
  return { node, lines }
}

t.test('the app module is classified: fastify plugin, express app, connect handler, or a clear error', async (t) => {
  t.equal(classifyApp({ default: async (_f: unknown, _o: unknown) => {} }).kind, 'fastify')
  t.equal(classifyApp({ default: express() }).kind, 'connect')
  t.equal(classifyApp((_req: unknown, _res: unknown, _next: unknown) => {}).kind, 'connect')
  t.throws(() => classifyApp({ default: 42 }, 'x.js'), { code: 'WAS_ERR_APP_SHAPE', message: /x\.js/ })
  await t.rejects(loadApp('/nonexistent/app.js'), { code: 'WAS_ERR_APP_LOAD', message: /nonexistent/ })
  t.equal((await loadApp(shopApp)).kind, 'fastify', 'the example shop is a fastify plugin')
  const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-app-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(path.join(dir, 'connect.mjs'), 'export default function (req, res, next) { res.end("hi") }\n')
  t.equal((await loadApp(path.join(dir, 'connect.mjs'))).kind, 'connect')
})

t.test('an express app runs behind the session middleware; the status path stays with the node', async (t) => {
  const app = express()
  app.get('/count', (req, res) => {
    const n = (req.session.get<number>('n') ?? 0) + 1
    req.session.set('n', n)
    res.json({ n, id: req.session.id })
  })
  app.get('/boom', () => { throw new Error('app failure') })
  const { node } = await single(t, classifyApp(app), { sessionTracking: 'cookie,url' })
  const first = await request(node.url, '/count')
  const id = cookieValue(first.setCookies)!
  t.match(id, /\.solo$/)
  const second = await request(node.url, `/count;jsessionid=${id}`)
  t.same(second.json(), { n: 2, id }, 'path parameter read (--session-tracking cookie,url) and stripped before express routes')
  const status = await request(node.url, '/_nodecat/status')
  t.equal(status.json().jvmRoute, 'solo')
  t.equal(status.json().sessions.count, 1)
  t.notOk(status.body.includes(id.split('.')[0]!), 'no session id in the status')
  t.equal((await request(node.url, '/nothing')).status, 404)
  t.equal((await request(node.url, '/boom')).status, 500, 'express handles its own errors')
})

t.test('stop lets an in-flight request finish, then refuses new ones', async (t) => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let entered!: () => void
  const inside = new Promise<void>((resolve) => { entered = resolve })
  const plugin = async (f: FastifyInstance) => {
    f.get('/slow', async (request) => { request.session.set('slow', true); entered(); await gate; return { done: true } })
  }
  const { node, lines } = await single(t, { kind: 'fastify', plugin })
  const pending = request(node.url, '/slow')
  await inside
  const stopped = node.stop('test')
  setTimeout(release, 200)
  const r = await pending
  t.equal(r.status, 200, 'the in-flight request completed')
  t.same(r.json(), { done: true })
  t.ok(cookieValue(r.setCookies), 'with its session cookie')
  await stopped
  await t.rejects(request(node.url, '/slow'), 'no longer listening')
  t.ok(lines.some((l) => l.event === 'node-stopped'))
  t.notOk(lines.some((l) => l.event === 'shutdown-timeout'), 'finished within shutdownTimeout')
})

t.test('while a stopping node drains, new requests get a "not processed" 503 the balancer can retry', async (t) => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let entered!: () => void
  const inside = new Promise<void>((resolve) => { entered = resolve })
  let posts = 0
  const plugin = async (f: FastifyInstance) => {
    f.get('/slow', async () => { entered(); await gate; return { done: true } })
    f.post('/order', async () => { posts++; return { ok: true } })
  }
  const { node, lines } = await single(t, { kind: 'fastify', plugin })
  const pending = request(node.url, '/slow')
  await inside
  const stopped = node.stop('test')
  await until(() => lines.some((l) => l.event === 'node-draining'), 'draining')
  const refused = await request(node.url, '/order', { method: 'POST' })
  t.equal(refused.status, 503)
  t.equal(refused.headers['x-nodecat-draining'], '1', 'marked: not processed')
  t.equal(refused.headers.connection, 'close')
  t.equal(refused.json().code, 'WAS_ERR_DRAINING')
  t.equal(posts, 0, 'the app never saw it')
  const status = await request(node.url, '/_nodecat/status')
  t.equal(status.status, 503, 'health checks see it going')
  release()
  const r = await pending
  t.equal(r.status, 200, 'the request already running finished normally')
  t.equal(r.headers.connection, 'close', 'and closed its connection')
  await stopped
})

t.test('a request that never finishes cannot hold the stop past shutdownTimeout', async (t) => {
  const plugin = async (f: FastifyInstance) => {
    f.get('/forever', async () => await new Promise(() => {}))
  }
  const { node, lines } = await single(t, { kind: 'fastify', plugin }, { shutdownTimeout: 300 })
  const pending = request(node.url, '/forever').catch((err: Error) => err)
  await sleep(100)
  await node.stop('test')
  t.ok(lines.some((l) => l.event === 'shutdown-timeout'), 'logged the timeout')
  t.type(await pending, Error, 'the stuck connection was closed')
})

t.test('startNode fails cleanly on a bad app module (coded error, nothing left listening)', async (t) => {
  const [http, rcv] = await freePorts(2)
  await t.rejects(startNode({ jvmRoute: 'bad', http: { address: '127.0.0.1', port: http! }, receiver: { address: '127.0.0.1', port: rcv! }, membership: { type: 'static', members: [] }, app: '/nonexistent/app.js', log: { level: 'silent' } }),
    { code: 'WAS_ERR_APP_LOAD' })
  await t.rejects(request(`http://127.0.0.1:${http}`, '/'), 'HTTP port not bound')
  await t.rejects(startNode({ http: { port: 99999 } }), { code: 'WAS_ERR_INVALID_OPTION', message: /http\.port/ })
})

t.test('a node that refuses its channel options (insecure receiver address) fails before it listens on HTTP', async (t) => {
  // 192.0.2.10 (TEST-NET-1) is never contacted: the options are refused before any socket opens
  const refused = (port: number) => ({ jvmRoute: 'early', http: { address: '127.0.0.1', port }, receiver: { address: '192.0.2.10', port: 4000, autoBind: 1 }, membership: { type: 'static' as const, members: ['192.0.2.11:4000'] } })

  // the HTTP port is held by this test: a node that listened first would fail with EADDRINUSE instead
  const held = net.createServer()
  await new Promise<void>((resolve, reject) => { held.once('error', reject); held.listen(0, '127.0.0.1', resolve) })
  t.teardown(() => new Promise<void>((resolve) => held.close(() => resolve())))
  const heldPort = (held.address() as net.AddressInfo).port
  await t.rejects(startNode(refused(heldPort), { logger: captureLogger().logger }), { code: 'TRIBES_ERR_INSECURE', message: /192\.0\.2\.10/ },
    'the channel options are refused before the node tries to listen')

  // on a free port: nothing listened, not even briefly
  const [free] = await freePorts(1)
  const { logger, lines } = captureLogger()
  await t.rejects(startNode(refused(free!), { logger }), { code: 'TRIBES_ERR_INSECURE' })
  t.same(lines.filter((l) => typeof l.msg === 'string' && /listening/i.test(l.msg)).map((l) => l.msg), [], 'no "listening" line was logged')
  await t.rejects(request(`http://127.0.0.1:${free}`, '/_nodecat/status'), 'the HTTP port is not bound')
  // the same options with a key (or --insecure) are fine: only the insecure address was refused
  await t.resolves(Promise.resolve().then(() => checkChannelOptions(resolveNodeOptions({ ...refused(free!), insecure: true }), captureLogger().logger)))
})

t.test('the example shop: page, JSON state, login regenerates the id, cart in place, logout, escaping', async (t) => {
  const { node } = await single(t, await loadApp(shopApp))
  const page = await request(node.url, '/')
  t.equal(page.status, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, /Served by node <strong>solo<\/strong>/)
  t.same(page.setCookies, [], 'looking does not create a session')

  const post = (path: string, body: string, id?: string) => request(node.url, path, {
    method: 'POST', body, headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', ...(id ? { cookie: `JSESSIONID=${id}` } : {}) }
  })
  const counted = await post('/count', '')
  const before = cookieValue(counted.setCookies)!
  t.equal(counted.json().count, 1)
  const login = await post('/login', 'user=%3Cscript%3Eann', before)
  const after = cookieValue(login.setCookies)!
  t.not(after, before, 'login regenerated the id (anti-fixation)')
  t.equal(login.json().user, '<script>ann')
  t.equal(login.json().count, 1, 'contents kept across regenerate')
  await post('/cart', 'item=tea', after)
  const cart = await post('/cart', 'item=milk', after)
  t.same(cart.json().cart, ['tea', 'milk'])
  t.equal((await post('/cart', 'item=', after)).status, 400, 'empty item refused')
  const html = await request(node.url, '/', { headers: { cookie: `JSESSIONID=${after}` } })
  t.match(html.body, /&#60;script&#62;ann/, 'user input is escaped')
  t.notMatch(html.body, /<script>ann/)
  t.match(html.body, new RegExp(after.replace('.', '\\.')), 'the page shows the session id')
  const browser = await request(node.url, '/count', { method: 'POST', body: '', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `JSESSIONID=${after}` } })
  t.equal(browser.status, 303, 'browsers are redirected back to the page')
  const out = await post('/logout', '', after)
  t.equal(cookieValue(out.setCookies), '', 'logout clears the cookie')
  t.equal(out.json().sessionId, null)
  const state = await request(node.url, '/api/state', { headers: { cookie: `JSESSIONID=${after}` } })
  t.same(state.json(), { jvmRoute: 'solo', sessionId: null, user: null, count: 0, cart: [] })
})

t.test('two nodes with the same jvmRoute: the mistake is logged as an error', async (t) => {
  const [httpA, httpB, rcvA, rcvB] = await freePorts(4)
  const start = async (http: number, rcv: number, peer: number) => {
    const { logger, lines } = captureLogger()
    const node = await startNode({
      jvmRoute: 'same',
      http: { address: '127.0.0.1', port: http },
      receiver: { address: '127.0.0.1', port: rcv, autoBind: 1 },
      membership: { type: 'static', members: [`127.0.0.1:${peer}`], frequency: 200 },
      stateTransferTimeout: 5
    }, { logger })
    t.teardown(() => node.stop('teardown'))
    return lines
  }
  const a = await start(httpA!, rcvA!, rcvB!)
  await start(httpB!, rcvB!, rcvA!)
  for (let i = 0; i < 400 && !a.some((l) => l.event === 'duplicate-route'); i++) await sleep(50)
  const line = a.find((l) => l.event === 'duplicate-route')
  t.ok(line, 'an error line names the duplicate route')
  t.equal(line?.level, 50, 'at error level')
})
