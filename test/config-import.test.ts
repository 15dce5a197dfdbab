/**
 * "Bring your configuration": the classic setup's files (test/fixtures/classic-setup, copied to a
 * temp dir with the 192.168.0.x addresses replaced by 127.0.0.1) given to the real commands.
 * `nodecat-was --server-xml … --print-config` and `nodecat-balancer --workers-properties …
 * --print-config` show the mapped options and what was ignored and why; flags win over the
 * files; a broken file makes the command exit 2 with file:line and the attribute on stderr.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { dist, repoRoot, startNode } from './lib/proc.js'
import { freePorts } from './lib/ports.js'
import { waitUntil } from '@nodecat/testkit'

const FIXTURES = path.join(repoRoot, 'test', 'fixtures', 'classic-setup')

/** the fixture files in a temp dir, with the test's own addresses; returns their paths */
function classicSetup (t: { teardown: (fn: () => void) => void }, edit: (name: string, text: string) => string = (_n, x) => x): Record<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-classic-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const files: Record<string, string> = {}
  for (const name of ['was1-server.xml', 'was2-server.xml', 'workers.properties', 'httpd-jk.conf']) {
    const text = readFileSync(path.join(FIXTURES, name), 'utf8').replace(/192\.168\.0\.\d+/g, '127.0.0.1')
    files[name] = path.join(dir, name)
    writeFileSync(files[name]!, edit(name, text))
  }
  return files
}

function run (pkg: 'was-node' | 'balancer', args: string[], env: Record<string, string> = {}): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [dist(pkg, 'cli.js'), ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, NODE_OPTIONS: '', ...env } })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

