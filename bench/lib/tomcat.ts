/**
 * A real Apache Tomcat 10 two-node cluster for bench:was, each node in its own network namespace:
 * a CATALINA_BASE per node in the bench's temp dir (conf/server.xml from bench/was/tomcat/server.xml,
 * the classic setup's <Cluster>; Tomcat's stock conf/web.xml and friends; webapps/ROOT the counter
 * webapp with <distributable/>), started with `catalina.sh run` in the foreground (it execs java,
 * so the PID held is the JVM's) and stopped by that PID. Membership is McastService's multicast,
 * which stays inside the bench's namespaces.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { catalinaRun, writeCatalinaBase } from '@nodecat/testkit'
import { startChild, type Child } from './children.js'
import { withTimeout, oneLine } from './interleave.js'
import type { ClassicSoftware } from './tomcat-install.js'
import type { NodeNet } from './netns.js'

export const wasDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'was')

export interface TomcatNode {
  route: string
  address: string
  /** the HTTP connector, as reached from inside the namespaces */
  url: string
  ajpPort: number
  child: Child
}

export const TOMCAT_HTTP_PORT = 8080
/** the classic setup's AJP ports (was1-server.xml, was2-server.xml) */
export const TOMCAT_AJP_PORTS = [18009, 28009]

function fill (template: string, values: Record<string, string | number>): string {
  return template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (all, key: string) => {
    if (!(key in values)) throw new Error(`template placeholder ${all} has no value`)
    return String(values[key])
  })
}

/** Write one node's CATALINA_BASE; returns its path. */
function writeBase (dir: string, sw: ClassicSoftware, host: NodeNet, route: string, ajpPort: number): string {
  const base = path.join(dir, `catalina-base-${route}`)
  const serverXml = fill(readFileSync(path.join(wasDir, 'tomcat', 'server.xml'), 'utf8'), { ADDRESS: host.address, HTTP_PORT: TOMCAT_HTTP_PORT, AJP_PORT: ajpPort, JVM_ROUTE: route, BASE: base })
  return writeCatalinaBase(base, sw, serverXml, path.join(wasDir, 'tomcat', 'ROOT'), ['war-temp', 'war-deploy', 'war-listen'])
}

const text = (c: Child): string => c.lines.map((l) => String(l.msg ?? '')).join('\n') + '\n' + c.stderr()

/**
 * Start tomcat1 and tomcat2 (one per host) at once and wait until each has started and has the
 * other as a replication member. Tomcat logs to stdout (ConsoleHandler) and to CATALINA_BASE/logs.
 */
export async function startTomcatCluster (dir: string, sw: ClassicSoftware, hosts: NodeNet[], timeoutMs = 180_000): Promise<TomcatNode[]> {
  const nodes = hosts.map((host, i): TomcatNode => {
    const route = `tomcat${i + 1}`
    const ajpPort = TOMCAT_AJP_PORTS[i]!
    const base = writeBase(dir, sw, host, route, ajpPort)
    // why: Debian's default JAVA_OPTS (/usr/share/tomcat10/default.template); heap and GC are the JVM's defaults
    const run = catalinaRun(sw, base)
    const child = startChild(`tomcat ${route}`, host.wrap[0]!, [...host.wrap.slice(1), run.command, ...run.args], { env: run.env, maxLines: 5000 })
    return { route, address: host.address, url: `http://${host.address}:${TOMCAT_HTTP_PORT}`, ajpPort, child }
  })
  // why sticky: Tomcat's console log goes to stderr, of which only the newest part is kept
  const started = nodes.map(() => false)
  const joined = nodes.map(() => false)
  await withTimeout((async () => {
    for (;;) {
      nodes.forEach((n, i) => {
        const t = text(n.child)
        started[i] ||= /Server startup in/.test(t)
        joined[i] ||= /Replication member added/.test(t)
      })
      if (started.every(Boolean) && joined.every(Boolean)) return
      for (const n of nodes) if (!n.child.isRunning()) throw new Error(`${n.route} exited: ${oneLine(text(n.child).slice(-600))}`)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  })(), timeoutMs, 'the Tomcat cluster: both nodes started and members of each other')
  return nodes
}
