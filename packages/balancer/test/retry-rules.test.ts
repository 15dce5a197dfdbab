// When a request is retried, and when it never is (nginx semantics: a failed connect is always retried,
// nothing was sent; nothing is retried once a response byte went to the client; a non-idempotent
// request is retried only when nothing of it reached the worker).
import t from 'tap'
import http from 'node:http'
import { randomBytes } from 'node:crypto'
import { call, startBackend, startBalancer } from './helpers.js'

/** t1 reads a little of each request and then drops the connection without answering */
async function dropper (t: Parameters<typeof startBackend>[0]) {
  return startBackend(t, 't1', (req) => {
    req.once('data', () => req.socket.destroy())
    req.once('end', () => req.socket.destroy())
    req.resume()
  })
}

async function send (port: number, method: string, body: Buffer | null, cookie = 'JSESSIONID=a.t1'): Promise<{ status: number, text: string, code: string | undefined }> {
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/r', method, agent: false, headers: { cookie, ...(body !== null ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode!, text, code: res.headers['x-nodecat-error'] as string | undefined }))
    })
    req.on('error', reject)
    req.end(body ?? undefined)
  })
}

t.test('after the worker got the request: idempotent with a replayable body is retried, others get 502', async (t) => {
  const b1 = await dropper(t)
  const b2 = await startBackend(t, 't2')
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url }, { route: 't2', url: b2.url }], healthCheck: false, replayBufferSize: 64 * 1024, failuresToError: 100 })
  const port = lb.address!.port
  t.match(await send(port, 'GET', null), { status: 200, text: 't2' }, 'GET is retried elsewhere')
  t.match(await send(port, 'PUT', randomBytes(10 * 1024)), { status: 200, text: 't2' }, 'PUT with a buffered body is replayed elsewhere')
  const seen2 = b2.seen
  t.match(await send(port, 'POST', randomBytes(10 * 1024)), { status: 502, code: 'LB_ERR_WORKER_FAILED' }, 'POST that reached a worker is never retried')
  t.match(await send(port, 'PUT', randomBytes(200 * 1024)), { status: 502, code: 'LB_ERR_WORKER_FAILED' }, 'a PUT body over the replay cap cannot be replayed')
  t.equal(b2.seen, seen2, 'neither reached t2')
})

t.test('once response bytes went to the client nothing is retried: the client connection is cut', async (t) => {
  const b1 = await startBackend(t, 't1', (req, res) => {
    req.resume()
    res.writeHead(200, { 'content-length': '100000' })
    res.write('partial')
    setTimeout(() => res.socket?.destroy(), 50)
  })
  const b2 = await startBackend(t, 't2')
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url }, { route: 't2', url: b2.url }], healthCheck: false })
  const outcome = await new Promise<string>((resolve) => {
    http.get({ host: '127.0.0.1', port: lb.address!.port, path: '/r', agent: false, headers: { cookie: 'JSESSIONID=a.t1' } }, (res) => {
      let got = ''
      res.on('data', (c) => { got += c })
      res.on('end', () => resolve(`complete:${got}`))
      res.on('error', () => resolve(`cut:${got}`))
      res.on('aborted', () => resolve(`cut:${got}`))
    }).on('error', (e) => resolve(`error:${e.message}`))
  })
  t.match(outcome, /^cut:partial/, 'the client sees a cut response, never a spliced one')
  t.equal(b2.seen, 0, 'no retry on t2')
})

t.test('an idle response body past bodyTimeout cuts the client and marks the worker ERROR', async (t) => {
  const b1 = await startBackend(t, 't1', (req, res) => {
    req.resume()
    res.writeHead(200, { 'content-length': '100' })
    res.write('x') // then nothing
  })
  const b2 = await startBackend(t, 't2')
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url }, { route: 't2', url: b2.url }], healthCheck: false, bodyTimeout: 500, recoverTime: 60_000 })
  const outcome = await new Promise<string>((resolve) => {
    http.get({ host: '127.0.0.1', port: lb.address!.port, path: '/r', agent: false, headers: { cookie: 'JSESSIONID=a.t1' } }, (res) => {
      res.resume()
      res.on('end', () => resolve('complete'))
      res.on('error', () => resolve('cut'))
    }).on('error', () => resolve('cut'))
  })
  t.equal(outcome, 'cut')
  const w1 = lb.workers().find((w) => w.route === 't1')!
  t.equal(w1.state, 'ERROR')
  t.equal(w1.lastError?.code, 'UND_ERR_BODY_TIMEOUT')
  t.equal((await call(`http://127.0.0.1:${lb.address!.port}/r`, { headers: { cookie: 'JSESSIONID=a.t1' } })).text, 't2')
})

t.test('a draining nodecat node (503 + x-nodecat-draining) did not process the request: even a POST goes elsewhere', async (t) => {
  let posts1 = 0
  const b1 = await startBackend(t, 't1', (req, res) => {
    if (req.method === 'POST') posts1++
    req.resume()
    res.writeHead(503, { 'x-nodecat-draining': '1', connection: 'close', 'content-type': 'application/json' })
    res.end('{"code":"WAS_ERR_DRAINING"}')
  })
  const b2 = await startBackend(t, 't2')
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url }, { route: 't2', url: b2.url }], healthCheck: false })
  const port = lb.address!.port
  t.match(await send(port, 'POST', randomBytes(4 * 1024)), { status: 200, text: 't2' }, 'the POST is served by t2')
  t.equal(posts1, 1, 't1 saw it once and refused it')
  t.equal(lb.workers().find((w) => w.route === 't1')!.state, 'ERROR', 'the draining worker gets no more traffic')
  t.match(await send(port, 'POST', randomBytes(100)), { status: 200, text: 't2' }, 'sticky users of t1 go to t2 meanwhile')
  t.equal(posts1, 1)

  // a plain 503 (no marker) is the worker's own answer: passed to the client, never retried
  const b3 = await startBackend(t, 't3', (req, res) => { req.resume(); res.writeHead(503); res.end('busy') })
  const b4 = await startBackend(t, 't4')
  const other = await startBalancer(t, { workers: [{ route: 't3', url: b3.url }, { route: 't4', url: b4.url }], healthCheck: false })
  t.match(await send(other.lb.address!.port, 'POST', randomBytes(100), 'JSESSIONID=a.t3'), { status: 503, text: 'busy' })
})
