import t from 'tap'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import os, { tmpdir } from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { resolveNodeOptions, sendModeOf, NODE_DEFAULTS, memberDeployDir } from '../src/service/options.js'
import { gatherOptions, parseArgs, fromEnv, helpText, FLAGS, envName } from '../src/service/sources.js'
import { channelOptionsOf } from '../src/service/channel-options.js'
import { advertisedHttpUrl } from '../src/service/advertise.js'
import { defaultHostId, usableCores } from '../src/service/host.js'

t.test('defaults follow Tomcat where the concept is the same', async (t) => {
  const o = resolveNodeOptions({})
  t.match(o.jvmRoute, /^[A-Za-z0-9_-]{1,64}$/, 'jvmRoute defaults to a valid route from the host name')
  t.same(o.http, { address: '127.0.0.1', port: 8080, allowedHosts: [] })
  t.same(o.membership, { type: 'multicast', address: '228.0.0.4', port: 45564, frequency: 500, dropTime: 3000, bind: null, ttl: 1, domain: '', members: [] })
  t.same(o.receiver, { address: 'auto', port: 4000, autoBind: 100 })
  t.equal(o.channelSendOptions, 'async', 'channelSendOptions 8')
  t.equal(o.expireSessionsOnShutdown, false)
  t.equal(o.notifyListenersOnReplication, true)
  t.equal(o.stateTransferTimeout, 60)
  t.equal(o.maxInactiveInterval, 1800)
  t.equal(o.maxActiveSessions, -1)
  t.equal(o.cookie.name, 'JSESSIONID')
  t.equal(o.trustProxy, false)
  t.equal(o.insecure, false)
  t.equal(o.workers, 1, 'one member per command unless --workers')
  t.equal(o.manager, 'delta', 'DeltaManager unless --manager backup')
  t.equal(o.backups, 1)
  t.match(o.hostId, /^\S{1,255}$/, 'the host id defaults to the machine id or host name')
  t.ok(resolveNodeOptions({ workers: 'auto' }).workers >= 1, 'workers auto: the usable cores')
  t.ok(new RegExp(o.replicationFilter!).test('/a/b.css'))
  t.same(resolveNodeOptions(o), o, 'resolving twice changes nothing')
  t.equal(NODE_DEFAULTS.membership.frequency, 500)
})

t.test('channelSendOptions takes Tomcat numbers and names', async (t) => {
  t.equal(sendModeOf(8), 'async')
  t.equal(sendModeOf('8'), 'async')
  t.equal(sendModeOf(6), 'sync')
  t.equal(sendModeOf('use_ack,sync'), 'sync')
  t.equal(sendModeOf('asynchronous'), 'async')
  t.equal(sendModeOf(2), 'ack')
  t.equal(resolveNodeOptions({ channelSendOptions: 'sync' }).channelSendOptions, 'sync')
  t.throws(() => resolveNodeOptions({ channelSendOptions: 2 }), { code: 'WAS_ERR_INVALID_OPTION', message: /^channelSendOptions/ }, 'ack alone is not offered for sessions')
  t.throws(() => resolveNodeOptions({ channelSendOptions: 'fast' }), { message: /^channelSendOptions/ })
})

t.test('every bad option is named in the message', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ jvmRoute: 'a.b' }, /^jvmRoute /],
    [{ http: { port: 70000 } }, /^http\.port /],
    [{ http: { address: 'a b' } }, /^http\.address /],
    [{ membership: { frequency: 5 } }, /^membership\.frequency /],
    [{ membership: { frequency: 1000, dropTime: 800 } }, /^membership\.dropTime /],
    [{ membership: { members: ['nohostport'] } }, /^membership\.members /],
    [{ membership: { type: 'gossip' } }, /^membership\.type /],
    [{ membership: { frequncy: 500 } }, /^membership\.frequncy /],
    [{ receiver: { autoBind: 0 } }, /^receiver\.autoBind /],
    [{ stateTransferTimeout: 0 }, /^stateTransferTimeout /],
    [{ maxSessionBytes: 10 }, /^maxSessionBytes /],
    [{ replicationFilter: '(' }, /^replicationFilter /],
    [{ cookie: { sameSite: 'sideways' } }, /^cookie\.sameSite /],
    [{ cookie: { name: 'bad name' } }, /^cookie\.name /],
    [{ trustProxy: ['300.1.1.1'] }, /^trustProxy /],
    [{ key: 'a', keyFile: '/x' }, /^keyFile /],
    [{ insecure: 'maybe' }, /^insecure /],
    [{ shutdownTimeout: -1 }, /^shutdownTimeout /],
    [{ log: { level: 'loud' } }, /^log\.level /],
    [{ workers: 0 }, /^workers /],
    [{ workers: 'many' }, /^workers /],
    [{ hostId: 'a b' }, /^hostId /],
    [{ manager: 'lazy' }, /^manager /],
    [{ backups: 0 }, /^backups /],
    [{ colour: 'blue' }, /^options\.colour /]
  ]
  for (const [input, message] of cases) {
    t.throws(() => resolveNodeOptions(input as never), { code: 'WAS_ERR_INVALID_OPTION', name: 'WasOptionError', message }, JSON.stringify(input))
  }
})

