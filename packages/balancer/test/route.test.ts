import t from 'tap'
import fc from 'fast-check'
import { sessionRoutes, loggablePath } from '../src/route.js'

const r = (url: string, cookie?: string | string[], name = 'JSESSIONID', param = 'jsessionid'): string[] => [...sessionRoutes(url, cookie, name, param)]

t.test('cookie: the route is what follows the first dot', async (t) => {
  t.same(r('/', 'JSESSIONID=ABC123.tomcat1'), ['tomcat1'])
  t.same(r('/', 'a=1; JSESSIONID=ABC123.tomcat1; b=2'), ['tomcat1'])
  t.same(r('/', 'JSESSIONID=abc.dom.t1'), ['dom.t1'], 'only the first dot splits')
})

t.test('path parameter: ;jsessionid= cut at ? ; and /', async (t) => {
  t.same(r('/app;jsessionid=a.t1'), ['t1'])
  t.same(r('/app;jsessionid=a.t1;x=y?q=1'), ['t1'])
  t.same(r('/app;jsessionid=a.t1/more'), ['t1'])
  t.same(r('/app;jsessionid=a.t1?jsessionid=b.t2'), ['t1'])
  t.same(r('/app?x=;jsessionid=a.t1'), [], 'the query is not the path')
  t.same(r('/app;JSESSIONID=a.t1'), [], 'the parameter name is case-sensitive')
})

t.test('precedence: path parameter first, then every cookie in order', async (t) => {
  t.same(r('/app;jsessionid=a.t1', 'JSESSIONID=b.t2'), ['t1', 't2'])
  t.same(r('/', 'JSESSIONID=old.gone; JSESSIONID=new.t2'), ['gone', 't2'], 'several cookies: all, in order')
  t.same(r('/', ['JSESSIONID=x.t1', 'JSESSIONID=y.t2']), ['t1', 't2'], 'several Cookie headers')
  t.same(r('/', 'JSESSIONID=x.t1, JSESSIONID=y.t3'), ['t1', 't3'], 'comma-separated too')
})

t.test('no dot, empty value, empty route name no route', async (t) => {
  t.same(r('/', 'JSESSIONID=ABC123'), [])
  t.same(r('/', 'JSESSIONID='), [])
  t.same(r('/', 'JSESSIONID=abc.'), [])
  t.same(r('/;jsessionid=', undefined), [])
  t.same(r('/;jsessionid=nodot'), [])
})

t.test('quoted values lose one pair of quotes; names must match exactly', async (t) => {
  t.same(r('/', 'JSESSIONID="abc.t1"'), ['t1'])
  t.same(r('/', 'XJSESSIONID=abc.t1'), [], 'a longer name is another cookie')
  t.same(r('/', 'jsessionid=abc.t1'), [], 'cookie names are case-sensitive')
  t.same(r('/', 'JSESSIONID = abc.t1'), ['t1'], 'whitespace before = is allowed')
  t.same(r('/', 'SID=abc.t7', 'SID'), ['t7'], 'the cookie name is configurable')
  t.same(r('/a;sid=abc.t8', undefined, 'SID', 'sid'), ['t8'], 'the path parameter name is configurable')
})

t.test('unknown route is just a route string (the chooser balances it normally)', async (t) => {
  t.same(r('/', 'JSESSIONID=abc.nosuchworker'), ['nosuchworker'])
  t.same(r('/plain'), [])
  t.same(r('/plain', 'other=1'), [])
})

t.test('loggablePath drops session ids and the query', async (t) => {
  t.equal(loggablePath('/app;jsessionid=SECRET.t1/x?token=1', 'jsessionid'), '/app/x')
  t.equal(loggablePath('/plain?q', 'jsessionid'), '/plain')
})

