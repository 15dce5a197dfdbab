/**
 * An unchanged Apache httpd + mod_jk in front of two nodecat nodes over AJP/1.3, as it fronted two
 * Tomcats in the classic setup: test/fixtures/classic-setup/workers.properties (lb worker
 * blang_balancer over tomcat1/tomcat2, sticky sessions, `JkMount /* blang_balancer`) with the hosts
 * replaced by 127.0.0.1, the AJP ports by free ones, and `ping_mode=A` on both members. The nodes
 * are `nodecat-was --jvm-route tomcat1|tomcat2 --ajp 127.0.0.1:P --static ...` serving
 * test/fixtures/ajp/app.js; in the first test with `--ajp-secret` and the same secret on mod_jk's lb
 * worker (loopback needs none: the second test runs without).
 *
 * Asserted: the session is sticky by jvmRoute (its id ends in .tomcatN, every request goes there);
 * a 1 MiB POST body arrives intact (sha256 compared in the app); mod_jk's CPings reached the node
 * and were answered (its nodecat_ajp_cpings_total); after the serving node is SIGKILLed by its PID,
 * the user's next request is answered by the other node with the session intact (the count goes
 * on) and a session id rebound to the new route, which mod_jk then sticks to.
 *
 * httpd is Debian's (apache2-bin, libapache2-mod-jk; installed when missing, as root) run as one
 * foreground process (`apache2 -X`) with its own ServerRoot, PidFile and logs in a temp dir,
 * listening on 127.0.0.1. The test skips, saying why, when not root or when apt cannot install.
 * httpd and the nodes are stopped by PID and the temp dir removed, also on failure.
 */
import t, { type Test } from 'tap'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createHash, randomBytes } from 'node:crypto'
import path from 'node:path'
import { ensureModJk, freePorts, isRoot, MOD_JK_SO, startModJkFront, waitUntil, which, type ModJkSoftware } from '@nodecat/testkit'
import { longerBoundToInstall } from './lib/install-bound.js'
import { repoRoot, startNode, type TestProcess } from './lib/proc.js'

const APP = path.join(repoRoot, 'test', 'fixtures', 'ajp', 'app.js')
const CLASSIC_WORKERS = path.join(repoRoot, 'test', 'fixtures', 'classic-setup', 'workers.properties')

const scratch = mkdtempSync(path.join(tmpdir(), 'nodecat-ajp-mod-jk-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
await longerBoundToInstall(t, existsSync(MOD_JK_SO) && which('apache2') !== null)
const software: ModJkSoftware | string = isRoot() ? ensureModJk((s) => t.comment(s)) : 'needs root to install and run Apache httpd + mod_jk (apt-get install apache2-bin libapache2-mod-jk)'

/** The classic workers.properties, pointed at our nodes on 127.0.0.1, with CPing on connect, before each request and on idle connections. */
function workersProperties (ajp: Record<string, number>): string {
  let text = readFileSync(CLASSIC_WORKERS, 'utf8')
  for (const [name, port] of Object.entries(ajp)) {
    text = text.replace(new RegExp(`^worker\\.${name}\\.host=.*$`, 'm'), `worker.${name}.host=127.0.0.1`)
    text = text.replace(new RegExp(`^worker\\.${name}\\.port=.*$`, 'm'), `worker.${name}.port=${port}`)
    text += `worker.${name}.ping_mode=A\nworker.${name}.ping_timeout=5000\n`
  }
  return text
}

interface Answer { status: number, body: any, setCookie: string[] }

async function get (url: string, cookie: string | null): Promise<Answer> {
  const r = await fetch(url, { headers: cookie === null ? {} : { cookie }, signal: AbortSignal.timeout(20_000) })
  const text = await r.text()
  return { status: r.status, body: r.status === 200 ? JSON.parse(text) : text, setCookie: r.headers.getSetCookie() }
}

function metric (text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + '{') && l.includes(labels))
  return line === undefined ? 0 : Number(line.split(' ').at(-1))
}

interface Setup { nodes: Record<string, { proc: TestProcess, http: number }>, base: string, metricsOf: (route: string) => Promise<string> }

