/**
 * The admin listener as a web page open in a browser on the operator's machine sees it (issue 12
 * §5): without a token on loopback, a text/plain POST with `Origin: http://evil.example` changed a
 * worker's activation (CSRF), and a forged Host was served (DNS rebinding read the status).
 * Requests here are written by hand (raw) so that every header is exactly what a browser, or a
 * rebinding attacker, would send.
 */
import t from 'tap'
import { createBalancer } from '../src/index.js'
import { parseCli } from '../src/cli-args.js'
import { raw, startBackend, startBalancer } from './helpers.js'

interface Answer { status: number, headers: string, body: string }

async function ask (port: number, method: string, path: string, headers: Record<string, string>, body = ''): Promise<Answer> {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  const length = body === '' && method === 'GET' ? '' : `content-length: ${Buffer.byteLength(body)}\r\n`
  const text = await raw(port, `${method} ${path} HTTP/1.1\r\n${lines}${length}connection: close\r\n\r\n${body}`)
  const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text)
  if (m === null) throw new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 200))}`)
  return { status: Number(m[1]), headers: m[2]!, body: m[3]! }
}

const code = (a: Answer): string => (JSON.parse(a.body) as { error: string }).error

t.test('a web page cannot change an activation: simple requests and other origins are refused, token or not', async (t) => {
  const b1 = await startBackend(t, 't1')
  const { lb, admin } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url }], healthCheck: false, admin: { port: 0 } })
  const port = Number(new URL(admin!).port)
  const host = `127.0.0.1:${port}`
  const path = '/workers/t1/activation'
  const post = async (headers: Record<string, string>, body = 'stopped'): Promise<Answer> => await ask(port, 'POST', path, { host, ...headers }, body)

  // the attack of the finding: a form or fetch() from any page, no preflight needed
  const csrf = await post({ 'content-type': 'text/plain;charset=UTF-8', origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' })
  t.equal(csrf.status, 403, 'text/plain from evil.example: refused')
  t.equal(code(csrf), 'LB_ERR_ADMIN_SIMPLE_REQUEST')
  for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain', 'TEXT/PLAIN; charset=utf-8']) {
    t.equal(code(await post({ 'content-type': type })), 'LB_ERR_ADMIN_SIMPLE_REQUEST', `${type}, no Origin: refused (a page can send it)`)
  }
  t.equal(code(await post({})), 'LB_ERR_ADMIN_SIMPLE_REQUEST', 'no content type at all is simple too (a Blob body without a type)')
  t.equal(code(await post({ 'x-nodecat-admin': '' })), 'LB_ERR_ADMIN_SIMPLE_REQUEST', 'an empty custom header does not count')

  // what only a preflight would let through, but from another origin anyway
  const other: Array<Record<string, string>> = [
    { origin: 'http://evil.example' },
    { origin: 'null' },
    { origin: `http://127.0.0.1:${port + 1}` },
    { origin: `http://localhost:${port}` },
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site' },
    { origin: `http://${host}`, 'sec-fetch-site': 'same-site' }
  ]
  for (const h of other) {
    t.equal(code(await post({ 'content-type': 'application/json', ...h }, '{"activation":"stopped"}')), 'LB_ERR_ADMIN_CROSS_SITE', `JSON with ${JSON.stringify(h)}: refused`)
    t.equal(code(await post({ 'x-nodecat-admin': '1', ...h })), 'LB_ERR_ADMIN_CROSS_SITE', `custom header with ${JSON.stringify(h)}: refused`)
  }
  t.equal(lb.workers()[0]!.activation, 'active', 'no refused request touched the worker')

  // what still works: a script (no Origin) and the listener's own page (same origin)
  const script = await post({ 'x-nodecat-admin': '1' }, 'disabled')
  t.equal(script.status, 200, 'curl with the custom header (no Origin): accepted')
  t.equal(lb.workers()[0]!.activation, 'disabled')
  const page = await post({ 'content-type': 'application/json', origin: `http://${host}`, 'sec-fetch-site': 'same-origin' }, '{"activation":"active"}')
  t.equal(page.status, 200, 'JSON from the admin page itself: accepted')
  t.equal(lb.workers()[0]!.activation, 'active')
  t.equal((await post({ 'x-nodecat-admin': '1', 'sec-fetch-site': 'none' }, 'disabled')).status, 200, 'Sec-Fetch-Site none (typed by the user): accepted')

  const status = lb.status().balancer.adminRefused
  t.equal(status.LB_ERR_ADMIN_SIMPLE_REQUEST, 7, 'every simple request counted')
  t.equal(status.LB_ERR_ADMIN_CROSS_SITE, 14, 'every cross-site change counted')
  const metrics = await ask(port, 'GET', '/metrics', { host })
  t.match(metrics.body, /nodecat_balancer_admin_refused_total\{code="LB_ERR_ADMIN_CROSS_SITE"\} 14/, 'in /metrics')
})

