import t from 'tap'
import fc from 'fast-check'
import { sessionRoutes, SESSION_ID_LIMITS } from '../src/index.js'

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

t.test('the node\'s bounds: at most maxCandidates routes, ids longer than maxIdLength name none', async (t) => {
  const many = Array.from({ length: 20 }, (_, i) => `JSESSIONID=s${i}.t${i}`).join('; ')
  t.same(r('/', many), Array.from({ length: SESSION_ID_LIMITS.maxCandidates }, (_, i) => `t${i}`), 'the first maxCandidates cookies')
  t.same(r('/a;jsessionid=p.tp', many).slice(0, 2), ['tp', 't0'], 'the path parameter counts as one of them')
  t.equal(r('/a;jsessionid=p.tp', many).length, SESSION_ID_LIMITS.maxCandidates)
  const junk = Array.from({ length: 20 }, () => 'JSESSIONID=nodot').join('; ')
  t.same(r('/', `${junk}; JSESSIONID=real.t9`), ['t9'], 'values that name no route are not counted')
  const longest = `${'b'.repeat(SESSION_ID_LIMITS.maxIdLength - 3)}.t1`
  t.same(r('/', `JSESSIONID=${longest}`), ['t1'], 'at the limit: routed')
  t.same(r('/', `JSESSIONID=x${longest}; JSESSIONID=ok.t2`), ['t2'], 'over it: skipped, not counted')
  t.same(r(`/a;jsessionid=x${longest}`), [], 'in the path too')
})
