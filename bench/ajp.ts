/**
 * pnpm bench:ajp — what the AJP path costs the balancer against its HTTP path, to the same real
 * Tomcat 10: one Tomcat (CATALINA_BASE in a temp dir, an HTTP and an AJP connector on 127.0.0.1,
 * jvmRoute tomcat1, bench:was's counter JSP) behind two nodecat-balancers, one with
 * `--worker tomcat1=http://…` (undici), one with `--worker tomcat1=ajp://…` (ajp-client.ts).
 * Each repetition loads each balancer in turn (interleaved) with autocannon for a fixed time on
 * GET /read (read-only JSP, one session) and reads the balancer process's CPU time (/proc):
 * CPU µs per request is the figure that holds on a shared machine; requests/s is reported too,
 * as the AJP ÷ HTTP ratio paired per repetition. Bounded: reps × 2 × durationS seconds.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { catalinaRun, ensureTomcat, freePorts, waitUntil, writeCatalinaBase } from '@nodecat/testkit'
import { runMain } from './lib/cleanup.js'
import { machineInfo } from './lib/machine.js'
import { createProgress } from './lib/progress.js'
import { runInterleaved, column, type Variant } from './lib/interleave.js'
import { startChild, type Child } from './lib/children.js'
import { runAutocannon } from './lib/http-load.js'
import { cpuSeconds } from './lib/cpu-time.js'
import { summarize, formatSummary, pairedRatio, formatRatio } from './lib/stats.js'
import { writeReport } from './lib/report.js'
import { balancerCli } from './lib/proxy-nodecat.js'
import { wasDir } from './lib/tomcat.js'

const USAGE = `usage: pnpm bench:ajp [--reps N] [--seconds S] [--connections C]
  --reps N         repetitions (default 5)
  --seconds S      load per repetition and variant (default 5)
  --connections C  autocannon connections (default 8)`

interface Sample { rps: number, cpuUsPerRequest: number, p50ms: number, p99ms: number, errors: number }

function serverXml (httpPort: number, ajpPort: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector address="127.0.0.1" port="${httpPort}" protocol="HTTP/1.1" connectionTimeout="20000" />
    <Connector protocol="AJP/1.3" address="127.0.0.1" port="${ajpPort}" secretRequired="false" />
    <Engine name="Catalina" defaultHost="localhost" jvmRoute="tomcat1">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false"/>
    </Engine>
  </Service>
</Server>
`
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { reps: { type: 'string' }, seconds: { type: 'string' }, connections: { type: 'string' }, help: { type: 'boolean' } } })
  if (values.help === true) { console.log(USAGE); return }
  const reps = Number(values.reps ?? 5)
  const durationS = Number(values.seconds ?? 5)
  const connections = Number(values.connections ?? 8)
  const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-bench-ajp-'))
  const children: Child[] = []
  try {
    const sw = ensureTomcat(dir, (s) => console.log(s))
    if (typeof sw === 'string') throw new Error(`Tomcat 10 is not available: ${sw}`)
    const [httpPort, ajpPort, lbHttp, lbAjp] = await freePorts(4)
    const base = writeCatalinaBase(path.join(dir, 'catalina-base'), sw, serverXml(httpPort!, ajpPort!), path.join(wasDir, 'tomcat', 'ROOT'))
    const run = catalinaRun(sw, base)
    const tomcat = startChild('tomcat', run.command, run.args, { env: run.env, maxLines: 2000 })
    children.push(tomcat)
    await waitUntil('Tomcat started', () => {
      if (!tomcat.isRunning()) throw new Error(`Tomcat exited: ${tomcat.stderr().slice(-600)}`)
      return /Server startup in/.test(tomcat.stderr())
    }, { timeoutMs: 180_000, everyMs: 250 })
    // why --health-path for HTTP: the default /_nodecat/ready is a nodecat node's page; a Tomcat answers it 404
    // (the worker flaps to ERROR every check); an ajp:// worker is checked by CPing and needs nothing
    const balancer = (port: number, worker: string): Child => {
      const health = worker.includes('=http://') ? ['--health-path', '/read'] : []
      const c = startChild(`nodecat-balancer ${worker}`, process.execPath, [balancerCli, '--listen', `127.0.0.1:${port}`, '--worker', worker, ...health], { env: { ...process.env, NODE_OPTIONS: '' } })
      children.push(c)
      return c
    }
    const lbs = [
      { name: 'http:// worker (undici)', port: lbHttp!, child: balancer(lbHttp!, `tomcat1=http://127.0.0.1:${httpPort!}`) },
      { name: 'ajp:// worker', port: lbAjp!, child: balancer(lbAjp!, `tomcat1=ajp://127.0.0.1:${ajpPort!}`) }
    ]
    for (const lb of lbs) await lb.child.waitFor((l) => l.msg === 'balancer started', 30_000, `${lb.name}: balancer started`)
    // warm-up (JSP compiled, JIT on both sides), not measured
    for (const lb of lbs) await runAutocannon({ url: `http://127.0.0.1:${lb.port}/read`, connections, durationS: 3, routes: ['tomcat1'] })

    const variants: Array<Variant<Sample>> = lbs.map((lb) => ({
      name: lb.name,
      run: async () => {
        const before = cpuSeconds(lb.child.pid)
        const r = await runAutocannon({ url: `http://127.0.0.1:${lb.port}/read`, connections, durationS, routes: ['tomcat1'] })
        const cpu = cpuSeconds(lb.child.pid) - before
        return { rps: r.rps, cpuUsPerRequest: cpu * 1e6 / Math.max(1, r.requests), p50ms: r.p50ms, p99ms: r.p99ms, errors: r.errors }
      }
    }))
    const progress = createProgress('ajp', reps * variants.length)
    const outcomes = await runInterleaved(variants, reps, progress)
    progress.stop()
    const [httpO, ajpO] = outcomes as [typeof outcomes[number], typeof outcomes[number]]
    const cpu = (o: typeof httpO): number[] => column(o, reps, (s) => s.cpuUsPerRequest)
    const rps = (o: typeof httpO): number[] => column(o, reps, (s) => s.rps)
    const us = (v: number[]): string => formatSummary(summarize(v), (x) => `${x.toFixed(0)} µs`)
    const perS = (v: number[]): string => formatSummary(summarize(v), (x) => `${x.toFixed(0)}/s`)
    const rows = outcomes.map((o) => [o.name, us(cpu(o)), perS(rps(o)), formatSummary(summarize(column(o, reps, (s) => s.p99ms)), (x) => `${x.toFixed(1)} ms`), String(o.samples.reduce((n, s) => n + (s?.errors ?? 0), 0))])
    writeReport({
      name: 'ajp',
      title: 'nodecat-balancer: AJP path vs HTTP path to the same Tomcat',
      command: `pnpm bench:ajp${values.reps !== undefined ? ` --reps ${values.reps}` : ''}${values.seconds !== undefined ? ` --seconds ${values.seconds}` : ''}${values.connections !== undefined ? ` --connections ${values.connections}` : ''}`,
      machine: machineInfo('host'),
      notes: [
        `${sw.versions}. One Tomcat with an HTTP and an AJP connector (defaults, 127.0.0.1), two nodecat-balancers (one process each, defaults) in front, one per path; GET /read (the counter webapp's read-only JSP) with one session cookie, ${connections} connections, ${durationS} s per repetition and path, interleaved, after a 3 s warm-up each.`,
        'The HTTP balancer checks GET /read (--health-path): with the default /_nodecat/ready a Tomcat answers 404 and the worker flaps to ERROR at every check (a first run showed ~30 503s per repetition from that). The AJP balancer checks by CPing (the default for ajp:// workers).',
        'CPU µs per request: the balancer process\'s utime + stime (/proc) over the run ÷ requests answered; it does not depend on how the cores were shared. Requests/s includes Tomcat\'s own cost for each connector and moves with the machine\'s load; read the ratio, paired per repetition.',
        `AJP ÷ HTTP, paired per repetition: CPU per request ${formatRatio(pairedRatio(cpu(ajpO), cpu(httpO)))}, requests/s ${formatRatio(pairedRatio(rps(ajpO), rps(httpO)))}.`
      ],
      tables: [{ title: 'Per path, median (min–max)', columns: ['worker', 'balancer CPU per request', 'requests/s', 'p99', 'errors'], rows }],
      raw: { reps, durationS, connections, outcomes }
    })
  } finally {
    for (const c of children.reverse()) await c.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

void runMain(main)
