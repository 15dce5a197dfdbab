/**
 * Fuzzing the balancer's route extraction (mod_jk: the `;jsessionid=` path parameter first, then
 * every JSESSIONID cookie in order; the route is what follows the first '.') against a small
 * independent model, and through a real balancer: worker t1 is active, t2 is `disabled` (mod_jk:
 * it takes sticky requests only), so a request reaches t2 exactly when the first route that names
 * a worker names t2, character for character. Near-misses (case, spaces, extra characters,
 * quotes, encodings, other cookie names) never select it.
 *
 * NODECAT_FUZZ_RUNS=<n> runs every property n times; NODECAT_FUZZ_SEED / NODECAT_FUZZ_PATH replay.
 */
import t from 'tap'
import fc from 'fast-check'
import net from 'node:net'
import { sessionRoutes } from '@nodecat/protocol'
import { startBackend, startBalancer } from './helpers.js'
import { fuzzParams } from '../../../test/lib/fuzz.js'

const SEP = new Set([';', ',', ' ', '\t'])

/** the model: scan for `name` at the start or after a separator, optional blanks, '=', value to ';' or ',' */
function modelRoutes (url: string, cookie: string | undefined, name: string, param: string): string[] {
  const out: string[] = []
  const route = (id: string): void => {
    const dot = id.indexOf('.')
    if (dot >= 0 && dot < id.length - 1) out.push(id.slice(dot + 1))
  }
  const path = url.split('?')[0]!
  const at = path.indexOf(`;${param}=`)
  if (at >= 0) {
    const value = path.slice(at + param.length + 2).split(/[;/]/)[0]!
    if (value !== '') route(value)
  }
  if (cookie === undefined) return out
  let i = 0
  while (i < cookie.length) {
    const atStart = i === 0 || SEP.has(cookie[i - 1]!)
    if (atStart && cookie.startsWith(name, i)) {
      let j = i + name.length
      while (cookie[j] === ' ' || cookie[j] === '\t') j++
      if (cookie[j] === '=') {
        let end = j + 1
        while (end < cookie.length && cookie[end] !== ';' && cookie[end] !== ',') end++
        let value = cookie.slice(j + 1, end).trim()
        if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
        if (value !== '') route(value)
        i = end
        continue
      }
    }
    i++
  }
  return out
}

const routeText = fc.constantFrom('t1', 't2', 'T2', 't2 ', ' t2', 't2x', 'xt2', 't', '', 't2.t1', 'dom.t2', 't%32', 't2"', '\tt2')
const idValue = fc.oneof(
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9_-]{0,8}$/), routeText).map(([b, r]) => `${b}.${r}`),
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/), routeText).map(([b, r]) => `"${b}.${r}"`),
  fc.stringMatching(/^[\x21-\x7e]{0,12}$/).map((s) => s.replace(/[;,]/g, ''))
)
const cookieName = fc.constantFrom('JSESSIONID', 'JSESSIONID', 'jsessionid', 'JSESSIONIDX', 'XJSESSIONID', 'JSESSIONID ', 'sid', 'a JSESSIONID', '')
const pairs = fc.array(fc.tuple(cookieName, idValue), { maxLength: 6 })
const separator = fc.constantFrom('; ', ';', ', ', ' ; ')
const pathArb = fc.tuple(fc.constantFrom('/', '/a', '/a/b'), fc.option(fc.tuple(fc.constantFrom(';jsessionid=', ';JSESSIONID=', ';jsessionid', ';sid='), idValue)), fc.constantFrom('', '?x=1', '?;jsessionid=q.t2', '/more'))
  .map(([p, param, tail]) => `${p}${param === null ? '' : param[0] + param[1].replace(/[\s?#/;]/g, '')}${tail}`)

t.test('sessionRoutes agrees with the model on generated paths and cookie headers', async (t) => {
  fc.assert(fc.property(pathArb, pairs, separator, (url, ps, sep) => {
    const cookie = ps.length === 0 ? undefined : ps.map(([k, v]) => `${k}=${v}`).join(sep)
    const got = [...sessionRoutes(url, cookie, 'JSESSIONID', 'jsessionid')]
    const want = modelRoutes(url, cookie, 'JSESSIONID', 'jsessionid')
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${JSON.stringify({ url, cookie })}: got ${JSON.stringify(got)}, model ${JSON.stringify(want)}`)
  }), fuzzParams(3000))
  t.pass('no disagreement')
})

t.test('through a real balancer: the sticky-only worker is reached exactly when a route names it', async (t) => {
  const b1 = await startBackend(t, 't1')
  const b2 = await startBackend(t, 't2')
  const { lb } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url }, { route: 't2', url: b2.url, activation: 'disabled' }], healthCheck: false })
  const port = lb.address!.port

  const ask = async (url: string, cookies: string[]): Promise<string> => await new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1')
    let got = ''
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no answer')) }, 15_000)
    s.setEncoding('latin1')
    s.on('data', (c: string) => { got += c })
    s.on('error', () => {})
    s.on('close', () => { clearTimeout(timer); resolve(got) })
    s.write(`GET ${url} HTTP/1.1\r\nHost: a\r\n${cookies.map((c) => `Cookie: ${c}\r\n`).join('')}Connection: close\r\n\r\n`)
  })

  let toT2 = 0
  await fc.assert(fc.asyncProperty(pathArb, fc.array(pairs, { minLength: 0, maxLength: 2 }), separator, async (url, headers, sep) => {
    const cookies = headers.filter((ps) => ps.length > 0).map((ps) => ps.map(([k, v]) => `${k}=${v}`).join(sep))
    const answer = await ask(url, cookies)
    const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]
    if (status === undefined) throw new Error(`no HTTP answer: ${JSON.stringify(answer.slice(0, 100))}`)
    if (status === '400') return // a Cookie line node's parser refuses (e.g. a tab at the end); never proxied
    // node joins several Cookie headers with "; "
    const routes = modelRoutes(url, cookies.length === 0 ? undefined : cookies.join('; '), 'JSESSIONID', 'jsessionid')
    const named = routes.find((r) => r === 't1' || r === 't2')
    const want = named === 't2' ? 't2' : 't1'
    const got = /\r\nx-route: (t[12])\r\n/i.exec(answer)?.[1]
    if (got !== want) throw new Error(`${JSON.stringify({ url, cookies })} went to ${got ?? answer.slice(0, 60)}, routes ${JSON.stringify(routes)} name ${want}`)
    if (got === 't2') toT2++
  }), fuzzParams(150))
  t.equal(b2.seen, toT2, `the disabled worker saw only the ${toT2} requests whose first worker route was exactly t2`)
})
