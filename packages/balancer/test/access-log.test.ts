// The balancer's access log names no session id, in whatever spelling the client wrote it
// (issue 12 §6: %3Bjsessionid= and ;JSESSIONID= were logged as they came).
import t from 'tap'
import { Writable } from 'node:stream'
import pino from 'pino'
import { raw, startBackend, startBalancer, until } from './helpers.js'

const SECRET = 'SECRETSESSIONID0123456789'

t.test('no session id in the access log, in any spelling of the path parameter', async (t) => {
  const lines: string[] = []
  const sink = new Writable({ write (chunk, _e, cb) { for (const l of String(chunk).split('\n')) if (l !== '') lines.push(l); cb() } })
  const b = await startBackend(t, 't1')
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b.url }], healthCheck: false, accessLog: true, logger: pino({ level: 'info' }, sink) })
  const spellings = [';jsessionid=', ';JSESSIONID=', ';JSessionID=', '%3Bjsessionid=', '%3bJSESSIONID=', ';jsessionid%3D', '%3B%4Asessionid=']
  for (const p of spellings) {
    const answer = await raw(lb.address!.port, `GET /shop${p}${SECRET}.t1/cart?x=${SECRET} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`)
    t.match(answer, /^HTTP\/1\.1 200 /, `${p}: proxied`)
  }
  await until(() => lines.filter((l) => l.includes('"component":"access"')).length === spellings.length, 'an access line per request')
  const access = lines.filter((l) => l.includes('"component":"access"'))
  for (const l of access) {
    t.notOk(l.includes(SECRET), `no session id in ${l}`)
    t.match(JSON.parse(l), { path: '/shop/cart', status: 200 })
  }
})
