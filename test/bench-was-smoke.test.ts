/**
 * Smoke test of bench:was: a tiny, bounded run (`--smoke`: about a second per measurement, one
 * repetition, no warm-up, two of nodecat's node-level configurations) whose JSON result and
 * Markdown summary must report every field: requests/s, latency and CPU per request for every
 * stack and workload, the ratios, the targets, and a replication check in which every nodecat
 * peer's copy equals its owner's. Behaviour only: no timing is asserted.
 *
 * The classic stack (Tomcat 10, Apache httpd, mod_jk) runs when its Debian packages are installed
 * (`pnpm bench:was` installs them as root) and the machine is not already busy (1-minute load
 * average below its core count); otherwise only nodecat runs, with --no-classic: installing the
 * packages with apt-get and starting two Tomcats (about 60 CPU-seconds) does not fit tap's 180 s
 * per file on a loaded 2-core machine. The test says which ran. Needs root: the bench creates
 * network namespaces.
 */
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildBench, resultsDir, runBench } from './lib/bench-run.js'

const root = typeof process.getuid === 'function' && process.getuid() === 0
const installed = ['/usr/share/tomcat10/bin/catalina.sh', '/usr/share/tomcat10/lib/jasper.jar', '/usr/lib/apache2/modules/mod_jk.so', '/usr/sbin/apache2', '/usr/bin/java'].every((f) => existsSync(f))
const load = os.loadavg()[0]!
const cores = os.availableParallelism()
const runClassic = installed && load < cores

if (root) buildBench()

interface Sample { rps: number, requests: number, errors: number, p50ms: number, p99ms: number, cpuUsPerRequest: number, frontCpuUsPerRequest: number | null }
interface Outcome { name: string, samples: Array<Sample | null>, errors: string[], unavailable?: string }
interface Replica { stack: string, level: string, sessions: number, ownerRead: number, copies: number, equal: number, digestEqual: number | null, fetches: number | null, details: string[] }

const WORKLOADS = ['counter, 16 sessions', 'counter, 1 session', 'read-only, 16 sessions']
const NODECAT_NODES = ['nodecat (delta, async, key)', 'nodecat (backup, sync, no key)']
const NODECAT_STACK = /^nodecat-balancer \+ 2 × nodecat-was --workers auto \(\d+\)$/

t.test('bench:was --smoke reports every field, and every nodecat replica equals its owner', { skip: root ? false : 'bench:was needs root: it creates network namespaces (run as root, as CI does)' }, async (tt) => {
  tt.setTimeout(170_000)
  tt.comment(runClassic
    ? 'classic stack installed: this run covers Tomcat 10, Apache httpd + mod_jk and nodecat'
    : installed
      ? `classic stack installed but the machine is busy (load ${load.toFixed(1)} on ${cores} cores): this run covers nodecat only (--no-classic), two Tomcats would not start within tap's 180 s`
      : 'classic stack (tomcat10-common, libtomcat10-java, apache2-bin, libapache2-mod-jk) not installed: this run covers nodecat only (--no-classic); `pnpm bench:was` as root installs it')
  const dir = resultsDir(tt)
  const r = await runBench(tt, dir, 'was.js', ['--smoke', runClassic ? '--no-install' : '--no-classic'])
  const raw = r.raw as { nodeOutcomes: Outcome[], systemOutcomes: Outcome[], replicas: Replica[], reps: number, seconds: number }
  tt.equal(raw.reps, 1)
  tt.equal(raw.seconds, 1)

  const measured = (outcomes: Outcome[], name: string, front: boolean): void => {
    for (const w of WORKLOADS) {
      const o = outcomes.find((x) => x.name === `${name} · ${w}`)
      if (!tt.ok(o, `${name}: ${w} is reported`)) continue
      tt.equal(o!.unavailable, undefined, `${name}: ${w} ran`)
      tt.same(o!.errors, [], `${name}: ${w} without errors`)
      const s = o!.samples[0]
      if (!tt.ok(s, `${name}: ${w} has its sample`)) continue
      tt.ok(s!.requests > 0 && s!.rps > 0, `${name}: ${w}: requests served`)
      tt.equal(s!.errors, 0, `${name}: ${w}: no failed request`)
      tt.ok(Number.isFinite(s!.p50ms) && Number.isFinite(s!.p99ms), `${name}: ${w}: latency reported`)
      tt.ok(s!.cpuUsPerRequest > 0, `${name}: ${w}: CPU per request measured`)
      if (front) tt.ok((s!.frontCpuUsPerRequest ?? 0) > 0, `${name}: ${w}: the front's CPU per request measured`)
    }
  }
  for (const n of NODECAT_NODES) measured(raw.nodeOutcomes, n, false)
  const stackName = raw.systemOutcomes.map((o) => o.name.split(' · ')[0]!).find((n) => NODECAT_STACK.test(n))
  tt.ok(stackName, 'the nodecat stack is reported at system level')
  if (stackName) measured(raw.systemOutcomes, stackName, true)
  if (runClassic) {
    measured(raw.nodeOutcomes, 'Tomcat 10 (DeltaManager)', false)
    measured(raw.systemOutcomes, 'Apache httpd + mod_jk + 2 Tomcats', true)
  } else {
    for (const o of [...raw.nodeOutcomes, ...raw.systemOutcomes].filter((x) => /Tomcat/.test(x.name))) {
      tt.match(o.unavailable, /not run \(--no-classic\)/, `${o.name}: said not run, not faked`)
    }
  }

  // replication: every peer's copy of each counter equals the owner's
  for (const name of [...NODECAT_NODES, stackName]) {
    const rep = raw.replicas.find((x) => x.stack === name)
    if (!tt.ok(rep, `${name}: replication checked`)) continue
    tt.equal(rep!.sessions, 17, `${name}: 16 + 1 sessions`)
    tt.equal(rep!.ownerRead, 17, `${name}: each read on its owner`)
    tt.ok(rep!.copies >= 17, `${name}: every peer's copy compared`)
    tt.equal(rep!.equal, rep!.copies, `${name}: every peer's counter equals the owner's (${rep!.details.slice(0, 3).join('; ')})`)
    tt.equal(rep!.digestEqual, rep!.copies, `${name}: every peer's copy is identical to the owner's`)
    tt.equal(rep!.fetches, 0, `${name}: the peers served their own copies (no fetch from the owner)`)
  }
  if (runClassic) {
    for (const name of ['Tomcat 10 (DeltaManager)', 'Apache httpd + mod_jk + 2 Tomcats']) {
      const rep = raw.replicas.find((x) => x.stack === name)
      if (!tt.ok(rep, `${name}: replication checked`)) continue
      tt.equal(rep!.ownerRead, 17, `${name}: each session read on its owner`)
      tt.equal(rep!.copies, 17, `${name}: and on the other Tomcat`)
    }
  }

  const md = readFileSync(path.join(dir, 'was.md'), 'utf8')
  for (const title of ['### Targets (issue 15)', '### Node level', '### System level', '### Replication equally complete?']) tt.ok(md.includes(title), `the summary has "${title}"`)
  tt.match(md, /\| node level, one worker: nodecat \(delta, async, key\) ≥ 1\.1× Tomcat's requests\/s \|/, 'the node-level target row')
  tt.match(md, /\| system level, --workers auto: nodecat stack ≥ 3× the classic stack's requests\/s \|/, 'the system-level target row')
  tt.match(md, /This VM has \d+ cores/, 'the cores are stated')
  tt.ok(existsSync(path.join(dir, 'was.svg')), 'the chart is written')
})
