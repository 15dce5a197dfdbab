// WebSocket upgrades go through the balancer and stay on the node the session names.
import t, { type Test } from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import WebSocket, { WebSocketServer } from 'ws'
import { freePort } from '../../../test/lib/ports.js'
import { raw, startBalancer, until } from './helpers.js'

async function wsBackend (t: Test, route: string): Promise<{ url: string, upgrades: number }> {
  const state = { url: '', upgrades: 0 }
  const server = http.createServer((_req, res) => { res.end(route) })
  const wss = new WebSocketServer({ noServer: true })
  server.on('upgrade', (req, socket, head) => {
    state.upgrades++
    if (req.url === '/refuse') { socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 2\r\n\r\nno'); return }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(`hello from ${route}`)
      ws.on('message', (m) => ws.send(`${route}:${m.toString()}`))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  t.teardown(() => new Promise<void>((resolve) => { wss.close(); server.close(() => resolve()); server.closeAllConnections() }))
  return state
}

async function talk (url: string, headers: Record<string, string>, messages: string[]): Promise<string[]> {
  const ws = new WebSocket(url, { headers })
  const got: string[] = []
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (m) => {
      got.push(m.toString())
      if (got.length === 1) for (const x of messages) ws.send(x)
      if (got.length === messages.length + 1) { ws.close(); resolve() }
    })
    ws.on('error', reject)
  })
  return got
}

t.test('a WebSocket is routed by the upgrade request\'s cookie and stays on its node', async (t) => {
  const b1 = await wsBackend(t, 't1')
  const b2 = await wsBackend(t, 't2')
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url }, { route: 't2', url: b2.url }], healthCheck: false })
  const port = lb.address!.port
  for (const route of ['t1', 't2', 't1', 't2']) {
    const got = await talk(`ws://127.0.0.1:${port}/chat`, { cookie: `JSESSIONID=abc.${route}` }, ['a', 'b', 'c'])
    t.same(got, [`hello from ${route}`, `${route}:a`, `${route}:b`, `${route}:c`], `every frame from ${route}`)
  }
  const viaPath = await talk(`ws://127.0.0.1:${port}/chat;jsessionid=x.t2`, {}, ['p'])
  t.same(viaPath, ['hello from t2', 't2:p'], 'the path parameter routes it too')
  t.equal(lb.status().balancer.websockets, 5)
  t.equal(lb.workers().find((w) => w.route === 't1')!.sessionsRouted, 2)
})

t.test('a WebSocket whose node is down fails over at connect; refusals pass through; non-WebSocket upgrades are refused', async (t) => {
  const b2 = await wsBackend(t, 't2')
  const dead = await freePort()
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: `http://127.0.0.1:${dead}` }, { route: 't2', url: b2.url }], healthCheck: false })
  const port = lb.address!.port
  t.same(await talk(`ws://127.0.0.1:${port}/chat`, { cookie: 'JSESSIONID=abc.t1' }, ['x']), ['hello from t2', 't2:x'])
  t.equal(lb.workers().find((w) => w.route === 't1')!.state, 'ERROR')
  const refused = await raw(port, 'GET /refuse HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
  t.match(refused, /^HTTP\/1\.1 403 /, "the node's refusal reaches the client")
  const before = b2.upgrades
  const h2c = await raw(port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n')
  t.match(h2c, /^HTTP\/1\.1 400 /, 'h2c upgrade refused by the balancer')
  t.equal(b2.upgrades, before, 'and never reached a worker')
})

t.test('stop() closes open WebSocket tunnels after the grace period', async (t) => {
  const b1 = await wsBackend(t, 't1')
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url }], healthCheck: false })
  const ws = new WebSocket(`ws://127.0.0.1:${lb.address!.port}/chat`)
  await new Promise<void>((resolve, reject) => { ws.once('message', () => resolve()); ws.once('error', reject) })
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  await lb.stop(200)
  t.type(await closed, 'number', 'the client saw its tunnel close')
  await until(() => lb.workers()[0]!.inFlight === 0, 'the tunnel to be released')
  t.pass('and the worker is no longer counted busy')
})

t.test('a WebSocket upgrade a worker took and dropped is tried like any GET: once more there, then elsewhere; the client hears the real failure', async (t) => {
  const dropped = { t1: 0 }
  const server = http.createServer((_req, res) => { res.end('t1') })
  server.on('upgrade', (_req, socket) => { dropped.t1++; socket.destroy() })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }))
  const url1 = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const b2 = await wsBackend(t, 't2')
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: url1 }, { route: 't2', url: b2.url }], healthCheck: false, failuresToError: 100 })
  t.same(await talk(`ws://127.0.0.1:${lb.address!.port}/chat`, { cookie: 'JSESSIONID=abc.t1' }, ['x']), ['hello from t2', 't2:x'], 'served by t2')
  t.equal(dropped.t1, 2, 't1 got the upgrade twice')

  const alone = await startBalancer(t, { workers: [{ route: 't1', url: url1 }], healthCheck: false, failuresToError: 100 })
  dropped.t1 = 0
  const answer = await raw(alone.lb.address!.port, 'GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
  t.match(answer, /^HTTP\/1\.1 502 /, 'the last failure: the worker failed it')
  t.match(answer, /x-nodecat-error: LB_ERR_WORKER_FAILED/i)
  t.equal(dropped.t1, 2)
})
