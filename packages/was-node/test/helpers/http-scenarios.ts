/**
 * Scenarios every embedding must pass (run by http-fastify.test.ts and http-express.test.ts).
 */
import type { Test } from 'tap'
import { MemoryStore, tooLarge } from './memory-store.js'
import { request, cookieValue, cookieAttributes, selfSignedCert } from './http-client.js'
import { slowGate, type AppOptions, type BuildApp } from './http-apps.js'
import http from 'node:http'
import { sleep } from '@nodecat/testkit'

export function sessionScenarios (t: Test, build: BuildApp): void {
  async function serve (tt: Test, options?: AppOptions, store = new MemoryStore()) {
    const server = await build(store, options)
    tt.teardown(() => server.close())
    return { store, url: server.url }
  }
  const jar = (id: string) => ({ cookie: `JSESSIONID=${id}` })

  t.test('a counter increments across requests; the new cookie is HttpOnly, SameSite=Lax, Path=/, not Secure over http', async (t) => {
    const { url } = await serve(t)
    const first = await request(url, '/count')
    t.equal(first.json().count, 1)
    const id = cookieValue(first.setCookies)
    t.ok(id, 'a session cookie was set')
    t.equal(id, first.json().id, 'the cookie carries the session id')
    t.match(id, /\.mem1$/, 'the id ends in the route')
    const attrs = cookieAttributes(first.setCookies)
    t.ok(attrs.has('httponly'), 'HttpOnly')
    t.equal(attrs.get('samesite')?.toLowerCase(), 'lax', 'SameSite=Lax')
    t.equal(attrs.get('path'), '/', 'Path=/')
    t.notOk(attrs.has('secure'), 'no Secure over plain http')
    t.notOk(attrs.has('domain'), 'no Domain by default')
    const second = await request(url, '/count', { headers: jar(id!) })
    t.equal(second.json().count, 2)
    t.equal(second.json().id, id, 'same session')
    t.equal(cookieValue(second.setCookies), undefined, 'no new cookie for an unchanged id')
  })

  t.test('a request that never writes to the session gets no session and no cookie', async (t) => {
    const { url, store } = await serve(t)
    const r = await request(url, '/peek')
    t.same(r.json(), { id: null, count: null })
    t.same(r.setCookies, [])
    t.equal(store.sessions.size, 0)
  })

  t.test('Secure comes from HTTPS, or from X-Forwarded-Proto: https said by a trusted proxy only', async (t) => {
    const tls = selfSignedCert()
    const direct = await serve(t, { tls })
    t.ok(cookieAttributes((await request(direct.url, '/count')).setCookies).has('secure'), 'Secure over HTTPS')

    const untrusted = await serve(t)
    const u = await request(untrusted.url, '/count', { headers: { 'x-forwarded-proto': 'https' } })
    t.notOk(cookieAttributes(u.setCookies).has('secure'), 'X-Forwarded-Proto ignored by default')

    const trusted = await serve(t, { trustProxy: ['127.0.0.1'] })
    const tr = await request(trusted.url, '/count', { headers: { 'x-forwarded-proto': 'https' } })
    t.ok(cookieAttributes(tr.setCookies).has('secure'), 'Secure via a trusted proxy')
    const plain = await request(trusted.url, '/count', { headers: { 'x-forwarded-proto': 'http' } })
    t.notOk(cookieAttributes(plain.setCookies).has('secure'), 'trusted proxy saying http: no Secure')

    const other = await serve(t, { trustProxy: '10.0.0.0/8, ::1' })
    const o = await request(other.url, '/count', { headers: { 'x-forwarded-proto': 'https' } })
    t.notOk(cookieAttributes(o.setCookies).has('secure'), 'a proxy outside the trusted list is ignored')

    const forced = await serve(t, { cookie: { secure: true, sameSite: 'strict', name: 'SID', path: '/app', domain: 'example.test' } })
    const f = await request(forced.url, '/count')
    const attrs = cookieAttributes(f.setCookies, 'SID')
    t.ok(attrs.has('secure'), 'secure: true always sets Secure')
    t.equal(attrs.get('samesite')?.toLowerCase(), 'strict')
    t.equal(attrs.get('path'), '/app')
    t.equal(attrs.get('domain'), 'example.test')
  })

  t.test('invalidate ends the session and clears the cookie', async (t) => {
    const { url, store } = await serve(t)
    const id = cookieValue((await request(url, '/count')).setCookies)!
    const out = await request(url, '/logout', { method: 'POST', headers: jar(id) })
    t.equal(out.status, 200)
    const attrs = cookieAttributes(out.setCookies)
    t.equal(cookieValue(out.setCookies), '', 'cookie emptied')
    t.equal(attrs.get('max-age'), '0', 'Max-Age=0')
    t.ok(attrs.has('httponly'))
    t.notOk(store.sessions.has(id))
    const after = await request(url, '/peek', { headers: jar(id) })
    t.same(after.json(), { id: null, count: null }, 'the old id names nothing')
  })

  t.test('regenerate (login) changes the id, keeps the contents, and the old id is gone', async (t) => {
    const { url } = await serve(t)
    const before = cookieValue((await request(url, '/count')).setCookies)!
    const login = await request(url, '/login', { method: 'POST', headers: jar(before) })
    const after = cookieValue(login.setCookies)
    t.ok(after, 'a new cookie')
    t.not(after, before, 'a new id')
    t.equal(login.json().id, after)
    t.same((await request(url, '/peek', { headers: jar(after!) })).json(), { id: after, count: 1 }, 'contents kept')
    t.same((await request(url, '/peek', { headers: jar(before) })).json(), { id: null, count: null }, 'old id gone')
  })

  t.test('static files are excluded from replication; the filter is configurable', async (t) => {
    const { url, store } = await serve(t)
    const id = cookieValue((await request(url, '/count')).setCookies)!
    t.same(store.ends.at(-1), { id, replicate: true }, '/count replicates')
    await request(url, '/assets/app.js', { headers: jar(id) })
    t.same(store.ends.at(-1), { id, replicate: false }, '/assets/app.js does not')
    await request(url, '/assets/app.js?v=2', { headers: jar(id) })
    t.equal(store.ends.at(-1)?.replicate, false, 'the query does not defeat the filter')

    const custom = await serve(t, { replicationFilter: '^/count$' })
    await request(custom.url, '/count')
    t.equal(custom.store.ends.at(-1)?.replicate, false, 'custom filter excludes /count')
    await request(custom.url, '/assets/app.js')
    t.equal(custom.store.ends.at(-1)?.replicate, true, 'and no longer excludes .js')

    const none = await serve(t, { replicationFilter: null })
    await request(none.url, '/assets/app.js')
    t.equal(none.store.ends.at(-1)?.replicate, true, 'null filter replicates everything')
  })

  t.test('an unknown, forged or expired id from the client never becomes the session id', async (t) => {
    const { url, store } = await serve(t)
    const forged = 'ATTACKERCHOSEN0000000000000000000.mem1'
    const r = await request(url, '/count', { headers: jar(forged) })
    t.equal(r.json().count, 1)
    t.not(r.json().id, forged)
    t.equal(cookieValue(r.setCookies), r.json().id, 'a freshly minted id is set')
    t.notOk(store.sessions.has(forged))

    const { url: urlTracking } = await serve(t, { sessionTracking: 'cookie,url' })
    const pathForged = await request(urlTracking, `/count;jsessionid=${forged}`)
    t.not(pathForged.json().id, forged, 'not via the path parameter either')

    const id = r.json().id as string
    store.expire(id)
    const again = await request(url, '/count', { headers: jar(id) })
    t.equal(again.json().count, 1, 'expired: a new session')
    t.not(again.json().id, id)
  })

  t.test('session tracking "cookie" (the default): a ;jsessionid= in a link is stripped for routing but never names the session', async (t) => {
    const { url } = await serve(t)
    const id = cookieValue((await request(url, '/count')).setCookies)!
    const r = await request(url, `/count;jsessionid=${id}?x=1`)
    t.equal(r.status, 200, 'routed as /count')
    t.not(r.json().id, id, 'the id in the link is not the session: a new one was made')
    t.equal(r.json().count, 1)
    // the donation of issue 12: a victim with their own cookie follows an attacker's link
    const victim = cookieValue((await request(url, '/count')).setCookies)!
    const followed = await request(url, `/count;jsessionid=${id}`, { headers: jar(victim) })
    t.equal(followed.json().id, victim, 'the victim stays in their own session')
    t.equal(cookieValue(followed.setCookies), undefined, 'and their cookie is not replaced')
  })

  t.test('session tracking "url": the ;jsessionid= path parameter names the session and is stripped before routing', async (t) => {
    const { url } = await serve(t, { sessionTracking: 'url' })
    const id = (await request(url, '/count')).json().id as string
    const r = await request(url, `/count;jsessionid=${id}?x=1`)
    t.equal(r.status, 200)
    t.same(r.json(), { count: 2, id })
    const cookieOnly = await request(url, '/peek', { headers: jar(id) })
    t.equal(cookieOnly.json().id, null, 'cookies are not read')
  })

  t.test('session tracking "cookie,url": a cookie wins, and an id from the URL never replaces a cookie naming another session', async (t) => {
    const { url, store } = await serve(t, { sessionTracking: 'cookie,url' })
    const mine = cookieValue((await request(url, '/count')).setCookies)!
    const theirs = cookieValue((await request(url, '/count')).setCookies)!
    const both = await request(url, `/peek;jsessionid=${theirs}`, { headers: jar(mine) })
    t.equal(both.json().id, mine, 'the cookie wins when both name a live session')
    t.equal(cookieValue(both.setCookies), undefined)
    // the cookie names a session that is gone: the link's session serves this request, but the
    // cookie is left alone (no Set-Cookie, no clearing), so the link cannot take the user over
    store.expire(mine)
    const followed = await request(url, `/count;jsessionid=${theirs}`, { headers: jar(mine) })
    t.equal(followed.json().id, theirs, 'the link\'s session serves the request')
    t.same(followed.setCookies, [], 'no Set-Cookie replaces (or clears) the cookie')
    // rebound to another route: still no cookie for a URL-only id while a cookie names another session
    store.sessions.set('LINKLINKLINKLINKLINKLINK.other', { attributes: new Map([['count', 1]]), maxInactiveInterval: 1800, principal: null })
    const moved = await request(url, '/peek;jsessionid=LINKLINKLINKLINKLINKLINK.other', { headers: jar(mine) })
    t.equal(moved.json().id, 'LINKLINKLINKLINKLINKLINK.mem1', 'rebound to this node (binder)')
    t.same(moved.setCookies, [], 'yet no Set-Cookie: the id came only from the URL')
    // with no cookie at all, URL tracking works as it always has
    const bare = await request(url, `/count;jsessionid=${theirs}`)
    t.equal(bare.json().id, theirs)
  })

  t.test('every JSESSIONID cookie is tried in order (duplicates, quoted values, junk skipped)', async (t) => {
    const { url } = await serve(t)
    const id = cookieValue((await request(url, '/count')).setCookies)!
    const r = await request(url, '/peek', { headers: { cookie: `a=b; JSESSIONID=NOPENOPENOPENOPENOPENOPE.mem1; junk; JSESSIONID="${id}"` } })
    t.equal(r.json().id, id)
    const multi = await request(url, '/peek', { headers: { cookie: ['JSESSIONID=NOPENOPENOPENOPENOPENOPE.gone', `JSESSIONID=${id}`] } })
    t.equal(multi.json().id, id, 'across several Cookie headers')
  })

  t.test('a session of another route is rebound to this node: new cookie with this route', async (t) => {
    const { url, store } = await serve(t)
    store.sessions.set('ABCDEFABCDEFABCDEFABCDEF.other', { attributes: new Map([['count', 5]]), maxInactiveInterval: 1800, principal: null })
    const r = await request(url, '/count', { headers: jar('ABCDEFABCDEFABCDEFABCDEF.other') })
    t.same(r.json(), { count: 6, id: 'ABCDEFABCDEFABCDEFABCDEF.mem1' })
    t.equal(cookieValue(r.setCookies), 'ABCDEFABCDEFABCDEFABCDEF.mem1')
  })

  t.test('a session change mutated in place is kept (cart)', async (t) => {
    const { url } = await serve(t)
    const id = cookieValue((await request(url, '/cart/add?item=apple')).setCookies)!
    const r = await request(url, '/cart/add?item=pear', { headers: jar(id) })
    t.same(r.json().cart, ['apple', 'pear'])
  })

  t.test('a coded error from end() becomes a 500 with the code in the body', async (t) => {
    const { url, store } = await serve(t)
    store.endError = tooLarge()
    const r = await request(url, '/count')
    t.equal(r.status, 500)
    t.equal(r.json().code, 'WAS_ERR_SESSION_TOO_LARGE')
    t.equal(cookieValue(r.setCookies), undefined, 'no cookie for an unsaved session')
    store.endError = new Error('disk on fire')
    const r2 = await request(url, '/count')
    t.equal(r2.status, 500)
    t.equal(r2.json().code, 'WAS_ERR_SESSION_END_FAILED', 'an uncoded failure gets our code')
    t.equal(store.ends.length, 2, 'end ran once per request, also on failure')
  })

  t.test('requests before the store is ready wait for it', async (t) => {
    let open!: () => void
    let released = false
    const store = new MemoryStore({ readyGate: new Promise<void>((resolve) => { open = resolve }) })
    const { url } = await serve(t, {}, store)
    const pending = request(url, '/count').then((r) => ({ r, released }))
    await sleep(200)
    released = true
    open()
    const { r, released: wasReleased } = await pending
    t.equal(r.json().count, 1)
    t.ok(wasReleased, 'the response came only after ready resolved')
  })

  t.test('sync mode: the response is held until end() resolves', async (t) => {
    const { url, store } = await serve(t)
    let release!: () => void
    let released = false
    store.endGate = new Promise<void>((resolve) => { release = resolve })
    const pending = request(url, '/count').then((r) => ({ r, released }))
    // wait until the app has run and end() is waiting
    for (let i = 0; i < 500 && store.ends.length === 0; i++) await sleep(10)
    t.equal(store.ends.length, 1, 'end() was called')
    await sleep(100)
    released = true
    release()
    const { r, released: wasReleased } = await pending
    t.equal(r.json().count, 1)
    t.ok(wasReleased, 'no byte of the response before end() resolved')
    t.ok(cookieValue(r.setCookies), 'the cookie still went out')
  })

  t.test('a body streamed before the app is done still ends the session exactly once', async (t) => {
    const { url, store } = await serve(t)
    const r = await request(url, '/stream')
    t.equal(r.body, 'streamed')
    for (let i = 0; i < 500 && store.ends.length === 0; i++) await sleep(10)
    t.equal(store.ends.length, 1, 'ended once')
    t.ok(store.ends[0]?.id, 'the session created after the headers went out is still recorded')
  })

  t.test('a request the client aborts still ends its session exactly once', async (t) => {
    const { url, store } = await serve(t)
    const inside = new Promise<void>((resolve) => { slowGate.entered = resolve })
    const req = http.get(`${url}/slow`)
    req.on('error', () => {}) // the abort below
    await inside
    req.destroy()
    for (let i = 0; i < 500 && store.ends.length === 0; i++) await sleep(10)
    t.equal(store.ends.length, 1, 'ended when the connection closed')
    t.ok(store.ends[0]?.id, 'the change made before the abort was recorded')
    slowGate.release?.() // the app finishes later: no second end
    await sleep(100)
    t.equal(store.ends.length, 1, 'still once after the app finished')
    slowGate.entered = null
  })
}
