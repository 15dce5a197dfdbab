/**
 * nodecat-balancer in front of two real, unchanged Apache Tomcat 10 instances over AJP/1.3, as
 * httpd + mod_jk would be: `--worker tomcat1=ajp://127.0.0.1:P1 --worker tomcat2=ajp://127.0.0.1:P2`.
 * Each Tomcat runs `catalina.sh run` with its own CATALINA_BASE in a temp dir: an AJP connector on
 * 127.0.0.1 (secretRequired="false"), no HTTP connector, Engine jvmRoute tomcat1/tomcat2, and
 * bench:was's counter webapp (a JSP that counts in the session). No <Cluster>: sessions are not
 * replicated, so failover means a new session on the other Tomcat (as with mod_jk and no cluster).
 *
 * Asserted: the session is sticky (its id ends in .tomcatN, the count goes up on that Tomcat);
 * after that Tomcat is SIGKILLed by its PID, the user's next request is answered by the other one.
 * Tomcat 10 comes from Debian (tomcat10-common, libtomcat10-java; installed when missing, as root);
 * the test skips, saying why, when not root or when it cannot be installed. Every process is
 * stopped by PID and the temp dir removed, also on failure.
 */
import t from 'tap'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import http from 'node:http'
import { CATALINA_HOME, catalinaRun, ensureTomcat, freePorts, isRoot, waitUntil, writeCatalinaBase, type TomcatSoftware } from '@nodecat/testkit'
import { repoRoot, startNode, startProcess, type TestProcess } from './lib/proc.js'
import { longerBoundToInstall } from './lib/install-bound.js'

const COUNTER_WEBAPP = path.join(repoRoot, 'bench', 'was', 'tomcat', 'ROOT')

const scratch = mkdtempSync(path.join(tmpdir(), 'nodecat-ajp-tomcat-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
await longerBoundToInstall(t, existsSync(path.join(CATALINA_HOME, 'lib', 'jasper.jar')))
const software: TomcatSoftware | string = isRoot() ? ensureTomcat(scratch, (s) => t.comment(s)) : 'needs root to install and run Tomcat 10 (tomcat10-common, libtomcat10-java)'

function serverXml (ajpPort: number, jvmRoute: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- nodecat test/ajp-tomcat.test.ts: one Tomcat behind nodecat-balancer over AJP; no shutdown port (stopped by PID) -->
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector protocol="AJP/1.3" address="127.0.0.1" port="${ajpPort}" secretRequired="false" redirectPort="8443" />
    <Engine name="Catalina" defaultHost="localhost" jvmRoute="${jvmRoute}">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false"/>
    </Engine>
  </Service>
</Server>
`
}

interface Answer { status: number, cookie: string | null, session: string | null, count: number | null, error: string | null }

async function get (url: string, cookie: string | null): Promise<Answer> {
  const res = await new Promise<{ status: number, headers: http.IncomingHttpHeaders, text: string }>((resolve, reject) => {
    const req = http.get(url, { headers: cookie === null ? {} : { cookie }, agent: false, timeout: 60_000 }, (r) => {
      let text = ''
      r.setEncoding('utf8')
      r.on('data', (c: string) => { text += c })
      r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, text }))
      r.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('no answer within 60 s')))
    req.on('error', reject)
  })
  const jsession = (res.headers['set-cookie'] ?? []).map((c) => /^JSESSIONID=([^;]+)/.exec(c)?.[1]).find((v) => v !== undefined)
  const count = /^count: (\d+)$/m.exec(res.text)
  const error = res.headers['x-nodecat-error']
  return {
    status: res.status,
    cookie: jsession === undefined ? null : `JSESSIONID=${jsession}`,
    session: /^session: (\S+)$/m.exec(res.text)?.[1] ?? null,
    count: count !== null ? Number(count[1]) : null,
    error: typeof error === 'string' ? error : null
  }
}

t.test('nodecat-balancer fronts two unchanged Tomcats over AJP: sticky, and fails over when one is killed', { skip: typeof software === 'string' ? software : false, timeout: 170_000 }, async (t) => {
  const sw = software as TomcatSoftware
  t.comment(`${sw.versions} (${sw.note})`)
  const [ajp1, ajp2, lbPort] = await freePorts(3)
  const routes = ['tomcat1', 'tomcat2']
  const tomcats = new Map<string, TestProcess>()
  routes.forEach((route, i) => {
    const base = writeCatalinaBase(path.join(scratch, `catalina-base-${route}`), sw, serverXml([ajp1!, ajp2!][i]!, route), COUNTER_WEBAPP)
    const run = catalinaRun(sw, base)
    // held by PID: catalina.sh run execs java; stopped (SIGTERM, then SIGKILL) at teardown
    tomcats.set(route, startProcess(run.command, run.args, { env: run.env, label: `tomcat ${route}`, teardown: (fn) => t.teardown(fn), maxLines: 2000 }))
  })
  const started = (p: TestProcess): boolean => /Server startup in/.test(p.stderr()) || p.lines.some((l) => /Server startup in/.test(String(l.msg ?? '')))
  await waitUntil('both Tomcats started', () => {
    for (const [route, p] of tomcats) if (!p.running()) throw new Error(`${route} exited: ${p.stderr().slice(-800)}`)
    return [...tomcats.values()].every(started)
  }, { timeoutMs: 120_000, everyMs: 250 })

  const balancer = startNode(t, 'balancer', 'cli.js', ['--listen', `127.0.0.1:${lbPort}`, '--worker', `tomcat1=ajp://127.0.0.1:${ajp1}`, '--worker', `tomcat2=ajp://127.0.0.1:${ajp2}`])
  await balancer.waitFor((l) => l.msg === 'balancer started', 30_000, 'balancer started')
  const url = `http://127.0.0.1:${lbPort}/count`

  // a new session on one Tomcat, then sticky to it
  const first = await get(url, null)
  t.equal(first.status, 200, `first answer ${first.error ?? ''}`)
  t.ok(first.cookie !== null, 'Tomcat set a session cookie')
  const owner = /\.(tomcat[12])$/.exec(first.cookie ?? '')?.[1]
  t.ok(owner !== undefined, `the session id carries the jvmRoute suffix (${first.cookie})`)
  if (owner === undefined) return
  const other = owner === 'tomcat1' ? 'tomcat2' : 'tomcat1'
  t.equal(first.count, 1)
  let cookie = first.cookie!
  for (let n = 2; n <= 4; n++) {
    const a = await get(url, cookie)
    t.equal(a.status, 200)
    t.equal(a.count, n, `request ${n}: the count goes up on ${owner}`)
    t.equal(`JSESSIONID=${a.session}`, cookie, 'the same session, on the same Tomcat')
  }

  // the owner dies; the user goes to the other Tomcat (no replication: a new session there)
  const victim = tomcats.get(owner)!
  victim.signal('SIGKILL')
  await victim.exited
  const after = await get(url, cookie)
  t.equal(after.status, 200, `answered after ${owner} died ${after.error ?? ''}`)
  t.match(after.session ?? '', new RegExp(`\\.${other}$`), `answered by ${other}`)
  t.equal(after.count, 1, 'a new session there (the Tomcats do not replicate)')
  t.match(after.cookie ?? '', new RegExp(`\\.${other}$`), `${other} set its own session cookie`)
  cookie = after.cookie!
  const next = await get(url, cookie)
  t.equal(next.count, 2, `and the user stays on ${other}`)
  t.match(next.session ?? '', new RegExp(`\\.${other}$`))
})
