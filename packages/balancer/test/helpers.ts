/** Shared pieces for balancer tests: in-process backends, a balancer started for one test, HTTP calls. */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { createBalancer, type Balancer, type BalancerOptions } from '../src/index.js'
import { waitUntil } from '@nodecat/testkit'

export interface Backend {
  route: string
  url: string
  port: number
  server: http.Server
  /** requests seen by path (health checks excluded) */
  seen: number
  /** last request headers (health checks excluded) */
  lastHeaders: http.IncomingHttpHeaders | null
  /** false: /_nodecat/ready answers 503, as a node still receiving its sessions does (default true) */
  ready: boolean
  close (): Promise<void>
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, backend: Backend) => void

/** A plain node:http worker that answers its route (or runs `handler`); /_nodecat/status is 200, /_nodecat/ready 200 while `ready`. */
export async function startBackend (t: { teardown: (fn: () => Promise<void> | void) => void }, route: string, handler?: Handler): Promise<Backend> {
  const backend: Backend = { route, url: '', port: 0, server: undefined as unknown as http.Server, seen: 0, lastHeaders: null, ready: true, close: async () => {} }
  const server = http.createServer((req, res) => {
    if (req.url === '/_nodecat/ready' && !backend.ready) { res.statusCode = 503; res.end('{"ready":false}'); return }
    if (req.url === '/_nodecat/status' || req.url === '/_nodecat/ready') { res.end('{"ok":true}'); return }
    backend.seen++
    backend.lastHeaders = req.headers
    if (handler !== undefined) { handler(req, res, backend); return }
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-route': route })
      res.end(route)
    })
  })
  server.keepAliveTimeout = 10_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  backend.server = server
  backend.port = (server.address() as AddressInfo).port
  backend.url = `http://127.0.0.1:${backend.port}`
  backend.close = async () => {
    await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() })
  }
  t.teardown(() => backend.close())
  return backend
}

/** A started balancer on 127.0.0.1:<free port>, stopped at teardown. */
export async function startBalancer (t: { teardown: (fn: () => Promise<void> | void) => void }, options: BalancerOptions): Promise<{ lb: Balancer, base: string, admin: string | null }> {
  const lb = createBalancer({ port: 0, host: '127.0.0.1', ...options })
  const { address, admin } = await lb.start()
  t.teardown(() => lb.stop(500))
  return { lb, base: `http://127.0.0.1:${address.port}`, admin: admin === null ? null : `http://${admin.address}:${admin.port}` }
}

export interface Reply { status: number, headers: Record<string, string | string[] | undefined>, text: string }

/** One request through undici (its own global dispatcher, not the balancer's pools). */
export async function call (url: string, options: { method?: string, headers?: Record<string, string>, body?: string | Buffer } = {}): Promise<Reply> {
  const res = await request(url, { method: (options.method ?? 'GET') as 'GET', headers: options.headers, body: options.body, headersTimeout: 60_000, bodyTimeout: 60_000 })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, text }
}

/** Poll until cond() is true, or fail after timeoutMs (generous: the machine is shared); testkit's waitUntil with the condition first. */
export async function until (cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  await waitUntil(what, cond, { timeoutMs, everyMs: 25 })
}

/** Send `count` requests from `concurrency` clients; returns the replies in completion order. */
export async function load (count: number, concurrency: number, one: (i: number) => Promise<Reply>): Promise<Reply[]> {
  const out: Reply[] = []
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++
      out.push(await one(i))
    }
  }))
  return out
}

export function tally (replies: Reply[]): Record<string, number> {
  const t: Record<string, number> = {}
  for (const r of replies) t[r.text] = (t[r.text] ?? 0) + 1
  return t
}

/** Raw HTTP over a socket (for headers undici refuses to send): resolves with the whole answer text. */
export async function raw (port: number, text: string | Buffer, { host = '127.0.0.1', timeoutMs = 20_000 } = {}): Promise<string> {
  const net = await import('node:net')
  return await new Promise((resolve, reject) => {
    const socket = net.connect(port, host)
    let got = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no complete answer within ${timeoutMs} ms: ${JSON.stringify(got.slice(0, 200))}`)) }, timeoutMs)
    const complete = (): boolean => {
      const text = got.replace(/^HTTP\/1\.1 100 [^\r]*\r\n\r\n/, '')
      const end = text.indexOf('\r\n\r\n')
      if (end < 0) return false
      const head = text.slice(0, end)
      if (/\r\ntransfer-encoding: *chunked/i.test(head)) return text.endsWith('\r\n0\r\n\r\n')
      const m = /\r\ncontent-length: *(\d+)/i.exec(head)
      return m !== null && Buffer.byteLength(text.slice(end + 4), 'latin1') >= Number(m[1])
    }
    socket.setEncoding('latin1')
    socket.on('data', (c: string) => {
      got += c
      if (complete()) { clearTimeout(timer); socket.destroy(); resolve(got) }
    })
    socket.on('error', () => {})
    socket.on('close', () => { clearTimeout(timer); resolve(got) })
    socket.write(text)
  })
}

export interface RawSession { text: string, closed: boolean }

/**
 * Raw HTTP over a socket, read until the balancer closes the connection (or `timeoutMs`, then
 * `closed` is false): for checking how many answers came and that the connection was closed.
 */
export async function rawUntilClose (port: number, text: string | Buffer, { timeoutMs = 20_000 } = {}): Promise<RawSession> {
  const net = await import('node:net')
  return await new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let got = ''
    const timer = setTimeout(() => { socket.destroy(); resolve({ text: got, closed: false }) }, timeoutMs)
    socket.setEncoding('latin1')
    socket.on('data', (c: string) => { got += c })
    socket.on('error', () => {})
    socket.on('close', () => { clearTimeout(timer); resolve({ text: got, closed: true }) })
    socket.write(text)
  })
}

/** How many final (non-1xx) response heads a raw answer holds. */
export function finalAnswers (text: string): number {
  return (text.match(/(?:^|\r\n|\n)HTTP\/1\.[01] [2-5]\d\d /g) ?? []).length
}
