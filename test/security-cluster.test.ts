/**
 * Security of a whole keyed cluster in processes on 127.0.0.1: three shop nodes and a balancer
 * that discovers them through the cluster (all with one key file), the balancer's admin with a
 * token, every process logging at trace level and the balancer writing its access log.
 *
 * - Logout reaches every node: after POST /logout the old session id is refused by each node
 *   (asked directly), also by a node that was down during the logout and came back, and by one
 *   that was frozen (SIGSTOP) during the logout and resumed.
 * - A client-chosen session id is never adopted, by any node.
 * - No session id, admin token or cluster key appears in any log line or stderr of any process,
 *   in the balancer's status JSON, status page and metrics, or in the nodes' status JSON, page and
 *   metrics (node logs name sessions by their SHA-256 reference "sess:…" only).
 */
import t from 'tap'
import crypto from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startCluster, ShopClient, describe } from './lib/cluster.js'

const KEY = crypto.randomBytes(32)
const TOKEN = 'admin-token-' + crypto.randomBytes(12).toString('hex')

const sha256Ref = (id: string): string => 'sess:' + crypto.createHash('sha256').update(id.split('.')[0]!).digest('hex').slice(0, 12)

async function text (url: string, accept = '*/*'): Promise<string> {
  const res = await fetch(url, { headers: { accept }, signal: AbortSignal.timeout(5000) })
  return await res.text()
}

