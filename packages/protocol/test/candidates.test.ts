import t from 'tap'
import fc from 'fast-check'
import { cookieSessionIds, pathSessionId, readSessionIds, stripSessionPathParam, SESSION_ID_LIMITS } from '../src/index.js'

/** a well-formed id (session-id.ts): a base of 22..64 of [A-Za-z0-9_-], '.', a route */
const id = (tag: string, route = 'n1'): string => `${tag}${'0'.repeat(Math.max(0, 22 - tag.length))}.${route}`
const P = id('P'); const C1 = id('C1'); const C2 = id('C2', 'n2'); const A = id('A'); const B = id('B', 'n2'); const X = id('X')

t.test('the ;jsessionid= path parameter comes first, then every cookie in header order', async (t) => {
  t.same(readSessionIds({ url: `/a;jsessionid=${P}`, cookie: `JSESSIONID=${C1}; JSESSIONID=${C2}` }), [P, C1, C2])
  t.same(readSessionIds({ url: '/a', cookie: `x=1; JSESSIONID=${C1}; y=2; JSESSIONID=${C2}` }), [C1, C2])
  t.same(readSessionIds({ url: '/a', cookie: [`JSESSIONID=${A}`, `JSESSIONID=${B}`] }), [A, B], 'several Cookie headers')
  t.same(readSessionIds({ url: undefined, cookie: undefined }), [])
})

t.test('path parameter: cut at ? ; /, case-sensitive, query ignored', async (t) => {
  t.equal(pathSessionId(`/a;jsessionid=${X}?q=1`), X)
  t.equal(pathSessionId(`/a;jsessionid=${X};other=2`), X)
  t.equal(pathSessionId(`/a;jsessionid=${X}/more`), X)
  t.equal(pathSessionId(`/a;JSESSIONID=${X}`), null, 'case-sensitive')
  t.equal(pathSessionId(`/a?;jsessionid=${X}`), null, 'not in the query')
  t.equal(pathSessionId('/a;jsessionid='), null, 'empty')
  t.equal(pathSessionId('/a;jsessionid=' + 'x'.repeat(300)), null, 'absurdly long')
  t.equal(pathSessionId('/a;jsessionid=X.n1'), null, 'not of a session id\'s shape')
  t.equal(pathSessionId(`/a;sid=${X}`, 'sid'), X, 'named after the cookie')
})

t.test('stripping the path parameter keeps the rest of the URL', async (t) => {
  t.equal(stripSessionPathParam('/cart;jsessionid=X.n1'), '/cart')
  t.equal(stripSessionPathParam('/cart;jsessionid=X.n1?a=1'), '/cart?a=1')
  t.equal(stripSessionPathParam('/cart;jsessionid=X.n1;v=2/x'), '/cart;v=2/x')
  t.equal(stripSessionPathParam(';jsessionid=X?a'), '/?a')
  t.equal(stripSessionPathParam('/a?b=;jsessionid=X'), '/a?b=;jsessionid=X', 'query untouched')
  t.equal(stripSessionPathParam('/plain'), '/plain')
})

t.test('cookies: quoted values unquoted, duplicates kept, malformed skipped', async (t) => {
  const Q = id('Q'); const D = id('D'); const ok = id('ok')
  t.same(cookieSessionIds(`JSESSIONID="${Q}"`, 'JSESSIONID'), [Q])
  t.same(cookieSessionIds(`JSESSIONID=${D}; JSESSIONID=${D}`, 'JSESSIONID'), [D, D])
  t.same(cookieSessionIds(`JSESSIONID=${A}, JSESSIONID=${B}`, 'JSESSIONID'), [A, B], 'comma-folded')
  t.same(cookieSessionIds(`JSESSIONID; =x; JSESSIONID=; JSESSIONID="; JSESSIONID=has space; JSESSIONID=${ok}`, 'JSESSIONID'), [ok])
  t.same(cookieSessionIds(`jsessionid=${A}; JSESSIONIDX=${A}; XJSESSIONID=${A}`, 'JSESSIONID'), [], 'exact name only')
  t.same(cookieSessionIds(` JSESSIONID = ${A} `, 'JSESSIONID'), [A], 'whitespace around = allowed')
  const longest = `${'b'.repeat(64)}.${'r'.repeat(64)}`
  t.equal(longest.length, SESSION_ID_LIMITS.maxIdLength, 'the limit is the longest well-formed id')
  t.same(cookieSessionIds(`JSESSIONID=${longest}`, 'JSESSIONID'), [longest], 'at the limit kept')
  t.same(cookieSessionIds(`JSESSIONID=${longest}x`, 'JSESSIONID'), [], 'absurdly long ignored')
  t.same(cookieSessionIds(`JSESSIONID=${id('A', 'nosuchroute')}`, 'JSESSIONID'), [id('A', 'nosuchroute')], 'a route that does not exist is just a candidate')
  t.same(cookieSessionIds(`JSESSIONID=${'n'.repeat(24)}; JSESSIONID=short.n1; JSESSIONID=${id('A', '')}; JSESSIONID=${id('A', 'n.1')}; JSESSIONID=${id('A+')}; JSESSIONID=${A}`, 'JSESSIONID'), [A],
    'values not of a session id\'s shape are skipped: no route, a short base, an empty or dotted route, other characters')
})