/** Two nodes (tomcat1, tomcat2) with AJP, and httpd + mod_jk in front with the classic workers.properties. */
async function setup (t: Test, sw: ModJkSoftware, name: string, secret: string | null = null): Promise<Setup> {
  const [h1, r1, a1, h2, r2, a2, web] = await freePorts(7)
  const nodes: Record<string, { proc: TestProcess, http: number }> = {}
  const start = (route: string, http: number, receiver: number, peer: number, ajp: number): void => {
    const proc = startNode(t, 'was-node', 'cli.js', [
      '--jvm-route', route, '--http', `127.0.0.1:${http}`, '--receiver', `127.0.0.1:${receiver}`, '--static', `127.0.0.1:${peer}`,
      '--ajp', `127.0.0.1:${ajp}`, '--app', APP, '--frequency', '200', '--drop-time', '2000', '--state-transfer-timeout', '20',
      ...(secret === null ? [] : ['--ajp-secret', secret])
    ])
    nodes[route] = { proc, http }
  }
  start('tomcat1', h1!, r1!, r2!, a1!)
  start('tomcat2', h2!, r2!, r1!, a2!)
  for (const [route, n] of Object.entries(nodes)) {
    await n.proc.waitFor((l) => l.event === 'ajp-listening', 30_000, `${route} listens on AJP`)
    await n.proc.waitFor((l) => l.event === 'node-ready', 30_000, `${route} has its sessions`)
  }
  await waitUntil('each node sees the other', async () => {
    for (const n of Object.values(nodes)) {
      const s = await (await fetch(`http://127.0.0.1:${n.http}/_nodecat/status`)).json() as { members?: unknown[] }
      if ((s.members?.length ?? 0) < 1) return false
    }
    return true
  }, { timeoutMs: 20_000, everyMs: 100 })
  const dir = path.join(scratch, name)
  mkdirSync(dir)
  // the secret on the lb worker: mod_jk gives it to its members (1.2.12)
  const workers = workersProperties({ tomcat1: a1!, tomcat2: a2! }) + (secret === null ? '' : `worker.blang_balancer.secret=${secret}\n`)
  const front = await startModJkFront(sw, { dir, port: web!, workers })
  t.teardown(() => front.stop())
  const metricsOf = async (route: string): Promise<string> => await (await fetch(`http://127.0.0.1:${nodes[route]!.http}/_nodecat/metrics`)).text()
  return { nodes, base: front.url, metricsOf }
}

