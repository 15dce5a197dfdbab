/**
 * nodecat-was --server-xml: the classic setup's server.xml files (shared/fixtures/classic-setup,
 * copied into the repository's test/fixtures) map onto nodecat-was options; what has no
 * counterpart is listed with why; flags and env win; a broken file is a WAS_ERR_SERVER_XML naming
 * file:line and the attribute; the XML reader refuses what it does not read; random mutations of
 * the files never end in anything but a coded error.
 */
import t from 'tap'
import fc from 'fast-check'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { importServerXml } from '../src/service/server-xml.js'
import { readXml, XML_MAX_CHARS } from '../src/service/xml-reader.js'
import { gatherOptions } from '../src/service/sources.js'
import { resolveNodeOptions } from '../src/service/options.js'
import { WasError } from '../src/errors.js'
import { byteMutation, fuzzParams, mutate } from '../../../test/lib/fuzz.js'
import { classicFile, lineOf, scratchDir } from '../../../test/lib/classic-setup.js'

const WAS1 = classicFile('was1-server.xml')
const WAS2 = classicFile('was2-server.xml')

const settings = (text: string): Record<string, unknown> =>
  Object.fromEntries(importServerXml(text, 'was.xml').settings.map((s) => [s.flag, s.value]))

t.test('the classic setup\'s server.xml files map onto nodecat-was flags', async (t) => {
  t.same(settings(WAS1), {
    'jvm-route': 'tomcat1',
    'channel-send-options': 'async',
    manager: 'delta',
    'expire-sessions-on-shutdown': false,
    'notify-listeners-on-replication': true,
    membership: 'multicast',
    multicast: '228.0.0.4:45564',
    frequency: '500',
    'drop-time': '3000',
    receiver: '192.168.0.10:4000',
    'auto-bind': '100',
    'replication-filter': '',
    http: '8080',
    ajp: '0.0.0.0:18009',
    'ajp-secret-required': false
  })
  const two = settings(WAS2)
  t.equal(two['jvm-route'], 'tomcat2')
  t.equal(two.receiver, '192.168.0.12:4001')
  t.equal(two.ajp, '0.0.0.0:28009')
})