t.test('sources merge as defaults < config file < env < flags', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-opts-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'node.json')
  writeFileSync(file, JSON.stringify({ jvmRoute: 'fromfile', http: { address: '127.0.0.2', port: 1111 }, maxInactiveInterval: 60, membership: { ttl: 3 } }))
  const env = { NODECAT_JVM_ROUTE: 'fromenv', NODECAT_HTTP: '127.0.0.3:2222', NODECAT_MAX_INACTIVE_INTERVAL: '120' }
  const g = gatherOptions(['--config', file, '--jvm-route', 'fromflag', '--static', '127.0.0.1:4001,127.0.0.1:4002'], env)
  const o = resolveNodeOptions(g.options)
  t.equal(o.jvmRoute, 'fromflag', 'flag beats env and file')
  t.same(o.http, { address: '127.0.0.3', port: 2222, allowedHosts: [] }, 'env beats file')
  t.equal(o.maxInactiveInterval, 120, 'env number text is accepted')
  t.equal(o.membership.ttl, 3, 'file beats defaults')
  t.equal(o.membership.type, 'static', '--static switches to static membership')
  t.same(o.membership.members, ['127.0.0.1:4001', '127.0.0.1:4002'])
  t.equal(o.membership.frequency, 500, 'untouched options keep their defaults')
  const viaEnv = gatherOptions([], { NODECAT_CONFIG: file })
  t.equal(resolveNodeOptions(viaEnv.options).jvmRoute, 'fromfile', 'NODECAT_CONFIG names the file too')
  t.throws(() => gatherOptions(['--config', path.join(dir, 'missing.json')], {}), { code: 'WAS_ERR_INVALID_OPTION', message: /missing\.json/ })
  writeFileSync(path.join(dir, 'bad.json'), '{ nope')
  t.throws(() => gatherOptions(['--config', path.join(dir, 'bad.json')], {}), { message: /bad\.json is not valid JSON/ })
})

t.test('flags: forms, booleans, and usage errors naming the flag', async (t) => {
  t.same(parseArgs(['--http=127.0.0.1:9000', '--insecure', '--no-pretty', '--receiver', '4005']).options,
    { http: { address: '127.0.0.1', port: 9000 }, insecure: true, log: { pretty: false }, receiver: { port: 4005 } })
  t.throws(() => parseArgs(['--bogus']), { name: 'UsageError', message: /--bogus/ })
  t.throws(() => parseArgs(['--http']), { message: /--http needs a value/ })
  t.throws(() => parseArgs(['--http', 'nonsense']), { message: /--http must be host:port/ })
  t.throws(() => parseArgs(['--insecure=perhaps']), { message: /--insecure/ })
  t.throws(() => parseArgs(['stray']), { message: /stray/ })
  t.throws(() => fromEnv({ NODECAT_INSECURE: 'yes' }), { message: /NODECAT_INSECURE/ })
  t.ok(parseArgs(['-h']).help)
  const help = helpText()
  for (const f of FLAGS) {
    t.ok(help.includes(`--${f.flag}`), `--help lists --${f.flag}`)
    t.ok(help.includes(envName(f.flag)), `--help names ${envName(f.flag)}`)
  }
})

