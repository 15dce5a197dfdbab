// Large bodies stream through both ways, checked by hash; the balancer passes bytes on before
// the other side has finished (so it cannot be buffering whole bodies).
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import { freePort } from '../../../test/lib/ports.js'
import { startBackend, startBalancer, until } from './helpers.js'

const MiB = 1024 * 1024
const TOTAL = 20 * MiB
const block = randomBytes(MiB)

t.test('a 20 MiB download streams through before the worker has sent it all', async (t) => {
  let clientGot = 0
  const b = await startBackend(t, 't1', (req, res) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(TOTAL) })
    res.write(block)
    // the rest only once the client has bytes: proves the balancer streams
    void until(() => clientGot >= MiB / 2, 'client saw the first bytes', 60_000).then(async () => {
      for (let i = 1; i < 20; i++) {
        if (!res.write(block)) await new Promise((resolve) => res.once('drain', resolve))
      }
      res.end()
    }, (err) => res.destroy(err))
  })
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false })
  const expected = createHash('sha256')
  for (let i = 0; i < 20; i++) expected.update(block)
  const got = createHash('sha256')
  await new Promise<void>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: lb.address!.port, path: '/big', agent: false }, (res) => {
      t.equal(res.statusCode, 200)
      t.equal(res.headers['content-length'], String(TOTAL))
      res.on('data', (c: Buffer) => { clientGot += c.length; got.update(c) })
      res.on('end', resolve)
      res.on('error', reject)
    }).on('error', reject)
  })
  t.equal(clientGot, TOTAL)
  t.equal(got.digest('hex'), expected.digest('hex'), 'same bytes')
})

t.test('a 20 MiB upload streams through before the client has sent it all', async (t) => {
  let workerGot = 0
  let digest = ''
  const b = await startBackend(t, 't1', (req, res) => {
    const h = createHash('sha256')
    req.on('data', (c: Buffer) => { workerGot += c.length; h.update(c) })
    req.on('end', () => {
      digest = h.digest('hex')
      res.end(JSON.stringify({ bytes: workerGot, digest }))
    })
  })
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false, replayBufferSize: 64 * 1024 })
  const expected = createHash('sha256')
  for (let i = 0; i < 20; i++) expected.update(block)
  for (const chunked of [false, true]) {
    workerGot = 0
    const reply = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: lb.address!.port, path: '/upload', method: 'PUT', agent: false, headers: chunked ? {} : { 'content-length': String(TOTAL) } }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { text += c })
        res.on('end', () => resolve(text))
      })
      req.on('error', reject)
      req.write(block)
      void until(() => workerGot >= MiB / 2, 'worker saw the first bytes', 60_000).then(async () => {
        for (let i = 1; i < 20; i++) {
          if (!req.write(block)) await new Promise((resolve) => req.once('drain', resolve))
        }
        req.end()
      }, reject)
    })
    t.same(JSON.parse(reply), { bytes: TOTAL, digest: expected.copy().digest('hex') }, `${chunked ? 'chunked' : 'content-length'} upload arrived whole`)
  }
})

t.test('a body within the replay buffer is buffered and replayed after a connect failure', async (t) => {
  const b = await startBackend(t, 't2', (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => res.end(`t2:${Buffer.concat(chunks).length}`))
  })
  const dead = await freePort()
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: `http://127.0.0.1:${dead}` }, { route: 't2', url: b.url }], healthCheck: false })
  const body = randomBytes(50 * 1024)
  const reply = await new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: lb.address!.port, path: '/p', method: 'POST', agent: false, headers: { cookie: 'JSESSIONID=x.t1' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve(text))
    })
    req.on('error', reject)
    req.end(body) // chunked: no content-length
  })
  t.equal(reply, `t2:${body.length}`, 'the whole chunked POST body reached the second worker')
})
