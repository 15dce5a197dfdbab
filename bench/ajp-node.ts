/**
 * pnpm bench:ajp-node — what serving over AJP costs a nodecat node against serving over HTTP, behind
 * the same front: one nodecat-was (`--http` and `--ajp` on 127.0.0.1, test/fixtures/ajp/app.js) and
 * two Apache httpd processes (`apache2 -X`, one process each, from @nodecat/testkit): one with
 * mod_jk (`JkMount /* node`, AJP to the node), one with mod_proxy_http (`ProxyPass /` to the node's
 * HTTP port, keep-alive). Each repetition loads each front in turn (interleaved) with autocannon
 * for a fixed time on GET /served and reads the CPU time of the node and of each httpd (/proc):
 * CPU µs per request is the figure that holds on a shared machine; requests/s is reported too, as
 * the AJP ÷ HTTP ratio paired per repetition. Bounded: reps × 2 × durationS seconds.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { APACHE_MODULES, ensureModJk, freePorts, startModJkFront, type ModJkFront } from '@nodecat/testkit'
import { runMain } from './lib/cleanup.js'
import { machineInfo } from './lib/machine.js'
import { createProgress } from './lib/progress.js'
import { runInterleaved, column, type Variant } from './lib/interleave.js'
import { startChild, type Child } from './lib/children.js'
import { runAutocannon } from './lib/http-load.js'
import { cpuSeconds } from './lib/cpu-time.js'
import { summarize, formatSummary, pairedRatio, formatRatio } from './lib/stats.js'
import { writeReport } from './lib/report.js'

const USAGE = `usage: pnpm bench:ajp-node [--reps N] [--seconds S] [--connections C]
  --reps N         repetitions (default 5)
  --seconds S      load per repetition and front (default 5)
  --connections C  autocannon connections (default 8)`

interface Sample { rps: number, nodeUs: number, frontUs: number, p99ms: number, errors: number }

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { reps: { type: 'string' }, seconds: { type: 'string' }, connections: { type: 'string' }, help: { type: 'boolean' } } })
  if (values.help === true) { console.log(USAGE); return }
  const reps = Number(values.reps ?? 5)
  const durationS = Number(values.seconds ?? 5)
  const connections = Number(values.connections ?? 8)
  const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-bench-ajp-node-'))
  const children: Child[] = []
  const fronts: ModJkFront[] = []
  try {
    const sw = ensureModJk((s) => console.log(s))
    if (typeof sw === 'string') throw new Error(`Apache httpd + mod_jk is not available: ${sw}`)
    const [http, receiver, ajp, jkPort, proxyPort] = await freePorts(5)
    const node = startChild('nodecat-was', process.execPath, [
      path.join(repo, 'packages', 'was-node', 'dist', 'cli.js'), '--jvm-route', 'n1', '--http', `127.0.0.1:${http!}`, '--receiver', `127.0.0.1:${receiver!}`,
      '--membership', 'static', '--ajp', `127.0.0.1:${ajp!}`, '--app', path.join(repo, 'test', 'fixtures', 'ajp', 'app.js'), '--state-transfer-timeout', '5'
    ], { env: { ...process.env, NODE_OPTIONS: '' } })
    children.push(node)
    await node.waitFor((l) => l.event === 'node-ready', 60_000, 'the node is ready')
    const jkDir = path.join(dir, 'jk')
    const proxyDir = path.join(dir, 'proxy')
    mkdirSync(jkDir)
    mkdirSync(proxyDir)
    fronts.push(await startModJkFront(sw, {
      dir: jkDir,
      port: jkPort!,
      jkLogLevel: 'error',
      workers: `worker.list=node\nworker.node.type=ajp13\nworker.node.host=127.0.0.1\nworker.node.port=${ajp!}\n`
    }))
    fronts.push(await startModJkFront(sw, {
      dir: proxyDir,
      port: proxyPort!,
      jkLogLevel: 'error',
      workers: 'worker.list=unused\nworker.unused.type=ajp13\nworker.unused.host=127.0.0.1\nworker.unused.port=1\n',
      mounts: [],
      extraConfig: [
        `LoadModule proxy_module ${APACHE_MODULES}/mod_proxy.so`,
        `LoadModule proxy_http_module ${APACHE_MODULES}/mod_proxy_http.so`,
        `ProxyPass / http://127.0.0.1:${http!}/ keepalive=On`
      ]
    }))
    const paths = [
      { name: 'httpd + mod_jk → node AJP', port: jkPort!, front: fronts[0]! },
      { name: 'httpd + mod_proxy_http → node HTTP', port: proxyPort!, front: fronts[1]! }
    ]
    // warm-up (JIT on the node, httpd's pools filled), not measured
    for (const p of paths) await runAutocannon({ url: `http://127.0.0.1:${p.port}/served`, connections, durationS: 3, routes: ['n1'] })

    const variants: Array<Variant<Sample>> = paths.map((p) => ({
      name: p.name,
      run: async () => {
        const n0 = cpuSeconds(node.pid)
        const f0 = cpuSeconds(p.front.proc.pid)
        const r = await runAutocannon({ url: `http://127.0.0.1:${p.port}/served`, connections, durationS, routes: ['n1'] })
        const per = (s: number): number => s * 1e6 / Math.max(1, r.requests)
        return { rps: r.rps, nodeUs: per(cpuSeconds(node.pid) - n0), frontUs: per(cpuSeconds(p.front.proc.pid) - f0), p99ms: r.p99ms, errors: r.errors }
      }
    }))
    const progress = createProgress('ajp-node', reps * variants.length)
    const outcomes = await runInterleaved(variants, reps, progress)
    progress.stop()
    const [ajpO, httpO] = outcomes as [typeof outcomes[number], typeof outcomes[number]]
    const nodeCpu = (o: typeof ajpO): number[] => column(o, reps, (s) => s.nodeUs)
    const frontCpu = (o: typeof ajpO): number[] => column(o, reps, (s) => s.frontUs)
    const rps = (o: typeof ajpO): number[] => column(o, reps, (s) => s.rps)
    const us = (v: number[]): string => formatSummary(summarize(v), (x) => `${x.toFixed(0)} µs`)
    const perS = (v: number[]): string => formatSummary(summarize(v), (x) => `${x.toFixed(0)}/s`)
    const rows = outcomes.map((o) => [o.name, us(nodeCpu(o)), us(frontCpu(o)), perS(rps(o)), formatSummary(summarize(column(o, reps, (s) => s.p99ms)), (x) => `${x.toFixed(1)} ms`), String(o.samples.reduce((n, s) => n + (s?.errors ?? 0), 0))])
    writeReport({
      name: 'ajp-node',
      title: 'nodecat-was: serving over AJP (httpd + mod_jk) vs over HTTP (httpd + mod_proxy_http)',
      command: `pnpm bench:ajp-node${values.reps !== undefined ? ` --reps ${values.reps}` : ''}${values.seconds !== undefined ? ` --seconds ${values.seconds}` : ''}${values.connections !== undefined ? ` --connections ${values.connections}` : ''}`,
      machine: machineInfo('host'),
      notes: [
        `${sw.versions}. One nodecat-was (one process, test/fixtures/ajp/app.js, no peers), two httpd -X (one process each, event MPM, 25 threads) in front, one per path; GET /served with one session cookie per connection, ${connections} connections, ${durationS} s per repetition and path, interleaved, after a 3 s warm-up each.`,
        'CPU µs per request: the process\'s utime + stime (/proc) over the run ÷ requests answered; it does not depend on how the cores were shared. Requests/s moves with the machine\'s load; read the ratio, paired per repetition.',
        `AJP ÷ HTTP, paired per repetition: node CPU per request ${formatRatio(pairedRatio(nodeCpu(ajpO), nodeCpu(httpO)))}, httpd CPU per request ${formatRatio(pairedRatio(frontCpu(ajpO), frontCpu(httpO)))}, requests/s ${formatRatio(pairedRatio(rps(ajpO), rps(httpO)))}.`
      ],
      tables: [{ title: 'Per path, median (min–max)', columns: ['path', 'node CPU per request', 'httpd CPU per request', 'requests/s', 'p99', 'errors'], rows }],
      raw: { reps, durationS, connections, outcomes }
    })
  } finally {
    for (const f of fronts) await f.stop()
    for (const c of children.reverse()) await c.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

void runMain(main)
