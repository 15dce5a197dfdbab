import t from 'tap'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startNode } from '../../../test/lib/proc.js'
import { freePorts } from '../../../test/lib/ports.js'
import { parseCli } from '../src/cli-args.js'
import { resolveBalancerOptions } from '../src/options.js'
import { call, startBackend } from './helpers.js'

t.test('--worker parsing and the other flags become options', async (t) => {
  const c = parseCli(['--listen', '127.0.0.1:8080', '--worker', 'tomcat1=http://127.0.0.1:8081', '--worker', 'tomcat2=http://127.0.0.1:8082,lbfactor=2,activation=disabled,redirect=tomcat1,domain=g,connection-limit=7', '--sticky-force', '--method', 'busyness', '--mount', '/app', '--admin', '127.0.0.1:8090', '--health-interval', '0', '--recover-time', '5000'], {})!
  const o = resolveBalancerOptions(c.balancer)
  t.same(o.workers, [
    { route: 'tomcat1', url: 'http://127.0.0.1:8081', lbfactor: 1, activation: 'active', redirect: undefined, domain: undefined, connectionLimit: 128 },
    { route: 'tomcat2', url: 'http://127.0.0.1:8082', lbfactor: 2, activation: 'disabled', redirect: 'tomcat1', domain: 'g', connectionLimit: 7 }
  ])
  t.match(o, { host: '127.0.0.1', port: 8080, stickySessionForce: true, method: 'busyness', mounts: ['/app'], healthCheck: false, recoverTime: 5000, admin: { host: '127.0.0.1', port: 8090, requireToken: false } })
  t.equal(c.discovery, null)
  const d = parseCli(['--discover', '--static-members', '127.0.0.1:4000,127.0.0.1:4001', '--key-file', '/k', '--cluster-port', '4100'], {})!
  t.same(d.discovery, { meta: { role: 'balancer' }, membership: { type: 'static', members: ['127.0.0.1:4000', '127.0.0.1:4001'] }, port: 4100, keyFile: '/k' })
  const ranged = parseCli(['--discover', '--static-members', 'pi1:4000-4002,pi2:4000'], {})!
  t.same((ranged.discovery as any).membership.members, ['pi1:4000', 'pi1:4001', 'pi1:4002', 'pi2:4000'], 'a machine\'s workers as a port range, as nodecat-was --static takes them')
  t.throws(() => parseCli(['--discover', '--static-members', 'pi1:4003-4000'], {}), { message: /--static-members: a port range whose first port is not above its last/ })
  t.throws(() => parseCli(['--discover', '--static-members', 'pi1'], {}), { message: /--static-members: a list of "host:port"/ })
  t.equal(parseCli(['--help']), null)
  const withEnv = parseCli(['--admin', '10.0.0.1:8090'], { NODECAT_ADMIN_TOKEN: 'a-token-from-the-env-123' })!
  t.match(resolveBalancerOptions(withEnv.balancer).admin, { host: '10.0.0.1', requireToken: true, token: 'a-token-from-the-env-123' })

  const dir = mkdtempSync(path.join(os.tmpdir(), 'nodecat-lb-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'lb.json')
  writeFileSync(file, JSON.stringify({ port: 9000, workers: [{ route: 'a', url: 'http://127.0.0.1:1' }], stickySessionForce: false, logLevel: 'warn' }))
  const f = parseCli(['--config', file, '--worker', 'b=http://127.0.0.1:2', '--listen', '127.0.0.1:9001'], {})!
  t.match(resolveBalancerOptions(f.balancer), { port: 9001, workers: [{ route: 'a' }, { route: 'b' }] }, 'flags add to and override the file')
  t.equal(f.logLevel, 'warn')
})

t.test('bad usage exits 2 with a message naming the flag or option', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--bogus'], /--bogus/],
    [['--worker', 'nonsense'], /worker/],
    [['--worker', 't1=http://127.0.0.1:1,lbfactor=0'], /lbfactor/],
    [['--worker', 't1=ftp://x'], /url/],
    [['--worker', 't1=http://127.0.0.1:1', '--worker', 't1=http://127.0.0.1:2'], /route/],
    [['--listen', 'nope'], /--listen/],
    [['--method', 'random'], /method/],
    [['--static-members', '127.0.0.1:4000'], /--static-members needs --discover/],
    [['--admin', '10.1.2.3:8090'], /admin\.token/],
    [['--recover-time', 'soon'], /--recover-time/],
    [['--config', '/nonexistent/lb.json'], /--config/]
  ]
  for (const [args, message] of cases) {
    const p = startNode(t, 'balancer', 'cli.js', args)
    const { code } = await p.exited
    t.equal(code, 2, `exit 2 for ${args.join(' ')}`)
    t.match(p.stderr(), message, `names it: ${p.stderr().split('\n')[0]}`)
  }
})

t.test('the command runs a balancer from flags and stops on SIGTERM', async (t) => {
  const b = await startBackend(t, 't1')
  const [port, adminPort] = await freePorts(2)
  const p = startNode(t, 'balancer', 'cli.js', ['--listen', `127.0.0.1:${port}`, '--worker', `t1=${b.url}`, '--admin', `127.0.0.1:${adminPort}`, '--access-log'])
  await p.waitFor((l) => l.msg === 'balancer started', 20_000, 'balancer started')
  const r = await call(`http://127.0.0.1:${port}/x`, { headers: { cookie: 'JSESSIONID=s.t1' } })
  t.equal(r.text, 't1')
  const status = JSON.parse((await call(`http://127.0.0.1:${adminPort}/status`)).text)
  t.equal(status.workers[0].route, 't1')
  await p.waitFor((l) => l.component === 'access' && l.route === 't1', 10_000, 'an access log line')
  p.signal('SIGTERM')
  t.same(await p.exited, { code: 0, signal: null })
})
