import t from 'tap'
import fc from 'fast-check'
import { loggablePath } from '../src/index.js'

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
