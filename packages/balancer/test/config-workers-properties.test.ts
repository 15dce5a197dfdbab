/**
 * nodecat-balancer --workers-properties: the classic setup's workers.properties and httpd conf
 * (test/fixtures/classic-setup) map onto balancer options (workers, routes, lbfactor, sticky,
 * mounts); --prefer-http turns the ajp13 members into HTTP workers; what has no counterpart is
 * listed with why; the config file and flags win; a broken file is LB_ERR_WORKERS_PROPERTIES
 * naming file:line and the key; random mutations end only in a mapping or that coded error.
 */
import t from 'tap'
import fc from 'fast-check'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { importWorkersProperties, parseProperties, PROPERTIES_MAX_CHARS } from '../src/workers-properties.js'
import { parseCli } from '../src/cli-args.js'
import { BalancerError } from '../src/errors.js'
import { byteMutation, fuzzParams, mutate } from '../../../test/lib/fuzz.js'
import { classicFile, lineOf, scratchDir } from '../../../test/lib/classic-setup.js'

const WORKERS = classicFile('workers.properties')
const HTTPD = classicFile('httpd-jk.conf')

t.test('the classic setup\'s lb worker and mount map onto balancer options', async (t) => {
  const imported = importWorkersProperties(WORKERS, { file: 'workers.properties', mountFile: 'httpd-jk.conf' }, HTTPD)
  t.equal(imported.lbWorker, 'blang_balancer', 'the only lb worker')
  t.same(imported.options, {
    workers: [
      { route: 'tomcat1', url: 'ajp://192.168.0.10:18009', lbfactor: 1 },
      { route: 'tomcat2', url: 'ajp://192.168.0.12:28009', lbfactor: 1 }
    ],
    stickySession: true,
    mounts: ['/']
  })
  const taken = imported.taken.map((i) => `${i.line}:${i.item}`)
  t.ok(taken.includes(`${lineOf(WORKERS, 'worker.tomcat1.port')}:worker.tomcat1.port=18009`), 'each taken item has its line')
  t.ok(taken.includes(`${lineOf(HTTPD, 'jkMount /* blang_balancer')}:jkMount /* blang_balancer`), 'the mount and its line')
  const ignored = new Map(imported.ignored.map((i) => [i.item, i.reason]))
  t.equal(ignored.get('jkMount /* lilo_lb'), undefined, 'a commented-out mount is no mount')
  t.match(ignored.get('JkWorkersFile conf/workers.properties'), /--workers-properties/)
  t.match(ignored.get('worker.tomcat1.type=ajp13'), /ajp:\/\//)
})

t.test('--prefer-http: an offset from the AJP port, or a port per route', async (t) => {
  const offset = importWorkersProperties(WORKERS, { file: 'w', preferHttp: 'ajp-9929' })
  t.same(offset.options.workers.map((w) => w.url), ['http://192.168.0.10:8080', 'http://192.168.0.12:18080'])
  const map = importWorkersProperties(WORKERS, { file: 'w', preferHttp: 'tomcat1=8081,tomcat2=127.0.0.2:8082' })
  t.same(map.options.workers.map((w) => w.url), ['http://192.168.0.10:8081', 'http://127.0.0.2:8082'], 'a bare port keeps the member\'s host')
  t.throws(() => importWorkersProperties(WORKERS, { file: 'w', preferHttp: 'tomcat1=8081' }), { code: 'LB_ERR_WORKERS_PROPERTIES', message: /no HTTP port for route tomcat2/ })
  t.throws(() => importWorkersProperties(WORKERS, { file: 'w', preferHttp: 'tomcat9=8081,tomcat1=1,tomcat2=2' }), { message: /no member with route tomcat9/ })
  t.throws(() => importWorkersProperties(WORKERS, { file: 'w', preferHttp: 'ajp+60000' }), { message: /not a port/ })
  t.throws(() => importWorkersProperties(WORKERS, { file: 'w', preferHttp: 'http' }), { message: /must be "ajp\+N", "ajp-N" or "route=\[host:\]port,\.\.\."/ })
})

t.test('mod_jk\'s member and lb attributes, references, secrets, activation', async (t) => {
  const text = `worker.list=lb,jkstatus
worker.template.type=ajp13
worker.template.lbfactor=3
worker.template.socket_connect_timeout=2000
worker.a.reference=worker.template
worker.a.host=127.0.0.1
worker.a.port=8009
worker.a.route=node-a
worker.a.redirect=b
worker.b.host=127.0.0.1
worker.b.port=0
worker.c.host=127.0.0.1
worker.c.activation=Disabled
worker.c.domain=d1
worker.c.max_packet_size=9000
worker.lb.type=lb
worker.lb.balance_workers=a,b
worker.lb.balance_workers=c
worker.lb.sticky_session=1
worker.lb.sticky_session_force=On
worker.lb.method=B
worker.lb.session_cookie=SID
worker.lb.session_path=;sid
worker.lb.recover_time=30
worker.lb.secret=s3cr\\
  et
worker.lb.retries=4
worker.jkstatus.type=status
worker.maintain=30
`
  const imported = importWorkersProperties(text, { file: 'w' })
  t.same(imported.options, {
    workers: [
      { route: 'node-a', url: 'ajp://127.0.0.1:8009', secret: 's3cret', lbfactor: 3, redirect: 'b' },
      { route: 'b', url: 'ajp://127.0.0.1:8009', secret: 's3cret', activation: 'stopped' },
      { route: 'c', url: 'ajp://127.0.0.1:8009', secret: 's3cret', activation: 'disabled', domain: 'd1', packetSize: 9216 }
    ],
    maintainInterval: 30000,
    stickySession: true,
    stickySessionForce: true,
    method: 'busyness',
    sessionCookie: 'SID',
    sessionPathParam: 'sid',
    recoverTime: 30000
  }, 'reference copied, port 0 stopped, repeated balance_workers added up, the lb secret inherited, a continuation line joined')
  const ignored = imported.ignored.map((i) => `${i.item} :: ${i.reason}`).join('\n')
  t.match(ignored, /worker\.template\.socket_connect_timeout=2000 :: .*--connect-timeout/, 'an inherited attribute is listed once, where it is written')
  t.match(ignored, /worker\.lb\.retries=4 :: .*maxAttempts/)
  t.match(ignored, /worker\.jkstatus\.\* :: not a member of lb/)
  t.notMatch(JSON.stringify(imported.ignored) + JSON.stringify(imported.taken), /s3cret/, 'the secret is never listed')
  t.match(ignored, /worker\.list=lb,jkstatus :: only the lb worker lb is imported \(not jkstatus\)/)
})

t.test('JkMount patterns: prefixes taken, the rest listed', async (t) => {
  const httpd = `JkMount /* lb
JkMount /app/* lb
JkMount /shop|/* lb
JkMount /exact lb
JkMount /*.jsp lb
JkMount /other/* other_lb
JkUnMount /static/* lb
JkMount /x/* lb;use_server_errors=400
<Location /loc>
  JkMount lb
</Location>
JkLogLevel info
`
  const imported = importWorkersProperties('worker.lb.type=lb\nworker.lb.balance_workers=a\nworker.a.port=1\n', { file: 'w', mountFile: 'h.conf' }, httpd)
  t.same(imported.options.mounts, ['/', '/app', '/shop', '/exact', '/x', '/loc'])
  const ignored = imported.ignored.map((i) => `${i.line} ${i.item} :: ${i.reason}`).join('\n')
  t.match(ignored, /5 JkMount \/\*\.jsp lb :: the balancer mounts path prefixes/)
  t.match(ignored, /6 JkMount \/other\/\* other_lb :: mounts worker other_lb, not the imported lb worker lb/)
  t.match(ignored, /7 JkUnMount \/static\/\* lb :: the balancer has no unmount/)
  t.match(ignored, /8 .* :: mount extensions \(use_server_errors=400\)/)
  t.match(ignored, /4 JkMount \/exact lb :: exact mount \/exact/)
  t.match(ignored, /12 JkLogLevel info :: an httpd-side mod_jk setting/)
})

t.test('properties syntax: separators, escapes, comments', async (t) => {
  const fail = (line: number | null, message: string): never => { throw new Error(`${line}: ${message}`) }
  const props = parseProperties('# c\n! c\n  a = 1\nb:2\nc 3\nd\\ e=\\u0041\\t\\\\\nf=x\\\n   y\\\n z\n', fail)
  t.same(props.map((p) => [p.key, p.value, p.line]), [['a', '1', 3], ['b', '2', 4], ['c', '3', 5], ['d e', 'A\t\\', 6], ['f', 'xyz', 7]])
  t.throws(() => parseProperties('a=1\na=2\n', fail), { message: /^2: a is given twice \(first on line 1\)/ })
  t.throws(() => parseProperties('a=\\u00G1\n', fail), { message: /^1: "\\u" must be followed by 4 hex digits/ })
  t.throws(() => parseProperties('a=1\\', fail), { message: /continuation to nothing/ })
  t.throws(() => importWorkersProperties('#'.repeat(PROPERTIES_MAX_CHARS + 1), { file: 'big' }), { code: 'LB_ERR_WORKERS_PROPERTIES', message: /^big: the file is larger than 4194304 characters/ })
  const chain = Array.from({ length: 22 }, (_, i) => `worker.w${i}.reference=worker.w${i + 1}`).join('\n') + '\nworker.w22.port=1\nworker.lb.type=lb\nworker.lb.balance_workers=w0\n'
  t.throws(() => importWorkersProperties(chain, { file: 'deep' }), { code: 'LB_ERR_WORKERS_PROPERTIES', message: /reference must be at most 20 references deep/ })
})

t.test('errors name file:line and the key', async (t) => {
  const cases: Array<{ name: string, edit: (x: string) => string, line: (x: string) => number | null, message: RegExp, request?: object }> = [
    { name: 'a port out of range', edit: (x) => x.replace('port=18009', 'port=80000'), line: (x) => lineOf(x, '80000'), message: /worker\.tomcat1\.port="80000": port must be 0-65535/ },
    { name: 'an lbfactor above 100', edit: (x) => x.replace('tomcat2.lbfactor=1', 'tomcat2.lbfactor=500'), line: (x) => lineOf(x, '=500'), message: /worker\.tomcat2\.lbfactor="500": lbfactor must be 1-100/ },
    { name: 'a boolean that is not one', edit: (x) => x.replace('sticky_session=true', 'sticky_session=maybe'), line: (x) => lineOf(x, 'maybe'), message: /sticky_session must be true or false/ },
    { name: 'a member that is not defined', edit: (x) => x.replace('balance_workers=tomcat1,tomcat2', 'balance_workers=tomcat1,tomcat3'), line: (x) => lineOf(x, 'tomcat3'), message: /balance_workers must be a list of workers defined in this file \(no worker\.tomcat3\.\*\)/ },
    { name: 'a member of another type', edit: (x) => x.replace('tomcat2.type=ajp13', 'tomcat2.type=ajp14'), line: (x) => lineOf(x, 'ajp14'), message: /type must be ajp13 for a member of the lb worker \(ajp14 has no counterpart\)/ },
    { name: 'a key given twice', edit: (x) => x + 'worker.tomcat1.host=127.0.0.1\n', line: (x) => x.split('\n').length - 1, message: /worker\.tomcat1\.host is given twice \(first on line \d+\)/ },
    { name: 'an activation mod_jk does not have', edit: (x) => x + 'worker.tomcat1.activation=Xtra\n', line: (x) => x.split('\n').length - 1, message: /activation must be Active, Disabled or Stopped/ },
    { name: 'a bad method', edit: (x) => x + 'worker.blang_balancer.method=Z\n', line: (x) => x.split('\n').length - 1, message: /method must be Request, Traffic, Busyness, Sessions or Next/ },
    { name: 'a reference cycle', edit: (x) => x + 'worker.tomcat1.reference=worker.tomcat2\nworker.tomcat2.reference=worker.tomcat1\n', line: (x) => lineOf(x, 'tomcat2.reference'), message: /a reference without a cycle \(tomcat1 → tomcat2 → tomcat1\)/ },
    { name: 'no lb worker', edit: (x) => x.replace('blang_balancer.type=lb', 'blang_balancer.type=ajp13'), line: () => null, message: /no lb worker/ },
    { name: 'two lb workers in worker.list', edit: (x) => x + 'worker.list=other\nworker.other.type=lb\nworker.other.balance_workers=tomcat1\n', line: () => null, message: /several lb workers \(blang_balancer, other\): choose one with --lb-worker/ },
    { name: 'an --lb-worker that is not one', edit: (x) => x, request: { lbWorker: 'tomcat1' }, line: (x) => lineOf(x, 'tomcat1.type'), message: /--lb-worker tomcat1: worker\.tomcat1\.type is ajp13, not lb/ }
  ]
  for (const c of cases) {
    const text = c.edit(WORKERS)
    try {
      importWorkersProperties(text, { file: 'workers.properties', ...c.request })
      t.fail(`${c.name}: accepted`)
    } catch (err) {
      t.equal((err as BalancerError).code, 'LB_ERR_WORKERS_PROPERTIES', `${c.name}: coded`)
      const line = c.line(text)
      t.match((err as Error).message, new RegExp(`^workers\\.properties${line === null ? '' : `:${line}`}: `), `${c.name}: file and line`)
      t.match((err as Error).message, c.message, `${c.name}: what is wrong`)
    }
  }
  t.throws(() => importWorkersProperties(WORKERS, { file: 'w', mountFile: 'h.conf' }, 'JkMount /a b c\n'), { code: 'LB_ERR_WORKERS_PROPERTIES', message: /^h\.conf:1: JkMount takes a URL pattern and a worker name/ })
})

t.test('the command line: the config file and flags win, a --worker replaces its route', async (t) => {
  const dir = scratchDir(t, 'nodecat-workers-properties-')
  const wp = path.join(dir, 'workers.properties')
  writeFileSync(wp, WORKERS.replaceAll('192.168.0.10', '127.0.0.1').replaceAll('192.168.0.12', '127.0.0.2'))
  const conf = path.join(dir, 'httpd.conf')
  writeFileSync(conf, HTTPD)
  const json = path.join(dir, 'lb.json')
  writeFileSync(json, JSON.stringify({ method: 'busyness' }))
  const cli = parseCli(['--workers-properties', wp, '--jk-mount-file', conf, '--config', json, '--no-sticky', '--worker', 'tomcat2=http://127.0.0.1:9000', '--mount', '/app', '--print-config'], {})!
  t.same(cli.balancer.workers, [{ route: 'tomcat1', url: 'ajp://127.0.0.1:18009', lbfactor: 1 }, 'tomcat2=http://127.0.0.1:9000'])
  t.equal(cli.balancer.stickySession, false, '--no-sticky wins over sticky_session=true')
  t.equal(cli.balancer.method, 'busyness', 'the config file\'s key is kept')
  t.same(cli.balancer.mounts, ['/app'], '--mount wins over JkMount')
  t.equal(cli.printConfig, true)
  t.equal(cli.imported?.lbWorker, 'blang_balancer')
  const by = Object.fromEntries(cli.imported!.taken.map((i) => [`${i.option} ${i.item}`, i.overriddenBy ?? null]))
  t.same(by, {
    'workers worker.blang_balancer.balance_workers=tomcat1,tomcat2': null,
    'stickySession worker.blang_balancer.sticky_session=true': 'flag',
    'workers[tomcat1].url worker.tomcat1.host=127.0.0.1': null,
    'workers[tomcat1].url worker.tomcat1.port=18009': null,
    'workers[tomcat1].lbfactor worker.tomcat1.lbfactor=1': null,
    'workers[tomcat2].url worker.tomcat2.host=127.0.0.2': 'flag',
    'workers[tomcat2].url worker.tomcat2.port=28009': 'flag',
    'workers[tomcat2].lbfactor worker.tomcat2.lbfactor=1': 'flag',
    'mounts jkMount /* blang_balancer': 'flag'
  }, 'the report says which items a flag overrides')
  t.throws(() => parseCli(['--lb-worker', 'x'], {}), { code: 'LB_ERR_WORKERS_PROPERTIES', message: /--lb-worker: needs --workers-properties/ })
  t.throws(() => parseCli(['--workers-properties', path.join(dir, 'missing')], {}), { code: 'LB_ERR_WORKERS_PROPERTIES', message: /missing: cannot be read: ENOENT/ })
})

t.test('fuzz: mutated workers.properties and httpd conf give a mapping or a coded error, never a crash', async (t) => {
  const tokens = ['=', ':', '\\', '\\u', '\\u12', '#', '\n', ',', 'worker.', '.type=lb', '.type=status', '.port=0', '.reference=worker.tomcat1', '.balance_workers=', 'JkMount ', 'JkUnMount /* blang_balancer', '<Location />', ' /*', '|', ';', '\u0000', '\uD800', 'worker.tomcat1.host=[::1]']
  const tokenEdit = fc.record({ at: fc.nat(), token: fc.constantFrom(...tokens), drop: fc.integer({ min: 0, max: 8 }) })
  const prefer = fc.constantFrom(undefined, 'ajp-9929', 'ajp+1', 'tomcat1=8081,tomcat2=8082', 'x=1', '')
  let mapped = 0
  let refused = 0
  fc.assert(fc.property(fc.boolean(), fc.array(byteMutation(fc.integer()), { maxLength: 3 }), fc.array(tokenEdit, { maxLength: 4 }), prefer, (inMounts, bytes, edits, preferHttp) => {
    let text = mutate(Buffer.from(inMounts ? HTTPD : WORKERS), bytes).toString('utf8')
    for (const e of edits) {
      const at = e.at % (text.length + 1)
      text = text.slice(0, at) + e.token + text.slice(at + e.drop)
    }
    try {
      const imported = inMounts
        ? importWorkersProperties(WORKERS, { file: 'fuzz.properties', mountFile: 'fuzz.conf', ...(preferHttp !== undefined ? { preferHttp } : {}) }, text)
        : importWorkersProperties(text, { file: 'fuzz.properties', ...(preferHttp !== undefined ? { preferHttp } : {}) })
      mapped++
      if (imported.options.workers.length === 0) throw new Error('a mapping without workers')
    } catch (err) {
      if (!(err instanceof BalancerError) || err.code !== 'LB_ERR_WORKERS_PROPERTIES' || !/^(fuzz\.(properties|conf)|--[a-z-]+)(:\d+)?: /.test(err.message)) throw err
      refused++
    }
  }), fuzzParams(3000))
  t.comment(`${mapped} mapped, ${refused} refused with LB_ERR_WORKERS_PROPERTIES`)
  t.ok(mapped > 0 && refused > 0, 'both outcomes were reached')
})
