/**
 * The balancer is a harmless neighbour to a real Tomcat too (root only: real multicast between
 * network namespaces this test creates). `nodecat-balancer --discover` joins the group as a
 * member, so when it is the longest-running one a starting Tomcat asks it for all sessions
 * (GET_ALL_SESSIONS) and would wait its 60 s stateTransferTimeout. The balancer answers as the
 * nodes do (EVT_ALL_SESSION_NOCONTEXTMANAGER, shared code in @nodecat/protocol), so Tomcat starts
 * at once and logs no SEVERE state-transfer timeout. Tomcat 10 comes from Debian, installed when
 * missing; the test skips, saying why, when that cannot be done or we are not root.
 */
import t from 'tap'
import os from 'node:os'
import path from 'node:path'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { CATALINA_HOME, ensureTomcat, writeCatalinaBase, type TomcatSoftware } from '@nodecat/testkit'
import { longerBoundToInstall } from './lib/install-bound.js'
import { createTestNet, netnsSkipReason } from './lib/netns.js'
import { NO_CONTEXT_MANAGER, runTomcat, serverXml, STATE_TIMEOUT, writeWebapp } from './lib/tomcat-neighbour.js'
import { clusterKeyFile } from './lib/proc.js'

const scratch = mkdtempSync(path.join(os.tmpdir(), 'nodecat-tomcat-neighbour-lb-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
const netSkip = netnsSkipReason()
if (netSkip === false) await longerBoundToInstall(t, existsSync(path.join(CATALINA_HOME, 'lib', 'jasper.jar')))
const software: TomcatSoftware | string = netSkip !== false ? netSkip : ensureTomcat(scratch, (line) => t.comment(line))
const skip = typeof software === 'string' ? (software === netSkip ? software : `Tomcat 10 is not available (tomcat10-common, libtomcat10-java): ${software}`) : false

t.test('a Tomcat starting beside an older nodecat-balancer --discover gets NO-CONTEXT-MANAGER at once', { skip, timeout: 170_000 }, async (t) => {
  const sw = software as TomcatSoftware
  const keyFile = clusterKeyFile(t, 'nodecat-neighbour-lb-')
  const net = await createTestNet(t, { members: 2 })
  const [nsLb, nsTomcat] = net.names as [string, string]
  const lbAddr = net.address(nsLb)
  const tomcatAddr = net.address(nsTomcat)

  const balancer = net.spawnNode(nsLb, 'balancer', 'cli.js', [
    '--listen', `${lbAddr}:8080`, '--admin', '127.0.0.1:8090', '--discover', '--multicast-bind', lbAddr,
    '--cluster-address', lbAddr, '--key-file', keyFile
  ])
  await balancer.waitFor((l) => l.msg === 'balancer started', 30_000, 'balancer started')

  const base = writeCatalinaBase(path.join(scratch, 'base'), sw, serverXml(tomcatAddr), writeWebapp(path.join(scratch, 'webapp')))
  const started = await runTomcat(net, nsTomcat, base, sw, 90_000)
  if (!t.ok(started.started, 'Tomcat reached "Server startup"')) t.comment(started.log.slice(-4000))
  t.notOk(STATE_TIMEOUT.test(started.log), 'no SEVERE "No session state sent … timing out" line')
  t.ok(NO_CONTEXT_MANAGER.test(started.log), 'Tomcat logged that a "No matching context manager" reply ended its wait')
  t.match(balancer.lines.find((l) => l.event === 'tomcat-get-all-answered'), { context: /^localhost#/ }, 'the balancer answered the request for all sessions of Tomcat\'s context')
  t.notOk(balancer.lines.some((l) => l.msg === 'worker added'), 'and never took the Tomcat as a worker (a foreign member)')
  t.comment(`Tomcat beside the balancer: ${Math.round(started.wallMs)} ms from launch to "Server startup" (Tomcat reports ${started.reportedMs} ms)`)
})