t.test('the service options map onto the tribes channel options', async (t) => {
  const o = resolveNodeOptions({ jvmRoute: 'n1', receiver: { address: '127.0.0.1', port: 4010 }, membership: { members: ['127.0.0.1:4011'], domain: 'shop' }, channelSendOptions: 6, key: 'k' })
  const c = channelOptionsOf(o, 'http://127.0.0.1:8081', pino({ level: 'silent' }))
  t.equal(c.address, '127.0.0.1')
  t.equal(c.port, 4010)
  t.equal(c.domain, 'shop')
  t.same(c.meta, { role: 'node', route: 'n1', http: 'http://127.0.0.1:8081', host: o.hostId, props: { manager: 'delta' } })
  const b = channelOptionsOf(resolveNodeOptions({ jvmRoute: 'n1', hostId: 'pi1', manager: 'backup', backups: 2 }), 'http://127.0.0.1:8081', pino({ level: 'silent' }))
  t.same(b.meta, { role: 'node', route: 'n1', http: 'http://127.0.0.1:8081', host: 'pi1', props: { manager: 'backup', backups: '2' } }, 'the host id and the manager are advertised')
  t.equal(c.membership.type, 'static')
  t.same(c.membership.members, ['127.0.0.1:4011'])
  t.equal(c.sendMode, 'sync')
  t.equal(c.key, 'k')
  t.notOk('keyFile' in c)
  const auto = channelOptionsOf(resolveNodeOptions({}), 'http://x:1', pino({ level: 'silent' }))
  t.notOk('address' in auto, 'receiver address "auto" is left to tribes')
  t.notOk('bind' in auto.membership)
})

t.test('the advertised HTTP URL is reachable even for a wildcard listen', async (t) => {
  const o = resolveNodeOptions({ receiver: { address: '127.0.0.5' } })
  t.equal(advertisedHttpUrl({ address: '127.0.0.1', family: 'IPv4', port: 8081 }, o), 'http://127.0.0.1:8081')
  t.equal(advertisedHttpUrl({ address: '0.0.0.0', family: 'IPv4', port: 8081 }, o), 'http://127.0.0.5:8081', 'wildcard: the receiver address')
  t.equal(advertisedHttpUrl({ address: '::1', family: 'IPv6', port: 8081 }, o), 'http://[::1]:8081')
  t.match(advertisedHttpUrl({ address: '::', family: 'IPv6', port: 1 }, resolveNodeOptions({})), /^http:\/\/[^/]+:1$/, 'auto receiver: some interface address')
})

t.test('host identity and usable cores', async (t) => {
  const files = (map: Record<string, string>) => (f: string) => { if (f in map) return map[f]!; throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' }) }
  t.equal(defaultHostId(files({ '/etc/machine-id': '0123456789abcdef0123456789abcdef\n' })), '0123456789abcdef0123456789abcdef', 'the machine id')
  t.equal(defaultHostId(files({ '/etc/machine-id': 'garbage' })), os.hostname(), 'else the host name')
  t.equal(usableCores(files({}), 4), 4, 'no cgroup file: the affinity count')
  t.equal(usableCores(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }), 4), 4, 'no quota')
  t.equal(usableCores(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' }), 4), 2, 'a 1.5-core quota rounds up to 2')
  t.equal(usableCores(files({ '/sys/fs/cgroup/cpu.max': '50000 100000\n' }), 4), 1, 'at least one')
  t.equal(usableCores(files({ '/sys/fs/cgroup/cpu.max': '800000 100000\n' }), 2), 2, 'a quota above the cores changes nothing')
})

t.test('each member keeps its deploy versions in its own directory, also when --deploy-dir is shared', async (t) => {
  const a = resolveNodeOptions({ jvmRoute: 'pi1-0', deployDir: '/var/lib/nodecat/deploy' })
  const b = resolveNodeOptions({ jvmRoute: 'pi1-1', deployDir: '/var/lib/nodecat/deploy' })
  t.equal(memberDeployDir(a), path.join('/var/lib/nodecat/deploy', 'pi1-0'))
  t.equal(memberDeployDir(b), path.join('/var/lib/nodecat/deploy', 'pi1-1'), 'two members of one machine do not share state.json')
  t.equal(memberDeployDir(resolveNodeOptions({ jvmRoute: 'n1' })), path.join(process.cwd(), 'nodecat-deploy', 'n1'), 'default: ./nodecat-deploy/<route>')
})
