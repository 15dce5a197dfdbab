/**
 * Fuzzing session cookies and `;jsessionid=` values through the real HTTP path of both embeddings
 * (fastify plugin, express middleware) in front of a real SessionManager, over raw TCP on
 * 127.0.0.1 so any byte can be sent: arbitrary strings, several cookies, quoted and percent-encoded
 * values, near-misses of a live id (one character changed, case flipped, cut short, extended,
 * wrapped), very long values.
 *
 * For every request: a well-formed HTTP answer (the server never crashes); the live session is
 * used only when some value names it exactly (its base, with a valid route); a new session never
 * takes an id the client sent (no fixation); and the live session's data changes only by the
 * requests that named it. And any number of malformed session cookies ahead of the live one never
 * hide it (they do not count against the candidate limit).
 *
 * NODECAT_FUZZ_RUNS=<n> runs every property n times; NODECAT_FUZZ_SEED / NODECAT_FUZZ_PATH replay.
 */
import t from 'tap'
import fc from 'fast-check'
import net from 'node:net'
import { buildExpress, buildFastify, type BuildApp } from './helpers/http-apps.js'
import { cluster } from './helpers/session-cluster.js'
import type { MemoryStore } from './helpers/memory-store.js'
import { fuzzParams } from '../../../test/lib/fuzz.js'

interface Answer { status: number, head: string, body: string }

/** one raw request (Connection: close); resolves with the parsed answer */
async function rawRequest (port: number, text: string): Promise<Answer> {
  const got = await new Promise<string>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1')
    let data = ''
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`no answer within 15 s to ${JSON.stringify(text.slice(0, 120))}`)) }, 15_000)
    s.setEncoding('latin1')
    s.on('data', (c: string) => { data += c })
    s.on('error', () => {})
    s.on('close', () => { clearTimeout(timer); resolve(data) })
    s.write(text, 'latin1')
  })
  const m = /^HTTP\/1\.[01] (\d{3}) [^\r\n]*\r\n/.exec(got)
  if (m === null) throw new Error(`not an HTTP answer: ${JSON.stringify(got.slice(0, 200))} to ${JSON.stringify(text.slice(0, 200))}`)
  const end = got.indexOf('\r\n\r\n')
  let body = got.slice(end + 4)
  if (/\r\ntransfer-encoding: *chunked/i.test(got.slice(0, end))) {
    // de-chunk
    let out = ''
    let rest = body
    for (;;) {
      const nl = rest.indexOf('\r\n')
      const n = parseInt(rest.slice(0, nl), 16)
      if (!(n > 0)) break
      out += rest.slice(nl + 2, nl + 2 + n)
      rest = rest.slice(nl + 2 + n + 2)
    }
    body = out
  }
  return { status: Number(m[1]), head: got.slice(0, end), body }
}

const noCrLf = (s: string): string => s.replace(/[\r\n]/g, '')

function flipCase (s: string, at: number): string {
  for (let k = 0; k < s.length; k++) {
    const i = (at + k) % s.length
    const c = s[i]!
    const f = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()
    if (f !== c) return s.slice(0, i) + f + s.slice(i + 1)
  }
  return s + 'x'
}

function changeChar (s: string, at: number, to: string): string {
  const i = at % s.length
  const c = s[i] === to ? (to === 'A' ? 'B' : 'A') : to
  return s.slice(0, i) + c + s.slice(i + 1)
}

