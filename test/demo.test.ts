/**
 * The README's first command ends in `pnpm demo`: the launcher starts the nodes and the balancer on
 * 127.0.0.1, says where to point a browser, lets a person kill the node that serves them and keep
 * their session, and stops every process it started on 'q'.
 */
import t, { type Test } from 'tap'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { startProcess, repoRoot } from './lib/proc.js'
import { freePort } from './lib/ports.js'
import { netnsSkipReason } from './lib/netns.js'

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

function namespaces (): string[] {
  try { return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean) } catch { return [] }
}

async function killAndSurvive (t: Test, extra: string[]) {
  const port = await freePort()
  const receiverPort = await freePort()
  const demo = startProcess(process.execPath, [path.join(repoRoot, 'demo', 'dist', 'cluster.js'), '--port', String(port), '--receiver-port', String(receiverPort), '--nodes', '2', ...extra], {
    stdio: ['pipe', 'pipe', 'pipe'], teardown: (fn) => t.teardown(fn)
  })
  const banner = await demo.waitFor((l) => /Open http:\/\/127\.0\.0\.1:\d+\/ in a browser/.test(String(l.msg)), 90_000, 'the banner')
  const url = /Open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(String(banner.msg))![1]!
  await demo.waitFor((l) => /Keys: 1\.\.2 kill that node/.test(String(l.msg)), 10_000, 'the keys explained')
  t.pass('the keys are explained')

  let cookie = ''
  const call = async (method: string, target: string, body?: string) => {
    const res = await fetch(new URL(target, url), { method, redirect: 'manual', headers: { cookie, accept: 'application/json', ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) }, body })
    const set = res.headers.get('set-cookie')
    if (set) cookie = set.split(';')[0]!
    return res
  }
  await call('POST', '/login', 'user=ada')
  await call('POST', '/cart', 'item=tea')
  const before = await (await call('GET', '/api/state')).json() as { jvmRoute: string, user: string, cart: string[] }
  t.same([before.user, before.cart], ['ada', ['tea']], 'logged in with a cart')

  const n = before.jvmRoute.replace('tomcat', '')
  demo.child.stdin!.write(`${n}\n`)
  const killed = await demo.waitFor((l) => new RegExp(`SIGKILL → ${before.jvmRoute} \\(pid (\\d+)\\)`).test(String(l.msg)), 10_000, 'the kill')
  const killedPid = Number(/pid (\d+)/.exec(String(killed.msg))![1])
  await demo.waitFor((l) => String(l.msg).includes(`${before.jvmRoute} (pid ${killedPid}) ended by SIGKILL`), 10_000, 'the node gone')

  const after = await (await call('GET', '/api/state')).json() as { jvmRoute: string, user: string, cart: string[] }
  t.not(after.jvmRoute, before.jvmRoute, 'served by the other node')
  t.same([after.user, after.cart], ['ada', ['tea']], 'still logged in, same cart')
  t.match(cookie, new RegExp(`\\.${after.jvmRoute}$`), 'the cookie now names the surviving node')

  const pids = demo.lines.map((l) => /\(pid (\d+)\)/.exec(String(l.msg))?.[1]).filter((p): p is string => p !== undefined).map(Number)
  demo.child.stdin!.write('q\n')
  const exit = await demo.exited
  t.equal(exit.code, 0, 'q stops the demo cleanly')
  t.ok(demo.lines.some((l) => String(l.msg) === 'all stopped.'), 'says all stopped')
  const children = demo.lines.flatMap((l) => [...String(l.msg).matchAll(/\(pid (\d+)\) (?:exited|ended)/g)].map((m) => Number(m[1])))
  t.ok(children.length >= 3, 'every child reported its end')
  t.same([...new Set([...pids, ...children])].filter(alive), [], 'no process left behind')
  return demo.lines.map((l) => String(l.msg))
}

t.test('pnpm demo: a session survives killing its node, and q stops everything', async (t) => {
  const said = await killAndSurvive(t, [])
  t.ok(said.some((m) => m.includes('static membership on 127.0.0.1')), 'says that membership is static on 127.0.0.1')
})

t.test('pnpm demo --multicast: the same with real multicast discovery inside network namespaces', { skip: netnsSkipReason() }, async (t) => {
  const said = await killAndSurvive(t, ['--multicast'])
  t.ok(said.some((m) => m.includes('real multicast discovery (228.0.0.4:45564)')), 'says that discovery is by multicast')
  const made = said.flatMap((m) => [...m.matchAll(/namespace (ncdemo\S+)/g)].map((x) => x[1]!))
  t.equal(made.length, 3, 'names the namespace of each node and of the balancer')
  for (const route of ['tomcat1', 'tomcat2']) {
    t.ok(said.some((m) => new RegExp(`balancer .*worker added route=${route} .*source=discovered`).test(m)), `the balancer discovered ${route} (no static worker list)`)
  }
  const left = namespaces()
  const run = made[0]!.replace(/-\d+$/, '')
  t.same(left.filter((ns) => ns.startsWith(run)), [], 'q deletes every namespace the demo made, the bridge\'s too')
})