t.test('nodecat-was --server-xml --print-config: the mapped options and the ignored with why', async (t) => {
  const files = classicSetup(t)
  for (const [name, route, receiverPort, ajpPort] of [['was1-server.xml', 'tomcat1', 4000, 18009], ['was2-server.xml', 'tomcat2', 4001, 28009]] as const) {
    const r = run('was-node', ['--server-xml', files[name]!, '--print-config'])
    t.equal(r.code, 0, `${name}: exit 0 (${r.stderr})`)
    const { options: o, serverXml } = JSON.parse(r.stdout)
    t.equal(o.jvmRoute, route, `${name}: jvmRoute`)
    t.equal(o.ajp.port, ajpPort, `${name}: AJP port`)
    t.equal(o.ajp.secretRequired, false, `${name}: secretRequired="false"`)
    t.same([o.membership.type, o.membership.address, o.membership.port, o.membership.frequency, o.membership.dropTime], ['multicast', '228.0.0.4', 45564, 500, 3000], `${name}: membership`)
    t.same(o.receiver, { address: '127.0.0.1', port: receiverPort, autoBind: 100 }, `${name}: receiver`)
    t.equal(o.manager, 'delta', `${name}: DeltaManager`)
    t.equal(o.channelSendOptions, 'async', `${name}: channelSendOptions 8`)
    t.equal(o.expireSessionsOnShutdown, false)
    t.equal(o.notifyListenersOnReplication, true)
    t.equal(o.replicationFilter, null, 'filter="": every request replicates')
    t.equal(o.http.port, 8080, 'the HTTP connector\'s port')
    const why = new Map(serverXml.ignored.map((i: { item: string, reason: string }) => [i.item, i.reason]))
    t.match(why.get('<Receiver maxThreads="6">'), /no thread pool/, 'maxThreads ignored, with why')
    t.match(why.get('<Receiver selectorTimeout="5000">'), /no selector thread/, 'selectorTimeout ignored, with why')
    t.match(why.get('<Interceptor className="org.apache.catalina.tribes.group.interceptors.TcpFailureDetector">'), /always verifies/)
    t.match(why.get('<Deployer watchDir="/tmp/war-listen/">'), /nothing is watched \(nodecat's --watch-dir/)
    t.match(why.get('<Deployer className="org.apache.catalina.ha.deploy.FarmWarDeployer">'), /nodecat-was deploy/)
    t.ok(serverXml.taken.every((i: { line: number }) => i.line > 0), 'every taken item has its line')
  }
})

t.test('nodecat-was: flags and env win over server.xml; a broken file exits 2 naming file:line and the attribute', async (t) => {
  const files = classicSetup(t)
  const r = run('was-node', ['--server-xml', files['was1-server.xml']!, '--jvm-route', 'n1', '--static', '127.0.0.1:4999', '--ajp', '127.0.0.1:0', '--print-config'], { NODECAT_DROP_TIME: '5000' })
  t.equal(r.code, 0, r.stderr)
  const { options: o, serverXml } = JSON.parse(r.stdout)
  t.equal(o.jvmRoute, 'n1')
  t.equal(o.membership.type, 'static', '--static wins over the multicast membership')
  t.same(o.membership.members, ['127.0.0.1:4999'])
  t.equal(o.membership.dropTime, 5000, 'env wins')
  t.same([o.ajp.address, o.ajp.port], ['127.0.0.1', 0], '--ajp wins over the AJP connector')
  const by = Object.fromEntries(serverXml.taken.map((i: { flag: string, overriddenBy?: string }) => [i.flag, i.overriddenBy ?? null]))
  t.same([by['--jvm-route'], by['--membership'], by['--drop-time'], by['--ajp'], by['--frequency']], ['flag', 'flag', 'env', 'flag', null])

  const broken = classicSetup(t, (name, x) => name === 'was1-server.xml' ? x.replace('port="45564"', 'port="x"') : x)
  const bad = run('was-node', ['--server-xml', broken['was1-server.xml']!, '--print-config'])
  const line = readFileSync(broken['was1-server.xml']!, 'utf8').split('\n').findIndex((l) => l.includes('port="x"')) + 1
  t.equal(bad.code, 2, 'exit 2, as other usage errors')
  t.match(bad.stderr, `${broken['was1-server.xml']}:${line}: <Membership port="x">: port must be 1-65535`)
  t.equal(bad.stdout, '', 'nothing printed')
})

t.test('nodecat-balancer --workers-properties --print-config: workers, routes, lbfactor, sticky, mounts', async (t) => {
  const files = classicSetup(t)
  const ajp = run('balancer', ['--workers-properties', files['workers.properties']!, '--jk-mount-file', files['httpd-jk.conf']!, '--print-config'])
  const a = JSON.parse(ajp.stdout)
  // why valid or not: until ajp:// workers validate, the mapping must still be shown
  t.equal(ajp.code, a.valid === true ? 0 : 2, `exit code follows validity (${a.error?.message ?? 'valid'})`)
  t.same(a.options.workers.map((w: { route: string, url: string, lbfactor: number }) => [w.route, w.url, w.lbfactor]), [['tomcat1', 'ajp://127.0.0.1:18009', 1], ['tomcat2', 'ajp://127.0.0.1:28009', 1]])
  t.equal(a.options.stickySession, true)
  t.same(a.options.mounts, ['/'], 'jkMount /* is /')
  t.equal(a.workersProperties.lbWorker, 'blang_balancer')

  const http = run('balancer', ['--workers-properties', files['workers.properties']!, '--jk-mount-file', files['httpd-jk.conf']!, '--prefer-http', 'ajp-9929', '--print-config'])
  t.equal(http.code, 0, http.stderr)
  const h = JSON.parse(http.stdout)
  t.equal(h.valid, true)
  t.same(h.options.workers.map((w: { route: string, url: string, lbfactor: number, activation: string }) => [w.route, w.url, w.lbfactor, w.activation]), [['tomcat1', 'http://127.0.0.1:8080', 1, 'active'], ['tomcat2', 'http://127.0.0.1:18080', 1, 'active']])
  t.same([h.options.stickySession, h.options.stickySessionForce, h.options.method], [true, false, 'requests'])
  t.same(h.options.mounts, ['/'])
  const why = new Map(h.workersProperties.ignored.map((i: { item: string, reason: string }) => [i.item, i.reason]))
  t.match(why.get('worker.tomcat1.type=ajp13'), /--prefer-http makes the worker http/)
  t.match(why.get('JkWorkersFile conf/workers.properties'), /--workers-properties/)

  const flags = run('balancer', ['--workers-properties', files['workers.properties']!, '--prefer-http', 'tomcat1=8081,tomcat2=8082', '--no-sticky', '--worker', 'tomcat2=http://127.0.0.1:9002,lbfactor=5', '--mount', '/shop', '--print-config'])
  t.equal(flags.code, 0, flags.stderr)
  const f = JSON.parse(flags.stdout)
  t.same(f.options.workers.map((w: { route: string, url: string, lbfactor: number }) => [w.route, w.url, w.lbfactor]), [['tomcat1', 'http://127.0.0.1:8081', 1], ['tomcat2', 'http://127.0.0.1:9002', 5]], '--worker replaces the member of its route')
  t.equal(f.options.stickySession, false, '--no-sticky wins')
  t.same(f.options.mounts, ['/shop'], '--mount wins')

  const broken = classicSetup(t, (name, x) => name === 'workers.properties' ? x.replace('worker.tomcat2.lbfactor=1', 'worker.tomcat2.lbfactor=0') : x)
  const bad = run('balancer', ['--workers-properties', broken['workers.properties']!, '--print-config'])
  const line = readFileSync(broken['workers.properties']!, 'utf8').split('\n').findIndex((l) => l.includes('lbfactor=0')) + 1
  t.equal(bad.code, 2, 'exit 2')
  t.match(bad.stderr, `${broken['workers.properties']}:${line}: worker.tomcat2.lbfactor="0": lbfactor must be 1-100`)
})

t.test('nodecat-balancer reads workers.properties again on SIGHUP; a broken one is refused and the running config keeps serving', async (t) => {
  const files = classicSetup(t)
  const [lb, admin, w1, w2] = await freePorts(4)
  const balancer = startNode(t, 'balancer', 'cli.js', ['--workers-properties', files['workers.properties']!, '--prefer-http', `tomcat1=${w1},tomcat2=${w2}`,
    '--listen', `127.0.0.1:${lb}`, '--admin', `127.0.0.1:${admin}`, '--health-interval', '0'])
  await balancer.waitFor((l) => l.msg === 'balancer started', 30_000, 'balancer started')
  const lbfactors = async (): Promise<Record<string, number>> => {
    const res = await fetch(`http://127.0.0.1:${admin}/status`, { signal: AbortSignal.timeout(5000) })
    return Object.fromEntries((await res.json() as { workers: Array<{ route: string, lbfactor: number }> }).workers.map((w) => [w.route, w.lbfactor]))
  }
  t.same(await lbfactors(), { tomcat1: 1, tomcat2: 1 }, 'the file\'s lbfactors')
  const text = readFileSync(files['workers.properties']!, 'utf8')
  writeFileSync(files['workers.properties']!, text.replace('worker.tomcat2.lbfactor=1', 'worker.tomcat2.lbfactor=3'))
  balancer.signal('SIGHUP')
  await waitUntil('tomcat2 at lbfactor 3', async () => (await lbfactors()).tomcat2 === 3, { timeoutMs: 20_000, everyMs: 100 })
  t.pass('the changed lbfactor is taken without a restart')
  writeFileSync(files['workers.properties']!, text.replace('worker.tomcat2.lbfactor=1', 'worker.tomcat2.lbfactor=0'))
  balancer.signal('SIGHUP')
  const refused = await balancer.waitFor((l) => l.msg === 'config reload refused: the running config keeps serving', 20_000, 'the broken file refused')
  t.equal(refused.err?.code, 'LB_ERR_WORKERS_PROPERTIES')
  t.match(refused.err?.message, /workers\.properties:\d+: worker\.tomcat2\.lbfactor="0": lbfactor must be 1-100/)
  t.same(await lbfactors(), { tomcat1: 1, tomcat2: 3 }, 'the running config keeps serving')
})