t.test('what has no counterpart is listed with the line and why', async (t) => {
  const { ignored } = importServerXml(WAS1, 'was1-server.xml')
  const find = (item: string): { line: number, reason: string } | undefined => ignored.find((i) => i.item.includes(item))
  const expect: Array<[string, RegExp, string]> = [
    ['maxThreads="6"', /event loop/, 'maxThreads="6"'],
    ['selectorTimeout="5000"', /selector/, 'selectorTimeout="5000"'],
    ['TcpFailureDetector', /always verifies/, 'TcpFailureDetector'],
    ['MessageDispatchInterceptor', /channelSendOptions 8/, 'MessageDispatchInterceptor'],
    ['PooledParallelSender', /one connection per member/, 'PooledParallelSender'],
    ['JvmRouteBinderValve', /always moves a failed-over session/, 'JvmRouteBinderValve'],
    ['FarmWarDeployer', /deploys no WARs: `nodecat-was deploy/, 'FarmWarDeployer'],
    ['watchDir="/tmp/war-listen/"', /watchEnabled is not "true": nothing is watched/, 'watchDir='],
    ['watchEnabled="false"', /nothing is watched/, 'watchEnabled='],
    ['deployDir="/tmp/war-deploy/"', /--deploy-dir\/<jvm-route>/, 'deployDir='],
    ['ClusterSessionListener', /built in/, 'ClusterSessionListener'],
    ['<Server port="8005">', /SIGTERM/, 'port="8005"']
  ]
  for (const [item, reason, needle] of expect) {
    const found = find(item)
    t.ok(found, `${item} is listed as ignored`)
    t.match(found?.reason, reason, `${item}: why`)
    t.equal(found?.line, lineOf(WAS1, needle), `${item}: its line`)
  }
})

t.test('server.xml < --config < env < flags, and the report says which source won', async (t) => {
  const dir = scratchDir(t, 'nodecat-server-xml-')
  const xml = path.join(dir, 'was1-server.xml')
  writeFileSync(xml, WAS1.replaceAll('192.168.0.10', '127.0.0.1'))
  const json = path.join(dir, 'node.json')
  writeFileSync(json, JSON.stringify({ stateTransferTimeout: 30, membership: { dropTime: 4000 } }))
  const g = gatherOptions(['--server-xml', xml, '--config', json, '--static', '127.0.0.1:4010', '--jvm-route', 'n1', '--ajp', '127.0.0.1:0'], { NODECAT_FREQUENCY: '250' })
  const o = resolveNodeOptions(g.options)
  t.equal(o.jvmRoute, 'n1', 'the flag wins over Engine jvmRoute')
  t.equal(o.membership.type, 'static', '--static wins over the McastService')
  t.same(o.membership.members, ['127.0.0.1:4010'])
  t.equal(o.membership.frequency, 250, 'env wins over the file')
  t.equal(o.membership.dropTime, 4000, 'the config file wins over server.xml')
  t.same(o.receiver, { address: '127.0.0.1', port: 4000, autoBind: 100 }, 'the receiver from the file')
  t.equal(o.channelSendOptions, 'async')
  t.equal(o.manager, 'delta')
  t.equal(o.replicationFilter, null, 'filter="" replicates every request, as in Tomcat')
  const taken = new Map(g.serverXmlReport!.taken.map((i) => [i.flag, i]))
  t.equal(taken.get('--jvm-route')?.overriddenBy, 'flag')
  t.equal(taken.get('--membership')?.overriddenBy, 'flag', '--static sets the membership type')
  t.equal(taken.get('--frequency')?.overriddenBy, 'env')
  t.equal(taken.get('--drop-time')?.overriddenBy, 'config')
  t.equal(taken.get('--receiver')?.overriddenBy, undefined, 'not overridden')
  t.equal(g.serverXmlReport!.file, xml)
})

t.test('a filter is anchored as Tomcat matches it (the whole URI)', async (t) => {
  const xml = WAS1.replace('filter=""', 'filter=".*\\.gif|.*\\.css"')
  t.equal(settings(xml)['replication-filter'], '^(?:.*\\.gif|.*\\.css)$')
  const re = new RegExp(settings(xml)['replication-filter'] as string)
  t.ok(re.test('/a/b.gif'))
  t.notOk(re.test('/a/b.gif/x'), 'a match inside the path is not a match')
})

t.test('a FarmWarDeployer with watchEnabled="true" becomes --watch-dir; with "false" nothing is watched', async (t) => {
  t.equal(settings(WAS1)['watch-dir'], undefined, 'the classic setup watches nothing (watchEnabled="false")')
  t.equal(settings(WAS1.replace('watchEnabled="false"', 'watchEnabled="true"'))['watch-dir'], '/tmp/war-listen/', 'watchEnabled="true": the watchDir')
})

t.test('static membership and BackupManager', async (t) => {
  const xml = WAS1.replace(/<Membership[^>]*\/>/s, `<Membership className="org.apache.catalina.tribes.membership.StaticMembershipService">
          <LocalMember className="org.apache.catalina.tribes.membership.StaticMember" uniqueId="{0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15}"/>
          <Member className="org.apache.catalina.tribes.membership.StaticMember" host="127.0.0.1" port="4001" uniqueId="{1,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15}"/>
          <Member className="org.apache.catalina.tribes.membership.StaticMember" host="127.0.0.2" port="4002"/>
        </Membership>`).replace('org.apache.catalina.ha.session.DeltaManager', 'org.apache.catalina.ha.session.BackupManager')
  const s = settings(xml)
  t.equal(s.membership, 'static')
  t.equal(s.static, '127.0.0.1:4001,127.0.0.2:4002')
  t.equal(s.manager, 'backup')
})

t.test('errors name file:line, the element and the attribute', async (t) => {
  const cases: Array<{ name: string, edit: (x: string) => string, line: (x: string) => number, message: RegExp }> = [
    { name: 'a port that is not one', edit: (x) => x.replace('port="45564"', 'port="x"'), line: (x) => lineOf(x, 'port="x"'), message: /<Membership port="x">: port must be 1-65535/ },
    { name: 'a receiver port out of range', edit: (x) => x.replace('port="4000"', 'port="70000"'), line: (x) => lineOf(x, 'port="70000"'), message: /<Receiver port="70000">: port must be 1-65535/ },
    { name: 'dropTime not above frequency', edit: (x) => x.replace('dropTime="3000"', 'dropTime="400"'), line: (x) => lineOf(x, 'dropTime="400"'), message: /<Membership dropTime="400">: dropTime must be more than frequency \(500 ms\)/ },
    { name: 'a boolean that is not true/false', edit: (x) => x.replace('expireSessionsOnShutdown="false"', 'expireSessionsOnShutdown="nope"'), line: (x) => lineOf(x, 'nope'), message: /<Manager expireSessionsOnShutdown="nope">: expireSessionsOnShutdown must be true or false/ },
    { name: 'a manager with no counterpart', edit: (x) => x.replace('org.apache.catalina.ha.session.DeltaManager', 'com.example.MyManager'), line: (x) => lineOf(x, 'com.example.MyManager'), message: /<Manager className="com.example.MyManager">: className must be a cluster session manager \(DeltaManager or BackupManager\)/ },
    { name: 'use_ack alone', edit: (x) => x.replace('channelSendOptions="8"', 'channelSendOptions="2"'), line: (x) => lineOf(x, 'channelSendOptions="2"'), message: /<Cluster channelSendOptions="2">: channelSendOptions must be 8 \(async\) or 6 \(sync\)/ },
    { name: 'a jvmRoute that is not a route', edit: (x) => x.replace('jvmRoute="tomcat1"', 'jvmRoute="tom cat"'), line: (x) => lineOf(x, 'tom cat'), message: /<Engine jvmRoute="tom cat">: jvmRoute must be/ },
    { name: 'autoBind 0', edit: (x) => x.replace('autoBind="100"', 'autoBind="0"'), line: (x) => lineOf(x, 'autoBind="0"'), message: /<Receiver autoBind="0">: autoBind must be 1-1000/ },
    { name: 'a filter JavaScript cannot read', edit: (x) => x.replace('filter=""', 'filter="(x"'), line: (x) => lineOf(x, 'filter='), message: /<Valve filter="\(x">: filter must be a regular expression/ },
    { name: 'a DOCTYPE', edit: (x) => x.replace('<Server', '<!DOCTYPE Server [<!ENTITY x "y">]>\n<Server'), line: (x) => lineOf(x, '<!DOCTYPE'), message: /DOCTYPE is not read/ },
    { name: 'an unknown entity', edit: (x) => x.replace('jvmRoute="tomcat1"', 'jvmRoute="&route;"'), line: (x) => lineOf(x, '&route;'), message: /<Engine jvmRoute>: unknown entity &route;/ },
    { name: 'a mismatched end tag', edit: (x) => x.replace('</Channel>', '</Chanel>'), line: (x) => lineOf(x, '</Chanel>'), message: /<\/Chanel> closes <Channel> \(opened on line \d+\)/ },
    { name: 'an attribute given twice', edit: (x) => x.replace('frequency="500"', 'frequency="500" frequency="600"'), line: (x) => lineOf(x, 'frequency="500"'), message: /<Membership>: attribute frequency is given twice/ },
    { name: 'an unclosed element', edit: (x) => x.replace('</Server>', ''), line: (x) => x.split('\n').length, message: /<Server> \(line \d+\) is not closed at the end of the file/ },
    { name: 'a root that is not <Server>', edit: (x) => x.replaceAll('<Server port="8005" shutdown="SHUTDOWN">', '<Serve>').replace('</Server>', '</Serve>'), line: (x) => lineOf(x, '<Serve>'), message: /the root element is <Serve>/ }
  ]
  for (const c of cases) {
    const text = c.edit(WAS1)
    t.not(text, WAS1, `${c.name}: the edit applies`)
    try {
      importServerXml(text, 'was1-server.xml')
      t.fail(`${c.name}: accepted`)
    } catch (err) {
      t.equal((err as WasError).code, 'WAS_ERR_SERVER_XML', `${c.name}: coded`)
      t.match((err as Error).message, new RegExp(`^was1-server\\.xml:${c.line(text)}: `), `${c.name}: file and line`)
      t.match((err as Error).message, c.message, `${c.name}: what is wrong`)
    }
  }
})

t.test('a file that cannot be read is a coded error too; NODECAT_SERVER_XML names the file as --server-xml does', async (t) => {
  const dir = scratchDir(t, 'nodecat-server-xml-')
  const xml = path.join(dir, 'server.xml')
  writeFileSync(xml, WAS2)
  const g = gatherOptions([], { NODECAT_SERVER_XML: xml })
  t.equal(resolveNodeOptions(g.options).jvmRoute, 'tomcat2')
  t.equal(g.serverXmlReport?.file, xml)
  t.throws(() => importServerXml(WAS1.replace('port="45564"', 'port="$' + '{mcast.port}"'), 'p.xml'), { message: /port must be 1-65535 \(Tomcat's \$\{property\} substitution is not done/ })
  t.throws(() => gatherOptions(['--server-xml', path.join(dir, 'missing.xml')], {}), { code: 'WAS_ERR_SERVER_XML', message: /missing\.xml: cannot be read: ENOENT/ })
})

t.test('the XML reader: entities, references, comments, CDATA, lines', async (t) => {
  const fail = (line: number, message: string): never => { throw new Error(`${line}: ${message}`) }
  const root = readXml('\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!-- c -->\n<a x="&amp;&lt;&gt;&quot;&apos;&#65;&#x42;" y=\'1\'>\n  <b\n   z="2"/><![CDATA[<not markup>]]>text &amp; more</a>\n<!-- after -->\n', fail)
  t.equal(root.name, 'a')
  t.same(root.attributes.map((a) => [a.name, a.value, a.line]), [['x', '&<>"\'AB', 3], ['y', '1', 3]])
  t.equal(root.children[0]!.name, 'b')
  t.equal(root.children[0]!.line, 4)
  t.equal(root.children[0]!.attributes[0]!.line, 5)
  const refuse: Array<[string, RegExp]> = [
    ['<a><?pi x?></a>', /processing instructions/],
    ['<a x="1"y="2"/>', /expected whitespace/],
    ['<a x=1/>', /in quotes/],
    ['<a x="<"/>', /"<" is not allowed/],
    ['<a>&#0;</a>', /not a character XML allows/],
    ['<a>&#xD800;</a>', /not a character XML allows/],
    ['<a>& b</a>', /must start an entity/],
    ['<a/><b/>', /a second root element/],
    ['x<a/>', /text outside the root/],
    ['<a><!-- x -- y --></a>', /"--" is not allowed inside a comment/],
    ['<a>\u0001</a>', /U\+0001 is not allowed/],
    ['<?xml version="1.0" encoding="ISO-8859-1"?><a/>', /must be UTF-8/],
    ['', /no root element/],
    ['<a', /not closed/],
    ['</a>', /closes nothing/],
    ['<a>' + '<b>'.repeat(70), /nest deeper than 64/]
  ]
  for (const [text, message] of refuse) t.throws(() => readXml(text, fail), { message }, JSON.stringify(text.slice(0, 40)))
  t.throws(() => importServerXml('<Server>' + ' '.repeat(XML_MAX_CHARS) + '</Server>', 'big.xml'), { code: 'WAS_ERR_SERVER_XML', message: /^big\.xml:1: the file is larger than 4194304 characters/ })
})

t.test('fuzz: mutated server.xml files give a mapping or a coded error, never a crash', async (t) => {
  // why text tokens too: byte flips rarely make the markup the reader must refuse
  const tokens = ['<', '>', '/>', '&', '&amp;', '&#x0;', '"', '\'', '=', '<!--', '-->', '<!DOCTYPE x>', '<?pi?>', ']]>', '<![CDATA[', '</Channel>', '<Member host="h" port="1"/>', ' port="99999"', 'className="x"', '\n', '\u0000', '\uD800']
  const tokenEdit = fc.record({ at: fc.nat(), token: fc.constantFrom(...tokens), drop: fc.integer({ min: 0, max: 8 }) })
  let mapped = 0
  let refused = 0
  fc.assert(fc.property(fc.constantFrom(WAS1, WAS2), fc.array(byteMutation(fc.integer()), { maxLength: 4 }), fc.array(tokenEdit, { maxLength: 4 }), (base, bytes, edits) => {
    let text = mutate(Buffer.from(base), bytes).toString('utf8')
    for (const e of edits) {
      const at = e.at % (text.length + 1)
      text = text.slice(0, at) + e.token + text.slice(at + e.drop)
    }
    try {
      const imported = importServerXml(text, 'fuzz.xml')
      mapped++
      for (const s of imported.settings) if (typeof s.line !== 'number' || s.line < 1) throw new Error(`setting without a line: ${JSON.stringify(s)}`)
    } catch (err) {
      if (!(err instanceof WasError) || err.code !== 'WAS_ERR_SERVER_XML' || !/^fuzz\.xml(:\d+)?: /.test(err.message)) throw err
      refused++
    }
  }), fuzzParams(3000))
  t.comment(`${mapped} mapped, ${refused} refused with WAS_ERR_SERVER_XML`)
  t.ok(mapped > 0 && refused > 0, 'both outcomes were reached')
})
