/**
 * The README's first command ends in `pnpm demo`: the launcher starts the nodes and the balancer on
 * 127.0.0.1, says where to point a browser, lets a person kill the node that serves them and keep
 * their session, and stops every process it started on 'q'.
 */
import t from 'tap'
import path from 'node:path'
import { startProcess, repoRoot } from './lib/proc.js'
import { freePort } from './lib/ports.js'

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

t.test('pnpm demo: a session survives killing its node, and q stops everything', async (t) => {
  const port = await freePort()
  const receiverPort = await freePort()
  const demo = startProcess(process.execPath, [path.join(repoRoot, 'demo', 'dist', 'cluster.js'), '--port', String(port), '--receiver-port', String(receiverPort), '--nodes', '2'], {
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
  t.ok(demo.lines.some((l) => String(l.msg) === 'all stopped.'))
  const children = demo.lines.flatMap((l) => [...String(l.msg).matchAll(/\(pid (\d+)\) (?:exited|ended)/g)].map((m) => Number(m[1])))
  t.ok(children.length >= 3, 'every child reported its end')
  t.same([...new Set([...pids, ...children])].filter(alive), [], 'no process left behind')
})