t.test('junk cookies ahead of the real one do not hide it: malformed values do not count against the candidate limit', async (t) => {
  const junk = ['deleted', '""', 'x', 'null', 'a.b', '%7B%7D', 'short.n1', 'has+plus.n1', '_ga.n1', 'GA1.2.345.678']
  const header = [...junk.map((v) => `JSESSIONID=${v}`), ...junk.map((v) => `JSESSIONID=${v}`), `JSESSIONID=${A}`].join('; ')
  t.same(cookieSessionIds(header, 'JSESSIONID'), [A], '20 junk values, then the real id: the real id is read')
  t.same(readSessionIds({ url: `/a;jsessionid=${P}`, cookie: header }), [P, A], 'after a path parameter too')
  t.same(readSessionIds({ url: '/a;jsessionid=junk', cookie: header }), [A], 'a malformed path parameter is skipped as well')
  const wellFormed = Array.from({ length: 12 }, (_, i) => id(`w${i}`))
  const ids = cookieSessionIds([...junk, ...wellFormed].map((v) => `JSESSIONID=${v}`).join('; '), 'JSESSIONID')
  t.same(ids, wellFormed.slice(0, SESSION_ID_LIMITS.maxCandidates), 'the limit still holds for well-formed values')
})

t.test('the number of candidates is capped', async (t) => {
  const many = Array.from({ length: 50 }, (_, i) => `JSESSIONID=${id(`id${i}`)}`).join('; ')
  const ids = readSessionIds({ url: `/;jsessionid=${id('p')}`, cookie: many })
  t.equal(ids.length, SESSION_ID_LIMITS.maxCandidates)
  t.equal(ids[0], id('p'))
  t.equal(ids[1], id('id0'))
})

t.test('hostile input never throws and yields only bounded, well-formed ids', async (t) => {
  const safe = /^[A-Za-z0-9_-]{22,64}\.[A-Za-z0-9_-]{1,64}$/
  fc.assert(fc.property(fc.option(fc.string({ unit: 'binary', maxLength: 400 })), fc.oneof(fc.string({ unit: 'binary', maxLength: 2000 }), fc.array(fc.string({ maxLength: 300 }), { maxLength: 5 })), (url, cookie) => {
    const ids = readSessionIds({ url: url ?? undefined, cookie })
    if (ids.length > SESSION_ID_LIMITS.maxCandidates) return false
    if (url !== null) stripSessionPathParam(url)
    return ids.every((v) => v.length <= SESSION_ID_LIMITS.maxIdLength && safe.test(v))
  }), { numRuns: 2000 })
  // structured near-misses around the real syntax
  const piece = fc.constantFrom('JSESSIONID', 'JSESSIONID=', '=', ';', ',', '"', ' ', 'a.b', '\u0000', 'é', '=="')
  fc.assert(fc.property(fc.array(piece, { maxLength: 60 }), (parts) => {
    const header = parts.join('')
    const ids = cookieSessionIds(header, 'JSESSIONID')
    return ids.every((v) => safe.test(v))
  }), { numRuns: 2000 })
  t.pass('no throw over 4000 generated inputs')
})
