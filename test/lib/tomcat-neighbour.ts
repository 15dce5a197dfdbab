/**
 * What the Tomcat-neighbour tests share (root only, in network namespaces the tests create): a
 * Tomcat 10 server.xml with the classic setup's <Cluster>, a distributable webapp, and a bounded
 * Tomcat start that is stopped by its PID.
 */
import path from 'node:path'
import { mkdirSync, writeFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { catalinaRun, type TomcatSoftware } from '@nodecat/testkit'
import type { TestNet } from './netns.js'

export const STARTED = /Server startup in \[?([\d,.]+)\]? (?:milliseconds|ms)/
export const STATE_TIMEOUT = /No session state sent at .* timing out after/
export const NO_CONTEXT_MANAGER = /No matching context manager/i

/** the classic setup's <Cluster> (reference/tomcat-cluster.md), trimmed to what membership and DeltaManager need */
export const serverXml = (address: string): string => `<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector address="${address}" port="8080" protocol="HTTP/1.1" connectionTimeout="20000" />
    <Engine name="Catalina" defaultHost="localhost" jvmRoute="tomcat1">
      <Cluster className="org.apache.catalina.ha.tcp.SimpleTcpCluster" channelSendOptions="8">
        <Manager className="org.apache.catalina.ha.session.DeltaManager" expireSessionsOnShutdown="false" notifyListenersOnReplication="true"/>
        <Channel className="org.apache.catalina.tribes.group.GroupChannel">
          <Membership className="org.apache.catalina.tribes.membership.McastService" address="228.0.0.4" port="45564" frequency="500" dropTime="3000"/>
          <Receiver className="org.apache.catalina.tribes.transport.nio.NioReceiver" address="${address}" port="4000" autoBind="100" selectorTimeout="5000" maxThreads="6"/>
          <Sender className="org.apache.catalina.tribes.transport.ReplicationTransmitter">
            <Transport className="org.apache.catalina.tribes.transport.nio.PooledParallelSender"/>
          </Sender>
          <Interceptor className="org.apache.catalina.tribes.group.interceptors.TcpFailureDetector"/>
          <Interceptor className="org.apache.catalina.tribes.group.interceptors.MessageDispatchInterceptor"/>
        </Channel>
        <Valve className="org.apache.catalina.ha.tcp.ReplicationValve" filter=""/>
        <Valve className="org.apache.catalina.ha.session.JvmRouteBinderValve"/>
        <ClusterListener className="org.apache.catalina.ha.session.ClusterSessionListener"/>
      </Cluster>
      <Host name="localhost" appBase="webapps" unpackWARs="true" autoDeploy="false"/>
    </Engine>
  </Service>
</Server>
`

/** a distributable webapp: its sessions belong to the cluster's DeltaManager */
export function writeWebapp (dir: string): string {
  mkdirSync(path.join(dir, 'WEB-INF'), { recursive: true })
  writeFileSync(path.join(dir, 'WEB-INF', 'web.xml'), `<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0"><distributable/></web-app>
`)
  writeFileSync(path.join(dir, 'index.html'), 'neighbour\n')
  return dir
}

export interface TomcatStart { log: string, wallMs: number, reportedMs: number | null, started: boolean }

/** start Tomcat in `ns`, wait (bounded) for "Server startup", stop it by its PID */
export async function runTomcat (net: TestNet, ns: string, base: string, sw: TomcatSoftware, deadlineMs: number): Promise<TomcatStart> {
  const run = catalinaRun(sw, base)
  const began = performance.now()
  const p = net.spawnIn(ns, run.command, run.args, run.env)
  const log = (): string => p.stderr() + p.lines.map((l) => String(l.msg ?? '')).join('\n')
  let m: RegExpMatchArray | null = null
  let exited = false
  void p.exited.then(() => { exited = true })
  while (performance.now() - began < deadlineMs && !exited) {
    m = STARTED.exec(log())
    if (m !== null) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const wallMs = performance.now() - began
  const text = log()
  await p.stop(10_000)
  return { log: text, wallMs, reportedMs: m === null ? null : Number(m[1]!.replace(/[,.]/g, '')), started: m !== null }
}

export async function metrics (net: TestNet, ns: string, url: string): Promise<string> {
  return await net.exec(ns, process.execPath, ['-e', `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((s) => process.stdout.write(s), (e) => { console.error(e); process.exit(1) })`])
}