for (const [name, build] of [['fastify', buildFastify], ['express', buildExpress]] as Array<[string, BuildApp]>) {
  t.test(`${name}: hostile session ids never crash, never fixate, never select a session they do not name`, async (t) => {
    const { nodes: [n1] } = await cluster(t, ['n1'])
    // why both: the path parameter is fuzzed too (with the default, cookies only, it never names a session)
    const server = await build(n1!.manager as unknown as MemoryStore, { sessionTracking: 'cookie,url' })
    t.teardown(() => server.close())
    const port = Number(new URL(server.url).port)

    // the live session: count = 1
    const first = await rawRequest(port, 'GET /count HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
    const live = JSON.parse(first.body).id as string
    const base = live.slice(0, live.indexOf('.'))
    let count = 1

    /** values that name the live session exactly, and near-misses that must not */
    const naming = fc.constantFrom(live, `${base}.n2`, `${base}.other_route-9`, `"${live}"`)
    const nearMiss = fc.oneof(
      fc.nat().map((i) => changeChar(live, i % base.length, 'A')),
      fc.nat().map((i) => flipCase(base, i) + live.slice(base.length)),
      fc.integer({ min: 1, max: base.length - 1 }).map((n) => live.slice(0, n) + live.slice(base.length)),
      fc.constantFrom(base, `${base}.`, `${base}.n1.x`, `${base}.n 1`, `x${live}`, `${base}x.n1`, ` ${base} .n1`, `${base}%2En1`,
        encodeURIComponent(live).replace(/[A-Za-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`), `${base}\u0000.n1`, `${base}.n1\u00e9`, `"${live}`, `${live}"`, `'${live}'`),
      fc.string({ maxLength: 5 }).map((junk) => `${base}${noCrLf(junk)}.n1`).filter((v) => v !== live && !v.startsWith(`${base}.`))
    )
    const other = fc.oneof(
      fc.string({ unit: 'binary-ascii', maxLength: 60 }).map(noCrLf),
      fc.string({ maxLength: 60 }).map(noCrLf),
      fc.integer({ min: 200, max: 6000 }).map((n) => 'y'.repeat(n)),
      fc.constantFrom('', '""', '"', '.', '.n1', 'deleted', 'null', 'undefined', '__proto__.n1', 'constructor.n1')
    )
    const value = fc.oneof({ weight: 1, arbitrary: naming.map((v) => ({ v, names: true })) }, { weight: 4, arbitrary: nearMiss.map((v) => ({ v, names: false })) }, { weight: 3, arbitrary: other.map((v) => ({ v, names: false })) })
    const cookieName = fc.constantFrom('JSESSIONID', 'JSESSIONID', 'jsessionid', 'JSESSIONIDX', 'XJSESSIONID', ' JSESSIONID', 'JSESSIONID ', 'sid', '')
    const pair = fc.tuple(cookieName, value)
    const request = fc.record({
      cookies: fc.array(pair, { maxLength: 12 }),
      sep: fc.constantFrom('; ', ';', ', ', ' ; '),
      splitHeaders: fc.boolean(),
      pathParam: fc.option(fc.tuple(fc.constantFrom(';jsessionid=', ';JSESSIONID=', ';jsessionid', ';jsessionid=;'), value)),
      junk: fc.option(fc.string({ unit: 'binary-ascii', maxLength: 300 }).map(noCrLf))
    })

    let selected = 0
    await fc.assert(fc.asyncProperty(request, async (r) => {
      const pieces = r.cookies.map(([k, { v }]) => `${k}=${v}`)
      if (r.junk !== null) pieces.push(r.junk)
      const cookieLines = pieces.length === 0 ? [] : r.splitHeaders ? pieces.map((p) => `Cookie: ${p}\r\n`) : [`Cookie: ${pieces.join(r.sep)}\r\n`]
      // the path parameter can only carry what a request target can: no spaces, controls or '#'
      const pp = r.pathParam === null ? '' : r.pathParam[0] + r.pathParam[1].v.replace(/[^\x21-\x7e]|#|\?/g, (c) => encodeURIComponent(c))
      const text = `GET /count${pp} HTTP/1.1\r\nHost: a\r\n${cookieLines.join('')}Connection: close\r\n\r\n`
      const sent = [...r.cookies.map(([, x]) => x.v), ...(r.pathParam !== null ? [r.pathParam[1].v] : [])]
      const mayName = r.cookies.some(([k, x]) => x.names && k.trim() === 'JSESSIONID') ||
        (r.pathParam !== null && r.pathParam[0] === ';jsessionid=' && r.pathParam[1].names && !r.pathParam[1].v.startsWith('"'))

      const a = await rawRequest(port, text)
      if (a.status >= 500) throw new Error(`server error ${a.status}`)
      if (a.status !== 200) return // the HTTP parser refused the request (400/431): nothing reached the session layer
      const { id, count: got } = JSON.parse(a.body) as { id: string, count: number }
      const gotBase = id.slice(0, id.indexOf('.'))
      if (gotBase === base) {
        if (!mayName) throw new Error(`the live session was selected by a request that does not name it: ${JSON.stringify(text)}`)
        count++
        selected++
        if (got !== count) throw new Error(`count ${got}, expected ${count}`)
      } else {
        if (got !== 1) throw new Error('a new session did not start empty')
        // no fixation: a new session's id is never one the client sent, nor built on one
        if (sent.some((v) => v.includes(gotBase))) throw new Error(`new session id taken from the request: ${id}`)
      }
      if (n1!.manager.inspect(live)?.attributes.count !== count) throw new Error('the live session changed without being named')
    }), fuzzParams(200))
    t.equal(n1!.manager.inspect(live)?.attributes.count, count, `the live session holds exactly the counts of the ${selected} requests that named it`)

    // junk session cookies ahead of the live one: any number of malformed values never hide it
    const wellFormed = (v: string): boolean => {
      let u = v.trim()
      if (u.length >= 2 && u.startsWith('"') && u.endsWith('"')) u = u.slice(1, -1)
      return /^[A-Za-z0-9_-]{22,64}\.[A-Za-z0-9_-]{1,64}$/.test(u)
    }
    const junk = fc.oneof(nearMiss, other)
      .map((v) => v.replace(/[^\x20-\x7e]|[;,]/g, '').slice(0, 300))
      .filter((v) => !wellFormed(v))
    let hidden = 0
    await fc.assert(fc.asyncProperty(fc.array(junk, { minLength: 8, maxLength: 24 }), fc.boolean(), async (values, splitHeaders) => {
      const pieces = [...values.map((v) => `JSESSIONID=${v}`), `JSESSIONID=${live}`]
      const cookieLines = splitHeaders ? pieces.map((p) => `Cookie: ${p}\r\n`) : [`Cookie: ${pieces.join('; ')}\r\n`]
      const a = await rawRequest(port, `GET /count HTTP/1.1\r\nHost: a\r\n${cookieLines.join('')}Connection: close\r\n\r\n`)
      if (a.status !== 200) throw new Error(`status ${a.status} for ${values.length} junk cookies`)
      const { id, count: got } = JSON.parse(a.body) as { id: string, count: number }
      if (id.slice(0, id.indexOf('.')) !== base) { hidden++; throw new Error(`${values.length} junk cookies hid the live session: ${JSON.stringify(values)}`) }
      count++
      if (got !== count) throw new Error(`count ${got}, expected ${count}`)
    }), fuzzParams(100))
    t.equal(hidden, 0, 'no run of junk cookies hid the live session')
    t.equal(n1!.manager.inspect(live)?.attributes.count, count, 'and each of those requests counted on it')
    // each naming form, alone, does select it (so the property above was not vacuous)
    for (const v of [live, `${base}.n2`, `"${live}"`]) {
      const again = await rawRequest(port, `GET /count HTTP/1.1\r\nHost: a\r\nCookie: x=1; JSESSIONID=${v}\r\nConnection: close\r\n\r\n`)
      t.equal(JSON.parse(again.body).count, ++count, `cookie ${v === live ? 'the id' : v.startsWith('"') ? 'quoted' : 'another route'} selects the live session`)
    }
    const viaPath = await rawRequest(port, `GET /count;jsessionid=${live} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`)
    t.equal(JSON.parse(viaPath.body).count, ++count, ';jsessionid= selects the live session')
  })
}