t.test('keyed cluster: logout reaches every node, no fixation, no secret in any output', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-security-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const keyFile = path.join(dir, 'cluster.key')
  writeFileSync(keyFile, KEY.toString('base64') + '\n', { mode: 0o600 })
  const c = await startCluster(t, {
    nodes: 3,
    mode: 'sync',
    discover: true,
    // why url tracking: the ids must also travel in URLs, to check that no output repeats them
    nodeArgs: ['--key-file', keyFile, '--log-level', 'trace', '--session-tracking', 'cookie,url'],
    balancerArgs: ['--key-file', keyFile, '--admin-token', TOKEN, '--log-level', 'trace', '--access-log']
  })
  await c.waitMembers()
  for (const n of c.nodes) await c.waitWorkerState(n.route, ['OK'])

  // sessions with real ids: every id each user ever held (login regenerates the id)
  const ids = new Set<string>()
  const users: ShopClient[] = []
  for (let i = 0; i < 6; i++) {
    const u = new ShopClient(c.balancerUrl)
    users.push(u)
    await u.count(); if (u.cookie !== null) ids.add(u.cookie)
    await u.login(`user${i}`); if (u.cookie !== null) ids.add(u.cookie)
    await u.addToCart('tea')
  }
  // the id in the URL too: as a ;jsessionid= path parameter and in the query (access log, errors)
  for (const u of users.slice(3)) {
    const res = await fetch(`${c.balancerUrl}/api/state;jsessionid=${u.cookie}?sid=${u.cookie}`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5000) })
    t.equal(((await res.json()) as any).sessionId, u.cookie, 'the ;jsessionid= path parameter names the session (--session-tracking cookie,url)')
  }
  const failed = users.flatMap((u) => u.failures())
  t.same(failed.map(describe), [], 'every request answered')
  t.equal(ids.size, 12, 'twelve distinct ids (a new one at login)')

  // logout reaches every node
  const ann = users[0]!
  const annId = ann.cookie!
  const out = await ann.request('POST', '/logout')
  t.equal(out.status, 200)
  t.equal(ann.cookie, null, 'the logout cleared the cookie')
  for (const n of c.nodes) {
    const stale = new ShopClient(n.url)
    stale.cookie = annId
    const s = await stale.state()
    t.equal(s.state?.user ?? null, null, `${n.route} does not know the logged-out session`)
    t.not(s.state?.sessionId ?? null, annId, `${n.route} does not answer with the old id`)
  }

  // a node that is down during the logout learns of it when it comes back (state transfer)
  const carl = users[2]!
  const away = c.node(carl.route!)
  const bob = users.slice(1).find((u) => u.route !== away.route)!
  const bobId = bob.cookie!
  const carlId = carl.cookie!
  await away.kill('SIGKILL')
  const awayLines = [...away.lines()]
  t.equal((await bob.request('POST', '/logout')).status, 200)
  // carl fails over: the node that takes him rebinds his session (and logs it, by reference)
  t.equal((await carl.addToCart('jam')).status, 200)
  t.same(carl.log.at(-1)?.state?.cart, ['tea', 'jam'], 'carl kept his cart through the failover')
  await away.start()
  await c.waitMembers()
  const back = new ShopClient(away.url)
  back.cookie = bobId
  const s = await back.state()
  t.equal(s.state?.user ?? null, null, `${away.route}, down during the logout, does not know the logged-out session`)
  t.not(s.state?.sessionId ?? null, bobId)

  // a node frozen (SIGSTOP: no answer, connections kept) during a logout learns of it once resumed
  await c.waitMembers()
  const dana = users.slice(1).find((u) => u !== bob && u !== carl && u.route !== undefined)!
  const frozen = c.nodes.find((n) => n.route !== dana.route)!
  const danaId = dana.cookie!
  t.equal((await dana.state()).state?.user, dana.log.find((a) => a.path === '/login')?.state?.user, 'dana is logged in before')
  frozen.proc!.signal('SIGSTOP')
  let resumed = false
  t.teardown(() => { if (!resumed) frozen.proc?.signal('SIGCONT') })
  t.equal((await dana.request('POST', '/logout')).status, 200, 'logout answered while a node is frozen')
  frozen.proc!.signal('SIGCONT'); resumed = true
  await c.waitMembers()
  const thawed = new ShopClient(frozen.url)
  thawed.cookie = danaId
  const d = await thawed.state()
  t.equal(d.status, 200)
  t.equal(d.state?.user ?? null, null, `${frozen.route}, frozen during the logout, does not know the logged-out session once resumed`)

  // no fixation: a well-formed id the cluster never issued is replaced, on every node
  for (const n of c.nodes) {
    const planted = crypto.randomBytes(18).toString('base64url') + '.' + n.route
    const victim = new ShopClient(n.url)
    victim.cookie = planted
    await victim.login('victim')
    t.not(victim.cookie, planted, `${n.route}: a client-chosen id never becomes the session id`)
    if (victim.cookie !== null) ids.add(victim.cookie)
    ids.add(planted)
  }

  // what every process said and every status/metrics output
  const outputs: Array<[string, string]> = []
  for (const n of c.nodes) {
    outputs.push([`${n.route} status`, await text(`${n.url}/_nodecat/status`)])
    outputs.push([`${n.route} status page`, await text(`${n.url}/_nodecat/status`, 'text/html')])
    outputs.push([`${n.route} metrics`, await text(`${n.url}/_nodecat/metrics`)])
  }
  outputs.push(['balancer status', await text(`${c.adminUrl}/status`)])
  outputs.push(['balancer status page', await text(`${c.adminUrl}/`, 'text/html')])
  outputs.push(['balancer metrics', await text(`${c.adminUrl}/metrics`)])
  // a wrong token on the activation endpoint, so the refusal is logged too
  const refused = await fetch(`${c.adminUrl}/workers/${c.nodes[0]!.route}/activation`, { method: 'POST', body: 'stopped', headers: { 'x-nodecat-admin': '1', authorization: `Bearer ${TOKEN}x` } })
  t.equal(refused.status, 401, 'a wrong admin token is refused (a set token is required on loopback too)')
  const logs = [
    ...c.nodes.map((n) => [`${n.route} log`, n.lines().map((l) => JSON.stringify(l)).join('\n') + n.proc!.stderr()] as [string, string]),
    [`${away.route} log before the kill`, awayLines.map((l) => JSON.stringify(l)).join('\n')] as [string, string],
    ['balancer log', c.balancer!.lines.map((l) => JSON.stringify(l)).join('\n') + c.balancer!.stderr()] as [string, string]
  ]
  outputs.push(...logs)
  const allLogs = logs.map(([, v]) => v).join('\n')
  t.ok(allLogs.length > 10_000, `${allLogs.length} characters of logs searched`)
  t.ok(allLogs.includes('"component":"access"') && allLogs.includes('/api/state'), 'the balancer\'s access log, with request paths, is among them')
  t.ok(allLogs.includes(sha256Ref(carlId)), 'node logs do talk about sessions (carl\'s rebind), by their SHA-256 reference')

  const secrets: Array<[string, string]> = [
    ['admin token', TOKEN],
    ['cluster key (base64)', KEY.toString('base64')],
    ['cluster key (hex)', KEY.toString('hex')],
    ['cluster key (base64url)', KEY.toString('base64url')],
    ...[...ids].flatMap((id, i): Array<[string, string]> => [[`session id #${i}`, id], [`session id #${i} base`, id.split('.')[0]!]])
  ]
  const leaks: string[] = []
  for (const [where, body] of outputs) {
    for (const [what, secret] of secrets) if (body.includes(secret)) leaks.push(`${what} in ${where}`)
  }
  t.same(leaks, [], `no session id, token or key in ${outputs.length} outputs`)
})