t.test('loggablePath drops the session path parameter in every spelling, also those the node ignores (issue 12 §6)', async (t) => {
  const spellings = [
    ';jsessionid=SECRET.t1', ';JSESSIONID=SECRET.t1', ';JSessionId=SECRET.t1',
    '%3Bjsessionid=SECRET.t1', '%3bjsessionid=SECRET.t1', '%3BJSESSIONID%3DSECRET.t1',
    ';%6Asessionid=SECRET.t1', ';jsession%49D=SECRET.t1', ';jsessionid%3dSECRET.t1'
  ]
  for (const p of spellings) {
    t.equal(loggablePath(`/app${p}/x?token=1`, 'jsessionid'), '/app/x', `${p} before a segment`)
    t.equal(loggablePath(`/app${p}`, 'jsessionid'), '/app', `${p} at the end`)
    t.equal(loggablePath(`/app${p};v=1`, 'jsessionid'), '/app;v=1', `${p} before another parameter`)
    t.equal(loggablePath(`/app${p}%3Bv=1`, 'jsessionid'), '/app%3Bv=1', `${p} before an encoded parameter`)
  }
  t.equal(loggablePath('/a;jsessionid=ONE.t1/b;JSESSIONID=TWO.t2/c%3Bjsessionid=THREE', 'jsessionid'), '/a/b/c', 'every occurrence')
  t.equal(loggablePath('/a;sid=S.t1;jsessionid=J.t1', 'sid'), '/a;jsessionid=J.t1', 'the configured name only')
  t.equal(loggablePath('/a;jsessionidx=1/b;v=2/%41', 'jsessionid'), '/a;jsessionidx=1/b;v=2/%41', 'other parameters and escapes are left alone')
})

t.test('loggablePath: no session id survives, whatever surrounds it', async (t) => {
  // one letter of the name percent-encoded, upper- or lower-case hex
  const escape = (s: string, at: number): string => s.slice(0, at) + '%' + s.charCodeAt(at).toString(16)[at % 2 === 0 ? 'toUpperCase' : 'toLowerCase']() + s.slice(at + 1)
  const param = fc.tuple(
    fc.constantFrom(';', '%3B', '%3b'),
    fc.constantFrom('jsessionid', 'JSESSIONID', 'JSessionID'),
    fc.option(fc.integer({ min: 0, max: 9 })),
    fc.constantFrom('=', '%3D', '%3d')
  ).map(([sep, name, esc, eq]) => `${sep}${esc === null ? name : escape(name, esc)}${eq}SECRET.t1`)
  const other = fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,=:@-]{0,12}$/)
  fc.assert(fc.property(fc.array(fc.tuple(other, fc.option(param)), { minLength: 1, maxLength: 5 }), (segments) => {
    const url = segments.map(([s, p]) => `/${s}${p ?? ''}`).join('')
    const out = loggablePath(url, 'jsessionid')
    if (out.includes('SECRET')) throw new Error(`${url} logged as ${out}`)
  }), { numRuns: 2000 })
  t.pass('never logged')
})

t.test('arbitrary cookie headers and paths never throw', async (t) => {
  fc.assert(fc.property(fc.string(), fc.oneof(fc.string(), fc.array(fc.string()), fc.constant(undefined)), fc.string({ minLength: 1, maxLength: 12 }), (url, cookie, name) => {
    const out = sessionRoutes(url, cookie, name, name.toLowerCase())
    if (!Array.isArray(out)) throw new Error('not a list')
    for (const route of out) if (typeof route !== 'string' || route === '') throw new Error('empty route')
  }), { numRuns: 2000 })
  fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('JSESSIONID', 'x', ' JSESSIONID', '"'), fc.string())), (pairs) => {
    const header = pairs.map(([k, v]) => `${k}=${v}`).join(fc.sample(fc.constantFrom('; ', ',', ';'), 1)[0])
    sessionRoutes('/' + header, header, 'JSESSIONID', 'jsessionid')
  }), { numRuns: 1000 })
  t.pass('no throw')
})