t.test('httpd + mod_jk (the classic workers.properties) fronts two nodecat nodes over AJP: sticky, 1 MiB body, CPing, failover on SIGKILL with the session', { skip: typeof software === 'string' ? software : false, timeout: 170_000 }, async (t) => {
  const sw = software as ModJkSoftware
  t.comment(`${sw.versions} (${sw.note})`)
  const { nodes, base, metricsOf } = await setup(t, sw, 'kill', 's3cret-of-the-lb')

  // a session: created on one node, then sticky to it by its route
  const first = await get(`${base}/count`, null)
  t.equal(first.status, 200, `httpd answers through mod_jk (${JSON.stringify(first.body).slice(0, 200)})`)
  const served = first.body.route as string
  t.ok(served === 'tomcat1' || served === 'tomcat2', `served by ${served}`)
  t.match(first.setCookie[0], new RegExp(`^JSESSIONID=[^;]+\\.${served};`), 'the session id ends in the jvmRoute')
  t.equal(first.body.remote, '127.0.0.1', 'the client address came through AJP')
  t.equal(first.body.ajp?.activation, 'ACT', 'mod_jk said the member is active')
  let cookie = first.setCookie[0]!.split(';')[0]!
  let count = 1
  for (let i = 0; i < 6; i++) {
    const r = await get(`${base}/count`, cookie)
    count++
    t.equal(r.body.route, served, `request ${i + 2} sticks to ${served}`)
    t.equal(r.body.count, count)
  }

  // a 1 MiB POST body through httpd, mod_jk and GET_BODY_CHUNK
  const data = randomBytes(1024 * 1024)
  const post = await fetch(`${base}/hash`, { method: 'POST', body: data, headers: { cookie, 'content-type': 'application/octet-stream' }, signal: AbortSignal.timeout(30_000) })
  t.equal(post.status, 200)
  t.same(await post.json(), { bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') }, 'the body arrived intact')

  // mod_jk's CPings (ping_mode=A: after connect and before each request) reached the serving node
  const m = await metricsOf(served)
  t.ok(metric(m, 'nodecat_ajp_cpings_total', 'answer="cpong"') >= 8, `CPings answered by ${served}: ${metric(m, 'nodecat_ajp_cpings_total', 'answer="cpong"')}`)
  t.ok(metric(m, 'nodecat_ajp_requests_total', '') >= 8, 'the requests came over AJP')
  t.equal(metric(m, 'nodecat_ajp_errors_total', 'code='), 0, 'no AJP error')
  t.equal(metric(m, 'nodecat_ajp_refused_total', 'reason="secret"'), 0, 'mod_jk sent the nodes\' --ajp-secret (worker.blang_balancer.secret): nothing refused')

  // the other node holds a copy before the serving one dies
  const other = served === 'tomcat1' ? 'tomcat2' : 'tomcat1'
  await waitUntil(`${other} holds a copy of the session`, async () => metric(await metricsOf(other), 'nodecat_sessions', 'role="backup"') >= 1, { timeoutMs: 20_000, everyMs: 100 })

  nodes[served]!.proc.signal('SIGKILL')
  await nodes[served]!.proc.exited
  const after = await get(`${base}/count`, cookie)
  t.equal(after.status, 200, 'the next request is answered')
  t.equal(after.body.route, other, `by ${other}`)
  t.equal(after.body.count, count + 1, 'with the session intact')
  t.match(after.setCookie[0], new RegExp(`^JSESSIONID=[^;]+\\.${other};`), 'and its id rebound to the new route (the jvmRoute binder)')
  cookie = after.setCookie[0]!.split(';')[0]!
  const again = await get(`${base}/count`, cookie)
  t.equal(again.body.route, other, 'mod_jk sticks to the new route')
  t.equal(again.body.count, count + 2)
})

t.test('a node stopped gracefully (SIGTERM) drains: mod_jk sends every request to the other node, none fails, the session goes on', { skip: typeof software === 'string' ? software : false, timeout: 170_000 }, async (t) => {
  const sw = software as ModJkSoftware
  const { nodes, base, metricsOf } = await setup(t, sw, 'drain')
  const first = await get(`${base}/count`, null)
  t.equal(first.status, 200)
  const served = first.body.route as string
  const other = served === 'tomcat1' ? 'tomcat2' : 'tomcat1'
  let cookie = first.setCookie[0]!.split(';')[0]!
  let count = 1
  await waitUntil(`${other} holds a copy of the session`, async () => metric(await metricsOf(other), 'nodecat_sessions', 'role="backup"') >= 1, { timeoutMs: 20_000, everyMs: 100 })
  nodes[served]!.proc.signal('SIGTERM')
  // requests all through the stop: bounded in count and time
  const statuses: number[] = []
  const routes = new Set<string>()
  const deadline = Date.now() + 20_000
  let exited = false
  void nodes[served]!.proc.exited.then(() => { exited = true })
  for (let i = 0; i < 200 && Date.now() < deadline && !(exited && i > 10); i++) {
    const r = await get(`${base}/count`, cookie)
    statuses.push(r.status)
    if (r.status !== 200) continue
    routes.add(r.body.route)
    count++
    if (r.body.count !== count) { t.equal(r.body.count, count, `request ${i}: the session's count goes on`); break }
    if (r.setCookie.length > 0) cookie = r.setCookie[0]!.split(';')[0]!
  }
  t.same([...new Set(statuses)], [200], `every request during the stop was answered 200 (${statuses.length} requests)`)
  t.ok(routes.has(other), `the other node (${other}) took over`)
  t.equal((await nodes[served]!.proc.exited).code, 0, `${served} stopped cleanly`)
  const last = await get(`${base}/count`, cookie)
  t.equal(last.body.route, other)
  t.equal(last.body.count, count + 1, 'the session is whole on the other node')
})
