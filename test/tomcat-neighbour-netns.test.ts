/**
 * A harmless neighbour to a real Tomcat on the same multicast group (root only: real multicast
 * between network namespaces this test creates). A nodecat node starts first, so it is the
 * group's longest-running member; then a Tomcat 10 with a DeltaManager cluster and a
 * distributable webapp starts beside it. Tomcat asks the oldest member for all sessions
 * (GET_ALL_SESSIONS); nodecat answers as a Tomcat without that context's manager does
 * (EVT_ALL_SESSION_NOCONTEXTMANAGER), so Tomcat starts without waiting its 60 s
 * stateTransferTimeout and logs no SEVERE state-transfer timeout. The node counts the answer in
 * /_nodecat/metrics.
 *
 * It also starts the same Tomcat alone and prints both start times (a figure, never a threshold).
 * Tomcat 10 comes from Debian (tomcat10-common, libtomcat10-java), installed when missing; the
 * test skips, saying why, when that cannot be done or we are not root.
 */
import t from 'tap'
import os from 'node:os'
import path from 'node:path'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { CATALINA_HOME, ensureTomcat, writeCatalinaBase, type TomcatSoftware } from '@nodecat/testkit'
import { longerBoundToInstall } from './lib/install-bound.js'
import { createTestNet, netnsSkipReason } from './lib/netns.js'
import { metrics, NO_CONTEXT_MANAGER, runTomcat, serverXml, STATE_TIMEOUT, writeWebapp } from './lib/tomcat-neighbour.js'
import { clusterKeyFile } from './lib/proc.js'
import { SHOP_APP } from './lib/cluster.js'

const scratch = mkdtempSync(path.join(os.tmpdir(), 'nodecat-tomcat-neighbour-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
const netSkip = netnsSkipReason()
// why not when the namespaces cannot be made: installing needs root too, and would be for nothing
if (netSkip === false) await longerBoundToInstall(t, existsSync(path.join(CATALINA_HOME, 'lib', 'jasper.jar')))
const software: TomcatSoftware | string = netSkip !== false ? netSkip : ensureTomcat(scratch, (line) => t.comment(line))
const skip = typeof software === 'string' ? (software === netSkip ? software : `Tomcat 10 is not available (tomcat10-common, libtomcat10-java): ${software}`) : false

t.test('a Tomcat starting beside an older nodecat node gets NO-CONTEXT-MANAGER at once, not a 60 s wait', { skip, timeout: 170_000 }, async (t) => {
  const sw = software as TomcatSoftware
  t.comment(sw.versions)
  const keyFile = clusterKeyFile(t, 'nodecat-neighbour-')
  const net = await createTestNet(t, { members: 2 })
  const [nsNode, nsTomcat] = net.names as [string, string]
  const nodeAddr = net.address(nsNode)
  const tomcatAddr = net.address(nsTomcat)
  const webapp = writeWebapp(path.join(scratch, 'webapp'))

  const node = net.spawnNode(nsNode, 'was-node', 'cli.js', [
    '--jvm-route', 'n1', '--http', `${nodeAddr}:8080`, '--receiver', `${nodeAddr}:4000`, '--bind', nodeAddr, '--key-file', keyFile, '--app', SHOP_APP
  ])
  await node.waitFor((l) => l.event === 'node-ready', 30_000, 'node ready')

  const base = writeCatalinaBase(path.join(scratch, 'base-beside-node'), sw, serverXml(tomcatAddr), webapp)
  const beside = await runTomcat(net, nsTomcat, base, sw, 90_000)
  if (!t.ok(beside.started, 'Tomcat reached "Server startup"')) t.comment(beside.log.slice(-4000))
  t.notOk(STATE_TIMEOUT.test(beside.log), 'no SEVERE "No session state sent … timing out" line')
  t.ok(NO_CONTEXT_MANAGER.test(beside.log), 'Tomcat logged that a "No matching context manager" reply ended its wait')
  const answered = node.lines.find((l) => l.event === 'tomcat-get-all-answered')
  t.match(answered, { context: /^localhost#/ }, 'the node answered the request for all sessions of Tomcat\'s context')
  const text = await metrics(net, nsNode, `http://${nodeAddr}:8080/_nodecat/metrics`)
  t.match(text, /nodecat_tomcat_answers_total\{route="n1",answer="no_context_manager"\} 1\n/, 'metrics: one NO-CONTEXT-MANAGER answer')
  t.notMatch(text, /nodecat_channel_dropped_total\{route="n1",reason="foreign-(message|unknown-sender|handler-failed)"\}/, 'no foreign message left unhandled by the channel')
  if (!beside.started) return

  await node.stop()
  const alone = await runTomcat(net, nsTomcat, writeCatalinaBase(path.join(scratch, 'base-alone'), sw, serverXml(tomcatAddr), webapp), sw, 45_000)
  t.ok(alone.started, 'Tomcat alone reached "Server startup" too')
  // Tomcat's own WARN: "… a 'No matching context manager' message was received after [n] ms."
  const waited = /No matching context manager.*?after \[([\d,.]+)\] ?ms/i.exec(beside.log)?.[1] ?? '?'
  t.comment(`Tomcat start, beside the nodecat node: ${Math.round(beside.wallMs)} ms from launch to "Server startup" (Tomcat reports ${beside.reportedMs} ms; its state-transfer wait ended after ${waited} ms); ` +
    `alone: ${Math.round(alone.wallMs)} ms (Tomcat reports ${alone.reportedMs} ms)`)
})