t.test('a token does not lift the browser rules', async (t) => {
  const token = 'the-operators-admin-token-42'
  const b1 = await startBackend(t, 't1')
  const { lb, admin } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url }], healthCheck: false, admin: { port: 0, token } })
  const port = Number(new URL(admin!).port)
  const host = `127.0.0.1:${port}`
  const authorization = `Bearer ${token}`
  const path = '/workers/t1/activation'
  t.equal(code(await ask(port, 'POST', path, { host, authorization, 'content-type': 'text/plain' }, 'stopped')), 'LB_ERR_ADMIN_SIMPLE_REQUEST')
  t.equal(code(await ask(port, 'POST', path, { host, authorization, 'x-nodecat-admin': '1', origin: 'http://evil.example' }, 'stopped')), 'LB_ERR_ADMIN_CROSS_SITE')
  t.equal(lb.workers()[0]!.activation, 'active')
  t.equal((await ask(port, 'POST', path, { host, authorization, 'x-nodecat-admin': '1' }, 'stopped')).status, 200)
})

t.test('only Host names of the admin listener are answered (DNS rebinding)', async (t) => {
  const b1 = await startBackend(t, 't1')
  const { lb, admin } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url }], healthCheck: false, admin: { port: 0, allowedHosts: ['Admin.Example.'] } })
  const port = Number(new URL(admin!).port)

  for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.evil.example:${port}`, `localhost.evil.example:${port}`, '10.0.0.1', `[::2]:${port}`]) {
    for (const path of ['/', '/status', '/metrics', '/nothing']) {
      const a = await ask(port, 'GET', path, { host })
      t.equal(a.status, 421, `Host ${host}, GET ${path}: 421`)
      t.equal(code(a), 'LB_ERR_ADMIN_BAD_HOST')
      t.notMatch(a.body, /t1|workers/, 'nothing of the status in the refusal')
    }
  }
  const post = await ask(port, 'POST', '/workers/t1/activation', { host: `evil.example:${port}`, 'content-type': 'application/json', origin: `http://evil.example:${port}` }, '"stopped"')
  t.equal(post.status, 421, 'a rebound page posting "same-origin" JSON: refused by its Host')
  t.equal(lb.workers()[0]!.activation, 'active')

  t.equal((await ask(port, 'GET', '/', { host: 'a', Host: 'b' } as Record<string, string>)).status, 400, 'two Host headers: 400')
  t.equal((await ask(port, 'GET', '/status', { host: `127.0.0.1:${port}`, HOST: `127.0.0.1:${port}` } as Record<string, string>)).status, 400, 'two Host headers, even our own: 400')
  const none = await raw(port, 'GET /status HTTP/1.0\r\n\r\n')
  t.match(none, /^HTTP\/1\.1 400 /, 'no Host (HTTP/1.0): 400')
  t.match(none, /LB_ERR_ADMIN_MISSING_HOST/)

  for (const host of [`127.0.0.1:${port}`, '127.0.0.1', `localhost:${port}`, 'LOCALHOST', 'localhost.', `127.0.0.1:${port + 7}`, 'admin.example', `admin.example:${port}`]) {
    const a = await ask(port, 'GET', '/status', { host })
    t.equal(a.status, 200, `Host ${host}: served (the port is not compared: ssh -L and port forwards change it)`)
  }
  const refused = lb.status().balancer.adminRefused
  t.equal(refused.LB_ERR_ADMIN_BAD_HOST, 25, 'every bad Host counted')
  t.equal(refused.LB_ERR_ADMIN_MISSING_HOST, 3, 'every missing or doubled Host counted')
})

t.test('admin.allowedHosts is validated once, and --admin-host sets it', async (t) => {
  for (const bad of ['evil.example:80', '*', 'a b', '', 'http://x', ['ok', 7]]) {
    t.throws(() => createBalancer({ admin: { port: 0, allowedHosts: (Array.isArray(bad) ? bad : [bad]) as string[] } }), { code: 'LB_ERR_INVALID_OPTION', message: /admin\.allowedHosts/ }, `${JSON.stringify(bad)} refused`)
  }
  const lb = createBalancer({ admin: { port: 0, allowedHosts: ['pi1', 'pi1.local', '[fe80::1]', '192.168.1.11'] } })
  t.same(lb.options.admin && lb.options.admin.allowedHosts, ['pi1', 'pi1.local', 'fe80::1', '192.168.1.11'])
  const cli = parseCli(['--admin', '127.0.0.1:8090', '--admin-host', 'pi1,pi1.local', '--admin-host', 'admin.example'], {})
  t.same(cli?.balancer.admin, { host: '127.0.0.1', port: 8090, allowedHosts: ['pi1', 'pi1.local', 'admin.example'] })
})
