import t from 'tap'
import fc from 'fast-check'
import { cookieSessionIds, pathSessionId, readSessionIds, stripSessionPathParam, SESSION_ID_LIMITS } from '../src/http/session-id.js'

t.test('the ;jsessionid= path parameter comes first, then every cookie in header order', async (t) => {
  t.same(readSessionIds({ url: '/a;jsessionid=P.n1', cookie: 'JSESSIONID=C1.n1; JSESSIONID=C2.n2' }), ['P.n1', 'C1.n1', 'C2.n2'])
  t.same(readSessionIds({ url: '/a', cookie: 'x=1; JSESSIONID=C1.n1; y=2; JSESSIONID=C2.n2' }), ['C1.n1', 'C2.n2'])
  t.same(readSessionIds({ url: '/a', cookie: ['JSESSIONID=A.n1', 'JSESSIONID=B.n2'] }), ['A.n1', 'B.n2'], 'several Cookie headers')
  t.same(readSessionIds({ url: undefined, cookie: undefined }), [])
})

t.test('path parameter: cut at ? ; /, case-sensitive, query ignored', async (t) => {
  t.equal(pathSessionId('/a;jsessionid=X.n1?q=1'), 'X.n1')
  t.equal(pathSessionId('/a;jsessionid=X.n1;other=2'), 'X.n1')
  t.equal(pathSessionId('/a;jsessionid=X.n1/more'), 'X.n1')
  t.equal(pathSessionId('/a;JSESSIONID=X.n1'), null, 'case-sensitive')
  t.equal(pathSessionId('/a?;jsessionid=X.n1'), null, 'not in the query')
  t.equal(pathSessionId('/a;jsessionid='), null, 'empty')
  t.equal(pathSessionId('/a;jsessionid=' + 'x'.repeat(300)), null, 'absurdly long')
  t.equal(pathSessionId('/a;sid=X', 'sid'), 'X', 'named after the cookie')
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
  t.same(cookieSessionIds('JSESSIONID="Q.n1"', 'JSESSIONID'), ['Q.n1'])
  t.same(cookieSessionIds('JSESSIONID=D.n1; JSESSIONID=D.n1', 'JSESSIONID'), ['D.n1', 'D.n1'])
  t.same(cookieSessionIds('JSESSIONID=A.n1, JSESSIONID=B.n1', 'JSESSIONID'), ['A.n1', 'B.n1'], 'comma-folded')
  t.same(cookieSessionIds('JSESSIONID; =x; JSESSIONID=; JSESSIONID="; JSESSIONID=has space; JSESSIONID=ok.n1', 'JSESSIONID'), ['ok.n1'])
  t.same(cookieSessionIds('jsessionid=lower.n1; JSESSIONIDX=no; XJSESSIONID=no', 'JSESSIONID'), [], 'exact name only')
  t.same(cookieSessionIds(' JSESSIONID = spaced.n1 ', 'JSESSIONID'), ['spaced.n1'], 'whitespace around = allowed')
  t.same(cookieSessionIds('JSESSIONID=' + 'y'.repeat(SESSION_ID_LIMITS.maxIdLength + 1), 'JSESSIONID'), [], 'absurdly long ignored')
  t.same(cookieSessionIds('JSESSIONID=' + 'y'.repeat(SESSION_ID_LIMITS.maxIdLength), 'JSESSIONID').length, 1, 'at the limit kept')
  t.same(cookieSessionIds('JSESSIONID=A.nosuchroute', 'JSESSIONID'), ['A.nosuchroute'], 'a route that does not exist is just a candidate')
  t.same(cookieSessionIds('JSESSIONID=noroute', 'JSESSIONID'), ['noroute'], 'no route at all is a candidate too')
})

t.test('the number of candidates is capped', async (t) => {
  const many = Array.from({ length: 50 }, (_, i) => `JSESSIONID=id${i}.n1`).join('; ')
  const ids = readSessionIds({ url: '/;jsessionid=p.n1', cookie: many })
  t.equal(ids.length, SESSION_ID_LIMITS.maxCandidates)
  t.equal(ids[0], 'p.n1')
  t.equal(ids[1], 'id0.n1')
})

t.test('hostile input never throws and yields only bounded, cookie-safe ids', async (t) => {
  const safe = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+$/
  fc.assert(fc.property(fc.option(fc.string({ unit: 'binary', maxLength: 400 })), fc.oneof(fc.string({ unit: 'binary', maxLength: 2000 }), fc.array(fc.string({ maxLength: 300 }), { maxLength: 5 })), (url, cookie) => {
    const ids = readSessionIds({ url: url ?? undefined, cookie })
    if (ids.length > SESSION_ID_LIMITS.maxCandidates) return false
    if (url !== null) stripSessionPathParam(url)
    return ids.every((id) => id.length <= SESSION_ID_LIMITS.maxIdLength && safe.test(id))
  }), { numRuns: 2000 })
  // structured near-misses around the real syntax
  const piece = fc.constantFrom('JSESSIONID', 'JSESSIONID=', '=', ';', ',', '"', ' ', 'a.b', '\u0000', 'é', '=="')
  fc.assert(fc.property(fc.array(piece, { maxLength: 60 }), (parts) => {
    const header = parts.join('')
    const ids = cookieSessionIds(header, 'JSESSIONID')
    return ids.every((id) => safe.test(id))
  }), { numRuns: 2000 })
  t.pass('no throw over 4000 generated inputs')
})
