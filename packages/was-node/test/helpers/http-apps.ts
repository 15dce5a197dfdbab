/**
 * The same small app in both embeddings, so the fastify plugin and the express middleware run the
 * same scenarios (http-scenarios.ts). Servers listen on 127.0.0.1 port 0.
 */
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import express from 'express'
import { nodecatSessionPlugin, rewriteSessionUrl } from '../../src/http/fastify-plugin.js'
import { sessionMiddleware } from '../../src/http/express-middleware.js'
import type { SessionMiddlewareOptions } from '../../src/http/options.js'
import type { SessionApi } from '../../src/session/types.js'
import type { MemoryStore } from './memory-store.js'

export interface TestServer { url: string, close (): Promise<void> }

/** /slow waits for this gate (tests open it); it marks entry so a test knows the app is inside */
export const slowGate = {
  entered: null as null | (() => void),
  release: null as null | (() => void),
  wait (): Promise<void> {
    this.entered?.()
    return new Promise<void>((resolve) => { this.release = resolve })
  }
}
export type AppOptions = Omit<SessionMiddlewareOptions, 'store'> & { tls?: { key: string, cert: string } }
export type BuildApp = (store: MemoryStore, options?: AppOptions) => Promise<TestServer>

// the routes, framework-free: (session, query) -> JSON body
const routes: Record<string, (s: SessionApi, q: URLSearchParams) => unknown> = {
  'GET /count': (s) => { const count = (s.get<number>('count') ?? 0) + 1; s.set('count', count); return { count, id: s.id } },
  'GET /peek': (s) => ({ id: s.id, count: s.get<number>('count') ?? null }),
  'POST /login': (s) => { s.set('user', 'ann'); s.regenerate(); return { id: s.id } },
  'POST /logout': (s) => { s.invalidate(); return { ok: true } },
  'GET /assets/app.js': (s) => ({ count: s.get<number>('count') ?? null }),
  'GET /cart/add': (s, q) => {
    const cart = s.get<string[]>('cart')
    if (cart === undefined) s.set('cart', [q.get('item')])
    else cart.push(q.get('item') ?? '') // in place: the manager must notice
    return { cart: s.get('cart') }
  }
}

function listen (server: http.Server | https.Server): Promise<TestServer> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      const scheme = server instanceof https.Server ? 'https' : 'http'
      resolve({
        url: `${scheme}://127.0.0.1:${port}`,
        close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() })
      })
    })
  })
}

export const buildFastify: BuildApp = async (store, options = {}) => {
  const { tls, ...rest } = options
  const app = Fastify({ rewriteUrl: (req) => rewriteSessionUrl(req), ...(tls ? { https: tls } : {}) })
  await app.register(nodecatSessionPlugin, { store, ...rest })
  for (const [key, handler] of Object.entries(routes)) {
    const [method, url] = key.split(' ') as [string, string]
    app.route({ method: method as 'GET', url, handler: async (request) => handler(request.session, new URL(request.url, 'http://x').searchParams) })
  }
  app.get('/slow', async (request) => { request.session.set('slow', true); await slowGate.wait(); return { ok: true } })
  app.get('/stream', (request, reply) => {
    reply.raw.writeHead(200, { 'content-type': 'text/plain' }) // headers out before the app is done
    request.session.set('streamed', true)
    reply.raw.end('streamed')
    reply.hijack()
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, close: async () => { await app.close() } }
}

export const buildExpress: BuildApp = async (store, options = {}) => {
  const { tls, ...rest } = options
  const app = express()
  app.use(sessionMiddleware({ store, ...rest }))
  for (const [key, handler] of Object.entries(routes)) {
    const [method, url] = key.split(' ') as [string, string]
    app[method === 'GET' ? 'get' : 'post'](url, (req, res) => { res.json(handler(req.session, new URL(req.url, 'http://x').searchParams)) })
  }
  app.get('/slow', (req, res) => { req.session.set('slow', true); void slowGate.wait().then(() => res.json({ ok: true })) })
  app.get('/stream', (req, res) => {
    res.write('stream') // headers go out here
    req.session.set('streamed', true)
    res.end('ed')
  })
  return await listen(tls ? https.createServer(tls, app) : http.createServer(app))
}
